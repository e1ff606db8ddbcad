r"""A multi-season baseline: MSTL decomposition, a smoothed level, every seasonal component repeated.

Half-hourly demand has a daily and a weekly cycle; a seasonal naive forecast can follow only one of
them. MSTL (Bandara, Hyndman & Bergmeir 2021: STL run once per period, iterated) splits the series into
a trend, one seasonal component per period and a remainder; the forecast puts the components back:

.. math::
    z_t = T_t + \sum_i S^{(i)}_t + R_t                       \qquad \text{(MSTL, periods } m_1 < m_2 < \dots)

    a_t = z_t - \sum_i S^{(i)}_t                              \qquad \text{(seasonally adjusted)}

    \hat z_{T+h} = \hat a_{T+h} + \sum_i S^{(i)}_{T+h}

where :math:`\hat a` is the damped-trend exponential smoothing of the adjusted series (ETS(A,Ad,N),
the ``ets`` baseline without its season: :func:`lstmkit.tasks.forecast.baselines.ets_forecast`), as
R's ``stlf``/``mstl`` forecast with an ETS on the adjusted series; the seasonal components are repeated.
A damped trend rather than a flat level: on a trending series (AirPassengers) a flat level lags a
whole horizon behind, while the damping keeps a trend from running away on a level one.

Fitted once, like the other baselines: the decomposition and the smoothing parameters on rows
``[0, fit_end)`` (the rows before the evaluated part; at prediction time, the whole history given).
Past ``fit_end`` each component continues as its last fitted cycle, :math:`S^{(i)}_t = S^{(i)}_{t - k m_i}`
with the smallest k that lands before ``fit_end``, and the smoothing keeps filtering the adjusted
observations up to each origin. The decomposition is statsmodels' ``MSTL`` (an optional extra, as is
the smoothing): without statsmodels there is no ``mstl`` baseline, and a warning says so.
"""
from __future__ import annotations

import logging
import warnings

import numpy as np

from lstmkit.tasks.forecast.baselines import ets_forecast

logger = logging.getLogger(__name__)

__all__ = ["mstl_forecast", "mstl_seasons", "seasonal_components"]


def mstl_seasons(seasons, fit_end: int) -> list[int]:
    """The periods MSTL can estimate from ``fit_end`` rows: at least 2 steps, two full cycles in the data."""
    return sorted(m for m in set(seasons) if 2 <= m and 2 * m <= fit_end)


def seasonal_components(series: np.ndarray, seasons: list[int]) -> np.ndarray | None:
    """(n, len(seasons)) seasonal components of a 1-D series by statsmodels' MSTL (periods sorted);
    None without statsmodels."""
    try:
        from statsmodels.tsa.seasonal import MSTL
    except ImportError:
        logger.warning("statsmodels is not installed: no mstl baseline (pip install 'lstmkit[data]')")
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' notes about windows and short series
        seasonal = np.asarray(MSTL(np.asarray(series, dtype=float), periods=list(seasons)).fit().seasonal)
    return seasonal.reshape(len(series), len(seasons))


def _continued(component: np.ndarray, season: int, n: int) -> np.ndarray:
    """(n,) a component fitted on its first len(component) rows, continued as its last cycle beyond them."""
    fitted = len(component)
    t = np.arange(n)
    past = np.where(t < fitted, t, fitted - season + (t - fitted) % season)
    return component[past]


def mstl_forecast(z: np.ndarray, origins: np.ndarray, horizon: int, seasons, fit_end: int) -> np.ndarray | None:
    """(windows, horizon, targets) forecasts on the transformed scale ``z`` (n, targets) for forecast
    origins T (first forecast row), or None when no season fits twice into ``fit_end`` rows or
    statsmodels is missing. ``z`` needs rows up to the last origin (later rows are never read)."""
    periods = mstl_seasons(seasons, fit_end)
    if not periods:
        return None
    origins = np.asarray(origins)
    n = max(int(origins.max()), fit_end)
    future = origins[:, None] + np.arange(horizon)[None, :]  # (windows, horizon) rows forecast
    out = np.empty((len(origins), horizon, z.shape[1]))
    for k in range(z.shape[1]):
        components = seasonal_components(z[:fit_end, k], periods)
        if components is None:
            return None
        span = max(n, int(future.max()) + 1)
        seasonal = sum(_continued(components[:, i], m, span) for i, m in enumerate(periods))  # (span,)
        adjusted = ets_forecast((z[:n, k] - seasonal[:n])[:, None], origins, horizon, 1, fit_end=fit_end)
        if adjusted is None:
            return None
        out[:, :, k] = adjusted[:, :, 0] + seasonal[future]
    return out
