"""A small data-parallel job for ``tests/test_cban_distributed.py``, run by ``torchrun``.

``torchrun --standalone --nproc-per-node 2 tests/_cban_ddp_job.py OUT`` makes every rank

1. train the smoke CBAN of :func:`smoke_setup` with :func:`attractorlab.models.cban.train.train`
   (checkpoint ``OUT/smoke.pt``; each rank also keeps its weights after every epoch in
   ``OUT/weights_rank<R>.pt`` and its history in ``OUT/history_rank<R>.json``), then
2. run ``attractorlab run cban_bars --preset smoke --set epochs=E --out OUT/bars`` through the
   command line's ``main`` (E from ``$DDP_JOB_BARS_EPOCHS``, default 5),

and logs every file it puts in place (``os.replace`` onto a path under OUT, the last step of
:func:`attractorlab.results.atomic_path`) to ``OUT/renames_rank<R>.txt``, so the test can see
that rank 0 alone writes. The test imports :func:`smoke_setup` to train the same model in one
process.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

N_IMAGES = 61  # 3 batches of 16 and one of 13: the last one splits 7 / 6 over 2 ranks
BATCH = 16


def smoke_setup(epochs: int = 6):
    """``(model, batches, config)``: a 2-layer CBAN on 8 x 8 bar images with random masks.

    Small initial weights, theta 0.01 and at most 30 iterations: whole batches converge, after
    different numbers of iterations (so settling must stop on every rank together), and
    training is smooth: a change of the initial weights by 1e-7 grows only to ~5e-5 over the 6
    epochs (with lr 0.02 and 12 iterations it grows to 1e-2, too chaotic to compare two runs).
    """
    import torch

    from attractorlab.models.cban.functional import CBANParams, Evidence
    from attractorlab.models.cban.module import build_cban
    from attractorlab.models.cban.train import Batch, TrainConfig

    gen = torch.Generator().manual_seed(3)
    rows = torch.rand(N_IMAGES, 8, 1, generator=gen) < 0.3
    cols = torch.rand(N_IMAGES, 1, 8, generator=gen) < 0.3
    images = ((rows | cols).float() * 2 - 1)[:, None]  # (N, 1, 8, 8) bars in {-1, +1}
    model = build_cban(visible_shape=(1, 8, 8), channels=(6, 8), kernel_size=3, pool=False,
                       params=CBANParams(activation="tanh", theta=0.01, max_iter=30), init_std=0.05, seed=0)

    def batches(epoch, g):
        order = torch.randperm(N_IMAGES, generator=g)
        for s in range(0, N_IMAGES, BATCH):
            x = images[order[s:s + BATCH]]
            observed = torch.rand(x.shape, generator=g) < 0.6
            yield Batch(Evidence(x, observed), x)

    config = TrainConfig(loss="se", td="td1", optimizer="adam", lr=0.005, epochs=epochs, progress=False, seed=0,
                         checkpoint_every=1)
    return model, batches, config


def _log_renames(out: Path, rank: int) -> None:
    real = os.replace
    log = out / f"renames_rank{rank}.txt"
    log.touch()

    def replace(src, dst, *a, **kw):
        if Path(dst).resolve().is_relative_to(out.resolve()):
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"{Path(dst).resolve().relative_to(out.resolve())}\n")
        return real(src, dst, *a, **kw)

    os.replace = replace


def weight_recorder(model, store: list):
    """A ``train`` callback that appends a copy of the weights after every epoch to ``store``."""
    def callback(epoch, hist):
        store.append({k: v.detach().clone() for k, v in model.state_dict().items()})
    return callback


def main(argv: list[str]) -> int:
    import torch

    out = Path(argv[0])
    rank = int(os.environ["RANK"])
    torch.set_num_threads(1)
    _log_renames(out, rank)

    from attractorlab import cli
    from attractorlab.models.cban.train import train

    model, batches, config = smoke_setup()
    weights: list = []
    hist = train(model, batches, config, checkpoint=out / "smoke.pt", callback=weight_recorder(model, weights))
    # each rank's own record, written directly (not through atomic_path: not a result of the job)
    torch.save(weights, out / f"weights_rank{rank}.pt")
    (out / f"history_rank{rank}.json").write_text(json.dumps(hist))
    epochs = os.environ.get("DDP_JOB_BARS_EPOCHS", "5")
    return cli.main(["run", "cban_bars", "--preset", "smoke", "--set", f"epochs={epochs}", "--out", str(out / "bars")])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
