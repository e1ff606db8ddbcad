"""The single-series forecaster fitted to every series of a panel alone: the baseline that shows what
one global model adds (``GlobalConfig.per_series_baseline``, ``--per-series-baseline``).

Each series gets its own :class:`~lstmkit.tasks.forecast.forecaster.Forecaster` with that forecaster's
defaults (three LSTMs, early stopping, the choice among the LSTM, its baselines and their mean on
validation) on the competition split of the panel: the last h values are the test part, the h before
them the validation part (``ForecastConfig.test_last``), the same windows the global model is scored
on. The season, horizon, transform and seed are the panel's. Two forecasts come back per series: the
forecaster's (what ``lstmkit forecast train`` on that series alone gives) and its LSTM alone.

A series the single-series forecaster refuses (a DataError: too few rows for two training windows of
its own) gets the seasonal naive forecast instead; how many did is logged and kept in
``metrics.json`` (``split.per_series``). On M3 monthly and Tourism none did: on short series the
forecaster narrows its input window and drops its seasonal baseline rather than refusing, which is
one reason it does worse there than the global model.
"""
from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from lstmkit.data import DataError
from lstmkit.runtime import quiet_loggers
from lstmkit.tasks.forecast.baselines import seasonal_naive
from lstmkit.tasks.forecast.panel import Series

logger = logging.getLogger(__name__)


def per_series_forecasts(series: list[Series], K: int, m: int, *, transform: str = "auto", seed: int = 0,
                         device: str = "cpu") -> tuple[dict[str, dict[str, np.ndarray]], dict]:
    """``({"per_series": {id: (K,)}, "per_series_lstm": {id: (K,)}}, facts)``: each series' test part
    (``item.test``, K values) forecast by a forecaster trained on ``item.train`` alone.

    ``facts``: ``{"fitted": n, "too_short": [ids], "cpu_seconds": s}``; a too-short series gets the
    seasonal naive forecast in both entries."""
    from lstmkit.tasks.forecast.config import ForecastConfig
    from lstmkit.tasks.forecast.forecaster import Forecaster

    chosen: dict[str, np.ndarray] = {}
    alone: dict[str, np.ndarray] = {}
    too_short: list[str] = []
    start = time.process_time()
    config = ForecastConfig(targets=["value"], season=m, horizon=K, test_last=K, transform=transform, seed=seed,
                            device=device)
    # a thousand fits would log a thousand early-stopping lines and short-series warnings (facts counts those)
    with quiet_loggers("lstmkit.train", "lstmkit.tasks.forecast.forecaster", "lstmkit.tasks.forecast.candidates",
                       "lstmkit.tasks.forecast.baselines", "lstmkit.tasks.forecast.mstl"):
        for i, item in enumerate(series):
            frame = pd.DataFrame({"value": np.concatenate([item.train, item.test]).astype(float)})
            try:
                result = Forecaster(config).fit(frame).evaluate(frame)
            except DataError:  # too few values for one training window of its own
                too_short.append(item.id)
                chosen[item.id] = alone[item.id] = seasonal_naive(item.train, K, m)
                continue
            forecasts = result["forecasts"]  # one test window: K rows
            chosen[item.id] = forecasts["forecast"].to_numpy(dtype=float)
            alone[item.id] = forecasts["lstm_alone"].to_numpy(dtype=float)
            if (i + 1) % 50 == 0:
                logger.info("per-series forecaster: %d of %d series, %.0f s of CPU", i + 1, len(series),
                            time.process_time() - start)
    seconds = time.process_time() - start
    if too_short:
        logger.warning("the per-series forecaster could not fit %d series too short for its own windows (%s): "
                       "their per-series forecast is the seasonal naive one", len(too_short),
                       ", ".join(map(repr, too_short[:5])))
    logger.info("per-series forecaster: %d series in %.0f s of CPU", len(series), seconds)
    facts = {"fitted": len(series) - len(too_short), "too_short": too_short, "cpu_seconds": seconds}
    return {"per_series": chosen, "per_series_lstm": alone}, facts
