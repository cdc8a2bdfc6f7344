"""Speed of CBAN settling and TD(1) training on the CPU (and CUDA when present), in one run.

Network: the Omniglot CBAN of App D.3 (28²x1 -> 28²xC1 -> 14²xC2 -> 7²xC3, 3x3 kernels,
2x2 average pooling above the first hidden layer, tanh, up-down order), at the paper's
width (128, 256, 512) and at the ``cpu`` preset's width (32, 64, 128). For each width it
times, on one batch of masked Omniglot-like evidence with a fixed number of iterations
(``--iters``; the convergence test is disabled by ``min_iter = max_iter``):

* inference: a settle without gradient, and
* training: one TD(1) step (SE loss at every iteration, BPTT, Adam),

for these variants, interleaved over ``--repeats`` rounds (best time kept), so that a
change in machine load hits every variant alike:

``legacy``            the iteration as of commit c7c43e2 (every layer update recomputes both
                      coupling products; pooling adjoint by ``repeat_interleave``), eager fp32,
                      batch 32: the base of every ratio.
``reuse``             today's :func:`~attractorlab.models.cban.functional.settle`: each coupling
                      product computed once per change of its input (bit-identical states).
``reuse+cl``          the same with weights and states in channels-last memory order.
``reuse+cl+compile``  ``torch.compile`` of the iteration (inductor; C++ on the CPU).
``reuse+cl+bf16``     bf16 autocast (inference only is trustworthy: bf16 states resolve
                      ~3 digits, coarser than the convergence threshold 0.01 needs).
``reuse+cl, batch 128``  four times the batch (images per second at the same width).

All CPU variants run with ``--threads`` torch threads (default 1: the setting of the ``cpu``
presets, which train several models side by side in one-thread processes); ``--processes 2``
adds a row with the summed throughput of two such processes training at once. Ratios are
printed against ``legacy`` of the same width, measured in the same run; absolute numbers
depend on machine load.

Usage: ``python benchmarks/cban_settling.py [--iters 20] [--repeats 3] [--threads 1]
[--processes 2] [--widths 32,64,128:128,256,512] [--skip-compile]``
"""

from __future__ import annotations

import argparse
import contextlib
import time

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _legacy_pool_adjoint():
    """The pooling adjoint as of commit c7c43e2 (nearest upsampling by repeat_interleave)."""
    from attractorlab.models.cban import layers

    old = layers.avg_pool_adjoint

    def legacy(y, exact=True):
        z = y.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
        return z * 0.25 if exact else z

    layers.avg_pool_adjoint = legacy
    try:
        yield
    finally:
        layers.avg_pool_adjoint = old


def legacy_step(state, evidence, weights, params):
    """One iteration as of commit c7c43e2: both products of every update recomputed."""
    from attractorlab.models.cban.functional import CBANState, activation, net_input, update_groups, visible_update

    x = list(state.x)
    v_net, v_free = state.v_net, state.v_free
    for group in update_groups(len(x), params.order):
        for l in group:
            net = net_input(l, x, weights)
            if l == 0:
                v_net = net
                x[0], v_free = visible_update(net, evidence, params)
            else:
                x[l] = activation(net, params)
    return CBANState(tuple(x), v_net, v_free)


def _batch(n, device, seed=0, channels_last=False):
    from attractorlab.models.cban import Evidence

    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, 1, 28, 28, generator=g) > 0.85).float() * 2 - 1
    mask = torch.rand(n, 1, 28, 28, generator=g) > 0.3
    y = y.to(device)
    if channels_last:
        y = y.contiguous(memory_format=torch.channels_last)
    return Evidence(y, mask.to(device)), y


class Variant:
    """One way of running the same network: builds it and offers ``infer()`` / ``train()``."""

    def __init__(self, name, channels, device, batch, iters, *, legacy=False, channels_last=False,
                 compiled=False, bf16=False):
        from attractorlab.models.cban import CBANParams, build_cban
        from attractorlab.models.cban.functional import settle

        self.name, self.batch, self.legacy = name, batch, legacy
        self.device = torch.device(device)
        net = build_cban(visible_shape=(1, 28, 28), channels=channels, kernel_size=3, seed=0,
                         params=CBANParams(theta=1e-9)).to(self.device)
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        if compiled:
            net.compile_step()
        self.net = net
        self.ev, self.y = _batch(batch, self.device, channels_last=channels_last)
        self.opt = torch.optim.Adam(net.parameters(), lr=5e-4)
        dt = torch.bfloat16
        self.amp = torch.autocast(self.device.type, dtype=dt) if bf16 else contextlib.nullcontext()
        self.iters = iters
        self._settle = settle

    def _run(self, record):
        kw = dict(max_iter=self.iters, min_iter=self.iters, record=record)
        if self.legacy:
            with _legacy_pool_adjoint():
                return self._settle(self.net.init_state(self.ev), self.ev, self.net.weights(), self.net.params,
                                    step_fn=legacy_step, **kw)
        return self.net.settle(self.ev, **kw)

    def infer(self):
        with torch.no_grad(), self.amp:
            self._run(False)
        _sync(self.device)

    def train(self):
        from attractorlab.models.cban import trajectory_loss

        self.opt.zero_grad(set_to_none=True)
        with self.amp:
            res = self._run(True)
            loss = trajectory_loss(res.trajectory, self.y, kind="se", params=self.net.params)
        loss.backward()
        self.opt.step()
        _sync(self.device)


