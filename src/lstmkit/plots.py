"""Matplotlib figures shared by the tasks. Each function draws, saves a PNG atomically and returns its path.

Figures are drawn on the Agg backend (no display needed) and closed after saving.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` through a temporary file and a rename, then close it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.png")
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if tmp.exists():
            tmp.unlink()
    return path


def _times(values: Sequence) -> np.ndarray | pd.DatetimeIndex:
    try:
        return pd.to_datetime(pd.Index(values))
    except (TypeError, ValueError):
        return np.asarray(values)


def forecast_plot(history: pd.Series, forecasts: pd.DataFrame, path: str | Path, *, title: str = "",
                  baseline: str = "seasonal_naive", quantile_columns: tuple[str, str] | None = None) -> Path:
    """Two panels for one target.

    Top: the series, with the test part's rolling one-step-ahead and last-step-ahead forecasts of the
    model (and ``baseline``). Bottom: the last test window's whole horizon, with the quantile band
    when ``quantile_columns`` = (low, high) is given.
    ``forecasts`` has the columns of ``forecast.csv``: origin, time, step, actual, forecast, baselines.
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), gridspec_kw={"height_ratios": [3, 2]})
    start = forecasts["time"].iloc[0]
    t_hist = _times(history.index)
    first = _times([start])[0]
    context = max(0, int(np.searchsorted(t_hist, first)) - 3 * int(forecasts["step"].max()))
    top.plot(t_hist[context:], history.to_numpy()[context:], color="0.3", lw=1, label="actual")
    K = int(forecasts["step"].max())
    for step, style in ((1, "-"), (K, "--")) if K > 1 else ((1, "-"),):
        part = forecasts[forecasts["step"] == step]
        top.plot(_times(part["time"]), part["forecast"], style, color="C0", lw=1.2, label=f"LSTM, {step} step(s) ahead")
        if baseline in part:
            top.plot(_times(part["time"]), part[baseline], style, color="C3", lw=0.9, alpha=0.7,
                     label=f"{baseline.replace('_', ' ')}, {step} step(s) ahead")
    top.axvline(first, color="0.6", lw=0.8, ls=":")
    top.set_title(title or "test part: forecasts against the actual series")
    top.legend(loc="upper left", fontsize=8, ncol=2)

    last_origin = forecasts["origin"].iloc[-1]
    window = forecasts[forecasts["origin"] == last_origin]
    t_win = _times(window["time"])
    t_first = t_win[0]
    ctx = history[: np.searchsorted(t_hist, t_first)].iloc[-3 * K:]
    bottom.plot(_times(ctx.index), ctx.to_numpy(), color="0.3", lw=1, label="history")
    bottom.plot(t_win, window["actual"], color="0.3", lw=1, ls=":", marker=".", label="actual")
    bottom.plot(t_win, window["forecast"], color="C0", marker=".", label="LSTM forecast")
    if quantile_columns and all(c in window for c in quantile_columns):
        low, high = quantile_columns
        bottom.fill_between(t_win, window[low], window[high], color="C0", alpha=0.2,
                            label=f"{low[1:]}-{high[1:]} quantile band")
    if baseline in window:
        bottom.plot(t_win, window[baseline], color="C3", alpha=0.7, label=baseline.replace("_", " "))
    bottom.set_title(f"last test window: {K} steps from {last_origin}")
    bottom.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    return save_figure(fig, path)


def training_curves(history: Sequence[dict], path: str | Path, *, title: str = "training") -> Path:
    """Train and validation loss per epoch (log scale)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    epochs = [row["epoch"] for row in history]
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        values = [row.get(key) for row in history]
        if any(v is not None and v == v for v in values):
            ax.plot(epochs, values, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    return save_figure(fig, path)
