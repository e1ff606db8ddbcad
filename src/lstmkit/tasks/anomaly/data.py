"""Rows of a series: where a part starts (a row number or a time), and the two models' training sets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from lstmkit.data import make_windows
from lstmkit.errors import DataError

__all__ = ["row_of", "stream_loaders", "window_sets"]


def row_of(frame: pd.DataFrame, value, what: str) -> int:
    """The row where ``value`` (a row number, or a time of the frame's time index) starts; ``what``
    names the option in the messages (``train_until``, ``eval_from``)."""
    n = len(frame)
    text = str(value).strip()
    is_int = text.lstrip("-").isdigit()
    index = frame.index
    if frame.attrs.get("time_column") is None or (is_int and isinstance(index, pd.DatetimeIndex)):
        if not is_int:
            raise DataError(f"{what} {value!r}: the table has no time column; give a row number")
        row = int(text)
        if not 0 < row < n:
            raise DataError(f"{what} {row}: the table has rows 0-{n - 1}; choose a row between 1 and {n - 1}")
        return row
    try:
        point = pd.Timestamp(text) if isinstance(index, pd.DatetimeIndex) else float(text)
    except (TypeError, ValueError):
        raise DataError(f"{what} {value!r} is neither a row number nor a time like those in "
                        f"{frame.attrs.get('time_column')!r} (first: {index[0]})") from None
    row = int(index.searchsorted(point, side="left"))
    if not 0 < row < n:
        raise DataError(f"{what} {value!r} is outside the series ({index[0]} to {index[-1]}): "
                        "no rows left to train on or to watch")
    return row


def stream_loaders(z: np.ndarray, n_fit: int, *, segment: int, batch_size: int, warmup: int):
    """Training: B parallel streams over the fit part, cut into segments; batch b + 1 continues
    batch b row by row (``carry_state``), so the state the model learns from is the state it will
    see at detection time. Validation: the whole training part as one sequence, scored on the
    calibration part only (its targets before are NaN)."""
    usable = n_fit - 1  # inputs that have a next value inside the fit part
    k = max(4, min(segment, usable // 4))
    # Fewer, longer streams: more (sequential) updates per epoch; 16 segments per stream at least.
    streams = max(1, min(batch_size, usable // (16 * k)))
    length = usable // streams
    chunks = length // k
    xs, ys = [], []
    for c in range(chunks):
        for i in range(streams):
            a = i * length + c * k
            xs.append(z[a:a + k])
            ys.append(z[a + 1:a + k + 1])
    x = torch.tensor(np.stack(xs), dtype=torch.float32)
    y = torch.tensor(np.stack(ys), dtype=torch.float32)
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=streams, shuffle=False)
    target = z[1:].copy()
    target[: n_fit - 1] = np.nan  # targets of the fit part are not validation
    target[:warmup] = np.nan
    xv = torch.tensor(z[None, :-1], dtype=torch.float32)
    yv = torch.tensor(target[None], dtype=torch.float32)
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xv, yv), batch_size=1)
    return train, val


def window_sets(z: np.ndarray, n_fit: int, window: int):
    """Windows ending in the fit part to train on, windows ending in the calibration part to validate."""
    W = window
    windows, _ = make_windows(np.concatenate([z, np.zeros((1, z.shape[1]))]), W, 1)  # window i: rows [i, i+W)
    windows = torch.tensor(np.array(windows), dtype=torch.float32)  # (n - W + 1, W, F)
    split = n_fit - W + 1  # windows 0 .. split-1 end inside the fit part
    train = torch.utils.data.TensorDataset(windows[:split], windows[:split])
    val = torch.utils.data.TensorDataset(windows[split:], windows[split:])
    return train, val