def _variants(channels, device, iters, *, skip_compile):
    rows = [
        ("legacy", dict(legacy=True), 32),
        ("reuse", {}, 32),
        ("reuse+cl", dict(channels_last=True), 32),
    ]
    if not skip_compile:
        rows.append(("reuse+cl+compile", dict(channels_last=True, compiled=True), 32))
    rows += [
        ("reuse+cl+bf16", dict(channels_last=True, bf16=True), 32),
        ("reuse+cl, batch 128", dict(channels_last=True), 128),
    ]
    return [Variant(name, channels, device, b, iters, **kw) for name, kw, b in rows]


def measure(variants, repeats):
    """Best time per call of ``infer`` and ``train`` for each variant, interleaved over rounds."""
    best = {v.name: [float("inf"), float("inf")] for v in variants}
    for v in variants:  # warm-up (and compilation) outside the timed rounds
        v.infer()
        v.train()
    for _ in range(repeats):
        for v in variants:
            for i, fn in enumerate((v.infer, v.train)):
                t0 = time.perf_counter()
                fn()
                best[v.name][i] = min(best[v.name][i], time.perf_counter() - t0)
    return {v.name: (v.batch / best[v.name][0], v.batch / best[v.name][1]) for v in variants}


def _process_worker(args):
    channels, iters, repeats, threads = args
    torch.set_num_threads(threads)
    v = Variant("reuse+cl", channels, "cpu", 32, iters, channels_last=True)
    v.train()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        v.train()
        best = min(best, time.perf_counter() - t0)
    return v.batch / best


def parallel_train_throughput(channels, iters, repeats, processes, threads) -> float:
    """Summed training images/s of ``processes`` one-model processes running at once."""
    import multiprocessing as mp

    with mp.get_context("spawn").Pool(processes) as pool:
        rates = pool.map(_process_worker, [(channels, iters, repeats, threads)] * processes)
    return float(sum(rates))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads per process")
    ap.add_argument("--processes", type=int, default=2, help="add a row of this many one-model processes (0: none)")
    ap.add_argument("--widths", default="32,64,128:128,256,512", help="colon-separated hidden channel triples")
    ap.add_argument("--skip-compile", action="store_true", help="leave out torch.compile (saves its compile time)")
    a = ap.parse_args(argv)
    if a.iters < 1 or a.repeats < 1 or a.threads < 1 or a.processes < 0:
        ap.error("--iters, --repeats and --threads must be >= 1, --processes >= 0")
    torch.set_num_threads(a.threads)
    widths = [tuple(int(c) for c in w.split(",")) for w in a.widths.split(":")]
    print(f"CBAN 28²x1 -> hidden channels, 3x3, pooling above hidden 1, {a.iters} iterations; torch "
          f"{torch.__version__}, CPU threads {torch.get_num_threads()}, "
          f"CUDA {'yes: ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'no'}")
    print(f"{'width':16} {'device':6} {'variant':22} {'batch':>5} {'infer img/s':>12} {'ratio':>6} "
          f"{'train img/s':>12} {'ratio':>6}")
    for ch in widths:
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for dev in devices:
            try:
                rows = measure(_variants(ch, dev, a.iters, skip_compile=a.skip_compile),
                               max(1, a.repeats - (1 if ch[0] >= 128 and dev == "cpu" else 0)))
            except Exception as exc:  # e.g. no compiler for torch.compile
                print(f"{str(ch):16} {dev:6} failed: {type(exc).__name__}: {exc}")
                continue
            base = rows["legacy"]
            for name, (inf, tr) in rows.items():
                print(f"{str(ch):16} {dev:6} {name:22} {32 if 'batch' not in name else 128:5d} {inf:12.1f} "
                      f"{inf / base[0]:6.2f} {tr:12.1f} {tr / base[1]:6.2f}", flush=True)
            if dev == "cpu" and a.processes > 1:
                agg = parallel_train_throughput(ch, a.iters, max(1, a.repeats - 1), a.processes, a.threads)
                print(f"{str(ch):16} {dev:6} {f'reuse+cl x{a.processes} processes':22} {32:5d} {'':>12} {'':>6} "
                      f"{agg:12.1f} {agg / base[1]:6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
