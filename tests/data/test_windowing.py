import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from lstmkit.data import (
    DataError,
    WindowDataset,
    make_windows,
    pad_sequences,
    window_count,
)

FAST = settings(max_examples=50, deadline=None)


@st.composite
def window_cases(draw):
    features = draw(st.sampled_from([0, 1, 3]))  # 0: a 1-D series
    w, h, s = draw(st.integers(1, 6)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    n = draw(st.integers(w + h, 40))
    width = max(features, 1)
    targets = draw(
        st.none()
        | st.integers(-width, width - 1)
        | st.lists(st.integers(0, width - 1), min_size=1, max_size=width, unique=True)
    )
    series = np.arange(n * width, dtype=np.float64).reshape(n, width)
    return (series[:, 0] if features == 0 else series), w, h, s, targets


def _columns(targets, width):
    if targets is None:
        return list(range(width))
    return [t % width for t in ([targets] if isinstance(targets, int) else targets)]


@FAST
@given(case=window_cases())
def test_every_window_equals_its_slice_and_shares_memory(case):
    series, w, h, s, targets = case
    x, y = make_windows(series, w, h, stride=s, target_columns=targets)
    n = len(series)
    rows = series.reshape(n, -1)
    cols = _columns(targets, rows.shape[1])
    count = (n - w - h) // s + 1
    assert count == window_count(n, w, h, s)
    assert x.shape == (count, w, rows.shape[1])
    assert y.shape == (count, h, len(cols))
    for i in range(count):
        np.testing.assert_array_equal(x[i], rows[i * s : i * s + w])
        np.testing.assert_array_equal(y[i], rows[i * s + w : i * s + w + h][:, cols])
    assert np.shares_memory(x, series)  # no copy
    assert not x.flags.writeable
    evenly_spaced = len(cols) < 3 or len({b - a for a, b in zip(cols, cols[1:])}) == 1
    if evenly_spaced and (len(cols) < 2 or cols[1] > cols[0]):
        assert np.shares_memory(y, series)


@FAST
@given(case=window_cases())
def test_torch_windows_match_numpy_and_are_views(case):
    series, w, h, s, targets = case
    t = torch.from_numpy(series)
    x, y = make_windows(t, w, h, stride=s, target_columns=targets)
    x_np, y_np = make_windows(series, w, h, stride=s, target_columns=targets)
    np.testing.assert_array_equal(x.numpy(), x_np)
    np.testing.assert_array_equal(y.numpy(), y_np)
    assert x.untyped_storage().data_ptr() == t.untyped_storage().data_ptr()


@FAST
@given(case=window_cases())
def test_window_dataset_serves_the_same_windows(case):
    series, w, h, s, targets = case
    ds = WindowDataset(series, w, h, stride=s, target_columns=targets)
    x_np, y_np = make_windows(series, w, h, stride=s, target_columns=targets)
    assert len(ds) == len(x_np)
    for i in (0, len(ds) - 1, -1):
        x, y = ds[i]
        assert x.dtype == y.dtype == torch.float32
        np.testing.assert_array_equal(x.numpy(), x_np[i].astype(np.float32))
        np.testing.assert_array_equal(y.numpy(), y_np[i].astype(np.float32))


def test_golden_windows_with_stride_and_target_column():
    series = np.arange(20.0).reshape(10, 2)  # row r is [2r, 2r + 1]
    x, y = make_windows(series, 3, 2, stride=2, target_columns=1)
    assert x.shape == (3, 3, 2) and y.shape == (3, 2, 1)
    assert x[1].tolist() == [[4, 5], [6, 7], [8, 9]]
    assert y[1].tolist() == [[11], [13]]
    assert y[2].tolist() == [[15], [17]]  # window 2 starts at row 4: targets are rows 7 and 8


def test_views_follow_writes_to_the_series():
    series = np.zeros(10)
    x, y = make_windows(series, 4, 1)
    series[5] = 7.0
    assert x[2, 3, 0] == 7.0 and y[1, 0, 0] == 7.0  # window 1 predicts row 1 + 4


def test_window_dataset_in_a_dataloader():
    series = np.sin(np.arange(100.0))[:, None].repeat(3, axis=1)
    ds = WindowDataset(series, input_width=12, horizon=4, target_columns=[0, 2])
    x, y = next(iter(DataLoader(ds, batch_size=8, shuffle=False)))
    assert x.shape == (8, 12, 3) and y.shape == (8, 4, 2)
    assert x.dtype == torch.float32
    assert WindowDataset(series, 12, 4, dtype=None)[0][0].dtype == torch.float64
    assert len(ds) == 100 - 12 - 4 + 1
    with pytest.raises(IndexError, match="window 85 out of range for 85 windows"):
        ds[85]


def test_read_only_windows_can_be_padded_without_warnings(recwarn):
    x, _ = make_windows(np.arange(12.0).reshape(6, 2), 2, 1)
    padded, lengths = pad_sequences([x[0], x[1][:1]])
    assert padded.tolist() == [[[0, 1], [2, 3]], [[2, 3], [0, 0]]]
    WindowDataset(x[0], 1, 1)
    assert not [w for w in recwarn if "not writable" in str(w.message)]


def test_pandas_input():
    frame = pd.DataFrame({"a": np.arange(6.0), "b": np.arange(6.0) * 10})
    x, y = make_windows(frame, 2, 1, target_columns=1)
    assert x.shape == (4, 2, 2) and y[:, 0, 0].tolist() == [20, 30, 40, 50]


@pytest.mark.parametrize(
    ("series", "args", "kwargs", "error", "match"),
    [
        (np.zeros(10), (8, 5), {}, DataError, "the series has 10 rows but input_width=8 \\+ horizon=5 needs at least 13"),
        (np.zeros(10), (0, 1), {}, ValueError, "input_width must be a positive integer, got 0"),
        (np.zeros(10), (2, -1), {}, ValueError, "horizon must be a positive integer, got -1"),
        (np.zeros(10), (2, 1), {"stride": 1.5}, ValueError, "stride must be a positive integer, got 1.5"),
        (np.zeros(10), (True, 1), {}, ValueError, "input_width must be a positive integer, got True"),
        (np.zeros((10, 3)), (2, 1), {"target_columns": 3}, DataError, r"target column 3 is out of range .* 3 feature\(s\) \(valid: 0..2"),
        (np.zeros((10, 3)), (2, 1), {"target_columns": [-4]}, DataError, "target column -4 is out of range"),
        (np.zeros((10, 3)), (2, 1), {"target_columns": [1, 1]}, DataError, "duplicates"),
        (np.zeros((10, 3)), (2, 1), {"target_columns": []}, ValueError, "target_columns is empty"),
        (np.zeros((4, 3, 2)), (1, 1), {}, DataError, r"shape \(time,\) or \(time, features\), got \(4, 3, 2\)"),
        (np.array(["a", "b", "c"]), (1, 1), {}, DataError, "must be numeric"),
    ],
)
def test_make_windows_errors(series, args, kwargs, error, match):
    with pytest.raises(error, match=match):
        make_windows(series, *args, **kwargs)


def test_window_dataset_errors():
    with pytest.raises(DataError, match="needs at least 13"):
        WindowDataset(torch.zeros(10), 8, 5)
    with pytest.raises(DataError, match="target column 2 is out of range"):
        WindowDataset(np.zeros((10, 2)), 2, 1, target_columns=2)
