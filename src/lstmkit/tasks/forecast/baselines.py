r"""The baselines every forecaster should be checked against, computed on exactly the same windows as the model.

* ``naive``: the last observed value, for every step of the horizon;
* ``seasonal_naive``: the value one season before each target, :math:`\hat y_{T+h} = y_{T+h-k m}` with
  :math:`k = \lceil K / m \rceil` so that it only uses observed values;
* ``ets``: exponential smoothing (statsmodels' Holt-Winters, damped additive trend, additive
  seasonality when m <= 24, on the same transformed scale as the model), parameters fitted once on
  the rows before the test part, then re-filtered up to each forecast origin. Present when
  statsmodels is installed.
* ``ar``: an autoregression with a constant, :math:`z_t = c + \sum_{i=1}^{p} \phi_i z_{t-i} + e_t`,
  fitted by least squares on the rows before the test part (transformed scale), the order p chosen
  by AIC; forecasts are iterated step by step from each origin's last p values. On cyclic series
  without a calendar season (business or population cycles) it is the model a statistician tries
  first.

All return (windows, horizon, targets) arrays for forecast origins T (the first forecast row of each
window). The metrics they are scored with are in :mod:`lstmkit.metrics.forecast`.

For the competition protocol of the global forecaster (one forecast from the end of each series):
``seasonal_naive`` (R's ``snaive``) and ``theta_forecast`` (R's ``thetaf``); Naive2 is
:func:`lstmkit.metrics.forecast.naive2_forecast`.
"""
from __future__ import annotations

import logging
import math
import warnings

import numpy as np

from lstmkit.metrics.forecast import seasonal_indices, seasonality_test

logger = logging.getLogger(__name__)

