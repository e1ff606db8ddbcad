"""The baseline every anomaly detector is compared with: a causal rolling z-score.

It is scored two ways (:meth:`lstmkit.tasks.anomaly.AnomalyDetector.baseline_flags`): thresholded by
the same calibration as the model (``rolling_zscore``), and by the textbook rule |z| > 3
(``rolling_zscore_3sigma``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["rolling_zscore"]


def rolling_zscore(values, window: int) -> np.ndarray:
    """Causal rolling z-score: max over columns of :math:`|x_t - \\bar x| / s` over the previous
    ``window`` points (NaN for the first ``window`` points). ``values``: (n,) or (n, F)."""
    x = np.asarray(values, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n <= window:
        return out
    c1 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    c2 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x * x, axis=0)])
    t = np.arange(window, n)
    mean = (c1[t] - c1[t - window]) / window
    var = np.maximum((c2[t] - c2[t - window]) / window - mean**2, 0.0)
    std = np.sqrt(var)
    floor = 1e-8 * max(1.0, float(np.abs(x).max()))
    z = np.abs(x[t] - mean) / np.maximum(std, floor)
    out[window:] = z.max(axis=1)
    return out
