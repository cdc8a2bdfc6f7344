"""Speed of the Lin & Tang spiking engine: C++ standalone vs Brian2's numpy runtime.

For (N, M) = (256, 128), (512, 784), (1024, 512) it reports milliseconds per sample
(two 20-unit phases, dt = 1/32, consistent random dictionary, lambda_1 = 0.3) for

* ``run_network`` on the standalone device (compile time reported apart: the first call
  builds into a fresh temporary build folder, the timed call re-runs the binary);
* ``run_network`` on the numpy runtime (a few samples only);
* ``learn_dictionary`` (Algorithm 1 in the simulation) on the standalone device,

and prints the standalone/numpy ratio measured in this one run.  Inputs resemble the
paper's data: normalised, sign-split 8x8 / 16x16 patches of scikit-image's camera image
(M = 128 / 512) and MNIST (M = 784), with a synthetic fallback when data are missing.  Timings depend on machine load; compare only numbers from the same run.  "CPU" is
the user + system time of the compiled program (standalone) or of this process (numpy),
which a busy machine inflates much less than wall time.

Usage: ``python benchmarks/spiking_engine.py [--samples 200] [--numpy-samples 2]
[--sizes 256x128,512x784,1024x512] [--learn-samples 1000] [--float-dtype float64]``
(``--float-dtype float32`` times the opt-in single-precision engine, ``NetworkParams.float_dtype``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import numpy as np


def split_gaussian(n: int, m: int, seed: int) -> np.ndarray:
    """Fallback inputs: zero-mean unit-variance Gaussian vectors, sign-split (Hoyer 2004)."""
    rng = np.random.default_rng(seed)
    p = rng.standard_normal((n, m // 2))
    p = (p - p.mean(axis=1, keepdims=True)) / p.std(axis=1, keepdims=True)
    return np.hstack([np.maximum(p, 0), np.maximum(-p, 0)])


def dataset_like_inputs(M: int, n: int, seed: int = 0) -> tuple[np.ndarray, str]:
    """Inputs like the paper's data sets: 8x8 / 16x16 normalised sign-split patches of a
    natural image (M = 128 / 512), MNIST digits in [0, 1] (M = 784); synthetic otherwise."""
    try:
        from attractorlab.data import bundled_image, load_mnist, sample_patches
        if M == 784:
            imgs, _ = load_mnist("train")
            idx = np.random.default_rng(seed).choice(len(imgs), n, replace=False)
            return imgs[idx].reshape(n, 784).astype(np.float64) / 255.0, "MNIST"
        k = int(round(np.sqrt(M // 2)))
        if 2 * k * k == M:
            return sample_patches(bundled_image("camera"), k, n, seed), f"{k}x{k} camera patches"
    except Exception as exc:  # data package or files missing: fall back, say so
        print(f"(data unavailable for M={M}: {exc!r}; using synthetic inputs)")
    return split_gaussian(n, M, seed), "split Gaussian"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--numpy-samples", type=int, default=2)
    ap.add_argument("--learn-samples", type=int, default=1000)
    ap.add_argument("--sizes", default="256x128,512x784,1024x512")
    ap.add_argument("--float-dtype", default="float64", choices=("float64", "float32"))
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="attractorlab-bench-")
    os.environ["ATTRACTORLAB_BUILD_DIR"] = tmp  # fresh builds: compile time is real

    from attractorlab.models.spiking_dictionary import (LearningParams, NetworkParams,
                                                        init_weights, learn_dictionary,
                                                        run_network)
    from attractorlab.models.spiking_dictionary import runtime

    rows = []
    for size in args.sizes.split(","):
        N, M = (int(v) for v in size.lower().split("x"))
        p = NetworkParams(n_input=M, n_coding=N, lam1=0.3, float_dtype=args.float_dtype)
        w = init_weights(M, N, "consistent", seed=0)
        X, src = dataset_like_inputs(M, args.samples, seed=1)

        c0 = dict(runtime.stats)
        t0 = time.perf_counter()
        run_network(X[:1], w, p, device="standalone", chunk_size=args.samples)
        first = time.perf_counter() - t0
        compile_s = runtime.stats["compile_seconds"] - c0["compile_seconds"]
        c1 = dict(runtime.stats)
        t0 = time.perf_counter()
        ds = run_network(X, w, p, device="standalone", chunk_size=args.samples)
        sa = (time.perf_counter() - t0) / args.samples * 1e3
        sa_cpu = (runtime.stats["binary_cpu_seconds"] - c1["binary_cpu_seconds"]) / args.samples * 1e3
        spikes = float(ds.a.sum() + ds.b.sum()) * p.phase_duration / args.samples

        t0 = time.perf_counter()
        c0 = time.process_time()
        run_network(X[:args.numpy_samples], w, p, device="numpy")
        npy = (time.perf_counter() - t0) / args.numpy_samples * 1e3
        npy_cpu = (time.process_time() - c0) / args.numpy_samples * 1e3
        rows.append((N, M, compile_s, first, sa, npy, spikes, sa_cpu, npy_cpu))
        print(f"N={N:5d} M={M:4d}: compile {compile_s:6.1f} s (first call {first:6.1f} s), "
              f"standalone {sa:8.2f} ms/sample (CPU {sa_cpu:.2f}), numpy {npy:9.1f} ms/sample "
              f"(CPU {npy_cpu:.1f}), ratio {npy / sa:7.1f}x, {spikes:7.0f} spikes/sample ({src})",
              flush=True)

    learn_row = None
    if args.learn_samples > 0:
        N, M = 256, 128
        p = NetworkParams(n_input=M, n_coding=N, lam1=0.3, float_dtype=args.float_dtype)
        w = init_weights(M, N, "consistent", seed=0)
        X, src = dataset_like_inputs(M, 2 * args.learn_samples, seed=2)
        L = LearningParams(eta_D=1e-3, lam2=1e-3)
        learn_dictionary(X[:args.learn_samples], p, L, init=w, snapshot_every=args.learn_samples,
                         progress=False)  # build
        c1 = dict(runtime.stats)
        t0 = time.perf_counter()
        learn_dictionary(X, p, L, init=w, snapshot_every=args.learn_samples, progress=False)
        learn_row = (time.perf_counter() - t0) / (2 * args.learn_samples) * 1e3
        learn_cpu = (runtime.stats["binary_cpu_seconds"] - c1["binary_cpu_seconds"]) / (2 * args.learn_samples) * 1e3

    print()
    print("| N | M | compile (s) | standalone wall (CPU) ms/sample | numpy runtime wall (CPU) ms/sample | ratio wall (CPU) |")
    print("|---|---|---|---|---|---|")
    for N, M, c, _, sa, npy, _, sa_cpu, npy_cpu in rows:
        print(f"| {N} | {M} | {c:.1f} | {sa:.2f} ({sa_cpu:.2f}) | {npy:.1f} ({npy_cpu:.1f}) | "
              f"{npy / sa:.0f}x ({npy_cpu / max(sa_cpu, 1e-9):.0f}x) |")
    if learn_row is not None:
        print(f"\nlearn_dictionary, N=256 M=128, standalone: {learn_row:.2f} ms/sample wall, "
              f"{learn_cpu:.2f} ms/sample CPU of the simulation "
              f"(100K samples ~ {learn_row * 1e5 / 6e4:.1f} min wall)")
    print(f"float dtype: {args.float_dtype}")
    print("targets: standalone >= 50x faster than numpy; < 2 ms/sample at (256, 128)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
