r"""The baselines every forecaster should be checked against, computed on exactly the same windows as the model.

* ``naive``: the last observed value, for every step of the horizon;
* ``seasonal_naive``: the value one season before each target, :math:`\hat y_{T+h} = y_{T+h-k m}` with
  :math:`k = \lceil K / m \rceil` so that it only uses observed values;
* ``ets``: exponential smoothing (statsmodels' Holt-Winters, damped additive trend, additive
  seasonality when m <= 24, on the same transformed scale as the model), parameters fitted once on
  the rows before the test part, then re-filtered up to each forecast origin. Present when
  statsmodels is installed.

All return (windows, horizon, targets) arrays for forecast origins T (the first forecast row of each
window). The metrics they are scored with are in :mod:`lstmkit.metrics.forecast`.
"""
from __future__ import annotations

import logging
import math
import warnings

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["ets_forecast", "naive_forecast", "seasonal_lag", "seasonal_naive_forecast"]


def naive_forecast(values: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """(windows, horizon, targets): the last value before each origin, repeated."""
    return np.repeat(values[origins - 1][:, None, :], horizon, axis=1)


def seasonal_lag(season: int, horizon: int) -> int:
    """k * m with k = ceil(K / m): the shortest whole number of seasons covering the horizon."""
    return season * math.ceil(horizon / season) if season > 1 else horizon


def seasonal_naive_forecast(values: np.ndarray, origins: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """(windows, horizon, targets): y[T + h - k m] for each origin T (m = 1 falls back to naive)."""
    if season <= 1:
        return naive_forecast(values, origins, horizon)
    lag = seasonal_lag(season, horizon)
    rows = origins[:, None] - lag + np.arange(horizon)[None, :]  # (windows, horizon)
    return values[rows]


def ets_forecast(z: np.ndarray, origins: np.ndarray, horizon: int, season: int, fit_end: int) -> np.ndarray | None:
    """(windows, horizon, targets) ETS forecasts on the transformed scale ``z``, or None without statsmodels.

    Parameters are estimated once on ``z[:fit_end]`` (rows before the test part); for each origin T the
    model with those parameters is run over ``z[:T]`` and forecasts ``horizon`` steps.
    """
    try:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing
    except ImportError:
        logger.info("statsmodels is not installed: no ets baseline (pip install 'lstmkit[data]')")
        return None
    seasonal = "add" if 1 < season <= 24 and fit_end >= 2 * season + 2 else None
    out = np.empty((len(origins), horizon, z.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter from statsmodels on short series
        for k in range(z.shape[1]):
            spec = dict(trend="add", damped_trend=True, seasonal=seasonal,
                        seasonal_periods=season if seasonal else None)
            fitted = ExponentialSmoothing(z[:fit_end, k], initialization_method="estimated", **spec).fit()
            p = fitted.params
            known = dict(initialization_method="known", initial_level=p["initial_level"],
                         initial_trend=p["initial_trend"],
                         initial_seasonal=p["initial_seasons"] if seasonal else None)
            smoothing = dict(smoothing_level=p["smoothing_level"], smoothing_trend=p["smoothing_trend"],
                             damping_trend=p["damping_trend"], optimized=False)
            if seasonal:
                smoothing["smoothing_seasonal"] = p["smoothing_seasonal"]
            for i, origin in enumerate(origins):
                model = ExponentialSmoothing(z[:origin, k], **spec, **known)
                out[i, :, k] = model.fit(**smoothing).forecast(horizon)
    return out
