r"""Reading and validating a user's table (CSV or DataFrame) into a clean numeric time series.

Every problem is either an error that names the column and the first offending row, or is handled
by an option the caller chose; nothing is fixed silently. Rows are numbered from 0 in the order they
were read (the first data row of a CSV, under its header, is row 0).

====================================  ========================================================
problem                               default: :class:`DataError`; option that handles it
====================================  ========================================================
file missing / empty, no rows         error only
time or value column missing          error only
unparseable or missing timestamp      error only
timestamps out of order               ``sort=True`` (stable sort by time)
duplicate timestamps                  error only (which row to keep is the user's decision)
gaps in a regular series              ``fill=...`` inserts the missing timestamps and fills them
irregular or uninferable timestamps   ``freq="<alias>"`` to state it, ``freq=None`` to skip
non-numeric value column              error only (choose ``columns=``, or encode it first)
missing values (NaN)                  ``fill="ffill"`` (causal) or ``fill="interpolate"``
infinite values                       error only
====================================  ========================================================
"""
from __future__ import annotations

import logging
import os
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from lstmkit.data.errors import DataError

__all__ = ["FILL_METHODS", "infer_frequency", "read_table", "seasonal_period"]

logger = logging.getLogger(__name__)

FILL_METHODS = ("ffill", "interpolate")

# Gaps break pandas.infer_freq on the whole index, so the frequency of a gappy series is the most
# common one among short runs of _CHUNK consecutive timestamps, at up to _MAX_CHUNKS evenly spaced
# positions (a few ms even for long series).
_CHUNK = 4
_MAX_CHUNKS = 256


def _infer_freq(times: pd.DatetimeIndex) -> str | None:
    with warnings.catch_warnings():
        # pandas >= 3.1 warns that infer_freq will return an offset; to_offset() accepts both.
        warnings.filterwarnings("ignore", message=".*infer_freq.*")
        try:
            found = pd.infer_freq(times)
        except (TypeError, ValueError):
            return None
    return None if found is None else to_offset(found).freqstr


def infer_frequency(times: Any) -> str:
    """The pandas offset alias (``"D"``, ``"MS"``, ``"h"``, ...) of a regular time index.

    ``times`` is anything :class:`pandas.DatetimeIndex` accepts (sorted). If
    :func:`pandas.infer_freq` fails on the whole index (typically because of gaps), the answer is
    the most common frequency among runs of 4 consecutive timestamps, so a series with a few
    missing days is still daily. Raises :class:`DataError` if no frequency can be inferred.
    """
    index = pd.DatetimeIndex(times)
    if len(index) < 3:
        raise DataError(f"cannot infer a frequency from {len(index)} timestamp(s); need at least 3")
    found = _infer_freq(index)
    if found is not None:
        return found
    votes: Counter[str] = Counter()
    last = max(len(index) - _CHUNK, 0)
    for start in np.unique(np.linspace(0, last, min(last + 1, _MAX_CHUNKS)).astype(int)):
        chunk = _infer_freq(index[start : start + _CHUNK])
        if chunk is not None:
            votes[chunk] += 1
    if not votes:
        raise DataError(
            "cannot infer a regular frequency from the timestamps (they look irregular); "
            "state it with freq='<pandas offset alias>' or skip the check with freq=None"
        )
    return votes.most_common(1)[0][0]


