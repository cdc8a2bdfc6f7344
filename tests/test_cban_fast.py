"""The fast CPU paths of the CBAN give the completions of eager fp32 (benchmarks/cban_settling.py).

Tolerances, on completions in [-1, 1] after 12 iterations of a small Omniglot-shaped net:
channels-last, larger batches and ``torch.compile`` 1e-4 (float32 rounding of differently
ordered sums, grown over the iterations of a strongly coupled net); gradients through 12
iterations with channels-last to 1e-3 relative; bf16 autocast: mean |difference| below 0.005
and fewer than 0.5 % of pixels off by more than 0.05 (bf16 keeps ~3 significant digits, and
the dynamics carry a few pixels elsewhere).
"""

from __future__ import annotations

import torch

from attractorlab.models.cban import CBANParams, Evidence, build_cban, trajectory_loss

ITERS = 12


def _net():
    # weights large enough that the hidden layers are far from linear
    return build_cban(visible_shape=(1, 28, 28), channels=(6, 8, 10), kernel_size=3, seed=3, init_std=0.3,
                      params=CBANParams(theta=1e-9))


def _evidence(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = (torch.rand(n, 1, 28, 28, generator=g) > 0.8).float() * 2 - 1
    return Evidence(y, torch.rand(n, 1, 28, 28, generator=g) > 0.4)


def _complete(net, ev):
    with torch.no_grad():
        return net.settle(ev, max_iter=ITERS, min_iter=ITERS).state.x[0]


def _channels_last(net, ev):
    net = net.to(memory_format=torch.channels_last)
    return net, Evidence(ev.value.contiguous(memory_format=torch.channels_last), ev.mask)


def test_channels_last_gives_the_eager_completions_and_gradients():
    ev = _evidence()
    ref = _complete(_net(), ev)
    net, ev_cl = _channels_last(_net(), ev)
    out = _complete(net, ev_cl)
    assert out.is_contiguous(memory_format=torch.channels_last) or out.shape[1] == 1
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-4)
    assert (ref - ev.value).abs().max() > 0.1  # the net did change the hidden pixels

    def grads(net, ev):
        res = net.settle(ev, max_iter=ITERS, min_iter=ITERS, record=True)
        loss = trajectory_loss(res.trajectory, ev.value, kind="se", params=net.params)
        return torch.autograd.grad(loss, list(net.parameters()))

    for a, b in zip(grads(_net(), ev), grads(*_channels_last(_net(), ev))):
        torch.testing.assert_close(b, a, rtol=1e-3, atol=1e-6)


def test_a_larger_batch_gives_each_image_the_same_completion():
    small = _evidence(8, seed=1)
    big = _evidence(32, seed=2)
    big = Evidence(torch.cat([small.value, big.value[8:]]), torch.cat([small.mask, big.mask[8:]]))
    net = _net()
    torch.testing.assert_close(_complete(net, big)[:8], _complete(net, small), rtol=0, atol=1e-4)


def test_bf16_autocast_completions_agree_to_bf16_precision():
    ev = _evidence()
    net = _net()
    ref = _complete(net, ev)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = _complete(net, ev).float()
    err = (out - ref).abs()
    # bf16 rounding moves a few pixels of a strongly coupled net to another value: the
    # stated tolerance is on the mean and on the fraction of pixels off by more than 0.05
    assert float(err.mean()) < 5e-3 and float((err > 0.05).float().mean()) < 5e-3, (err.mean(), err.max())


def test_compiled_step_gives_the_eager_completions():
    # inductor compiles C++ for the CPU (g++; tens of seconds)
    ev = _evidence()
    ref = _complete(_net(), ev)
    net = _net().compile_step()
    torch.testing.assert_close(_complete(net, ev), ref, rtol=0, atol=1e-4)
