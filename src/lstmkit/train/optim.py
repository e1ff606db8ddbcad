"""Optimisers and learning-rate schedules by name, and gradient clipping that reports the norm.

Schedules advance either once per *batch* (cosine, onecycle: their length is ``epochs * len(loader)``,
and a TBPTT batch counts once however many segments it has) or once per *epoch* (plateau, which
needs the monitored validation value).
"""
from __future__ import annotations

import math
from typing import Iterable

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LRScheduler, OneCycleLR, ReduceLROnPlateau

from lstmkit.train.config import OPTIMIZERS, SCHEDULES


def make_optimizer(
    name: str,
    params: Iterable[torch.nn.Parameter],
    *,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
) -> torch.optim.Optimizer:
    """``adam`` | ``adamw`` | ``rmsprop`` | ``sgd`` with torch's defaults for everything not named here.

    ``momentum`` applies to sgd (heavy ball) and rmsprop. ``weight_decay`` is an L2 term added to the
    gradient except for adamw, where it is decoupled: :math:`w \\leftarrow w - \\eta \\lambda w`.
    Adam and AdamW run torch's ``foreach`` implementation everywhere (torch picks it on CUDA only): a
    handful of calls over the list of parameters instead of a Python loop of ~10 calls per parameter;
    the same operations in the same order, so the same bits (0.36 instead of 0.58 ms a step on the
    forecaster's three 32-unit LSTMs).
    """
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, foreach=True)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, foreach=True)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, weight_decay=weight_decay, momentum=momentum)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=momentum)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")


def make_scheduler(
    name: str | None,
    optimizer: torch.optim.Optimizer,
    *,
    epochs: int,
    steps_per_epoch: int | None,
    mode: str = "min",
    factor: float = 0.5,
    patience: int = 2,
    min_lr: float = 0.0,
) -> LRScheduler | ReduceLROnPlateau | None:
    """Build a schedule; see :func:`schedule_interval` for when to call its ``step()``.

    - ``plateau``: :math:`\\eta \\leftarrow \\max(\\eta \\cdot \\text{factor}, \\eta_{min})` after
      ``patience`` epochs without improvement of the monitored value.
    - ``cosine``: :math:`\\eta_t = \\eta_{min} + (\\eta_0 - \\eta_{min})(1 + \\cos(\\pi t / T_{max}))/2`
      over all batches of the run (no restarts).
    - ``onecycle``: Smith & Topin 2017, warm up to ``lr`` over the first 30 % of batches, then anneal
      (torch's OneCycleLR defaults); the optimiser's ``lr`` is the peak.
    """
    if name is None:
        return None
    if name == "plateau":
        return ReduceLROnPlateau(optimizer, mode=mode, factor=factor, patience=patience, min_lr=min_lr)
    if name in ("cosine", "onecycle"):
        if not steps_per_epoch:
            raise ValueError(
                f"schedule {name!r} needs the number of batches per epoch; the training DataLoader has no "
                "len() (IterableDataset?): use schedule='plateau' or None"
            )
        total = epochs * steps_per_epoch
        if name == "cosine":
            return CosineAnnealingLR(optimizer, T_max=total, eta_min=min_lr)
        max_lr = [group["lr"] for group in optimizer.param_groups]
        return OneCycleLR(optimizer, max_lr=max_lr, total_steps=total)
    raise ValueError(f"unknown schedule {name!r}; choose one of {SCHEDULES} or None")


def schedule_interval(name: str | None) -> str | None:
    """``"batch"`` or ``"epoch"``: when the trainer calls the schedule's ``step()``."""
    if name is None:
        return None
    return "epoch" if name == "plateau" else "batch"


def clip_gradients(
    params: Iterable[torch.nn.Parameter],
    *,
    max_norm: float | None = None,
    clip_value: float | None = None,
) -> float:
    """Clip gradients in place and return the **pre-clip** global L2 norm.

    .. math:: \\|g\\| = \\sqrt{\\textstyle\\sum_p \\|g_p\\|_2^2}, \\qquad
              g_p \\leftarrow g_p \\cdot \\min\\!\\left(1, \\frac{\\text{max\\_norm}}{\\|g\\| + 10^{-6}}\\right)

    then, if ``clip_value`` is given, :math:`g_p \\leftarrow \\operatorname{clamp}(g_p, -v, v)`.
    The norm is computed even when nothing is clipped, so exploding gradients show in the step log;
    a non-finite return value means the gradients are non-finite and must not be applied (nothing is
    clipped in that case).
    """
    params = [p for p in params if p.grad is not None]
    if not params:
        return 0.0
    total = torch.nn.utils.get_total_norm([p.grad for p in params], norm_type=2.0)
    norm = float(total)
    if not math.isfinite(norm):
        return norm
    # torch multiplies every gradient by this factor clamped to 1 (its expression, so the same rounding);
    # a product with 1.0 changes nothing, so the pass over the gradients is skipped when nothing is clipped.
    if max_norm is not None and bool(max_norm / (total + 1e-6) < 1.0):
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, total)
    if clip_value is not None:
        torch.nn.utils.clip_grad_value_(params, clip_value)
    return norm


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])
