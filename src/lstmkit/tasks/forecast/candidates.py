r"""The single-series forecaster's baselines on any forecast origins, and its forecast chosen among them.

Baselines, all on the same origins T (first forecast row), returned on the original scale:

* ``naive``; ``seasonal_naive`` (the network's season m); ``seasonal_naive_<m>`` for every other season
  of the frequency (:func:`lstmkit.data.frequency.infer_seasons`: 48 and 336 for half-hourly data, 7 and
  365 for daily data) whose lag fits before the first origin;
* ``ets`` (with statsmodels) and ``ar`` (:mod:`lstmkit.tasks.forecast.baselines`);
* ``mstl`` (:mod:`lstmkit.tasks.forecast.mstl`, with statsmodels): every season of the frequency that
  the fitted rows hold two cycles of (the network's season included), when there are several or one
  longer than 24 steps (:func:`mstl_periods`).

Parameters are fitted once on the rows before ``fit_end``: the evaluated part at evaluation (the
validation part when choosing, the test part when scoring) and the whole history at prediction time,
so :meth:`Forecaster.predict` refits the chosen baseline on the history it is given (AR's order and
coefficients, ETS's parameters, the MSTL decomposition): the same rule as for the test part.

With ``combine="auto"`` (the default) :func:`choose_forecast` scores the network, every baseline and
the mean of the network and the best baseline by MASE on the validation windows early stopping did not
watch (the second half of the validation part, :func:`validation_parts`)
(:func:`lstmkit.tasks.forecast.choose.choose`) and keeps the winner in the fitted state. Only the
median is chosen; other quantiles move with it (:func:`shift_quantiles`).
"""
from __future__ import annotations

import logging

import numpy as np

from lstmkit.data import DataError
from lstmkit.data.frequency import infer_seasons
from lstmkit.metrics.forecast import forecast_metrics, mase_scale
from lstmkit.tasks.forecast import baselines, windows
from lstmkit.tasks.forecast.choose import choose, combine, forecast_label
from lstmkit.tasks.forecast.config import ForecastState
from lstmkit.tasks.forecast.mstl import mstl_forecast, mstl_seasons

logger = logging.getLogger(__name__)

__all__ = ["baseline_forecasts", "choice_report", "choose_forecast", "chosen_forecast", "forecast_after",
           "frequency_seasons", "history_needed", "mstl_periods", "shift_quantiles", "validation_parts"]


def frequency_seasons(state: ForecastState, n_train: int) -> tuple[list[int], str]:
    """Every season of the frequency (whatever the length) and the network's, sorted; and a reason
    naming those the ``n_train`` training rows hold two cycles of (the ones MSTL decomposes)."""
    candidates, _ = infer_seasons(state.freq)
    seasons = sorted(set(candidates) | ({state.season} if state.season > 1 else set()))
    if state.freq is None:
        return seasons, ("no regular frequency: the baselines use the network's season only" if seasons
                         else "no regular frequency: no seasonal baseline beyond naive")
    _, reason = infer_seasons(state.freq, n_train)
    return seasons, reason