def seasonal_period(freq_or_times: Any, *, n: int | None = None) -> int:
    """The main seasonal period, in steps, for a sampling frequency; 1 means "no seasonality".

    ``freq_or_times`` is a pandas offset alias or offset (then ``n`` is the series length, if
    known) or the timestamps themselves (then the frequency is inferred and ``n = len(times)``).

    Rule (``k`` is the offset's multiple, e.g. 15 for ``"15min"``; results are rounded, at least 1):

    =======================  ===================================================================
    frequency                period
    =======================  ===================================================================
    sub-daily (h, min, s)    steps per day: hourly 24, 15-minute 96 (cycle: one day)
    daily                    365 if ``n >= 730`` (two years, so a full year is there to learn and
                             one to compare), else 7 (weekly); ``kD``: 365/k or 7/k alike
    business daily (B)       5 (a business week)
    weekly                   52/k (a year)
    semi-monthly             24/k
    monthly                  12/k (a year)
    quarterly                4/k (a year)
    yearly                   1
    =======================  ===================================================================
    """
    if isinstance(freq_or_times, (str, pd.DateOffset)):
        offset = to_offset(freq_or_times)
    else:
        times = pd.DatetimeIndex(freq_or_times)
        offset = to_offset(infer_frequency(times))
        n = len(times) if n is None else n
    k = offset.n
    if k < 1:
        raise ValueError(f"seasonal_period needs a positive frequency, got {offset.freqstr!r}")
    offsets = pd.offsets
    if isinstance(offset, (offsets.YearBegin, offsets.YearEnd, offsets.BYearBegin, offsets.BYearEnd)):
        return 1
    for classes, cycle in (
        ((offsets.QuarterBegin, offsets.QuarterEnd, offsets.BQuarterBegin, offsets.BQuarterEnd), 4),
        ((offsets.MonthBegin, offsets.MonthEnd, offsets.BusinessMonthBegin, offsets.BusinessMonthEnd), 12),
        ((offsets.SemiMonthBegin, offsets.SemiMonthEnd), 24),
        ((offsets.Week,), 52),
        ((offsets.BusinessDay, offsets.CustomBusinessDay), 5),
    ):
        if isinstance(offset, classes):
            return max(1, round(cycle / k))
    try:
        step = pd.Timedelta(offset)
    except (TypeError, ValueError):
        logger.warning("seasonal_period: no rule for frequency %r; using 1", offset.freqstr)
        return 1
    day = pd.Timedelta(days=1)
    if step < day:
        return max(1, round(day / step))
    days = step / day
    yearly = round(365 / days)
    if n is not None and yearly >= 2 and n >= 2 * yearly:
        return yearly
    return max(1, round(7 / days))


# ---------------------------------------------------------------------------------------------
# read_table
# ---------------------------------------------------------------------------------------------


def _load(path_or_df: Any, csv_options: Mapping[str, Any] | None) -> tuple[pd.DataFrame, str, dict[str, Any]]:
    """The table, a label for messages, and the ``attrs`` the result inherits."""
    if isinstance(path_or_df, pd.DataFrame):
        # A deep copy: the caller's frame is never mutated. Its attrs (e.g. a data set's licence) carry over.
        return path_or_df.copy(deep=True), "DataFrame", dict(path_or_df.attrs)
    if not isinstance(path_or_df, (str, os.PathLike)):
        raise TypeError(f"read_table expects a CSV path or a pandas DataFrame, got {type(path_or_df).__name__}")
    path = os.fspath(path_or_df)
    if not os.path.exists(path):
        raise DataError(f"{path}: file not found")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, not a CSV file")
    try:
        frame = pd.read_csv(path, **dict(csv_options or {}))
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read it as CSV: {first_line}") from None
    return frame, path, {"source": path}


def _parse_times(values: pd.Series, name: str, source: str, rows: np.ndarray) -> pd.Series:
    """Datetime or numeric timestamps; any missing or unparseable one is an error."""
    missing = values.isna().to_numpy()
    if missing.any():
        i = int(np.argmax(missing))
        raise DataError(f"{source}: time column {name!r} has a missing timestamp at row {rows[i]}")
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_numeric_dtype(values):
        if pd.api.types.is_bool_dtype(values):
            raise DataError(f"{source}: time column {name!r} holds booleans, not times")
        return values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format": we check every value below
        parsed = pd.to_datetime(values, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"{source}: time column {name!r}: row {rows[i]} value {values.iloc[i]!r} is not a date/time "
            "in the format of the rows before it; parse the column yourself (pd.to_datetime(..., format=...)) "
            "and pass the DataFrame"
        )
    return parsed


def _check_numeric(frame: pd.DataFrame, columns: Sequence[str], source: str, rows: np.ndarray) -> None:
    for col in columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values):
            continue
        as_numbers = pd.to_numeric(values, errors="coerce")
        bad = (as_numbers.isna() & values.notna()).to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(
                f"{source}: column {col!r} is not numeric: row {rows[i]} has {values.iloc[i]!r}; "
                "leave it out with columns=[...] or encode it as numbers first"
            )
        raise DataError(
            f"{source}: column {col!r} holds numbers stored as {values.dtype}; convert it with "
            "pd.to_numeric first"
        )


def _comparable(times: pd.Series) -> np.ndarray:
    """Times as a numpy array that orders them: tz-aware ones as UTC datetime64."""
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        return times.dt.tz_convert(None).to_numpy()
    return times.to_numpy()


def _first_true(mask: np.ndarray) -> int:
    return int(np.argmax(mask))


