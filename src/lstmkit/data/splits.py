r"""Splitting a time series by time: never shuffled, never leaking the future into the past.

Row boundaries of :func:`temporal_split` for ``n`` rows and fractions :math:`p_{tr}, p_{va}, p_{te}`:

.. math::
    e_{tr} = \lfloor n\, p_{tr} \rceil_\downarrow, \quad
    e_{va} = \lfloor n\,(p_{tr} + p_{va}) \rceil_\downarrow, \qquad
    \text{train} = [0, e_{tr}),\ \text{val} = [e_{tr}, e_{va}),\ \text{test} = [e_{va}, n)

where :math:`\lfloor\cdot\rceil_\downarrow` is the floor with a :math:`10^{-9}` allowance for
round-off (so ``0.7 * 10`` gives 7, not 6).

Windows (:func:`split_windows`): a window belongs to the split that contains *all* of its target
rows. Its input rows may reach back into the previous split: they are observed history at the time
of the forecast, which is how the model is used, so that is not a leak. Windows whose targets
straddle a boundary are dropped.

Labelled rows with no order (texts and their classes) are split by :func:`stratified_split`
instead: seeded, each class shuffled and cut on its own.
"""
from __future__ import annotations

import logging
import math
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch

from lstmkit.data.errors import DataError
from lstmkit.data.windowing import (
    TargetColumns,
    _as_rows,
    _check_positive,
    _target_index,
    make_windows,
    window_count,
)

__all__ = ["Fold", "Split", "split_windows", "stratified_split", "temporal_split", "walk_forward"]

logger = logging.getLogger(__name__)

_SUM_TOLERANCE = 1e-6


class Split(NamedTuple):
    """Train, validation and test parts, in time order (slices, pieces or ``(X, Y)`` pairs)."""

    train: Any
    val: Any
    test: Any


class Fold(NamedTuple):
    """One walk-forward fold: ``train`` rows, then ``test`` rows right after them."""

    train: slice
    test: slice


def _floor(x: float) -> int:
    return math.floor(x + 1e-9)


def _split_bounds(n: int, train: float, val: float, test: float) -> tuple[int, int]:
    for name, frac in (("train", train), ("val", val), ("test", test)):
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 <= frac <= 1:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {frac!r}")
    if train == 0:
        raise ValueError("train must be a positive fraction, got 0")
    total = train + val + test
    if abs(total - 1) > _SUM_TOLERANCE:
        raise ValueError(
            f"split fractions must sum to 1, got train={train} + val={val} + test={test} = {total:g}"
        )
    end_train = _floor(n * train)
    end_val = n if test == 0 else _floor(n * (train + val))
    for name, frac, size in (
        ("train", train, end_train),
        ("val", val, end_val - end_train),
        ("test", test, n - end_val),
    ):
        if frac > 0 and size == 0:
            raise DataError(
                f"temporal_split: {name}={frac} of {n} rows gives 0 rows; use a larger fraction or more data"
            )
    return end_train, end_val


def _length(series: Any) -> int:
    if isinstance(series, (np.ndarray, torch.Tensor)):
        if series.ndim == 0:
            raise DataError("temporal_split: got a scalar, not a series")
        return int(series.shape[0])
    return len(series)


def _take(series: Any, rows: slice) -> Any:
    return series.iloc[rows] if hasattr(series, "iloc") else series[rows]


def temporal_split(
    n_or_series: Any, *, train: float = 0.7, val: float = 0.15, test: float = 0.15
) -> Split:
    """Split rows ``0..n-1`` in time order into train, validation and test; never shuffles.

    Given an int ``n``, returns a :class:`Split` of three slices ``[0, e_tr)``, ``[e_tr, e_va)``,
    ``[e_va, n)`` (see the module docstring). Given a series (numpy array, tensor, pandas object, or
    anything sliceable), returns the three pieces themselves (views where the type allows;
    pandas through ``iloc``). A fraction of 0 gives an empty part; a positive fraction that rounds to
    zero rows is an error.
    """
    if isinstance(n_or_series, (int, np.integer)) and not isinstance(n_or_series, bool):
        n = int(n_or_series)
        if n < 1:
            raise ValueError(f"temporal_split needs a positive number of rows, got {n}")
        end_train, end_val = _split_bounds(n, train, val, test)
        return Split(slice(0, end_train), slice(end_train, end_val), slice(end_val, n))
    n = _length(n_or_series)
    if n < 1:
        raise DataError("temporal_split: the series is empty")
    bounds = temporal_split(n, train=train, val=val, test=test)
    return Split(*(_take(n_or_series, rows) for rows in bounds))