def baseline_forecasts(state: ForecastState, values: np.ndarray, z: np.ndarray, origins: np.ndarray, fit_end: int,
                       inverse, only: str | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """(every baseline's (windows, horizon, targets) forecasts on the original scale, facts about them:
    ``ar_order``, ``mstl_seasons``). ``values`` are the targets, ``z`` the same transformed (``inverse``
    undoes it); parameters are fitted on rows before ``fit_end``. ``only``: compute just that one."""
    K, m = state.horizon, state.season
    wanted = (lambda name: only is None or name == only)
    out, info = {}, {}
    if wanted("naive"):
        out["naive"] = baselines.naive_forecast(values, origins, K)
    if wanted("seasonal_naive"):
        out["seasonal_naive"] = baselines.seasonal_naive_forecast(values, origins, K, m)
    for season in state.seasons:
        name = f"seasonal_naive_{season}"
        if season != m and wanted(name) and origins.min() >= baselines.seasonal_lag(season, K):
            out[name] = baselines.seasonal_naive_forecast(values, origins, K, season)
    if wanted("ets"):
        ets = baselines.ets_forecast(z, origins, K, m, fit_end=fit_end)
        if ets is not None:
            out["ets"] = inverse(ets)
    if wanted("ar"):
        ar, orders = baselines.ar_forecast(z, origins, K, m, fit_end=fit_end)
        out["ar"] = inverse(ar)
        info["ar_order"] = orders[0] if len(orders) == 1 else orders
    periods = mstl_periods(state.seasons, fit_end)
    if wanted("mstl") and periods:
        mstl = mstl_forecast(z, origins, K, periods, fit_end)
        if mstl is not None:
            out["mstl"] = inverse(mstl)
            info["mstl_seasons"] = periods
    return out, info


def mstl_periods(seasons: list[int], fit_end: int) -> list[int]:
    """The seasons the ``mstl`` baseline decomposes (two cycles in ``fit_end`` rows), or none when it
    would add nothing: with a single season of up to 24 steps the ``ets`` baseline (Holt-Winters) models
    it already, and a second candidate doing the same job only adds noise to the choice (on wine sales
    an STL forecast won 15 overlapping validation windows by 3% and lost the test part by 12%)."""
    periods = mstl_seasons(seasons, fit_end)
    return periods if len(periods) > 1 or (periods and periods[0] > 24) else []


def history_needed(state: ForecastState) -> int:
    """Rows :meth:`Forecaster.predict` needs: the network's window and baseline history, and what the
    chosen baseline needs (one lag of its season; two cycles of each season MSTL decomposed in training)."""
    need = windows.first_origin(state)
    if state.combination == "lstm" or not state.combination_baseline:
        return need
    name = state.combination_baseline
    if name.startswith("seasonal_naive_"):
        need = max(need, baselines.seasonal_lag(int(name.rsplit("_", 1)[1]), state.horizon))
    elif name == "mstl":
        need = max(need, 2 * max(mstl_periods(state.seasons, state.split["train"][1]), default=1))
    return need


def shift_quantiles(pred_q: np.ndarray, network: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """(..., Q) the network's quantiles moved by the chosen median's change, forecast - network (...)."""
    return pred_q + (forecast - network)[..., None]


def chosen_forecast(state: ForecastState, network: np.ndarray, predictions: dict[str, np.ndarray]) -> np.ndarray:
    """The state's forecast (network, best baseline or their mean) from the network's medians and the
    baselines' forecasts on the same origins; a DataError when the chosen baseline is missing."""
    if state.combination == "lstm":
        return network
    name = state.combination_baseline
    if name not in predictions:
        raise DataError(f"the model's forecast is the {forecast_label(state.combination, name)}, but the {name} "
                        "baseline cannot be computed here (too little history before the first forecast, or "
                        "statsmodels missing for ets/mstl)")
    return combine(state.combination, network, predictions[name])


def forecast_after(state: ForecastState, values: np.ndarray, z: np.ndarray, network_q: np.ndarray, median: int,
                   inverse) -> np.ndarray:
    """(1, K, T, Q) the state's forecast after the last of ``values`` (its transformed ``z``) from the
    network's (1, K, T, Q) quantiles there: the chosen baseline is refitted on this history."""
    if state.combination == "lstm":
        return network_q
    n = len(values)
    network = network_q[..., median]
    found, _ = baseline_forecasts(state, values, z, np.array([n]), n, inverse, only=state.combination_baseline)
    return shift_quantiles(network_q, network, chosen_forecast(state, network, found))


#: The fewest windows each half of the validation part must hold for the choice to be made on its
#: second half (:func:`validation_parts`).
MIN_HOLDOUT_WINDOWS = 8


def validation_parts(state: ForecastState, val: slice, combine: str) -> tuple[slice, slice, bool]:
    """(rows early stopping watches, rows the forecast is chosen on, whether they differ).

    With ``combine="auto"`` the validation part is cut in two, in time order: early stopping watches
    the first half, and the forecast is chosen on the second, which nothing in the network's training
    looked at. Early stopping keeps the epoch with the lowest error on the rows it watches, so the
    network's error there is optimistic against baselines that were merely fitted before them. On the
    sunspots (``benchmarks/bench_first_try.py``) the LSTM's validation MASE was 0.49 against AR's 0.60
    on the rows early stopping watched, 0.48 against 0.42 on rows it did not, and 0.94 against 0.91
    on the test part: choosing on the watched rows picked the LSTM, which lost.
    When a half holds fewer than :data:`MIN_HOLDOUT_WINDOWS` windows, both use the whole part, as
    before: a choice on two or three windows is noise (on the wine sales, 26 validation months at
    horizon 12 leave two windows a half; seasonal naive won on them and lost the test part by 10%).
    """
    if combine != "auto":
        return val, val, False
    middle = (val.start + val.stop) // 2
    first, second = slice(val.start, middle), slice(middle, val.stop)
    if min(len(windows.origins_in(state, part)) for part in (first, second)) >= MIN_HOLDOUT_WINDOWS:
        return first, second, True
    return val, val, False


def choose_forecast(forecaster, prepared, split, rows: slice, holdout: bool) -> None:
    """Set the fitted state's seasons and, with ``combine="auto"``, its forecast (``combination``,
    ``combination_baseline``, ``choice``): the lowest MASE on the windows of ``rows`` (the validation
    rows early stopping did not watch when ``holdout``, see :func:`validation_parts`) among the network,
    the best baseline and their mean, baselines fitted on the rows before ``rows``, MASE scaled on the
    training part."""
    cfg, s = forecaster.config, forecaster.state
    n_train = split.train.stop
    s.seasons, s.reasons["seasons"] = frequency_seasons(s, n_train)
    if cfg.combine != "auto":
        s.combination, s.combination_baseline, s.choice = "lstm", None, {"combine": cfg.combine}
        return
    origins = windows.origins_in(s, rows)
    values = prepared.frame[cfg.targets].to_numpy(dtype=float)
    truth = values[origins[:, None] + np.arange(s.horizon)[None, :]]  # (N, K, T)
    network = forecaster.network_forecast(prepared, origins)[..., forecaster.median_index()]
    predictions, _ = baseline_forecasts(s, values, prepared.z, origins, rows.start, forecaster.inverse_transform)
    scale = mase_scale(values[:n_train], s.season)
    picked = choose(network, predictions, lambda forecast: forecast_metrics(truth, forecast, scale)["mase"])
    s.combination, s.combination_baseline = picked["kind"], picked["baseline"]
    s.choice = {"combine": "auto", "forecast": picked["forecast"], "best_baseline": picked["baseline"],
                "validation_mase": picked["scores"], "gain_vs_lstm": picked["gain_vs_lstm"],
                "gain_vs_best_baseline": picked["gain_vs_best_baseline"], "validation_windows": int(len(origins)),
                "validation_rows": [rows.start, rows.stop], "holdout": holdout,
                "mase_season": s.season}
    logger.info("validation MASE %s: the forecast is %s", picked["scores"], picked["forecast"])


def choice_report(state: ForecastState, result: dict) -> dict:
    """``metrics.json["choice"]``: the state's choice (what the forecast is, each candidate's validation
    MASE, the gains there) and, on the evaluated part, the MASE of the forecast, of the LSTM alone, of
    the baseline chosen on validation and of the baseline that turned out best there."""
    report = dict(state.choice) or {"combine": "lstm"}  # runs saved before the choice: the LSTM
    report.setdefault("forecast", forecast_label(state.combination, state.combination_baseline))
    scores = {name: metrics["mase"] for name, metrics in result["baselines"].items()}
    test = {"forecast": result["model"]["mase"], "lstm_alone": scores["lstm_alone"]}
    if state.combination_baseline in scores:
        test[state.combination_baseline] = scores[state.combination_baseline]
    others = {name: value for name, value in scores.items() if name != "lstm_alone"}
    if others:
        best = min(others, key=others.get)
        test[best] = others[best]
        report["best_baseline_on_test"] = best
    report["test_mase"] = test
    return report
