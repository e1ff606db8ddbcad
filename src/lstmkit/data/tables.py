r"""Reading and validating a user's table (CSV or DataFrame) into a clean numeric time series.

Every problem is either an error that names the column and the first offending row, or is handled
by an option the caller chose; nothing is fixed silently. Each message is one line that the command
line prints as it is: it names the command-line flag first and the Python keyword in parentheses.

A row is named where a person finds it. In a CSV file that is its **line** in the file: line 1 is
the header, so the first data row is line 2, unless blank lines (which pandas skips) or quoted
values spanning several lines come before it; those are counted, and a row spanning lines is named
by its first line. In a DataFrame it is the **row** position from 0, in the order given (also after
sorting: the rows keep the numbers they were read with). A CSV read with ``csv_options`` that change
how lines become rows beyond the plain CSV dialect (``skiprows``, ``comment``, a regular-expression
``sep``, ...) is numbered like a DataFrame, by rows from 0.

====================================  ==================================================================
problem                               default: :class:`DataError`; flag (Python keyword) that handles it
====================================  ==================================================================
file missing / empty, no rows         error only
time or value column missing          error only
unparseable or missing timestamp      error only
timestamps out of order               ``--sort`` (``sort=True``): stable sort by time
duplicate timestamps                  error only (which row to keep is the user's decision)
gaps in a regular series              ``--fill ffill|interpolate`` (``fill=...``) inserts the missing
                                      timestamps and fills them
irregular or uninferable timestamps   no flag: ``forecast`` needs a regular grid; ``anomaly`` skips the
                                      check unless ``--fill`` is given (``freq="<alias>"`` states the
                                      frequency, ``freq=None`` skips the check)
non-numeric value column              error only (choose ``--columns``/``--targets``/``--features``
                                      (``columns=``), or encode it first)
missing values (NaN)                  ``--fill ffill`` (causal) or ``--fill interpolate``
                                      (``fill="ffill"`` or ``fill="interpolate"``)
infinite values                       error only
====================================  ==================================================================
"""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from lstmkit.data.errors import DataError
from lstmkit.data.csv_lines import RowNames
from lstmkit.data.frequency import infer_frequency

__all__ = ["FILL_METHODS", "read_table"]

logger = logging.getLogger(__name__)

FILL_METHODS = ("ffill", "interpolate")

def _load(
    path_or_df: Any, csv_options: Mapping[str, Any] | None
) -> tuple[pd.DataFrame, str, dict[str, Any], str | None]:
    """The table, a label for messages, the ``attrs`` the result inherits, and the CSV's path (None for a
    DataFrame)."""
    if isinstance(path_or_df, pd.DataFrame):
        # A deep copy: the caller's frame is never mutated. Its attrs (e.g. a data set's licence) carry over.
        return path_or_df.copy(deep=True), "DataFrame", dict(path_or_df.attrs), None
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
    return frame, path, {"source": path}, path


def _parse_times(values: pd.Series, name: str, source: str, rows: np.ndarray, where: RowNames) -> pd.Series:
    """Datetime or numeric timestamps; any missing or unparseable one is an error."""
    missing = values.isna().to_numpy()
    if missing.any():
        i = int(np.argmax(missing))
        raise DataError(
            f"{source}: time column {name!r} has a missing timestamp at {where(rows[i])}, where a timestamp "
            "was expected; fill it in or drop that row"
        )
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
        remedy = ("parse the column with pd.to_datetime(..., format=...) first" if where.word == "row" else
                  "correct it in the file (in Python: parse the column with pd.to_datetime(..., format=...) "
                  "and pass the DataFrame)")
        raise DataError(
            f"{source}: time column {name!r}: {where(rows[i])} has {values.iloc[i]!r}, not a date/time in the "
            f"format of the {where.word}s before it; {remedy}"
        )
    return parsed


