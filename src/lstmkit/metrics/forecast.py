r"""Forecast metrics: every forecast window and every step of the horizon, per target, then averaged over targets.

With :math:`y` the truth and :math:`\hat y` the forecast:

* ``mae``   :math:`\operatorname{mean}|y - \hat y|`
* ``rmse``  :math:`\sqrt{\operatorname{mean}(y - \hat y)^2}`
* ``smape`` :math:`100 \cdot \operatorname{mean} \frac{2|y - \hat y|}{|y| + |\hat y|}` (in percent; pairs with
  :math:`|y| + |\hat y| = 0` count as 0)
* ``mase``  ``mae`` divided by the in-sample MAE of the seasonal naive forecast on the *training* part,
  :math:`\operatorname{mean}_{t} |y_t - y_{t-m}|` (Hyndman & Koehler 2006); below 1 beats that
  benchmark's training error. m = 1 (no season) uses the one-step naive forecast.
* ``pinball`` (quantile forecasts) :math:`\operatorname{mean}_q \max(q (y - \hat y_q), (q - 1)(y - \hat y_q))`.

The baselines these are compared with are in :mod:`lstmkit.tasks.forecast.baselines`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["METRICS", "forecast_metrics", "mase_scale", "pinball"]

METRICS = ("mae", "rmse", "smape", "mase")


def mase_scale(train_values: np.ndarray, season: int) -> np.ndarray:
    """Per-target denominator of MASE: mean |y_t - y_{t-m}| over the training rows (n, targets)."""
    m = season if season > 1 and len(train_values) > season else 1
    diffs = np.abs(train_values[m:] - train_values[:-m])  # (n - m, targets)
    scale = diffs.mean(axis=0)
    return np.where(scale > 0, scale, 1.0)


def forecast_metrics(truth: np.ndarray, pred: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """Metrics of ``pred`` against ``truth``, both (windows, horizon, targets); ``scale`` (targets,)."""
    if truth.shape != pred.shape:
        raise ValueError(f"truth {truth.shape} and prediction {pred.shape} differ in shape")
    err = truth - pred
    mae = np.abs(err).mean(axis=(0, 1))  # (targets,)
    rmse = np.sqrt((err**2).mean(axis=(0, 1)))
    denom = np.abs(truth) + np.abs(pred)
    ratio = np.divide(2 * np.abs(err), denom, out=np.zeros_like(denom, dtype=float), where=denom > 0)
    smape = 100 * ratio.mean(axis=(0, 1))
    mase = mae / scale
    return {name: float(np.mean(v)) for name, v in zip(METRICS, (mae, rmse, smape, mase))}


def pinball(truth: np.ndarray, pred_q: np.ndarray, quantiles: Sequence[float]) -> float:
    """Mean pinball loss of quantile forecasts ``pred_q`` (..., Q) against ``truth`` (...)."""
    q = np.asarray(quantiles)
    diff = truth[..., None] - pred_q
    return float(np.maximum(q * diff, (q - 1) * diff).mean())
