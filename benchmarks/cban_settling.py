"""Speed of CBAN settling: images per second through a full settle at fixed iteration counts.

Network: the Omniglot CBAN of App D.3 (28²x1 -> 28²x128 -> 14²x256 -> 7²x512, 3x3
kernels, 2x2 average pooling above the first hidden layer, tanh, up-down order).
For each iteration count (``--iters``, default 10 and 50; convergence test disabled by
``min_iter = max_iter``) it times

* inference (``torch.no_grad``) and
* one training step (TD(1) SE loss over the whole trajectory, BPTT, Adam),

for these variants, all in one run:

* CPU eager (always),
* CUDA eager, CUDA ``torch.compile`` of the iteration, CUDA bf16 autocast, and
  compiled + bf16 (when a GPU is present),

and prints a table plus the speed-up of each CUDA variant over CUDA eager. Numbers
depend on machine load; compare only numbers from the same run.

Usage: ``python benchmarks/cban_settling.py [--iters 10,50] [--cpu-batch 8] [--gpu-batch 128]
[--repeats 3] [--channels 128,256,512]``
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _make(channels, device, compiled: bool, seed: int = 0):
    from attractorlab.models.cban import CBANParams, build_cban

    net = build_cban(visible_shape=(1, 28, 28), channels=channels, kernel_size=3, seed=seed,
                     params=CBANParams(theta=1e-9)).to(device)
    if compiled:
        net.compile_step()
    return net


def _batch(n, device, seed=0):
    from attractorlab.models.cban import Evidence

    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, 1, 28, 28, generator=g) > 0.85).float() * 2 - 1
    mask = torch.rand(n, 1, 28, 28, generator=g) > 0.3
    return Evidence(y.to(device), mask.to(device)), y.to(device)


def _time(fn, device, repeats: int) -> float:
    fn()  # warm-up (and compilation)
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def bench(channels, device, batch, iters, *, compiled=False, bf16=False, repeats=3) -> dict:
    from attractorlab.models.cban import trajectory_loss

    net = _make(channels, device, compiled)
    ev, y = _batch(batch, device)
    opt = torch.optim.Adam(net.parameters(), lr=5e-4)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if (bf16 and device.type == "cuda") else contextlib.nullcontext()

    def infer():
        with torch.no_grad(), amp:
            net.settle(ev, max_iter=iters, min_iter=iters)

    def train_step():
        opt.zero_grad(set_to_none=True)
        with amp:
            res = net.settle(ev, max_iter=iters, min_iter=iters, record=True)
            loss = trajectory_loss(res.trajectory, y, kind="se", params=net.params)
        loss.backward()
        opt.step()

    t_inf = _time(infer, device, repeats)
    t_tr = _time(train_step, device, max(1, repeats - 1))
    return {"infer_img_s": batch / t_inf, "train_img_s": batch / t_tr}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", default="10,50")
    ap.add_argument("--cpu-batch", type=int, default=8)
    ap.add_argument("--gpu-batch", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--channels", default="128,256,512")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave as is)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    iters = [int(s) for s in a.iters.split(",")]
    channels = tuple(int(s) for s in a.channels.split(","))
    variants = [("cpu", "eager", False, False)]
    if torch.cuda.is_available():
        variants += [("cuda", "eager", False, False), ("cuda", "compiled", True, False),
                     ("cuda", "bf16", False, True), ("cuda", "compiled+bf16", True, True)]
    print(f"CBAN {channels}, 3x3, pooling above hidden 1; torch {torch.__version__}, "
          f"CPU threads {torch.get_num_threads()}, CUDA {'yes: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no'}")
    print(f"{'device':6} {'variant':14} {'iters':>5} {'batch':>5} {'infer img/s':>12} {'train img/s':>12}")
    rows = {}
    for dev, name, comp, bf in variants:
        device = torch.device(dev)
        batch = a.cpu_batch if dev == "cpu" else a.gpu_batch
        for it in iters:
            try:
                r = bench(channels, device, batch, it, compiled=comp, bf16=bf, repeats=a.repeats)
            except Exception as exc:  # e.g. no compiler toolchain for torch.compile
                print(f"{dev:6} {name:14} {it:5d} {batch:5d}  failed: {type(exc).__name__}: {exc}")
                continue
            rows[(dev, name, it)] = r
            print(f"{dev:6} {name:14} {it:5d} {batch:5d} {r['infer_img_s']:12.1f} {r['train_img_s']:12.1f}", flush=True)
    if torch.cuda.is_available():
        print("speed-up over CUDA eager (same run):")
        for (dev, name, it), r in rows.items():
            base = rows.get(("cuda", "eager", it))
            if dev == "cuda" and name != "eager" and base:
                print(f"  {name:14} iters {it:3d}: infer x{r['infer_img_s'] / base['infer_img_s']:.2f}, "
                      f"train x{r['train_img_s'] / base['train_img_s']:.2f}")
        for it in iters:
            c, g = rows.get(("cpu", "eager", it)), rows.get(("cuda", "eager", it))
            if c and g:
                print(f"  CUDA eager / CPU eager, iters {it}: infer x{g['infer_img_s'] / c['infer_img_s']:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