def _check_numeric(frame: pd.DataFrame, columns: Sequence[str], source: str, rows: np.ndarray, where: RowNames) -> None:
    for col in columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values):
            continue
        as_numbers = pd.to_numeric(values, errors="coerce")
        bad = (as_numbers.isna() & values.notna()).to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(
                f"{source}: column {col!r} is not numeric: {where(rows[i])} has {values.iloc[i]!r}, not a number; "
                "leave it out of --columns/--targets/--features (columns= in Python) or encode it as numbers first"
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
        sort: sort rows by time (stable) instead of raising on out-of-order timestamps (``--sort`` on
            the command line).
        fill: how to fill missing values, and the rows inserted for gaps in a regular series:
            ``"ffill"`` carries the last observation forward (causal: uses only the past);
            ``"interpolate"`` draws a straight line to the next observation (linear in time when
            there is a time axis; it looks ahead by the length of the gap). Missing values at the
            start (and, for ``"interpolate"``, at the end) cannot be filled and are an error.
            None (default): any missing value or gap is an error. (``--fill`` on the command line.)
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
        DataError: with one line naming the column, the first offending line of a CSV file (or row of a
            DataFrame), the value found and what was expected, and the flag or keyword that handles it
            (see the module docstring).
    """
    if fill is not None and fill not in FILL_METHODS:
        raise ValueError(f"fill must be one of {', '.join(map(repr, FILL_METHODS))} or None, got {fill!r}")
    if isinstance(columns, str):
        raise TypeError(f"columns must be a list of column names, got the string {columns!r}")
    frame, source, attrs, path = _load(path_or_df, csv_options)
    if frame.shape[1] == 0:
        raise DataError(f"{source}: the table has no columns")
    if len(frame) == 0:
        raise DataError(f"{source}: the table has no rows")
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        raise DataError(f"{source}: column name {duplicated[0]!r} appears more than once")
    available = ", ".join(map(str, frame.columns))
    rows = np.arange(len(frame))  # input row number of each current row, for messages
    where = RowNames(path, csv_options, len(frame))  # names them: a CSV's line, a DataFrame's row

    # -- the time axis -------------------------------------------------------------------------
    times: pd.Series | None = None
    if time_column is not None:
        if time_column not in frame.columns:
            raise DataError(f"{source}: time column {time_column!r} not found; columns are: {available}")
        times = _parse_times(frame[time_column], time_column, source, rows, where)
        frame = frame.drop(columns=[time_column])
    elif isinstance(frame.index, pd.DatetimeIndex):
        time_column = frame.index.name or "time"
        times = _parse_times(frame.index.to_series(index=range(len(frame))), time_column, source, rows, where)
    value_columns = list(frame.columns) if columns is None else list(columns)
    if not value_columns:
        raise DataError(f"{source}: no value columns to read")
    for col in value_columns:
        if col == time_column and columns is not None:
            raise DataError(f"{source}: {col!r} is the time column; it cannot also be a value column")
        if col not in frame.columns:
            raise DataError(f"{source}: column {col!r} not found; columns are: {available}")
    if len(set(value_columns)) != len(value_columns):
        twice = next(col for i, col in enumerate(value_columns) if col in value_columns[:i])
        raise DataError(f"{source}: value column {twice!r} is chosen twice: {value_columns}")
    original_index = frame.index
    frame = frame[value_columns].reset_index(drop=True)
    _check_numeric(frame, value_columns, source, rows, where)

    inferred: str | None = None
    if times is not None:
        times = times.reset_index(drop=True).rename(time_column)
        t = _comparable(times)
        backwards = t[1:] < t[:-1]
        if backwards.any():
            i = _first_true(backwards) + 1
            if not sort:
                raise DataError(
                    f"{source}: time column {time_column!r} is not sorted: {where(rows[i])} ({times.iloc[i]}) is "
                    f"earlier than {where(rows[i - 1])} ({times.iloc[i - 1]}) before it; pass --sort to sort the "
                    "rows by time (sort=True in Python)"
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
                f"{source}: time column {time_column!r} has duplicate timestamp {times.iloc[i]} at {where.word}s "
                f"{where.number(rows[i - 1])} and {where.number(rows[i])}, where one row per timestamp was "
                "expected; aggregate or drop the duplicates first"
            )
        if pd.api.types.is_datetime64_any_dtype(times):
            index = pd.DatetimeIndex(times, name=time_column)
            if freq is not None:
                frame, index, rows, inferred = _check_grid(frame, index, rows, freq, fill, source, time_column,
                                                           where)
            frame.index = index
        else:
            frame.index = pd.Index(times, name=time_column)

    frame = _fill_missing(frame, rows, fill, source, where)
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
    where: RowNames,
) -> tuple[pd.DataFrame, pd.DatetimeIndex, np.ndarray, str | None]:
    """Check that ``index`` lies on a regular grid; insert the gaps' timestamps if ``fill``."""
    if freq == "infer":
        if len(index) < 3:
            logger.info("read_table: %s: %d rows are too few to infer a frequency; not checked", source, len(index))
            return frame, index, rows, None
        try:
            freq = infer_frequency(index)
        except DataError:
            raise DataError(
                f"{source}: time column {time_column!r}: cannot infer a regular frequency from the timestamps "
                "(they look irregular); put them on a regular grid first, or run anomaly without --fill, which "
                "accepts irregular timestamps (in Python: freq='<pandas offset alias>' states the frequency, "
                "freq=None skips this check)"
            ) from None
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
            f"{source}: time column {time_column!r} is irregular: {where(rows[i])} ({index[i]}) is not on the "
            f"{freq!r} grid that starts at {index[0]}; correct or drop that row, or run anomaly without --fill, "
            "which accepts irregular timestamps (freq=None in Python skips this check)"
        )
    if len(grid) == len(index):
        return frame, grid, rows, freq
    missing = grid.difference(index)
    after = int(index.searchsorted(missing[0])) - 1
    if fill is None:
        raise DataError(
            f"{source}: time column {time_column!r} has gaps: {len(missing)} missing {freq!r} timestamp(s), "
            f"the first {missing[0]} between {where(rows[after])} ({index[after]}) and {where(rows[after + 1])} "
            f"({index[after + 1]}); pass --fill ffill or --fill interpolate to insert and fill the missing "
            "timestamps (fill= in Python, or freq=None to keep the series irregular)"
        )
    logger.info("read_table: %s: inserting %d missing %r timestamps to fill with %r", source, len(missing), freq, fill)
    frame = frame.set_axis(index).reindex(grid).reset_index(drop=True)
    rows = pd.Series(rows, index=index).reindex(grid, fill_value=-1).to_numpy()  # -1: inserted row
    return frame, grid, rows, freq


