"""Training run used by test_resume.py, run in a subprocess: `python train_resume_worker.py RUN_DIR MODE [KILL_STEP]`.

MODE "fresh" trains from scratch (SIGKILLing itself at optimiser step KILL_STEP if given), "resume"
continues RUN_DIR. Importable: `run(run_dir, mode, kill_step)` is also the uninterrupted reference.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_models import LastStepModel, mae, mse, regression_data  # noqa: E402

from lstmkit.runtime import seed_everything  # noqa: E402
from lstmkit.train import TrainConfig, fit, resume  # noqa: E402

CONFIG = TrainConfig(
    epochs=4, batch_size=8, shuffle=True, seed=1, optimizer="adam", lr=1e-2, schedule="cosine",
    clip_grad_norm=1.0, progress=False,
)


class KillAt:
    """SIGKILL this process (no cleanup, no atexit, exactly like an OOM kill) at a given step."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, trainer, info):
        if info["step"] == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def run(run_dir, mode: str = "fresh", kill_step: int | None = None):
    torch.set_num_threads(1)
    train, val = regression_data(64, seed=0), regression_data(16, seed=1)
    callbacks = [KillAt(kill_step)] if kill_step else []
    if mode == "resume":
        return resume(run_dir, train, val, loss_fn=mse, metrics={"mae": mae}, callbacks=callbacks)
    seed_everything(0)
    model = LastStepModel(dropout=0.2)  # dropout: the result depends on the RNG state being restored
    return fit(model, train, val, loss_fn=mse, config=CONFIG, metrics={"mae": mae}, callbacks=callbacks,
               run_dir=run_dir)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