__all__ = ["ar_fit", "ar_forecast", "ets_forecast", "holt_winters_forecast", "holt_winters_states", "naive_forecast",
           "seasonal_lag", "seasonal_naive", "seasonal_naive_forecast", "theta_forecast"]


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
    model with those parameters is run over ``z[:T]`` and forecasts ``horizon`` steps. The filter is
    causal, so one pass over the rows gives every origin's state (:func:`holt_winters_states`): the
    numbers of re-running statsmodels at each origin, in O(n) instead of O(n x origins).
    """
    try:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing
    except ImportError:
        logger.info("statsmodels is not installed: no ets baseline (pip install 'lstmkit[data]')")
        return None
    seasonal = "add" if 1 < season <= 24 and fit_end >= 2 * season + 2 else None
    out = np.empty((len(origins), horizon, z.shape[1]))
    last = int(np.max(origins))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter from statsmodels on short series
        for k in range(z.shape[1]):
            fitted = ExponentialSmoothing(z[:fit_end, k], initialization_method="estimated", trend="add",
                                          damped_trend=True, seasonal=seasonal,
                                          seasonal_periods=season if seasonal else None).fit()
            p = fitted.params
            out[:, :, k] = holt_winters_forecast(
                z[:last, k], origins, horizon, alpha=p["smoothing_level"], beta=p["smoothing_trend"],
                phi=p["damping_trend"], level=p["initial_level"], trend=p["initial_trend"],
                gamma=p["smoothing_seasonal"] if seasonal else None,
                seasons=np.asarray(p["initial_seasons"]) if seasonal else None)
    return out


def holt_winters_states(x: np.ndarray, *, alpha: float, beta: float, phi: float, level: float, trend: float,
                        gamma: float | None = None, seasons: np.ndarray | None = None):
    r"""Damped additive-trend Holt-Winters (additive season when ``seasons`` is given) run over ``x``.

    .. math::
        \ell_i = \alpha (x_{i-1} - s_{i-1}) + (1-\alpha)(\ell_{i-1} + \phi b_{i-1})
        \qquad b_i = \beta (\ell_i - \ell_{i-1}) + (1-\beta)\,\phi b_{i-1}

        s_{i+m-1} = \gamma (x_{i-1} - \ell_{i-1} - \phi b_{i-1}) + (1-\gamma) s_{i-1}

    with :math:`\ell_0, b_0, s_0..s_{m-1}` the initial states: statsmodels' ``ExponentialSmoothing``
    recursion, operation for operation. Returns (levels, trends, seasonals): index i is the state after
    the first i values, so a model fitted on ``x[:T]`` ends in state T.
    """
    n = len(x)
    lvl, b = np.empty(n + 1), np.empty(n + 1)
    lvl[0], b[0] = level, trend
    if seasons is None:
        for i in range(1, n + 1):
            lvl[i] = alpha * x[i - 1] + (1 - alpha) * (lvl[i - 1] + b[i - 1] * phi)
            b[i] = beta * (lvl[i] - lvl[i - 1]) + (1 - beta) * (b[i - 1] * phi)
        return lvl, b, None
    m = len(seasons)
    s = np.zeros(n + m)
    s[:m] = seasons
    for i in range(1, n + 1):
        trended = lvl[i - 1] + b[i - 1] * phi
        lvl[i] = alpha * x[i - 1] - alpha * s[i - 1] + (1 - alpha) * trended
        b[i] = beta * (lvl[i] - lvl[i - 1]) + (1 - beta) * (b[i - 1] * phi)
        s[i + m - 1] = gamma * x[i - 1] - gamma * trended + (1 - gamma) * s[i - 1]
    return lvl, b, s


def holt_winters_forecast(x: np.ndarray, origins: np.ndarray, horizon: int, **params) -> np.ndarray:
    r"""(windows, horizon) forecasts from each origin T of :func:`holt_winters_states` over ``x[:max T]``:
    :math:`\hat x_{T+j} = \ell_T + b_T \sum_{k=1}^{j+1} \phi^k + s`, where the season of step j < m - 1 is
    :math:`s_{T+j}` and of later steps :math:`s_{T-1+((j-m+1) \bmod m)}` (statsmodels' forecast, kept
    as it is so that both give the same numbers)."""
    lvl, b, s = holt_winters_states(x, **params)
    phi = params["phi"]
    damp = np.cumsum(np.repeat(phi, horizon) ** np.arange(1, horizon + 1))  # (horizon,) phi + ... + phi^(j+1)
    out = lvl[origins][:, None] + b[origins][:, None] * damp[None, :]
    if s is not None:
        m, j = len(params["seasons"]), np.arange(horizon)
        back = np.where(j < m - 1, j, -1 + (j - m + 1) % m)  # statsmodels' index of each step's season, from T
        out = out + s[origins[:, None] + back[None, :]]
    return out


def _lagged(series: np.ndarray, p: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Regressors [1, z_{t-1}, ..., z_{t-p}] and targets z_t for t = start .. len(series) - 1."""
    rows = np.arange(start, len(series))
    design = np.column_stack([np.ones(len(rows))] + [series[rows - i] for i in range(1, p + 1)])
    return design, series[rows]


def ar_fit(series: np.ndarray, max_lag: int) -> tuple[int, np.ndarray]:
    r"""The AR order p in 1..max_lag with the lowest AIC and its coefficients [c, phi_1, ..., phi_p].

    Every order is scored on the same rows (t >= max_lag), so the AICs compare like with like:
    :math:`\mathrm{AIC}(p) = n \ln(\mathrm{RSS}_p / n) + 2 (p + 1)`; the chosen order is then refitted
    on all rows it can use (t >= p), as statsmodels' ``ar_select_order`` followed by ``AutoReg`` does.
    """
    best_p, best_aic = 1, np.inf
    for p in range(1, max_lag + 1):
        design, target = _lagged(series, p, max_lag)
        coef, *_ = np.linalg.lstsq(design, target, rcond=None)
        rss = float(np.sum((target - design @ coef) ** 2))
        n = len(target)
        aic = n * np.log(max(rss, 1e-300) / n) + 2 * (p + 1)
        if aic < best_aic:
            best_p, best_aic = p, aic
    design, target = _lagged(series, best_p, best_p)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return best_p, coef