def _fill_missing(frame: pd.DataFrame, rows: np.ndarray, fill: str | None, source: str, where: RowNames) -> pd.DataFrame:
    for col in frame.columns:
        values = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
        infinite = np.isinf(values)
        if infinite.any():
            i = _first_true(infinite)
            raise DataError(
                f"{source}: column {col!r} has an infinite value ({values[i]}) at {where(rows[i])}, where a finite "
                "number was expected; replace it or drop that row"
            )
        missing = np.isnan(values)
        if not missing.any():
            continue
        i = _first_true(missing)
        if fill is None:
            raise DataError(
                f"{source}: column {col!r} has a missing value at {where(rows[i])} ({int(missing.sum())} missing "
                "in that column); pass --fill ffill or --fill interpolate (fill= in Python), or clean the data first"
            )
        if missing[0]:
            run = _first_true(~missing) if (~missing).any() else len(missing)
            raise DataError(
                f"{source}: column {col!r} starts with {run} missing value(s) (from {where(rows[0])}); --fill {fill} "
                f"(fill={fill!r} in Python) has no earlier value to start from: drop those rows first"
            )
        if fill == "interpolate" and missing[-1]:
            tail = len(missing) - _first_true(~missing[::-1])  # the trailing missing run (missing[0] is not)
            first = next(int(r) for r in rows[tail:] if r >= 0)  # its first row read (the last row was read)
            raise DataError(
                f"{source}: column {col!r} ends with missing values (from {where(first)}); --fill interpolate "
                "needs a later value: use --fill ffill (fill='ffill' in Python) or drop those rows"
            )
        logger.info("read_table: %s: filling %d missing value(s) in %r with %s", source, int(missing.sum()), col, fill)
    if fill is None:
        return frame
    if fill == "ffill":
        return frame.ffill()
    method = "time" if isinstance(frame.index, pd.DatetimeIndex) else "linear"
    filled = frame.astype({c: np.float64 for c in frame.columns if frame[c].isna().any()})
    return filled.interpolate(method=method, limit_area="inside")
