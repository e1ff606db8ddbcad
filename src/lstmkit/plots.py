"""Matplotlib figures shared by the tasks. Each function draws, saves a PNG atomically and returns its path.

Figures are drawn on the Agg backend (no display needed) and closed after saving.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def save_figure(fig, path: str | Path) -> Path:
    """Write ``fig`` to ``path`` as PNG through :func:`lstmkit.files.atomic_write`, then close it."""
    from lstmkit.files import atomic_write

    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    finally:
        plt.close(fig)


def _times(values: Sequence) -> np.ndarray | pd.DatetimeIndex:
    """Time labels as a DatetimeIndex when they are dates (ISO strings, timestamps), else as an array
    (row numbers stay numbers: they are not read as nanoseconds since 1970)."""
    index = pd.Index(values)
    if isinstance(index, pd.DatetimeIndex):
        return index
    if pd.api.types.is_numeric_dtype(index.dtype) or pd.api.types.is_bool_dtype(index.dtype):
        return np.asarray(values)
    try:
        return pd.to_datetime(index)
    except (TypeError, ValueError):
        return np.asarray(values)


def _infer_freq(times) -> str | None:
    from lstmkit.data import infer_frequency

    if not isinstance(times, pd.DatetimeIndex) or len(times) < 3:
        return None
    try:
        return infer_frequency(times)
    except (TypeError, ValueError):  # DataError is a ValueError: irregular times count plain steps
        return None


def _step_unit(freq: str | None) -> str | None:
    """The calendar unit of one step of ``freq`` ("day", "month", ...), or None (plain "step")."""
    if not freq:
        return None
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except (TypeError, ValueError):
        return None
    if offset is None or offset.n != 1:
        return None
    base = offset.rule_code.split("-")[0]
    if base in ("s", "S"):
        return "second"
    if base in ("min", "T"):
        return "minute"
    if base in ("h", "H"):
        return "hour"
    if base == "D":
        return "day"
    if base in ("B", "C"):
        return "business day"
    if base == "W":
        return "week"
    stem = base.rstrip("SE")
    if stem in ("M", "BM", "CBM"):
        return "month"
    if stem in ("Q", "BQ"):
        return "quarter"
    if stem in ("A", "Y", "BA", "BY"):
        return "year"
    return None


def _ahead(steps: int, unit: str | None) -> str:
    """'1 day ahead', '7 days ahead', '1 step ahead'."""
    unit = unit or "step"
    return f"{steps} {unit}{'' if steps == 1 else 's'} ahead"


def _format_time(value, unit: str | None = None) -> str:
    """A time label as a person writes it: 2015-12-24, 1959-12 (monthly), 2015-12-24 06:00; row numbers as they are."""
    times = _times([value])
    if not isinstance(times, pd.DatetimeIndex):
        return str(value)
    t = times[0]
    if unit in ("month", "quarter"):
        return t.strftime("%Y-%m")
    if unit == "year":
        return t.strftime("%Y")
    if t == t.normalize():
        return t.strftime("%Y-%m-%d")
    return t.strftime("%Y-%m-%d %H:%M" if t.second == 0 else "%Y-%m-%d %H:%M:%S")


def _interval_label(low: str, high: str) -> str:
    """'80% interval (q0.1-q0.9)' for the quantile columns q0.1 and q0.9."""
    try:
        coverage = 100 * (float(high.lstrip("q")) - float(low.lstrip("q")))
    except ValueError:
        return f"{low}-{high} band"
    return f"{coverage:.3g}% interval ({low}-{high})"


class _ConciseDates(matplotlib.dates.ConciseDateFormatter):
    """matplotlib's concise date labels, made to name the whole period: the offset under the axis
    reads "2015-Dec to 2016-Jan" when the ticks span two (matplotlib names only the last), and when
    the year is shown only where it changes, the first tick names its year too ("May\\n2015")."""

    _span = ""

    def format_ticks(self, values):
        values = list(values)
        if len(values) < 2:
            self._span = ""
            return super().format_ticks(values)
        super().format_ticks(values[::-1])  # the same labelling level, offset taken from the first tick
        first = super().get_offset()
        labels = super().format_ticks(values)
        last = super().get_offset()
        self._span = f"{first} to {last}" if first and first != last else last
        if not last and labels[0] and not labels[0].isdigit():
            labels[0] += "\n" + matplotlib.dates.num2date(values[0], tz=self._tz).strftime("%Y")
        return labels

    def get_offset(self):
        return self._span


def _time_axis(ax, times, label: str) -> None:
    """Dates on a time axis (concise labels: year, month, day as the range needs), and its label."""
    if isinstance(times, pd.DatetimeIndex):
        locator = matplotlib.dates.AutoDateLocator(minticks=4, maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(_ConciseDates(locator))
    ax.set_xlabel(label)


class _PlainLog(matplotlib.ticker.LogFormatter):
    """Log-axis labels as plain numbers (0.3, 1, 20 rather than 3 x 10^-1); matplotlib chooses which
    ticks get one."""

    def _num_to_string(self, x, vmin, vmax):
        return f"{x:g}"


def _legend_outside(ax, handles=None):
    """The legend to the right of the axes, so it never hides the data."""
    kwargs = {"handles": handles} if handles is not None else {}
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize=8,
                     frameon=False, **kwargs)


def forecast_figure(history: pd.Series, forecasts: pd.DataFrame, *, title: str = "",
                    baseline: str = "seasonal_naive", quantile_columns: tuple[str, str] | None = None,
                    target: str | None = None, time_label: str | None = None, freq: str | None = None,
                    model_label: str = "LSTM"):
    """The figure :func:`forecast_plot` saves (a matplotlib Figure, not closed: for tests and notebooks)."""
    target = target or (str(history.name) if history.name is not None else "value")
    time_label = time_label or (str(history.index.name) if history.index.name is not None else "time")
    t_hist = _times(history.index)
    values = history.to_numpy()
    unit = _step_unit(freq or _infer_freq(t_hist))
    K = int(forecasts["step"].max())
    band = quantile_columns if quantile_columns and all(c in forecasts for c in quantile_columns) else None
    band_label = _interval_label(*band) if band else ""

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7.5), layout="constrained",
                                      gridspec_kw={"height_ratios": [3, 2]})
    first = _times([forecasts["time"].iloc[0]])[0]  # the first time of the test part
    first_row = int(np.searchsorted(t_hist, first))
    context = max(0, first_row - 3 * K)
    top.plot(t_hist[context:], values[context:], color="0.3", lw=1, label="actual")
    for step, style in ((1, "-"), (K, "--")) if K > 1 else ((1, "-"),):
        part = forecasts[forecasts["step"] == step]
        t_part = _times(part["time"])
        if band and step == 1:
            top.fill_between(t_part, part[band[0]], part[band[1]], color="C0", alpha=0.2, lw=0,
                             label=f"{band_label}, {_ahead(step, unit)}")
        top.plot(t_part, part["forecast"], style, color="C0", lw=1.2, label=f"{model_label}, {_ahead(step, unit)}")
        if baseline in part:
            top.plot(t_part, part[baseline], style, color="C3", lw=0.9, alpha=0.7,
                     label=f"{baseline.replace('_', ' ')}, {_ahead(step, unit)}")
    top.axvline(first, color="k", lw=1, ls=":", label="test part starts")
    top.set_title(title or "test part: forecasts against the actual series", fontsize=10)
    top.set_ylabel(target)
    _time_axis(top, t_hist, time_label)
    _legend_outside(top)

    last_origin = forecasts["origin"].iloc[-1]
    window = forecasts[forecasts["origin"] == last_origin]
    t_win = _times(window["time"])
    start = int(np.searchsorted(t_hist, t_win[0]))
    lo = max(0, start - 3 * K)
    t_ctx = t_hist[lo:start]
    t_all = t_ctx.append(t_win) if isinstance(t_ctx, pd.DatetimeIndex) else np.concatenate([t_ctx, t_win])
    actual = np.concatenate([values[lo:start], window["actual"].to_numpy()])
    bottom.plot(t_all, actual, color="0.3", lw=1, marker=".", markevery=list(range(len(t_ctx), len(t_all))),
                label="actual")
    if band:
        bottom.fill_between(t_win, window[band[0]], window[band[1]], color="C0", alpha=0.2, lw=0, label=band_label)
    bottom.plot(t_win, window["forecast"], color="C0", marker=".", label=f"{model_label} forecast")
    if baseline in window:
        bottom.plot(t_win, window[baseline], color="C3", alpha=0.7, label=baseline.replace("_", " "))
    if len(t_all) and t_all[0] <= first <= t_all[-1]:
        bottom.axvline(first, color="k", lw=1, ls=":", label="test part starts")
    bottom.set_title(f"last test window: forecast from {_format_time(last_origin, unit)}, {_ahead(K, unit)}",
                     fontsize=10)
    bottom.set_ylabel(target)
    _time_axis(bottom, t_hist, time_label)
    _legend_outside(bottom)
    return fig


def forecast_plot(history: pd.Series, forecasts: pd.DataFrame, path: str | Path, *, title: str = "",
                  baseline: str = "seasonal_naive", quantile_columns: tuple[str, str] | None = None,
                  target: str | None = None, time_label: str | None = None, freq: str | None = None,
                  model_label: str = "LSTM") -> Path:
    """Two panels for one target.

    Top: the series, with the test part's rolling one-step-ahead and last-step-ahead forecasts of the
    model (and ``baseline``); a dotted line marks where the test part starts. Bottom: the last test
    window's whole horizon. The quantile band (``quantile_columns`` = (low, high)) is drawn in both
    panels (around the one-step-ahead forecasts in the top one).
    ``forecasts`` has the columns of ``forecast.csv``: origin, time, step, actual, forecast, baselines.
    ``target`` labels the y axes (default: the series' name), ``time_label`` the time axes (default:
    the index's name, else "time"); ``freq`` (a pandas frequency, inferred from the index when not
    given) names the steps ("7 days ahead"). Dates are labelled concisely and legends sit outside
    the axes. ``model_label`` names the ``forecast`` column in the legend (what was chosen: "LSTM",
    "LSTM + ar", ...).
    """
    fig = forecast_figure(history, forecasts, title=title, baseline=baseline, quantile_columns=quantile_columns,
                          target=target, time_label=time_label, freq=freq, model_label=model_label)
    return save_figure(fig, path)


# ------------------------------------------------------------------------------------ gate heat maps
_GATE_PANELS = (
    ("input_gate", "input gate $i_t$", "viridis", (0.0, 1.0)),
    ("forget_gate", "forget gate $f_t$", "viridis", (0.0, 1.0)),
    ("output_gate", "output gate $o_t$", "viridis", (0.0, 1.0)),
    ("cell", "cell state $c_t$", "RdBu_r", None),  # symmetric limits around 0
)
# A GRU's (lstmkit.nn.GRUGateTrace): h_t = (1 - z_t) n_t + z_t h_{t-1}, n_t = tanh(... + r_t (W_hn h_{t-1} + b_hn)).
_GRU_GATE_PANELS = (
    ("reset_gate", "reset gate $r_t$", "viridis", (0.0, 1.0)),
    ("update_gate", "update gate $z_t$", "viridis", (0.0, 1.0)),
    ("candidate", "candidate $n_t$", "RdBu_r", (-1.0, 1.0)),
    ("hidden", "hidden state $h_t$", "RdBu_r", None),
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
    """Heat maps (units x time) of one LSTM layer's input, forget and output gates and its cell state,
    or of one GRU layer's reset and update gates, candidate and hidden state.

    ``trace_or_model``: an :class:`lstmkit.nn.LSTM` (any variant) or :class:`lstmkit.nn.GRU` (then
    ``input``, and ``lengths`` if any, are run through :func:`lstmkit.nn.record_gates`), or a
    :class:`lstmkit.nn.GateTrace` / :class:`lstmkit.nn.GRUGateTrace` already recorded
    (then ``input``, optional, only draws the top panel and must be batch-first (N, T, F) or (T, F)).
    ``layer`` (negative counts from the top), ``direction`` and ``sequence`` (index in the batch,
    negative from the end) choose what is drawn; only the sequence's valid steps are shown.
    The input series is drawn above the heat maps on the same time axis (``input_labels`` name its
    features; ``times`` labels the time axis, e.g. the timestamps of a window). Unit k is row k in
    every panel, so a unit can be followed from gate to gate.
    """
    from lstmkit.nn import GRU, LSTM, GateTrace, GRUGateTrace, record_gates

    if isinstance(trace_or_model, (GateTrace, GRUGateTrace)):
        trace, batch_first = trace_or_model, True
    elif isinstance(trace_or_model, (LSTM, GRU)):
        if input is None:
            raise ValueError("gates(): drawing a model's gates needs the input to run it on")
        trace, batch_first = record_gates(trace_or_model, input, lengths=lengths), trace_or_model.batch_first
    else:
        raise TypeError(f"gates() expects an lstmkit.nn.LSTM (or a variant), a GRU, or their GateTrace/GRUGateTrace, "
                        f"got {type(trace_or_model).__name__}")
    gru = isinstance(trace, GRUGateTrace)
    row = trace.index(layer, direction)
    N = trace.hidden.shape[1]
    if not -N <= sequence < N:
        raise IndexError(f"gates(): sequence {sequence} out of range for a batch of {N}")
    sequence %= N
    T = int(trace.lengths[sequence])
    series = None
    if input is not None:
        series = _batch_first_input(input, batch_first)[sequence, :T]  # (T, F)
    panels = [(key, label, cmap, limits, getattr(trace, key)[row, sequence, :T].detach().cpu().double().numpy().T)
              for key, label, cmap, limits in (_GRU_GATE_PANELS if gru else _GATE_PANELS)]  # each (H, T)
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
    axes[0].set_title(title or f"{'GRU' if gru else 'LSTM'} gates, {name}, sequence {sequence}", fontsize=10)
    return save_figure(fig, path)
