"""Early stopping on a monitored value, with its state as plain data for checkpoints."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class EarlyStopping:
    r"""Track the best value of a monitored metric and stop after ``patience`` epochs without improvement.

    A value :math:`v` improves on the best :math:`b` when :math:`v < b - \delta` (``mode="min"``) or
    :math:`v > b + \delta` (``mode="max"``), :math:`\delta` = ``min_delta``; NaN never improves.
    ``patience=None`` only tracks the best (for restore-best) and never stops.
    """

    mode: str = "min"
    patience: int | None = None
    min_delta: float = 0.0
    best: float | None = None
    best_epoch: int = 0
    bad_epochs: int = 0
    stopped: bool = False

    def update(self, value: float, epoch: int) -> bool:
        """Record ``value`` for ``epoch``; True if it is the new best."""
        if math.isfinite(value) and (
            self.best is None
            or (value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta)
        ):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        if self.patience is not None and self.bad_epochs >= self.patience:
            self.stopped = True
        return False

    def state_dict(self) -> dict:
        """The tracked values only; mode, patience and min_delta come from the config."""
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "stopped": self.stopped}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.bad_epochs, self.stopped = state["bad_epochs"], state["stopped"]
