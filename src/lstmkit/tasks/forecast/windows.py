r"""Forecast windows: the relative input window, the seasonal baseline and the targets of each origin.

A forecast origin T is the first row forecast; its input window is rows [T - W, T). Each window is
expressed relative to its own *level* :math:`\ell_T` (the mean of its last m values, m the season;
the last value when there is no season) and divided by the per-target scale :math:`s`:
:math:`\tilde z_t = (z_t - \ell_T) / s`. The seasonal baseline is the level plus the average
seasonal profile of the last J seasons, each taken relative to its own level:

.. math:: b_{T+h} = \frac{1}{J}\sum_{j=1}^{J} \left(z_{T+h-jL} - \ell_{T-jL}\right), \quad L = m\lceil K/m\rceil

(zero without a season, i.e. the naive forecast).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from lstmkit.data import make_windows
from lstmkit.tasks.forecast.config import ForecastState


@dataclass
class Prepared:
    """A table turned into model-ready arrays (the transform already applied)."""

    frame: pd.DataFrame
    z: np.ndarray  # (n, T) transformed targets
    features: np.ndarray  # (n, F_x) scaled features (F_x may be 0)


@dataclass
class WindowInputs:
    """The input windows of a fitted forecaster on a table, as its LSTMs see them (``lstmkit inspect``)."""

    # (N, W, F) float32, inputs as the LSTM sees them: targets relative to each window's level and divided
    # by the scale, features scaled
    x: torch.Tensor
    origins: np.ndarray  # (N,) first forecast row of each window
    times: list[list]  # per window, the W time labels of its rows (see time_label)
    feature_names: list[str]  # f"{c} (rel.)" per target, f"{c} (scaled)" per feature


def first_origin(state: ForecastState) -> int:
    """The first row that can be forecast: the input window and the baseline's J seasons of history exist."""
    if state.season > 1:
        return max(state.input_width, state.seasons_averaged * state.lag + min(state.input_width, state.season))
    return state.input_width


def origins_in(state: ForecastState, rows: slice) -> np.ndarray:
    """Forecast origins whose whole horizon lies inside ``rows`` (and whose inputs exist)."""
    return np.arange(max(rows.start, first_origin(state)), rows.stop - state.horizon + 1)


def levels(state: ForecastState, z: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """(N, T): the level before each origin: mean of the last min(W, m) values, or the last value."""
    span = min(state.input_width, state.season) if state.season > 1 else 1
    rows = origins[:, None] - span + np.arange(span)[None, :]  # (N, span)
    return z[rows].mean(axis=1)


def window_tensors(state: ForecastState, data: Prepared, origins: np.ndarray):
    """Model inputs for forecast origins T (first forecast row): x (N, W, F), base (N, K, T), level (N, T)."""
    W, K = state.input_width, state.horizon
    scale = np.asarray(state.target_scale)
    full = np.concatenate([data.z, data.features], axis=1)  # (n, T + F_x)
    # make_windows: window i covers rows [i, i + W); the window ending just before T is i = T - W.
    windows, _ = make_windows(np.concatenate([full, np.zeros((1, full.shape[1]))]), W, 1)
    x = np.array(windows[origins - W], dtype=float)  # (N, W, T + F_x), copied: made relative below
    level = levels(state, data.z, origins)  # (N, T)
    n_t = data.z.shape[1]
    x[:, :, :n_t] = (x[:, :, :n_t] - level[:, None, :]) / scale
    base = np.zeros((len(origins), K, n_t))
    if state.season > 1:
        for j in range(1, state.seasons_averaged + 1):
            past = origins - j * state.lag  # the same part of the season, j seasons back
            rows = past[:, None] + np.arange(K)[None, :]
            base += data.z[rows] - levels(state, data.z, past)[:, None, :]
        base /= state.seasons_averaged
    base = base / scale
    return (torch.tensor(x, dtype=torch.float32), torch.tensor(base, dtype=torch.float32)), level


def dataset(state: ForecastState, data: Prepared, rows: slice) -> torch.utils.data.TensorDataset | None:
    """(x, base, y) for every origin whose horizon lies in ``rows``, y relative like x; None if there is none."""
    origins = origins_in(state, rows)
    if len(origins) == 0:
        return None
    (x, base), level = window_tensors(state, data, origins)
    K = state.horizon
    target_rows = origins[:, None] + np.arange(K)[None, :]
    y = (data.z[target_rows] - level[:, None, :]) / np.asarray(state.target_scale)
    return torch.utils.data.TensorDataset(x, base, torch.tensor(y, dtype=torch.float32))


class Pairs(torch.utils.data.Dataset):
    """(x, base, y) rows as the Trainer's (inputs, target) pairs. A list of indices gives a whole batch
    at once (``batch_indexing``: the Trainer's loader then gathers each tensor once per batch)."""

    batch_indexing = True

    def __init__(self, tensors: torch.utils.data.TensorDataset):
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors)

    def __getitem__(self, i):
        x, base, y = self.tensors[i]
        return (x, base), y


# ------------------------------------------------------------------------------------ time labels
def time_label(t) -> Any:
    """A row's time as ``lstmkit inspect`` shows it: '%Y-%m-%d' or '%Y-%m-%d %H:%M', the raw value otherwise."""
    if hasattr(t, "strftime"):
        has_time = any(getattr(t, part, 0) for part in ("hour", "minute", "second"))
        return t.strftime("%Y-%m-%d %H:%M" if has_time else "%Y-%m-%d")
    return t


def row_label(index: pd.Index, row: int):
    """forecast.csv's label of a row: its timestamp in ISO format, its index value, or the row number past the end."""
    if row < len(index):
        value = index[row]
        return value.isoformat() if hasattr(value, "isoformat") else value
    return row


def future_index(frame: pd.DataFrame, horizon: int, freq: str | None) -> list:
    """Labels of the ``horizon`` rows after the end of ``frame``: timestamps for a time index with a
    frequency, the index continued for an integer index, "+1", "+2", ... otherwise."""
    index = frame.index
    if isinstance(index, pd.DatetimeIndex) and freq:
        return list(pd.date_range(index[-1], periods=horizon + 1, freq=freq)[1:])
    if isinstance(index, pd.RangeIndex) or (len(index) and np.issubdtype(index.dtype, np.integer)):
        step = int(index[-1] - index[-2]) if len(index) > 1 else 1
        return [int(index[-1]) + step * (h + 1) for h in range(horizon)]
    return [f"+{h + 1}" for h in range(horizon)]
