"""anomalies.png: the series with its flagged intervals, and the score against the two threshold levels."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from lstmkit.metrics.events import runs
from lstmkit.tasks.anomaly.thresholds import Calibration

__all__ = ["anomalies_plot"]


def anomalies_figure(scores: pd.DataFrame, columns: Sequence[str], calibration: Calibration, *,
                     labels: np.ndarray | None = None, title: str = "", time_label: str | None = None,
                     train_end=None):
    """The figure :func:`anomalies_plot` saves (a matplotlib Figure, not closed: for tests and notebooks)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from lstmkit.plots import _legend_outside, _PlainLog, _time_axis, _times, plt

    t = _times(scores["time"])
    last = len(t) - 1
    columns = list(columns)
    shown = columns[:4]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6.5), sharex=True, layout="constrained",
                                      gridspec_kw={"height_ratios": [3, 2]})
    for column in shown:
        top.plot(t, scores[column], lw=0.8, label=column)
    if labels is not None:
        for a, b in runs(labels):
            top.axvspan(t[a], t[min(b, last)], color="C2", alpha=0.3, lw=1.5, ec="C2")
    flagged = runs(scores["is_anomaly"].to_numpy())
    for a, b in flagged:
        for ax in (top, bottom):
            ax.axvspan(t[a], t[min(b, last)], color="C3", alpha=0.3, lw=1.5, ec="C3")
    marker = None  # the end of the training part, when it lies in the data drawn
    if train_end is not None and len(t):
        end = _times([train_end])[0]
        try:
            marker = end if t[0] <= end <= t[-1] else None
        except TypeError:  # a date against row numbers: another table than the one trained on
            marker = None
    line_style = {"color": "k", "lw": 1, "ls": ":"}
    if marker is not None:
        for ax in (top, bottom):
            ax.axvline(marker, **line_style)
    end_handle = Line2D([], [], label="training part ends", **line_style)

    handles, _ = top.get_legend_handles_labels()
    n = len(flagged)
    handles.append(Patch(color="C3", alpha=0.3, label=f"flagged as anomalous ({n} interval{'' if n == 1 else 's'})"))
    if labels is not None:
        handles.append(Patch(color="C2", alpha=0.3, label="labelled anomaly"))
    if marker is not None:
        handles.append(end_handle)
    _legend_outside(top, handles=handles)
    top.set_title(title or "anomalies", fontsize=10)
    if len(shown) == 1:
        top.set_ylabel(shown[0])
    else:
        top.set_ylabel("value" if len(shown) > 2 else ", ".join(shown))
    if len(columns) > len(shown):
        top.text(0.99, 0.97, f"{len(shown)} of {len(columns)} columns drawn", transform=top.transAxes,
                 ha="right", va="top", fontsize=7)

    bottom.plot(t, scores["score"], color="0.3", lw=0.8, label="score (smoothed error)")
    eps, trig = float(calibration.epsilon), float(calibration.trigger)
    if np.isclose(eps, trig, rtol=1e-6, atol=0.0):
        bottom.axhline(eps, color="C3", lw=1, ls="--",
                       label=f"epsilon = trigger = {eps:.3g}: a run above it is an anomaly")
    else:
        bottom.axhline(eps, color="C1", lw=1, ls="--", label=f"epsilon {eps:.3g}: a run lasts while above")
        bottom.axhline(trig, color="C3", lw=1, ls="-.", label=f"trigger {trig:.3g}: a run is an anomaly once above")
    log = np.nanmin(scores["score"].to_numpy(dtype=float), initial=np.inf) > 0
    if log:
        bottom.set_yscale("log")
        bottom.yaxis.set_major_formatter(_PlainLog())  # 0.2, 0.5, 1 rather than 2 x 10^-1
        bottom.yaxis.set_minor_formatter(_PlainLog(labelOnlyBase=False))
    bottom.set_ylabel("score (log scale)" if log else "score")
    handles, _ = bottom.get_legend_handles_labels()
    if flagged:
        handles.append(Patch(color="C3", alpha=0.3, label="flagged as anomalous"))
    if marker is not None:
        handles.append(end_handle)
    _legend_outside(bottom, handles=handles)
    _time_axis(bottom, t, time_label or "time")
    return fig


def anomalies_plot(scores: pd.DataFrame, columns: Sequence[str], calibration: Calibration, path: str | Path, *,
                   labels: np.ndarray | None = None, title: str = "", time_label: str | None = None,
                   train_end=None) -> Path:
    """Top: the series with flagged intervals (red) and labelled events (green). Bottom: the score
    against the two threshold levels (log scale when every score is positive); one line when
    epsilon equals the trigger. ``train_end`` (the time label of the last training row, the
    detector's ``state.split["train_end"]``) is marked by a dotted line when it lies in the data;
    ``time_label`` names the time axis (default "time")."""
    from lstmkit.plots import save_figure

    fig = anomalies_figure(scores, columns, calibration, labels=labels, title=title, time_label=time_label,
                           train_end=train_end)
    return save_figure(fig, path)