def split_windows(
    series: Any,
    input_width: int,
    horizon: int,
    *,
    train: float = 0.7,
    val: float = 0.15,
    test: float = 0.15,
    stride: int = 1,
    target_columns: TargetColumns = None,
) -> Split:
    r"""Train/val/test windows of a series such that every window's targets lie inside its split.

    The series' rows are split with :func:`temporal_split`. For a split of rows :math:`[a, b)` the
    windows are those of ``make_windows(series[max(0, a - w) : b], ...)``: the first one's targets
    start at row :math:`\max(a, w)`, the last one's end at or before :math:`b`, and the inputs may
    reach up to :math:`w` rows back into the previous split. Returns a :class:`Split` of
    ``(X, Y)`` pairs (views of the series for numpy/torch inputs, as :func:`make_windows`); a split
    with fraction 0 gets empty ``X (0, w, F)``, ``Y (0, h, K)``.

    Raises :class:`DataError` when a split with a positive fraction is too short for one window.
    """
    who = "split_windows"
    w = _check_positive("input_width", input_width)
    h = _check_positive("horizon", horizon)
    s = _check_positive("stride", stride)
    rows = _as_rows(series, who)  # (n, F)
    n, n_features = rows.shape
    index = _target_index(target_columns, n_features, who)  # validates target_columns early
    bounds = temporal_split(n, train=train, val=val, test=test)
    parts = []
    for name, part in zip(Split._fields, bounds):
        a, b = part.start, part.stop
        start = max(0, a - w)
        if b == a:
            k = len(range(n_features)[index]) if isinstance(index, slice) else len(index)
            parts.append((_empty_like(rows, (0, w, n_features)), _empty_like(rows, (0, h, k))))
            continue
        if window_count(b - start, w, h, s) == 0:
            first_target = max(a, w)
            raise DataError(
                f"split_windows: the {name} split has rows [{a}, {b}) ({b - a} rows) but its first window's "
                f"targets start at row {first_target} and need horizon={h} rows up to row {first_target + h}; "
                "use a larger fraction, a smaller input_width/horizon, or more data"
            )
        parts.append(make_windows(rows[start:b], w, h, stride=s, target_columns=target_columns))
        logger.debug("split_windows: %s rows [%d, %d) -> %d windows", name, a, b, len(parts[-1][0]))
    return Split(*parts)


def _empty_like(rows: np.ndarray | torch.Tensor, shape: tuple[int, ...]) -> np.ndarray | torch.Tensor:
    if isinstance(rows, torch.Tensor):
        return torch.empty(shape, dtype=rows.dtype, device=rows.device)
    return np.empty(shape, dtype=rows.dtype)


def walk_forward(
    n: int,
    *,
    folds: int,
    horizon: int,
    min_train: int,
    expanding: bool = True,
    step: int | None = None,
) -> list[Fold]:
    r"""Backtest folds over ``n`` rows: train on the past, test on the next ``horizon`` rows.

    The last fold tests on the final ``horizon`` rows; each earlier one starts ``step`` rows earlier
    (default ``step = horizon``: test ranges tile the end of the series without overlap). For fold
    :math:`j = 0, \dots, \text{folds} - 1`

    .. math::
        t_j = n - h - (\text{folds} - 1 - j)\,\text{step}, \qquad
        \text{test}_j = [t_j, t_j + h), \qquad
        \text{train}_j = [0, t_j) \text{ (expanding) or } [t_j - m, t_j) \text{ (sliding)}

    with :math:`m` = ``min_train``. The training range always ends where the test range starts, so
    the model never sees a test row. Needs :math:`n \ge m + h + (\text{folds} - 1)\,\text{step}`.
    """
    who = "walk_forward"
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{who}: n must be a positive number of rows, got {n!r}")
    folds = _check_positive("folds", folds)
    h = _check_positive("horizon", horizon)
    m = _check_positive("min_train", min_train)
    step = h if step is None else _check_positive("step", step)
    needed = m + h + (folds - 1) * step
    if n < needed:
        raise DataError(
            f"{who}: {folds} folds with min_train={m}, horizon={h}, step={step} need at least "
            f"min_train + horizon + (folds - 1) * step = {needed} rows, got {n}"
        )
    first = n - h - (folds - 1) * step
    out = []
    for j in range(folds):
        t = first + j * step
        out.append(Fold(train=slice(0 if expanding else t - m, t), test=slice(t, t + h)))
    return out


def stratified_split(labels: Sequence[Any], *, val: float = 0.1, test: float = 0.2,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of a seeded, stratified train / validation / test split of labelled rows.

    Each class is shuffled (``numpy.random.default_rng(seed)``) and cut on its own: round(test * n_c)
    rows (at least one) to the test part, round(val * n_c) (at least one when ``val > 0``) to the
    validation part, the rest to training, so every part has every class in about the same
    proportions. Each part's indices are returned sorted. A class with too few rows for one in every
    part is a :class:`DataError`.
    """
    if not (0 <= val < 1 and 0 < test < 1 and val + test < 1):
        raise ValueError(f"val and test must be fractions with val + test < 1 and test > 0, got {val}, {test}")
    labels = np.asarray(labels, dtype=object)
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[], [], []]
    needed = 3 if val > 0 else 2
    for value in sorted(set(labels.tolist()), key=str):
        rows = np.flatnonzero(labels == value)
        n = len(rows)
        if n < needed:
            raise DataError(f"class {value!r} has {n} example(s); each class needs at least {needed} "
                            "(one each for training, validation and test)")
        rows = rng.permutation(rows)
        n_test = max(1, round(test * n))
        n_val = max(1, round(val * n)) if val > 0 else 0
        n_test = min(n_test, n - n_val - 1)
        parts[2].extend(rows[:n_test])
        parts[1].extend(rows[n_test : n_test + n_val])
        parts[0].extend(rows[n_test + n_val :])
    train, val_rows, test_rows = (np.sort(np.asarray(p, dtype=np.int64)) for p in parts)
    return train, val_rows, test_rows
