"""Launched by test_distributed.py with `python -m torch.distributed.run --nproc_per_node 2 --standalone`.

`python train_ddp_worker.py RUN_DIR`; `run(run_dir)` is also the single-process reference.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_models import LastStepModel, mse, regression_data  # noqa: E402

from lstmkit.runtime import seed_everything  # noqa: E402
from lstmkit.train import TrainConfig, cleanup_distributed, fit, init_distributed  # noqa: E402

# SGD with momentum, seeded shuffle, global batch 8 (4 per process under 2 processes), float64.
CONFIG = TrainConfig(epochs=2, batch_size=8, shuffle=True, seed=3, optimizer="sgd", lr=0.05, momentum=0.9,
                     clip_grad_norm=1.0, device="cpu", progress=False)


def run(run_dir):
    torch.set_num_threads(1)
    seed_everything(0)
    model = LastStepModel().double()
    train = regression_data(32, seed=0, dtype=torch.float64)
    val = regression_data(8, seed=1, dtype=torch.float64)
    return fit(model, train, val, loss_fn=mse, config=CONFIG, run_dir=run_dir)


if __name__ == "__main__":
    info = init_distributed()
    assert info.world_size == 2, info
    trainer = run(sys.argv[1])
    cleanup_distributed()
