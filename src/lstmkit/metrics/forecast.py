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

Forecasting competitions (M3, M4, Tourism) score one forecast of the last ``h`` values per series:

* :func:`smape_m3` M3's sMAPE, :math:`100 \cdot \operatorname{mean} \frac{2|y - f|}{|y| + |f|}` over the ``h``
  values (Makridakis & Hibon 2000, Appendix A, which divides by :math:`y + f`: the same for the positive
  M3 data); :func:`mase` MASE of one forecast, scaled by :func:`mase_scale` of the training part;
* :func:`naive2_forecast` the M3/M4 benchmark Naive2 (the last value of the seasonally adjusted series,
  reseasonalised), with :func:`seasonality_test`, the 90% autocorrelation test that decides whether to
  adjust;
* :func:`owa` M4's overall weighted average of sMAPE and MASE relative to Naive2;
* :func:`score_collection` all of these for a whole collection: one row per series and the aggregates.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, Sequence

import numpy as np

__all__ = ["METRICS", "SeriesLike", "forecast_metrics", "mase", "mase_scale", "naive2_forecast", "owa",
           "pinball", "score_collection", "seasonal_indices", "seasonality_test", "smape_m3"]

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



# ---------------------------------------------------------------------------------------------
# Forecasting competitions: one forecast of the last h values per series
# ---------------------------------------------------------------------------------------------


def smape_m3(y: Any, f: Any) -> float:
    """M3's sMAPE in percent: the mean of :math:`200 |y - f| / (|y| + |f|)` over all values; 0/0 counts as 0."""
    y, f = np.asarray(y, dtype=np.float64), np.asarray(f, dtype=np.float64)
    if y.shape != f.shape:
        raise ValueError(f"truth {y.shape} and forecast {f.shape} differ in shape")
    if y.size == 0:
        raise ValueError("sMAPE of no values")
    denom = np.abs(y) + np.abs(f)
    ratio = np.divide(2 * np.abs(y - f), denom, out=np.zeros_like(denom), where=denom > 0)
    return float(100 * ratio.mean())


def mase(y: Any, f: Any, train: Any, season: int) -> float:
    """MASE of forecast ``f`` of ``y``: its MAE over ``mase_scale(train, season)``.

    The scale is the training part's mean absolute seasonal difference :math:`|y_t - y_{t-m}|` (m = 1
    when ``season`` <= 1 or the training part has no more than ``season`` values; a zero scale counts
    as 1, see :func:`mase_scale`), as in the M4 competition's code.
    """
    y, f = np.asarray(y, dtype=np.float64), np.asarray(f, dtype=np.float64)
    if y.shape != f.shape:
        raise ValueError(f"truth {y.shape} and forecast {f.shape} differ in shape")
    train = np.asarray(train, dtype=np.float64).reshape(-1)
    if len(train) < 2:
        raise ValueError(f"MASE needs at least 2 training values, got {len(train)}")
    return float(np.abs(y - f).mean() / mase_scale(train, season))


def seasonality_test(train: Any, season: int) -> bool:
    r"""Whether ``train`` is seasonal with period m = ``season``: the M3/M4 competitions' 90% test.

    With :math:`r_k` the lag-k sample autocorrelation (mean removed, divided by the lag-0 sum, as R's
    ``acf``) and n values, the series is seasonal when

    .. math:: |r_m| > 1.645 \sqrt{(1 + 2 \sum_{k=1}^{m-1} r_k^2) / n},

    i.e. when :math:`r_m` lies outside the two-sided 90% band of Bartlett's formula. m <= 1, fewer
    than 3m values or a constant series are never seasonal. This is ``SeasonalityTest`` of the M4
    competition's R benchmark code (``M4-methods``, "Benchmarks and Evaluation.R"), which follows the
    M3 competition's procedure.
    """
    x = np.asarray(train, dtype=np.float64).reshape(-1)
    n = len(x)
    if season <= 1 or n < 3 * season:
        return False
    d = x - x.mean()
    c0 = float(d @ d)
    if c0 <= 0:
        return False
    r = np.array([d[k:] @ d[:-k] for k in range(1, season + 1)]) / c0
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[: season - 1] ** 2)) / n)
    return bool(abs(r[season - 1]) > limit)


def seasonal_indices(x: np.ndarray, season: int) -> np.ndarray:
    """Classical multiplicative decomposition (R's ``decompose``): one index per position t mod m."""
    m = season
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    trend = np.convolve(x, weights, mode="valid")  # the centred moving average, where it is defined
    half = (len(weights) - 1) // 2
    ratio = np.full(len(x), np.nan)
    ratio[half : half + len(trend)] = x[half : half + len(trend)] / trend
    figure = np.array([np.nanmean(ratio[i::m]) for i in range(m)])
    return figure / figure.mean()


