import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lstmkit.data import (
    DataError,
    Fold,
    Split,
    split_windows,
    temporal_split,
    walk_forward,
)

FAST = settings(max_examples=60, deadline=None)

# (train, val, test) fractions that sum to 1, including zero val/test parts.
fractions = st.tuples(st.integers(1, 20), st.integers(0, 10), st.integers(0, 10)).map(
    lambda parts: tuple(p / sum(parts) for p in parts)
)


@FAST
@given(n=st.integers(1, 500), fracs=fractions)
def test_temporal_split_keeps_order_and_covers_every_row(n, fracs):
    train, val, test = fracs
    try:
        split = temporal_split(n, train=train, val=val, test=test)
    except DataError as exc:
        assert "gives 0 rows" in str(exc)
        return
    assert isinstance(split, Split)
    assert split.train.start == 0 and split.test.stop == n
    assert split.train.stop == split.val.start and split.val.stop == split.test.start
    assert split.train.stop == math.floor(n * train + 1e-9)
    for part, frac in zip(split, fracs):
        size = part.stop - part.start
        assert (size > 0) == (frac > 0)
        assert abs(size - n * frac) < 1 + 1e-6


def test_temporal_split_golden_and_pieces():
    assert temporal_split(10) == Split(slice(0, 7), slice(7, 8), slice(8, 10))
    series = np.arange(20.0)
    pieces = temporal_split(series, train=0.5, val=0.25, test=0.25)
    assert [p.tolist() for p in pieces] == [list(range(10)), list(range(10, 15)), list(range(15, 20))]
    assert all(np.shares_memory(p, series) for p in pieces)  # views, in time order, never shuffled
    frame = pd.DataFrame({"a": range(20)}, index=pd.date_range("2020-01-01", periods=20))
    train, val, test = temporal_split(frame, train=0.8, val=0.0, test=0.2)
    assert len(train) == 16 and len(val) == 0 and test.index[0] == pd.Timestamp("2020-01-17")
    assert temporal_split(torch.arange(4), train=0.5, val=0.5, test=0)[1].tolist() == [2, 3]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((10,), {"train": 0.7, "val": 0.2, "test": 0.2}, ValueError, "must sum to 1, got train=0.7 \\+ val=0.2 \\+ test=0.2 = 1.1"),
        ((10,), {"train": 1.2, "val": -0.1, "test": -0.1}, ValueError, "train must be a fraction in \\[0, 1\\], got 1.2"),
        ((10,), {"train": 0, "val": 0.5, "test": 0.5}, ValueError, "train must be a positive fraction"),
        ((10,), {"val": "0.15"}, ValueError, "val must be a fraction"),
        ((5,), {"train": 0.9, "val": 0.05, "test": 0.05}, DataError, "val=0.05 of 5 rows gives 0 rows"),
        ((0,), {}, ValueError, "needs a positive number of rows, got 0"),
        ((np.zeros(0),), {}, DataError, "the series is empty"),
    ],
)
def test_temporal_split_errors(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        temporal_split(*args, **kwargs)


@st.composite
def split_window_cases(draw):
    w, h, s = draw(st.integers(1, 8)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    n = draw(st.integers(w + h, 120))
    return n, w, h, s, draw(fractions)


@FAST
@given(case=split_window_cases())
def test_no_window_target_leaves_its_split(case):
    n, w, h, s, (train, val, test) = case
    series = np.arange(n, dtype=np.float64)  # each value is its own row number
    try:
        bounds = temporal_split(n, train=train, val=val, test=test)
        windows = split_windows(series, w, h, train=train, val=val, test=test, stride=s)
    except DataError as exc:
        assert "too short" in str(exc) or "split has rows" in str(exc) or "gives 0 rows" in str(exc)
        assume(False)  # a part too small for one window: an error is the right answer
    for part, (x, y) in zip(bounds, windows):
        a, b = part.start, part.stop
        assert x.shape[1:] == (w, 1) and y.shape[1:] == (h, 1) and len(x) == len(y)
        if b == a:
            assert len(x) == 0
            continue
        targets = y[..., 0]
        assert targets.min() >= a and targets.max() < b  # every target inside its own split
        # inputs are the w rows right before the targets: observed history, never the future
        np.testing.assert_array_equal(x[:, -1, 0] + 1, targets[:, 0])
        np.testing.assert_array_equal(np.diff(targets[:, 0]), np.full(len(x) - 1, s))
        # and no window was lost: the first target row is the earliest possible, the next one would not fit
        assert targets[0, 0] == max(a, w)
        assert targets[-1, -1] + s >= b
        assert np.shares_memory(x, series)


def test_split_windows_golden():
    train, val, test = split_windows(np.arange(20.0), 3, 2, train=0.5, val=0.25, test=0.25)
    assert train[1][:, :, 0].tolist() == [[3, 4], [4, 5], [5, 6], [6, 7], [7, 8], [8, 9]]
    assert val[0][0, :, 0].tolist() == [7, 8, 9]  # context from the train rows
    assert val[1][:, :, 0].tolist() == [[10, 11], [11, 12], [12, 13], [13, 14]]
    assert test[1][:, :, 0].tolist() == [[15, 16], [16, 17], [17, 18], [18, 19]]
    x, y = split_windows(torch.arange(10.0), 2, 1, train=0.8, val=0.2, test=0.0).test
    assert x.shape == (0, 2, 1) and y.shape == (0, 1, 1) and isinstance(x, torch.Tensor)


def test_split_windows_errors():
    with pytest.raises(DataError, match=r"the val split has rows \[70, 85\) \(15 rows\) .* horizon=20"):
        split_windows(np.zeros(100), 10, 20)
    with pytest.raises(DataError, match=r"the train split has rows \[0, 7\)"):
        split_windows(np.zeros(10), 7, 1, train=0.7, val=0.2, test=0.1)
    with pytest.raises(DataError, match="target column 1 is out of range"):
        split_windows(np.zeros(100), 5, 1, target_columns=1)
    with pytest.raises(ValueError, match="must sum to 1"):
        split_windows(np.zeros(100), 5, 1, train=0.5)


@FAST
@given(
    n=st.integers(1, 200),
    folds=st.integers(1, 6),
    horizon=st.integers(1, 12),
    min_train=st.integers(1, 60),
    step=st.none() | st.integers(1, 15),
    expanding=st.booleans(),
)
def test_walk_forward_folds_never_leak(n, folds, horizon, min_train, step, expanding):
    stride = horizon if step is None else step
    needed = min_train + horizon + (folds - 1) * stride
    if n < needed:
        with pytest.raises(DataError, match=f"need at least .* = {needed} rows, got {n}"):
            walk_forward(n, folds=folds, horizon=horizon, min_train=min_train, expanding=expanding, step=step)
        return
    result = walk_forward(n, folds=folds, horizon=horizon, min_train=min_train, expanding=expanding, step=step)
    assert len(result) == folds and all(isinstance(f, Fold) for f in result)
    assert result[-1].test.stop == n
    for j, fold in enumerate(result):
        train_rows = set(range(fold.train.start, fold.train.stop))
        test_rows = set(range(fold.test.start, fold.test.stop))
        assert not train_rows & test_rows
        assert max(train_rows) < min(test_rows)  # the test range always follows the train range
        assert fold.train.stop == fold.test.start
        assert len(test_rows) == horizon
        assert fold.train.start >= 0
        size = fold.train.stop - fold.train.start
        assert size >= min_train if expanding else size == min_train
        if expanding:
            assert fold.train.start == 0
        if j:
            assert fold.test.start - result[j - 1].test.start == stride


def test_walk_forward_golden_and_errors():
    assert walk_forward(10, folds=2, horizon=2, min_train=4) == [
        Fold(slice(0, 6), slice(6, 8)),
        Fold(slice(0, 8), slice(8, 10)),
    ]
    assert walk_forward(10, folds=2, horizon=2, min_train=4, expanding=False, step=1) == [
        Fold(slice(3, 7), slice(7, 9)),
        Fold(slice(4, 8), slice(8, 10)),
    ]
    with pytest.raises(ValueError, match="folds must be a positive integer, got 0"):
        walk_forward(10, folds=0, horizon=2, min_train=4)
    with pytest.raises(ValueError, match="n must be a positive number of rows"):
        walk_forward(-1, folds=1, horizon=2, min_train=4)
