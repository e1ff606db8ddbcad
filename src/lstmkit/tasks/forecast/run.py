"""Run functions beyond ``train_run`` (which is :func:`lstmkit.tasks.base.train_run`): the walk-forward backtest."""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data import DataError, walk_forward
from lstmkit.errors import ConfigError
from lstmkit.files import atomic_write_text, check_run_dir, write_json
from lstmkit.tasks.forecast.config import ForecastConfig
from lstmkit.tasks.forecast.forecaster import Forecaster

logger = logging.getLogger(__name__)


def backtest_run(config: ForecastConfig, data, out: str | Path, *, folds: int = 3,
                 fold_size: int | None = None) -> dict:
    """Walk-forward backtest: for each fold, fit on every row before it and score the fold.

    Fold k trains on rows ``[0, start_k)`` (its last ``val_fraction`` for early stopping) and is scored
    on the windows whose horizon lies in ``[start_k, start_k + fold_size)``; folds follow one another,
    so no fold ever sees its own future. Writes ``metrics.json`` (per fold and overall: the mean over
    folds) and ``backtest.csv`` to ``out``.
    """
    if config.test_last is not None:
        raise ConfigError(f"a backtest chooses its own test parts (folds); test_last={config.test_last} applies to "
                          "one train/validation/test split")
    out = check_run_dir(out, resume=False, resumable=False)
    frame = Forecaster(config).read(data)
    n = len(frame)
    if fold_size is None:
        fold_size = max(2 * (config.horizon or 1), int(config.test_fraction * n))  # as large as a test part
    min_train = n - folds * fold_size
    if min_train < 1:
        raise DataError(f"too few rows for the backtest: {folds} folds of {fold_size} rows need more than "
                        f"{folds * fold_size} rows, the data has {n}; use more data, fewer --folds or a smaller "
                        "--fold-size")
    fold_config = dataclasses.replace(config, train_fraction=1 - config.val_fraction, test_fraction=0.0)
    per_fold, rows = [], []
    for k, fold in enumerate(walk_forward(n, folds=folds, horizon=fold_size, min_train=min_train)):
        forecaster = Forecaster(fold_config).fit(frame.iloc[: fold.train.stop])
        result = forecaster.evaluate_rows(frame, fold.test, train_end=fold.train.stop)
        forecasts = result.pop("forecasts")
        forecasts.insert(0, "fold", k + 1)
        rows.append(forecasts)
        per_fold.append({"fold": k + 1, "train_rows": [0, fold.train.stop],
                         "test_rows": [fold.test.start, fold.test.stop], **result})
        logger.info("fold %d: model MASE %.3f", k + 1, result["model"]["mase"])
    overall = {"model": _mean_metrics([f["model"] for f in per_fold])}
    overall["baselines"] = {name: _mean_metrics([f["baselines"][name] for f in per_fold])
                            for name in per_fold[0]["baselines"]}
    summary = {**overall, "folds": per_fold, "split": {"folds": folds, "fold_size": fold_size, "rows": n}}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", summary)
    atomic_write_text(out / "backtest.csv", pd.concat(rows).to_csv(index=False))
    return summary


def _mean_metrics(rows: list[dict]) -> dict:
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
