"""Per-epoch progress lines: silent for a short run, one line per epoch once a run has lasted a while."""
import io

import torch
from torch.utils.data import TensorDataset

from lstmkit.train import EpochProgress, TrainConfig, Trainer


def _train(progress: EpochProgress, epochs: int = 3) -> Trainer:
    torch.manual_seed(0)
    x = torch.randn(32, 4)
    data = TensorDataset(x, x.sum(1, keepdim=True))
    trainer = Trainer(torch.nn.Linear(4, 1), torch.nn.functional.mse_loss,
                      TrainConfig(epochs=epochs, batch_size=8, progress=False, patience=5),
                      callbacks=[progress])
    trainer.fit(data, data)
    return trainer


def test_one_line_per_epoch_with_the_losses_once_the_run_is_long():
    stream = io.StringIO()
    trainer = _train(EpochProgress(stream, after_seconds=0.0))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    for epoch, (line, row) in enumerate(zip(lines, trainer.history), start=1):
        assert line.startswith(f"epoch {epoch}/3: train loss {row['train_loss']:.4g}, val loss {row['val_loss']:.4g}")
        assert line.endswith("s/epoch")
    assert f"best val loss {trainer.early_stopping.best:.4g} at epoch {trainer.early_stopping.best_epoch}" in lines[-1]


def test_a_short_run_prints_nothing():
    stream = io.StringIO()
    _train(EpochProgress(stream, after_seconds=3600.0))
    assert stream.getvalue() == ""
