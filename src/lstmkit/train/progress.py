"""Per-epoch progress lines for runs long enough to need them.

A run that finishes in a few seconds prints nothing; once ``after_seconds`` have passed since
training began, every epoch prints one line, so a long run is never silent::

    epoch 12/100: train loss 0.1834, val loss 0.2011 (best 0.1987 at epoch 9), 4.1 s/epoch

The command line adds this callback to every training run; the Python API stays quiet unless
given it (``Trainer(..., callbacks=[EpochProgress()])``) or logging at INFO level.
"""
from __future__ import annotations

import sys
import time
from typing import TextIO


class EpochProgress:
    """Trainer callback: one line per epoch on ``stream`` once the run has lasted ``after_seconds``."""

    def __init__(self, stream: TextIO | None = None, *, after_seconds: float = 3.0, label: str = ""):
        self.stream = stream
        self.after_seconds = after_seconds
        self.label = label
        self._start = self._last = None

    def on_train_begin(self, trainer) -> None:
        self._start = self._last = time.perf_counter()

    def on_epoch_end(self, trainer, row: dict) -> None:
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        if self._start is None or now - self._start < self.after_seconds or not trainer.dist.is_main:
            return
        config = trainer.config
        parts = [f"train loss {row['train_loss']:.4g}"]
        parts += [f"{key.replace('_', ' ')} {value:.4g}" for key, value in row.items()
                  if key.startswith("val_") and isinstance(value, float)]
        best = trainer.early_stopping
        if getattr(best, "best_epoch", None):
            parts.append(f"best {config.monitor.replace('_', ' ')} {best.best:.4g} at epoch {best.best_epoch}")
        prefix = f"{self.label}: " if self.label else ""
        print(f"{prefix}epoch {row['epoch']}/{config.epochs}: {', '.join(parts)}, {seconds:.1f} s/epoch",
              file=self.stream or sys.stderr, flush=True)