def read_table(
    path_or_df: Any,
    *,
    time_column: str | None = None,
    columns: Sequence[str] | None = None,
    sort: bool = False,
    fill: str | None = None,
    freq: str | None = "infer",
    csv_options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Read a CSV file or DataFrame into a validated, numeric time-series table.

    Args:
        path_or_df: path to a CSV file (read with :func:`pandas.read_csv`) or a DataFrame, which is
            copied and never mutated. A DataFrame with a :class:`~pandas.DatetimeIndex` and no
            ``time_column`` uses its index as the time axis.
        time_column: name of the timestamp column; None for a table without one.
        columns: value columns to keep, in this order; default all but the time column.
        sort: sort rows by time (stable) instead of raising on out-of-order timestamps.
        fill: how to fill missing values, and the rows inserted for gaps in a regular series:
            ``"ffill"`` carries the last observation forward (causal: uses only the past);
            ``"interpolate"`` draws a straight line to the next observation (linear in time when
            there is a time axis; it looks ahead by the length of the gap). Missing values at the
            start (and, for ``"interpolate"``, at the end) cannot be filled and are an error.
            None (default): any missing value or gap is an error.
        freq: frequency check for a datetime time axis: ``"infer"`` (default) infers it with
            :func:`infer_frequency` and requires every timestamp on that grid with no gaps (unless
            ``fill``); a pandas alias such as ``"D"`` states it; None skips the check (irregular
            series). Numeric time columns are only checked for order and duplicates.
        csv_options: extra keyword arguments for :func:`pandas.read_csv` (e.g. ``{"sep": ";"}``).

    Returns:
        A new DataFrame holding the value columns. With a time axis it is indexed by it (a
        :class:`~pandas.DatetimeIndex` named after the column, ``freq`` set when known).
        ``df.attrs`` has ``"time_column"`` and ``"freq"`` (the inferred or given alias, or None),
        plus ``"source"`` (the path) for a file, or the input frame's own ``attrs`` for a DataFrame.

    Raises:
        DataError: with one line naming the column and first offending row (see the module table).
    """
    if fill is not None and fill not in FILL_METHODS:
        raise ValueError(f"fill must be one of {', '.join(map(repr, FILL_METHODS))} or None, got {fill!r}")
    if isinstance(columns, str):
        raise TypeError(f"columns must be a list of column names, got the string {columns!r}")
    frame, source, attrs = _load(path_or_df, csv_options)
    if frame.shape[1] == 0:
        raise DataError(f"{source}: the table has no columns")
    if len(frame) == 0:
        raise DataError(f"{source}: the table has no rows")
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise DataError(f"{source}: column name {duplicated[0]!r} appears more than once")
    available = ", ".join(map(str, frame.columns))
    rows = np.arange(len(frame))  # input row number of each current row, for messages

    # -- the time axis -------------------------------------------------------------------------
    times: pd.Series | None = None
    if time_column is not None:
        if time_column not in frame.columns:
            raise DataError(f"{source}: time column {time_column!r} not found; columns are: {available}")
        times = _parse_times(frame[time_column], time_column, source, rows)
        frame = frame.drop(columns=[time_column])
    elif isinstance(frame.index, pd.DatetimeIndex):
        time_column = frame.index.name or "time"
        times = _parse_times(frame.index.to_series(index=range(len(frame))), time_column, source, rows)
    value_columns = list(frame.columns) if columns is None else list(columns)
    if not value_columns:
        raise DataError(f"{source}: no value columns to read")
    for col in value_columns:
        if col == time_column and columns is not None:
            raise DataError(f"{source}: {col!r} is the time column; it cannot also be a value column")
        if col not in frame.columns:
            raise DataError(f"{source}: column {col!r} not found; columns are: {available}")
    if len(set(value_columns)) != len(value_columns):
        raise DataError(f"{source}: columns lists a name twice: {value_columns}")
    original_index = frame.index
    frame = frame[value_columns].reset_index(drop=True)
    _check_numeric(frame, value_columns, source, rows)

    inferred: str | None = None
    if times is not None:
        times = times.reset_index(drop=True).rename(time_column)
        t = _comparable(times)
        backwards = t[1:] < t[:-1]
        if backwards.any():
            i = _first_true(backwards) + 1
            if not sort:
                raise DataError(
                    f"{source}: time column {time_column!r} is not sorted: row {rows[i]} ({times.iloc[i]}) comes "
                    f"before row {rows[i - 1]} ({times.iloc[i - 1]}); pass sort=True to sort the rows by time"
                )
            order = np.argsort(t, kind="stable")
            frame = frame.iloc[order].reset_index(drop=True)
            times = times.iloc[order].reset_index(drop=True)
            rows = rows[order]
            t = _comparable(times)
            logger.info("read_table: %s: sorted %d rows by %r", source, len(t), time_column)
        same = t[1:] == t[:-1]
        if same.any():
            i = _first_true(same) + 1
            raise DataError(
                f"{source}: time column {time_column!r} has duplicate timestamp {times.iloc[i]} at rows "
                f"{rows[i - 1]} and {rows[i]}; aggregate or drop duplicates first"
            )
        if pd.api.types.is_datetime64_any_dtype(times):
            index = pd.DatetimeIndex(times, name=time_column)
            if freq is not None:
                frame, index, rows, inferred = _check_grid(frame, index, rows, freq, fill, source, time_column)
            frame.index = index
        else:
            frame.index = pd.Index(times, name=time_column)

    frame = _fill_missing(frame, rows, fill, source)
    if times is None:
        frame.index = original_index  # no time axis: the rows keep the caller's labels
    frame.attrs = {**attrs, "time_column": time_column, "freq": inferred}
    return frame


def _check_grid(
    frame: pd.DataFrame,
    index: pd.DatetimeIndex,
    rows: np.ndarray,
    freq: str,
    fill: str | None,
    source: str,
    time_column: str,
) -> tuple[pd.DataFrame, pd.DatetimeIndex, np.ndarray, str | None]:
    """Check that ``index`` lies on a regular grid; insert the gaps' timestamps if ``fill``."""
    if freq == "infer":
        if len(index) < 3:
            logger.info("read_table: %s: %d rows are too few to infer a frequency; not checked", source, len(index))
            return frame, index, rows, None
        try:
            freq = infer_frequency(index)
        except DataError as exc:
            raise DataError(f"{source}: time column {time_column!r}: {exc}") from None
    else:
        try:
            freq = to_offset(freq).freqstr
        except ValueError as exc:
            raise ValueError(f"freq must be 'infer', None or a pandas offset alias, got {freq!r}: {exc}") from None
    grid = pd.date_range(index[0], index[-1], freq=freq, name=index.name)
    off_grid = ~index.isin(grid)
    if off_grid.any():
        i = _first_true(off_grid)
        raise DataError(
            f"{source}: time column {time_column!r} is irregular: row {rows[i]} ({index[i]}) is not on the "
            f"{freq!r} grid that starts at {index[0]}; pass freq=None to skip the regularity check"
        )
    if len(grid) == len(index):
        return frame, grid, rows, freq
    missing = grid.difference(index)
    after = int(index.searchsorted(missing[0])) - 1
    if fill is None:
        raise DataError(
            f"{source}: time column {time_column!r} has gaps: {len(missing)} missing {freq!r} timestamp(s), "
            f"the first {missing[0]} between row {rows[after]} ({index[after]}) and row {rows[after + 1]} "
            f"({index[after + 1]}); pass fill='ffill' or 'interpolate' to insert and fill them, or freq=None "
            "to keep the series irregular"
        )
    logger.info("read_table: %s: inserting %d missing %r timestamps to fill with %r", source, len(missing), freq, fill)
    frame = frame.set_axis(index).reindex(grid).reset_index(drop=True)
    rows = pd.Series(rows, index=index).reindex(grid, fill_value=-1).to_numpy()  # -1: inserted row
    return frame, grid, rows, freq


def _fill_missing(frame: pd.DataFrame, rows: np.ndarray, fill: str | None, source: str) -> pd.DataFrame:
    for col in frame.columns:
        values = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
        infinite = np.isinf(values)
        if infinite.any():
            i = _first_true(infinite)
            raise DataError(f"{source}: column {col!r} has an infinite value ({values[i]}) at row {rows[i]}")
        missing = np.isnan(values)
        if not missing.any():
            continue
        i = _first_true(missing)
        if fill is None:
            raise DataError(
                f"{source}: column {col!r} has a missing value at row {rows[i]} ({int(missing.sum())} missing "
                "in that column); pass fill='ffill' or 'interpolate', or clean the data first"
            )
        if missing[0]:
            run = _first_true(~missing) if (~missing).any() else len(missing)
            raise DataError(
                f"{source}: column {col!r} starts with {run} missing value(s) (from row {rows[0]}); {fill} has "
                "no earlier value to start from: drop those rows first"
            )
        if fill == "interpolate" and missing[-1]:
            raise DataError(
                f"{source}: column {col!r} ends with missing values; 'interpolate' needs a later value: "
                "use fill='ffill' or drop those rows"
            )
        logger.info("read_table: %s: filling %d missing value(s) in %r with %s", source, int(missing.sum()), col, fill)
    if fill is None:
        return frame
    if fill == "ffill":
        return frame.ffill()
    method = "time" if isinstance(frame.index, pd.DatetimeIndex) else "linear"
    filled = frame.astype({c: np.float64 for c in frame.columns if frame[c].isna().any()})
    return filled.interpolate(method=method, limit_area="inside")