def naive2_forecast(train: Any, h: int, season: int) -> np.ndarray:
    r"""The M3/M4 benchmark Naive2: the naive forecast of the seasonally adjusted series, reseasonalised.

    If :func:`seasonality_test` finds ``train`` seasonal with period m = ``season`` (and every value
    is positive), the seasonal indices :math:`s_0..s_{m-1}` of a classical multiplicative
    decomposition (a centred 2xm moving average for even m, an m-term one for odd m; each index the
    mean ratio of value to moving average at its position t mod m, counted from the first training
    value; normalised to mean 1, as R's ``decompose``) give the forecast

    .. math:: \hat y_{n+j} = \frac{y_n}{s_{(n-1) \bmod m}} \, s_{(n-1+j) \bmod m}, \quad j = 1..h

    (positions counted from 0, so :math:`y_n` sits at n-1). Otherwise Naive2 is the naive forecast
    :math:`\hat y_{n+j} = y_n`. Follows the M4 competition's R benchmark code (``naive(des_input) * SIout``).
    """
    x = np.asarray(train, dtype=np.float64).reshape(-1)
    if len(x) == 0:
        raise ValueError("Naive2 needs at least one training value")
    if h < 1:
        raise ValueError(f"horizon h must be at least 1, got {h}")
    if not (seasonality_test(x, season) and (x > 0).all()):
        return np.full(h, x[-1])
    figure = seasonal_indices(x, season)
    n = len(x)
    return x[-1] / figure[(n - 1) % season] * figure[(n + np.arange(h)) % season]


def owa(smape: float, mase: float, smape_naive2: float, mase_naive2: float) -> float:
    """M4's overall weighted average: :math:`0.5 (sMAPE / sMAPE_{Naive2} + MASE / MASE_{Naive2})`; below 1 beats Naive2."""
    return float(0.5 * (smape / smape_naive2 + mase / mase_naive2))


class SeriesLike(Protocol):
    """What :func:`score_collection` needs of a series (:class:`lstmkit.data.competitions.CompetitionSeries`)."""

    id: str
    train: np.ndarray
    test: np.ndarray
    season: int


def score_collection(
    series: Iterable[SeriesLike],
    forecasts: Mapping[str, Any] | Sequence[Any],
    *,
    naive2: bool = True,
) -> tuple[Any, dict[str, float]]:
    """Score one forecast per series: a table with a row per series and the aggregates.

    ``forecasts`` maps each series' ``id`` to its ``h`` forecast values (or lists them in the order of
    ``series``). Returns ``(table, summary)``: ``table`` a :class:`pandas.DataFrame` with columns
    series, h, smape (:func:`smape_m3`), mase (:func:`mase`) and, with ``naive2``, smape_naive2 and
    mase_naive2 (:func:`naive2_forecast` scored the same way); ``summary`` a dict of plain floats:
    ``series`` (count), ``smape`` and ``mase`` (means over series, as M4 reports them),
    ``smape_points`` (the mean over every forecast value, which weights a series by its h: the
    "average of all horizons" of the M3 paper's Table 6) and, with ``naive2``, ``smape_naive2``,
    ``mase_naive2``, ``smape_points_naive2`` and ``owa`` (:func:`owa` of the means).

    Raises:
        ValueError: naming the series: a forecast missing, of another length than the test part,
            or not finite.
    """
    import pandas as pd

    series = list(series)
    if isinstance(forecasts, Mapping):
        missing = [s.id for s in series if s.id not in forecasts]
        if missing:
            raise ValueError(f"no forecast for {len(missing)} series, the first {missing[0]!r}")
        chosen = [forecasts[s.id] for s in series]
    else:
        chosen = list(forecasts)
        if len(chosen) != len(series):
            raise ValueError(f"{len(chosen)} forecasts for {len(series)} series")
    if not series:
        raise ValueError("no series to score")
    rows = []
    for s, forecast in zip(series, chosen):
        y = np.asarray(s.test, dtype=np.float64).reshape(-1)
        f = np.asarray(forecast, dtype=np.float64).reshape(-1)
        if f.shape != y.shape:
            raise ValueError(f"series {s.id!r}: {f.size} forecast values for a test part of {y.size}")
        if not np.isfinite(f).all():
            raise ValueError(f"series {s.id!r}: the forecast holds a missing or infinite value")
        row = {"series": s.id, "h": y.size, "smape": smape_m3(y, f), "mase": mase(y, f, s.train, s.season)}
        if naive2:
            benchmark = naive2_forecast(s.train, y.size, s.season)
            row["smape_naive2"] = smape_m3(y, benchmark)
            row["mase_naive2"] = mase(y, benchmark, s.train, s.season)
        rows.append(row)
    table = pd.DataFrame(rows)
    weights = table["h"].to_numpy(dtype=np.float64)
    summary = {
        "series": float(len(table)),
        "smape": float(table["smape"].mean()),
        "mase": float(table["mase"].mean()),
        "smape_points": float(np.average(table["smape"], weights=weights)),
    }
    if naive2:
        summary["smape_naive2"] = float(table["smape_naive2"].mean())
        summary["mase_naive2"] = float(table["mase_naive2"].mean())
        summary["smape_points_naive2"] = float(np.average(table["smape_naive2"], weights=weights))
        summary["owa"] = owa(summary["smape"], summary["mase"], summary["smape_naive2"], summary["mase_naive2"])
    return table, summary
