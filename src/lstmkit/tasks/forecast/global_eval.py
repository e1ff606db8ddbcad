"""The global forecaster's evaluation: the competition protocol's scores per series and overall, next to
the baselines on the same split, and the run directory's files (``metrics_by_series.csv``,
``forecasts.csv``, ``forecast.png``).

Each series' test part (its last ``test_last`` values) is forecast from the rest and scored with
:func:`lstmkit.metrics.forecast.score_collection` (M3's sMAPE, MASE scaled on the training part, OWA
against Naive2), as are naive, seasonal naive, Naive2, Theta, AR(p) and (when asked) ETS on the same
split (:func:`statistical_baselines`).
"""
from __future__ import annotations

import importlib.util
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.files import atomic_write_text
from lstmkit.metrics.forecast import naive2_forecast, score_collection
from lstmkit.tasks.forecast.baselines import ar_forecast, ets_forecast, seasonal_naive, theta_forecast
from lstmkit.tasks.forecast.global_config import GlobalState
from lstmkit.tasks.forecast.panel import Series

logger = logging.getLogger(__name__)


def score_test_parts(series: list[Series], skipped: list[str], state: GlobalState, quantiles: list[float],
                     pred_q: np.ndarray, forecast: np.ndarray, *, transform: str = "auto", ets: bool = False,
                     fitted: tuple | None = None, per_series: tuple | None = None) -> dict:
    """``{"model": summary, "baselines": {name: summary}, "split": {...}, "by_series": DataFrame,
    "forecasts": DataFrame, "histories": {id: train part}}`` with the summaries of
    :func:`score_collection` (sMAPE, MASE, OWA ...).

    ``pred_q`` (S, K, Q): the network's quantiles; ``forecast`` (S, K): the forecast made of them (the
    state's combination with Theta). ``skipped``: ids of the table left out (too short). ``transform``
    and ``ets``: the scale of AR and ETS, and whether ETS is fitted (:func:`statistical_baselines`);
    ``fitted``: what :func:`statistical_baselines` returned for these series, when the caller has it
    already (the forecast may be made of them), so they are not fitted twice. ``per_series``: what
    :func:`lstmkit.tasks.forecast.per_series.per_series_forecasts` returned (the single-series
    forecaster fitted to every series alone), reported as the baselines ``per_series`` and
    ``per_series_lstm``."""
    K, m = state.horizon, state.season
    network = pred_q[:, :, quantiles.index(0.5)]
    model_f = {item.id: forecast[i] for i, item in enumerate(series)}
    predictions = {
        "naive": {item.id: np.full(K, item.train[-1]) for item in series},
        "seasonal_naive": {item.id: seasonal_naive(item.train, K, m) for item in series},
        "naive2": {item.id: naive2_forecast(item.train, K, m) for item in series},
        "theta": {item.id: theta_forecast(item.train, K, m) for item in series},
    }
    fitted, orders, seconds = fitted or statistical_baselines(series, K, m, transform=transform, ets=ets)
    predictions.update(fitted)
    seconds = dict(seconds)
    if per_series is not None:
        predictions.update(per_series[0])
        seconds["per_series"] = per_series[1]["cpu_seconds"]
    if state.combination != "lstm":  # what the network alone would have scored
        predictions["lstm_alone"] = {item.id: network[i] for i, item in enumerate(series)}
    table, summary = score_collection(series, model_f)
    result = {"model": summary, "baselines": {}}
    for name, forecasts in predictions.items():
        base_table, base_summary = score_collection(series, forecasts)
        result["baselines"][name] = base_summary
        table[f"smape_{name}"] = base_table["smape"].to_numpy()
        table[f"mase_{name}"] = base_table["mase"].to_numpy()
    table = table.loc[:, ~table.columns.duplicated()]
    table.insert(2, "n_train", [len(item.train) for item in series])
    table["ar_order"] = orders
    result["split"] = {"protocol": f"the last {K} values of every series are its test part",
                       "series": len(series), "skipped": skipped,
                       "horizon": K, "season": m, "input_width": state.input_width,
                       "seasons_averaged": state.seasons_averaged, "why": dict(state.reasons),
                       "combination": state.combination, "validation_smape": dict(state.validation_smape),
                       "covariates": list(state.covariates), "static_features": list(state.static_categories),
                       "ets_baseline": "ets" in predictions}
    if per_series is not None:  # how many series the single-series forecaster was too short for
        result["split"]["per_series"] = {"fitted": per_series[1]["fitted"],
                                         "too_short (seasonal naive instead)": len(per_series[1]["too_short"])}
    rows = {"series": np.repeat([item.id for item in series], K), "step": np.tile(np.arange(1, K + 1), len(series)),
            "actual": np.concatenate([item.test for item in series]),
            "forecast": np.concatenate([model_f[item.id] for item in series])}
    for qi, q in enumerate(quantiles):
        if q != 0.5:
            rows[f"q{q:g}"] = pred_q[:, :, qi].reshape(-1)
    for name, forecasts in predictions.items():
        rows[name] = np.concatenate([forecasts[item.id] for item in series])
    result["by_series"] = table
    result["forecasts"] = pd.DataFrame(rows)
    result["histories"] = {item.id: item.train for item in series}
    result["baseline_cpu_seconds"] = seconds  # not in metrics.json, which a resumed run must reproduce exactly
    return result


