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


# ------------------------------------------------------------------------------------ gate heat maps
_GATE_PANELS = (
    ("input_gate", "input gate $i_t$", "viridis", (0.0, 1.0)),
    ("forget_gate", "forget gate $f_t$", "viridis", (0.0, 1.0)),
    ("output_gate", "output gate $o_t$", "viridis", (0.0, 1.0)),
    ("cell", "cell state $c_t$", "RdBu_r", None),  # symmetric limits around 0
)


def _batch_first_input(input, batch_first: bool) -> np.ndarray:
    """Any input an LSTM accepts, as a (N, T, F) array (padded with zeros for a PackedSequence)."""
    import torch
    from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

    if isinstance(input, PackedSequence):
        input, _ = pad_packed_sequence(input, batch_first=True)
        batch_first = True
    array = input.detach().cpu().double().numpy() if isinstance(input, torch.Tensor) else np.asarray(input, float)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim == 2:  # one unbatched sequence (T, F)
        return array[None]
    if array.ndim != 3:
        raise ValueError(f"gates(): input must be (N, T, F), (T, N, F) or (T, F), got shape {array.shape}")
    return array if batch_first else array.transpose(1, 0, 2)


def gates(trace_or_model, input=None, *, path: str | Path, layer: int = -1, direction: int = 0,
          sequence: int = 0, lengths=None, input_labels: Sequence[str] | None = None,
          times: Sequence | None = None, title: str = "") -> Path:
    """Heat maps (units x time) of one LSTM layer's input, forget and output gates and its cell state.

    ``trace_or_model``: an :class:`lstmkit.nn.LSTM` (then ``input``, and ``lengths`` if any, are run
    through :func:`lstmkit.nn.record_gates`) or a :class:`lstmkit.nn.GateTrace` already recorded
    (then ``input``, optional, only draws the top panel and must be batch-first (N, T, F) or (T, F)).
    ``layer`` (negative counts from the top), ``direction`` and ``sequence`` (index in the batch,
    negative from the end) choose what is drawn; only the sequence's valid steps are shown.
    The input series is drawn above the heat maps on the same time axis (``input_labels`` name its
    features; ``times`` labels the time axis, e.g. the timestamps of a window). Unit k is row k in
    every panel, so a unit can be followed from gate to gate.
    """
    from lstmkit.nn import GateTrace, LSTM, record_gates

    if isinstance(trace_or_model, GateTrace):
        trace, batch_first = trace_or_model, True
    elif isinstance(trace_or_model, LSTM):
        if input is None:
            raise ValueError("gates(): drawing a model's gates needs the input to run it on")
        trace, batch_first = record_gates(trace_or_model, input, lengths=lengths), trace_or_model.batch_first
    else:
        raise TypeError(f"gates() expects an lstmkit.nn.LSTM or a GateTrace, got {type(trace_or_model).__name__}")
    row = trace.index(layer, direction)
    N = trace.forget_gate.shape[1]
    if not -N <= sequence < N:
        raise IndexError(f"gates(): sequence {sequence} out of range for a batch of {N}")
    sequence %= N
    T = int(trace.lengths[sequence])
    series = None
    if input is not None:
        series = _batch_first_input(input, batch_first)[sequence, :T]  # (T, F)
    panels = [(key, label, cmap, limits, getattr(trace, key)[row, sequence, :T].detach().cpu().double().numpy().T)
              for key, label, cmap, limits in _GATE_PANELS]  # each (H, T)
    H = panels[0][4].shape[0]
    heat_height = min(4.0, max(1.2, 0.06 * H))
    heights = ([1.4] if series is not None else []) + [heat_height] * len(panels)
    fig = plt.figure(figsize=(min(14.0, 6.0 + 0.03 * T), sum(heights) + 0.9))
    grid = fig.add_gridspec(len(heights), 2, height_ratios=heights, width_ratios=[60, 1], hspace=0.35, wspace=0.02)
    axes, first = [], None
    extent = (-0.5, T - 0.5, H - 0.5, -0.5)
    k = 0
    if series is not None:
        ax = fig.add_subplot(grid[0, 0])
        labels = list(input_labels) if input_labels is not None else [f"x{j}" for j in range(series.shape[1])]
        shown = min(series.shape[1], 8)
        for j in range(shown):
            ax.plot(np.arange(T), series[:, j], lw=1, label=labels[j] if j < len(labels) else f"x{j}")
        if series.shape[1] > shown:
            ax.text(0.99, 0.95, f"{shown} of {series.shape[1]} features", transform=ax.transAxes,
                    ha="right", va="top", fontsize=7)
        ax.set_xlim(-0.5, T - 0.5)
        ax.set_ylabel("input")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
        axes.append(ax)
        first = ax
        fig.add_subplot(grid[0, 1]).axis("off")
        k = 1
    for key, label, cmap, limits, values in panels:
        ax = fig.add_subplot(grid[k, 0], sharex=first)
        if limits is None:
            bound = float(np.abs(values).max()) or 1.0
            limits = (-bound, bound)
        image = ax.imshow(values, aspect="auto", interpolation="nearest", cmap=cmap, vmin=limits[0],
                          vmax=limits[1], extent=extent)
        ax.set_ylabel(f"{label}\nunit")
        fig.colorbar(image, cax=fig.add_subplot(grid[k, 1]))
        axes.append(ax)
        first = first or ax
        k += 1
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    bottom = axes[-1]
    bottom.set_xlim(-0.5, T - 0.5)
    if times is not None:
        times = list(times)[:T]
        ticks = np.unique(np.linspace(0, T - 1, min(T, 6)).round().astype(int))
        bottom.set_xticks(ticks)
        bottom.set_xticklabels([str(times[t]) for t in ticks], rotation=20, ha="right", fontsize=8)
    bottom.set_xlabel("time" if times is not None else "time step")
    name = f"layer {row // trace.num_directions}" + (f", direction {direction}" if trace.num_directions > 1 else "")
    axes[0].set_title(title or f"LSTM gates, {name}, sequence {sequence}", fontsize=10)
    return save_figure(fig, path)
