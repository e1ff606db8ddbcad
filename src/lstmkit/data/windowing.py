r"""Sliding windows over a time series: inputs of ``input_width`` rows, targets of the next ``horizon``.

For a series :math:`s_0, \dots, s_{n-1}` (rows; each row has F features), window :math:`i` is

.. math::
    X_i = s[i \cdot \text{stride} \,:\, i \cdot \text{stride} + w], \qquad
    Y_i = s[i \cdot \text{stride} + w \,:\, i \cdot \text{stride} + w + h]

with :math:`w` = ``input_width`` and :math:`h` = ``horizon``, for
:math:`i = 0, \dots, N - 1`, :math:`N = \lfloor (n - w - h) / \text{stride} \rfloor + 1`
(:func:`window_count`). ``Y`` keeps only the ``target_columns``.

Shapes: X ``(N, w, F)``, Y ``(N, h, K)`` with K targets; a 1-D series is one feature (F = 1).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from torch.utils.data import Dataset

from lstmkit.data.errors import DataError

__all__ = ["WindowDataset", "make_windows", "window_count"]

logger = logging.getLogger(__name__)

TargetColumns = int | list[int] | tuple[int, ...] | None


def _check_positive(name: str, value: Any) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def window_count(n_rows: int, input_width: int, horizon: int, stride: int = 1) -> int:
    r"""Number of windows :math:`\lfloor (n - w - h)/\text{stride} \rfloor + 1`, or 0 if :math:`n < w + h`."""
    w = _check_positive("input_width", input_width)
    h = _check_positive("horizon", horizon)
    s = _check_positive("stride", stride)
    if n_rows < w + h:
        return 0
    return (n_rows - w - h) // s + 1


def _as_rows(series: Any, who: str) -> np.ndarray | torch.Tensor:
    """The series as a 2-D ``(n, F)`` numpy array or tensor, a view of the input where possible."""
    if hasattr(series, "to_numpy") and not isinstance(series, (np.ndarray, torch.Tensor)):
        series = series.to_numpy()  # pandas: a view for single-dtype frames, else a copy
    if not isinstance(series, (np.ndarray, torch.Tensor)):
        series = np.asarray(series)
    if isinstance(series, np.ndarray) and not (
        np.issubdtype(series.dtype, np.number) or series.dtype == bool
    ):
        raise DataError(f"{who}: the series must be numeric, got dtype {series.dtype}")
    if series.ndim not in (1, 2):
        raise DataError(f"{who}: the series must have shape (time,) or (time, features), got {tuple(series.shape)}")
    return series[:, None] if series.ndim == 1 else series


def _target_index(target_columns: TargetColumns, n_features: int, who: str) -> slice | list[int]:
    """Columns of Y as a slice where they are evenly spaced (so Y stays a view), else a list."""
    if target_columns is None:
        return slice(None)
    cols = [target_columns] if isinstance(target_columns, (int, np.integer)) else list(target_columns)
    if not cols:
        raise ValueError(f"{who}: target_columns is empty; pass None for all columns")
    for c in cols:
        if not isinstance(c, (int, np.integer)) or isinstance(c, bool):
            raise TypeError(f"{who}: target_columns must be integers, got {c!r}")
        if not -n_features <= c < n_features:
            raise DataError(
                f"{who}: target column {c} is out of range for a series with {n_features} feature(s) "
                f"(valid: 0..{n_features - 1}, or negative from the end)"
            )
    cols = [int(c) % n_features for c in cols]
    if len(set(cols)) != len(cols):
        raise DataError(f"{who}: target_columns has duplicates: {list(target_columns)}")
    if len(cols) == 1:
        return slice(cols[0], cols[0] + 1)
    step = cols[1] - cols[0]
    if step > 0 and all(b - a == step for a, b in zip(cols, cols[1:])):
        return slice(cols[0], cols[-1] + 1, step)
    return cols


def _check_length(n: int, w: int, h: int, who: str) -> None:
    if n < w + h:
        raise DataError(
            f"{who}: the series has {n} rows but input_width={w} + horizon={h} needs at least {w + h}"
        )


def make_windows(
    series: Any,
    input_width: int,
    horizon: int,
    *,
    stride: int = 1,
    target_columns: TargetColumns = None,
) -> tuple[np.ndarray, np.ndarray] | tuple[torch.Tensor, torch.Tensor]:
    """All windows of a series at once: ``X (N, input_width, F)`` and ``Y (N, horizon, K)``.

    ``series`` is a numpy array or torch tensor of shape ``(time,)`` or ``(time, features)`` (a pandas
    object is converted with ``to_numpy()``). The output is the same kind. Nothing is copied: ``X``
    and ``Y`` are strided views of the series (numpy: read-only ``sliding_window_view``; torch:
    ``Tensor.unfold``), so windows cost no memory, and writing to the series shows in them. ``Y``
    is a view too unless ``target_columns`` are unevenly spaced (e.g. ``[0, 3, 4]``); then only the
    target columns are copied, once.

    Args:
        input_width: rows in each input window (``w``).
        horizon: rows to predict after it (``h``).
        stride: rows between the starts of consecutive windows.
        target_columns: column index or indices of the series that ``Y`` keeps; None = all.
    """
    who = "make_windows"
    w = _check_positive("input_width", input_width)
    h = _check_positive("horizon", horizon)
    s = _check_positive("stride", stride)
    rows = _as_rows(series, who)  # (n, F)
    n, n_features = rows.shape
    index = _target_index(target_columns, n_features, who)
    _check_length(n, w, h, who)
    if isinstance(rows, torch.Tensor):
        x = rows[: n - h].unfold(0, w, s).transpose(1, 2)  # (N, w, F)
        if isinstance(index, slice):
            targets = rows[w:, index]  # a view
        else:
            targets = rows[w:].index_select(1, torch.tensor(index, device=rows.device))
        y = targets.unfold(0, h, s).transpose(1, 2)  # (N, h, K)
        return x, y
    x = sliding_window_view(rows[: n - h], w, axis=0)[::s].transpose(0, 2, 1)  # (N, w, F)
    targets = rows[w:, index]  # (n - w, K): a view for a slice, a copy for a list
    y = sliding_window_view(targets, h, axis=0)[::s].transpose(0, 2, 1)  # (N, h, K)
    return x, y


class WindowDataset(Dataset):
    """A :class:`torch.utils.data.Dataset` that cuts the windows of :func:`make_windows` on demand.

    Holds the series once, as a ``(time, features)`` tensor of ``dtype`` (default float32; None
    keeps the input's dtype); item ``i`` is ``(x, y)`` with ``x (input_width, F)`` and
    ``y (horizon, K)``, views into that tensor. Memory is one copy of the series at most, whatever
    the number of windows.
    """

    def __init__(
        self,
        series: Any,
        input_width: int,
        horizon: int,
        *,
        stride: int = 1,
        target_columns: TargetColumns = None,
        dtype: torch.dtype | None = torch.float32,
    ) -> None:
        who = "WindowDataset"
        self.input_width = _check_positive("input_width", input_width)
        self.horizon = _check_positive("horizon", horizon)
        self.stride = _check_positive("stride", stride)
        rows = _as_rows(series, who)
        if isinstance(rows, np.ndarray):
            # torch.from_numpy refuses to share read-only memory (e.g. windows); copy those only.
            rows = torch.from_numpy(rows if rows.flags.writeable else rows.copy())
        self.series = rows if dtype is None else rows.to(dtype)  # (time, F)
        n, n_features = self.series.shape
        self.target_index = _target_index(target_columns, n_features, who)
        _check_length(n, self.input_width, self.horizon, who)
        self.num_windows = window_count(n, self.input_width, self.horizon, self.stride)

    def __len__(self) -> int:
        return self.num_windows

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -self.num_windows <= i < self.num_windows:
            raise IndexError(f"window {i} out of range for {self.num_windows} windows")
        start = (i % self.num_windows) * self.stride
        mid = start + self.input_width
        x = self.series[start:mid]  # (w, F)
        y = self.series[mid : mid + self.horizon]  # (h, F)
        return x, y[:, self.target_index]  # (h, K); a copy only for unevenly spaced target columns

    def __repr__(self) -> str:
        return (
            f"WindowDataset(windows={self.num_windows}, input_width={self.input_width}, horizon={self.horizon}, "
            f"stride={self.stride}, series={tuple(self.series.shape)}, dtype={self.series.dtype})"
        )