def statistical_baselines(series: list[Series], K: int, m: int, *, transform: str = "auto",
                          ets: bool = False) -> tuple[dict[str, dict[str, np.ndarray]], list[int], dict]:
    r"""AR(p) and, with ``ets``, ETS forecasts of the K values after each series' training part:
    ``({"ar": {id: (K,)}, "ets": {id: (K,)}}, the AR order of each series, {name: seconds of CPU})``.

    Each series is fitted alone on its training part, on the scale the network models it: the log
    scale :math:`z = \ln y` when all its training values are positive (``transform="auto"`` or
    ``"log"``), else the values themselves; forecasts go back with :math:`e^z`. So an additive season
    on z is a multiplicative one on y, the single-series forecaster's rule.

    * ``ar``: :math:`z_t = c + \sum_{i \le p} \phi_i z_{t-i}`, least squares, p by AIC up to
      :func:`~lstmkit.tasks.forecast.baselines.ar_max_lag` (:func:`~lstmkit.tasks.forecast.baselines.ar_forecast`),
      iterated over the horizon. A few milliseconds a series.
    * ``ets``: statsmodels' Holt-Winters with a damped additive trend and an additive season on z
      when m <= 24 and the part holds two seasons and two values
      (:func:`~lstmkit.tasks.forecast.baselines.ets_forecast`). About 0.1-0.2 s of CPU a series (160 s
      for M3's 1,428 monthly series). statsmodels' search for starting values is kept: without
      it a fit cost half, but ETS scored worse on M3 monthly (sMAPE 14.09 against 14.05), and a
      baseline should not be weakened to save time. Without statsmodels it is left out with a
      warning; a series statsmodels cannot fit gets the seasonal naive forecast (logged).

    A forecast that is not finite (an explosive AR fit overflowing) is replaced by the naive one, with
    a warning naming the series: a baseline should never stop a run.

    :func:`fit_baselines` does the work on any histories (the validation choice fits the same models on
    the values before each validation window, ``predict`` on the history it is given).
    """
    return fit_baselines({item.id: item.train for item in series}, K, m, transform=transform,
                         names=("ar", "ets") if ets else ("ar",))


