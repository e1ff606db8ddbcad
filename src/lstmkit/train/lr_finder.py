r"""Learning-rate range test (Smith 2017, "Cyclical Learning Rates"; the fastai ``lr_find``).

Train for ``num_steps`` batches while the rate grows exponentially,

.. math:: \eta_i = \eta_{start} \, (\eta_{end} / \eta_{start})^{i / (n - 1)},

record the loss, smooth it with a bias-corrected exponential moving average

.. math:: a_i = \beta a_{i-1} + (1 - \beta) L_i, \qquad \tilde L_i = a_i / (1 - \beta^{i+1}),

and stop early once :math:`\tilde L_i > 4 \min_{j \le i} \tilde L_j` (diverged). The suggested rate is,
by default, the one where the smoothed loss falls fastest against :math:`\log \eta` (``"steepest"``:
:math:`\arg\min_i d\tilde L / d\log\eta` over the points before the minimum, ignoring the first
10 %), or the rate at the minimum divided by 10 (``"min/10"``). Both are reported.

The model, the optimiser (when one is passed) and the RNG states are restored afterwards: the test
leaves no trace.
"""
from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lstmkit.files import atomic_write, write_csv
from lstmkit.train.checkpoint import capture_rng_state, restore_rng_state
from lstmkit.train.evaluation import forward_model, split_batch, to_device
from lstmkit.train.optim import clip_gradients, make_optimizer

logger = logging.getLogger(__name__)

LR_FINDER_CSV = "lr_finder.csv"
LR_FINDER_PNG = "lr_finder.png"


@dataclass
class LRFinderResult:
    lrs: list[float]
    losses: list[float]  # raw loss per step
    smoothed: list[float]  # bias-corrected EMA of the loss
    suggested_lr: float  # the value named by ``method``
    method: str  # "steepest" or "min/10"
    steepest_lr: float
    min_lr_div10: float

    def rows(self) -> list[dict]:
        return [{"lr": lr, "loss": loss, "smoothed_loss": s}
                for lr, loss, s in zip(self.lrs, self.losses, self.smoothed)]

    def plot(self, path: str | Path | None = None):
        """A matplotlib Figure (Agg canvas, no pyplot state) of smoothed loss vs. lr; saved if ``path``."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6, 4), dpi=100)
        FigureCanvasAgg(figure)
        ax = figure.add_subplot()
        ax.plot(self.lrs, self.losses, color="0.75", linewidth=0.8, label="loss")
        ax.plot(self.lrs, self.smoothed, color="C0", label="smoothed loss")
        ax.axvline(self.suggested_lr, color="C3", linestyle="--",
                   label=f"suggested {self.suggested_lr:.2e} ({self.method})")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        finite = [s for s in self.smoothed if math.isfinite(s)]
        if finite:  # keep the diverging tail from squashing the interesting part
            low, high = min(finite), finite[0]
            ax.set_ylim(low - 0.1 * abs(high - low), max(high, low) + 0.5 * abs(high - low) + 1e-12)
        ax.legend(loc="best")
        ax.set_title("learning-rate range test")
        figure.tight_layout()
        if path is not None:
            atomic_write(path, lambda tmp: figure.savefig(tmp, format="png"))
        return figure


def suggest_lr(lrs: list[float], smoothed: list[float], *, skip_start: float = 0.1) -> tuple[float, float]:
    """``(steepest, min/10)`` from a range-test curve; see the module docstring."""
    lrs_arr, loss = np.asarray(lrs, dtype=float), np.asarray(smoothed, dtype=float)
    finite = np.isfinite(loss)
    if not finite.any():
        raise ValueError("the range test produced no finite loss: lower start_lr")
    best = int(np.nanargmin(np.where(finite, loss, np.nan)))
    min_div10 = float(lrs_arr[best] / 10)
    start = int(len(loss) * skip_start)
    if best - start < 2:  # too few points before the minimum to take a slope
        return float(lrs_arr[best]), min_div10
    slope = np.gradient(loss[start:best + 1], np.log(lrs_arr[start:best + 1]))
    return float(lrs_arr[start + int(np.argmin(slope))]), min_div10


def lr_find(
    model: torch.nn.Module,
    loader,
    loss_fn,
    *,
    optimizer: str | torch.optim.Optimizer = "adam",
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 200,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    smoothing: float = 0.98,
    diverge_factor: float = 4.0,
    suggest: str = "steepest",
    clip_grad_norm: float | None = None,
    uses_state: bool = False,
    run_dir: str | Path | None = None,
) -> LRFinderResult:
    """Run the range test on (x, y) batches of ``loader`` (cycled if shorter than ``num_steps``).

    ``optimizer`` is a name (a throw-away optimiser is built) or an optimiser over ``model``'s
    parameters, whose state is restored afterwards. With ``uses_state`` the model is called as
    ``model(x, None)`` and its first output is the prediction. With ``run_dir``, writes
    ``lr_finder.csv`` and ``lr_finder.png`` there. Single process only (not under DDP).
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got start_lr={start_lr}, end_lr={end_lr}")
    if num_steps < 2:
        raise ValueError(f"num_steps must be >= 2, got {num_steps}")
    if suggest not in ("steepest", "min/10"):
        raise ValueError(f"suggest must be 'steepest' or 'min/10', got {suggest!r}")
    device = next(model.parameters()).device
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict()) if isinstance(optimizer, torch.optim.Optimizer) else None
    saved_rng = capture_rng_state()
    was_training = model.training
    opt = optimizer if saved_optimizer is not None else make_optimizer(
        optimizer, model.parameters(), lr=start_lr, weight_decay=weight_decay, momentum=momentum)

    lrs, losses, smoothed = [], [], []
    average, best = 0.0, math.inf
    ratio = end_lr / start_lr
    try:
        model.train()
        batches = iter(loader)
        for i in range(num_steps):
            try:
                batch = next(batches)
            except StopIteration:
                batches = iter(loader)
                batch = next(batches)
            lr = start_lr * ratio ** (i / (num_steps - 1))
            for group in opt.param_groups:
                group["lr"] = lr
            x, y = split_batch(to_device(batch, device))
            opt.zero_grad(set_to_none=True)
            prediction, _ = forward_model(model, x, None, uses_state)
            loss = loss_fn(prediction, y)
            value = float(loss.detach())
            if not math.isfinite(value):
                break
            loss.backward()
            if math.isfinite(clip_gradients(model.parameters(), max_norm=clip_grad_norm)):
                opt.step()
            average = smoothing * average + (1 - smoothing) * value
            smooth = average / (1 - smoothing ** (i + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(smooth)
            best = min(best, smooth)
            if smooth > diverge_factor * best:
                break
    finally:
        model.load_state_dict(saved_model)
        opt.zero_grad(set_to_none=True)
        if saved_optimizer is not None:
            opt.load_state_dict(saved_optimizer)
        restore_rng_state(saved_rng)
        model.train(was_training)

    steepest, min_div10 = suggest_lr(lrs, smoothed)
    result = LRFinderResult(lrs, losses, smoothed, steepest if suggest == "steepest" else min_div10, suggest,
                            steepest, min_div10)
    logger.info("lr finder: %d steps from %.1e to %.1e; suggested lr %.2e (%s; min/10 = %.2e, steepest = %.2e)",
                len(lrs), lrs[0], lrs[-1], result.suggested_lr, suggest, min_div10, steepest)
    if run_dir is not None:
        run_dir = Path(run_dir)
        write_csv(run_dir / LR_FINDER_CSV, result.rows())
        result.plot(run_dir / LR_FINDER_PNG)
    return result