def ar_max_lag(season: int, fit_end: int) -> int:
    """The largest order tried: two seasons and at least 12, at most 60 and a fifth of the fitted rows."""
    return max(1, min(max(12, 2 * season), 60, fit_end // 5))


def ar_forecast(z: np.ndarray, origins: np.ndarray, horizon: int, season: int, fit_end: int) -> tuple[np.ndarray, list[int]]:
    r"""(windows, horizon, targets) AR(p) forecasts on the transformed scale ``z`` and the order per target.

    Fitted on ``z[:fit_end]`` (:func:`ar_fit`, p up to :func:`ar_max_lag`); from each origin T the
    forecast is iterated, :math:`\hat z_{T+h} = c + \sum_i \phi_i \hat z_{T+h-i}` with observed values
    where they exist (t < T).
    """
    out = np.empty((len(origins), horizon, z.shape[1]))
    orders = []
    max_lag = ar_max_lag(season, fit_end)
    for k in range(z.shape[1]):
        p, coef = ar_fit(z[:fit_end, k], max_lag)
        orders.append(p)
        history = z[origins[:, None] - p + np.arange(p)[None, :], k]  # (windows, p): z_{T-p} .. z_{T-1}
        for h in range(horizon):
            step = coef[0] + history[:, ::-1] @ coef[1:]  # phi_1 multiplies the most recent value
            out[:, h, k] = step
            history = np.concatenate([history[:, 1:], step[:, None]], axis=1)
    return out, orders


# ---- per-series forecasts of the competition protocol (one forecast from the end of each series) ----
def seasonal_naive(train: np.ndarray, h: int, season: int) -> np.ndarray:
    """The last season repeated (R forecast's ``snaive``): :math:`\\hat y_{n+j} = y_{n - m + ((j-1) \\bmod m)}`."""
    x = np.asarray(train, dtype=float)
    if season <= 1 or len(x) < season:
        return np.full(h, x[-1])
    return x[len(x) - season + np.arange(h) % season]


def _ses(x: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Simple exponential smoothing started at x[0], for every alpha at once: (final levels, SSEs)."""
    level, sse = np.full(len(alphas), x[0]), np.zeros(len(alphas))
    for v in x[1:]:
        e = v - level
        sse += e * e
        level = level + alphas * e
    return level, sse


def theta_forecast(train: np.ndarray, h: int, season: int) -> np.ndarray:
    """The Theta method (Assimakopoulos & Nikolopoulos 2000) as the M3/M4 benchmark code runs it.

    Seasonally adjust like Naive2 (the 90% test, classical multiplicative indices), fit simple
    exponential smoothing (alpha by least squares on a grid), add half the slope b of the linear
    trend, :math:`\\hat y_{n+j} = \\ell_n + \\tfrac{b}{2}\\,(j - 1 + 1/\\alpha - (1-\\alpha)^n/\\alpha)`
    (Hyndman & Billah 2003, R's ``thetaf``), and reseasonalise.
    """
    x = np.asarray(train, dtype=float)
    n = len(x)
    seasonal = season > 1 and seasonality_test(x, season) and (x > 0).all()
    if seasonal:
        figure = seasonal_indices(x, season)
        idx = figure[np.arange(n) % season]
        x = x / idx
    grid = np.linspace(0.01, 0.99, 99)
    levels, sse = _ses(x, grid)
    best = int(np.argmin(sse))
    alpha, level = float(grid[best]), float(levels[best])
    b = np.polyfit(np.arange(n), x, 1)[0] if n > 1 else 0.0
    j = np.arange(h)
    f = level + 0.5 * b * (j + 1 / alpha - (1 - alpha) ** n / alpha)
    if seasonal:
        f = f * figure[(n + j) % season]
    return f