def fit_baselines(histories: dict[str, np.ndarray], K: int, m: int, *, transform: str = "auto",
                  names: tuple[str, ...] = ("ar",), what: str = "baseline"
                  ) -> tuple[dict[str, dict[str, np.ndarray]], list[int], dict]:
    """:func:`statistical_baselines` for ``{id: history}``: AR and/or ETS (``names``) fitted to each
    history alone, forecasting the K values after its end; the same returns (AR orders empty without
    AR). ``what`` names the forecasts in the log (``"baseline"``, ``"validation"``)."""
    predictions: dict[str, dict[str, np.ndarray]] = {}
    orders = []
    transformed = {}  # id -> (z, whether z is ln y): AR and ETS read the same scale
    for sid, history in histories.items():
        x = np.asarray(history, dtype=float)
        use_log = transform != "none" and bool((x > 0).all())
        transformed[sid] = (np.log(x) if use_log else x, use_log)
    seconds = {}
    if "ar" in names:
        start = time.process_time()
        predictions["ar"] = {}
        for sid, (z, use_log) in transformed.items():
            out, (p,) = ar_forecast(z[:, None], np.array([len(z)]), K, m, len(z))
            predictions["ar"][sid] = _values(out[0, :, 0], use_log)
            orders.append(int(p))
        seconds["ar"] = time.process_time() - start
        logger.info("AR %s: %d series in %.1f s of CPU", what, len(histories), seconds["ar"])
    ets = "ets" in names
    if ets and importlib.util.find_spec("statsmodels") is None:
        logger.warning("statsmodels is not installed: no ETS %s (pip install 'lstmkit[data]')", what)
        ets = False
    if ets:
        start, failed = time.process_time(), []
        predictions["ets"] = {}
        for sid, (z, use_log) in transformed.items():
            try:
                out = ets_forecast(z[:, None], np.array([len(z)]), K, m, len(z))[0, :, 0]
            except (ValueError, np.linalg.LinAlgError):  # statsmodels refuses this series' fit
                failed.append(sid)
                predictions["ets"][sid] = seasonal_naive(histories[sid], K, m)
                continue
            predictions["ets"][sid] = _values(out, use_log)
        if failed:
            logger.warning("ETS could not be fitted to %d series (%s): their ETS forecast is the seasonal naive one",
                           len(failed), ", ".join(map(repr, failed[:5])))
        seconds["ets"] = time.process_time() - start
        logger.info("ETS %s: %d series in %.1f s of CPU", what, len(histories), seconds["ets"])
    last = {sid: float(history[-1]) for sid, history in histories.items()}
    for name, forecasts in predictions.items():
        broken = [sid for sid, f in forecasts.items() if not np.isfinite(f).all()]
        for sid in broken:
            forecasts[sid] = np.full(K, last[sid])
        if broken:
            logger.warning("the %s baseline's forecast is not finite for %d series (%s): naive used there", name,
                           len(broken), ", ".join(map(repr, broken[:5])))
    return predictions, orders, seconds


def _values(z: np.ndarray, use_log: bool) -> np.ndarray:
    """Forecasts on z back to values; an overflow gives inf (replaced by :func:`statistical_baselines`)."""
    if not use_log:
        return np.asarray(z, dtype=float)
    with np.errstate(over="ignore"):
        return np.exp(z)


def write_results(out: Path, result: dict) -> None:
    """``metrics_by_series.csv``, ``forecasts.csv`` (every series' test part: actual, forecast,
    baselines) and ``forecast.png`` (a few series); removes the tables from ``result``, and the baselines'
    CPU seconds (which would make the ``metrics.json`` of two identical runs differ)."""
    table = result.pop("by_series")
    forecasts = result.pop("forecasts")
    histories = result.pop("histories")
    result.pop("baseline_cpu_seconds", None)
    atomic_write_text(out / "metrics_by_series.csv", table.to_csv(index=False))
    atomic_write_text(out / "forecasts.csv", forecasts.to_csv(index=False))
    try:
        plot(out / "forecast.png", histories, forecasts, result)
    except Exception as error:  # a plot is never worth a failed run
        logger.warning("no forecast.png: %s", error)


def plot(path: Path, histories: dict, forecasts: pd.DataFrame, result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = list(histories)[:: max(1, len(histories) // 4)][:4]
    fig, axes = plt.subplots(len(ids), 1, figsize=(9, 2.4 * len(ids)), squeeze=False)
    for ax, sid in zip(axes[:, 0], ids):
        hist = histories[sid]
        part = forecasts[forecasts["series"] == sid]
        t = len(hist) + part["step"].to_numpy() - 1
        ax.plot(np.arange(len(hist)), hist, color="0.3", lw=1, label="history")
        ax.plot(t, part["actual"], color="k", lw=1.5, label="actual")
        ax.plot(t, part["forecast"], color="C0", lw=1.5, label="LSTM (global)")
        ax.plot(t, part["naive2"], color="C1", lw=1, ls="--", label="Naive2")
        ax.set_title(f"series {sid}", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"global LSTM: sMAPE {result['model']['smape']:.2f}, OWA {result['model']['owa']:.3f} "
                 f"(Naive2 sMAPE {result['model']['smape_naive2']:.2f})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
