"""Reading and checking a table of many series (the global forecaster's input).

Two layouts, the ones Darts and NeuralForecast users bring:

* **long** (``id_column``): one row per series and time step, the layout of NeuralForecast
  (``unique_id, ds, y``) and of Darts' ``TimeSeries.from_group_dataframe``;
* **wide** (``wide=True``): a time column and one column per series, the layout of Darts'
  ``TimeSeries.from_dataframe(df, time_col, value_cols)`` (electricity, traffic, a shop's products).
  It is converted to the long layout (NeuralForecast's ``df.melt``) by :func:`wide_to_long`: a
  series starts at its column's first value and ends at its last; a gap in between is refused.

Rows of a series *after its last target value* (target empty) are its **future rows**: they hold the
``future_features`` (known in advance: calendar, holidays, planned promotions) for the horizon a
forecast needs. They are accepted only when the config has future features or a calendar; any other
empty target is refused with its series, column and row.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from lstmkit.data import DataError

if TYPE_CHECKING:
    from lstmkit.tasks.forecast.global_config import GlobalConfig


@dataclass(eq=False)
class Series:
    """One series of the table.

    ``train`` its target values (the training part once split), ``test`` the test part (empty outside
    evaluation). ``known`` (n, F) and ``times`` (n,) run over the value rows *then* the future rows,
    from the series' first row: row i of ``known`` belongs to value i while i < len(train) + len(test).
    """

    id: str
    train: np.ndarray
    test: np.ndarray
    season: int
    rows: np.ndarray  # row numbers in the table (value rows, then future rows), for messages
    known: np.ndarray | None = None  # (n, F) raw future_features values; None without future features
    times: np.ndarray | None = None  # (n,) the time column's values (datetime64 or numbers); None without one
    static: dict[str, str] = field(default_factory=dict)  # static feature column -> category

    @property
    def future_rows(self) -> int:
        """Rows after the last target value (they carry the covariates of the horizon)."""
        return len(self.rows) - len(self.train) - len(self.test)


def read_frame(data) -> pd.DataFrame:
    """``data`` as a DataFrame: a DataFrame as it is, or a CSV file read."""
    if isinstance(data, pd.DataFrame):
        return data
    path = Path(data)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    return pd.read_csv(path)


def read_panel(data, cfg: GlobalConfig) -> tuple[list[Series], dict]:
    """The series of ``data`` (a CSV path or a DataFrame, long or wide as ``cfg`` says), in order of first
    appearance, and the table's ``attrs`` (season/horizon from :func:`lstmkit.data.load_dataset`, the
    frequency of a time column). DataError for a missing column, a missing or non-numeric value
    (naming series, column and row), a static feature that changes within a series."""
    frame = read_frame(data)
    row_names = None
    if cfg.wide:
        frame, row_names = wide_to_long(frame, cfg)
    columns = [cfg.id_column, cfg.target] + ([cfg.time_column] if cfg.time_column else [])
    columns += [*cfg.future_features, *cfg.static_features]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"column {missing[0]!r} is not in the table (columns: {', '.join(map(str, frame.columns))})")
    name = (lambda row: int(row)) if row_names is None else (lambda row: int(row_names[row]))
    ids = frame[cfg.id_column]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise DataError(f"column {cfg.id_column!r} (the series id) is empty at row {name(row)}")
    key = ids.astype(str).to_numpy()
    codes, _ = pd.factorize(key)  # series numbered in order of first appearance
    time = None
    if cfg.time_column:
        time = frame[cfg.time_column]
        if not pd.api.types.is_numeric_dtype(time):
            time = pd.to_datetime(time, errors="coerce")
            if time.isna().any():
                row = int(np.flatnonzero(time.isna().to_numpy())[0])
                raise DataError(f"series {key[row]!r}: column {cfg.time_column!r} has no readable time at "
                                f"row {name(row)}: {frame[cfg.time_column].iloc[row]!r}")
        dup = pd.DataFrame({"k": key, "t": time.to_numpy()}).duplicated()
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            raise DataError(f"series {key[row]!r}: time {time.iloc[row]} appears twice (row {name(row)})")
        order = np.lexsort((time.to_numpy(), codes))
    else:  # file order within each series
        order = np.argsort(codes, kind="stable")
    groups = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1) if len(order) else []

    values = pd.to_numeric(frame[cfg.target], errors="coerce").to_numpy(dtype=float)
    future = _future_rows(values, groups) if (cfg.future_features or cfg.calendar) else np.zeros(len(values), bool)
    bad = ~np.isfinite(values) & ~(future & frame[cfg.target].isna().to_numpy())
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raw = frame[cfg.target].iloc[row]
        what = "a missing value" if pd.isna(raw) else f"the non-numeric or infinite value {raw!r}"
        raise DataError(f"series {str(ids.iloc[row])!r}: column {cfg.target!r} has {what} at row {name(row)} "
                        f"(data row {name(row) + 1}, counting the header as row 0 of the file)")
    known = _known_features(frame, cfg, key, future, name) if cfg.future_features else None
    static = _static_features(frame, cfg, key, groups, name)
    times = None if time is None else time.to_numpy()
    series = []
    for g in groups:
        n_values = int((~future[g]).sum())
        series.append(Series(id=str(key[g[0]]), train=values[g[:n_values]], test=np.empty(0), season=1, rows=g,
                             known=None if known is None else known[g], times=None if times is None else times[g],
                             static={c: static[c][key[g[0]]] for c in cfg.static_features}))
    empty = [s.id for s in series if len(s.train) == 0]
    if empty:
        raise DataError(f"series {empty[0]!r} has no values in column {cfg.target!r} (only future rows)")
    attrs = dict(frame.attrs)
    attrs.update(layout_hints(frame, key, cfg))
    if cfg.time_column and not pd.api.types.is_numeric_dtype(frame[cfg.time_column]) and series:
        longest = max(series, key=lambda s: len(s.train))
        with warnings.catch_warnings():  # pandas >= 3.1 warns that infer_freq will return an offset
            warnings.filterwarnings("ignore", message=".*infer_freq.*")
            try:
                found = pd.infer_freq(pd.DatetimeIndex(longest.times[: len(longest.train)]))
            except (TypeError, ValueError):
                found = None
        if found is not None:
            attrs.setdefault("freq", to_offset(found).freqstr)
    return series, attrs


def _future_rows(values: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """(rows,) True for the rows of each series after its last finite target value."""
    future = np.zeros(len(values), bool)
    for g in groups:
        finite = np.flatnonzero(np.isfinite(values[g]))
        future[g[finite[-1] + 1 if len(finite) else 0:]] = True
    return future


def _as_numbers(raw: pd.Series) -> tuple[np.ndarray, int | None]:
    """The column as floats (missing values NaN), and the position of its first value that is there but is
    not a finite number (a word, inf), or None."""
    numbers = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    text = np.flatnonzero(~np.isfinite(numbers) & ~raw.isna().to_numpy())
    return numbers, (int(text[0]) if len(text) else None)


def _known_features(frame: pd.DataFrame, cfg: GlobalConfig, key: np.ndarray, future: np.ndarray, name) -> np.ndarray:
    """(rows, F) the future_features columns as numbers: every value row must have them (future rows may
    not: :func:`horizon_known` checks the ones a forecast needs)."""
    out = np.empty((len(frame), len(cfg.future_features)))
    for j, column in enumerate(cfg.future_features):
        raw = frame[column]
        numbers, row = _as_numbers(raw)
        if row is not None:
            raise DataError(f"series {key[row]!r}: column {column!r} has the non-numeric value {raw.iloc[row]!r} at "
                            f"row {name(row)}; future features must be numbers (a category: one 0/1 column per value)")
        gap = ~np.isfinite(numbers) & ~future
        if gap.any():
            row = int(np.flatnonzero(gap)[0])
            raise DataError(f"series {key[row]!r}: column {column!r} has a missing value at row {name(row)}; a future "
                            "feature must be known at every row that has a target value")
        out[:, j] = numbers
    return out


def _static_features(frame: pd.DataFrame, cfg: GlobalConfig, key: np.ndarray, groups, name) -> dict:
    """{column: {series id: category}} for the static features, each one value per series."""
    out = {}
    for column in cfg.static_features:
        raw = frame[column]
        if raw.isna().any():
            row = int(np.flatnonzero(raw.isna().to_numpy())[0])
            raise DataError(f"series {key[row]!r}: static feature {column!r} is empty at row {name(row)}")
        text = raw.astype(str).to_numpy()
        out[column] = {}
        for g in groups:
            changed = np.flatnonzero(text[g] != text[g[0]])
            if len(changed):
                row = int(g[changed[0]])
                raise DataError(f"series {key[g[0]]!r}: static feature {column!r} changes within the series "
                                f"({text[g[0]]!r} at row {name(g[0])}, {text[row]!r} at row {name(row)}); it must "
                                "be one value per series")
            out[column][key[g[0]]] = text[g[0]]
    return out


def wide_to_long(frame: pd.DataFrame, cfg: GlobalConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """A wide table (a time column, one column per series) in the long layout: columns ``cfg.id_column``
    (the series column's name), ``cfg.target``, the time column and the future features (shared by every
    series), series in column order; and each long row's row number in the wide table, for messages.

    The series are ``cfg.series_columns``, by default every column but the time column and the future
    features. A series runs from its column's first value to its last (later starts and earlier ends are
    normal); with future features or a calendar the rows after its last value stay, as its future rows.
    """
    if cfg.time_column and cfg.time_column not in frame.columns:
        raise DataError(f"column {cfg.time_column!r} is not in the table (columns: "
                        f"{', '.join(map(str, frame.columns))})")
    shared = [cfg.time_column] if cfg.time_column else []
    shared += list(cfg.future_features)
    columns = list(cfg.series_columns) or [c for c in frame.columns if c not in shared]
    missing = [c for c in [*columns, *cfg.future_features] if c not in frame.columns]
    if missing:
        raise DataError(f"column {missing[0]!r} is not in the table (columns: {', '.join(map(str, frame.columns))})")
    if not columns:
        raise DataError("the wide table has no series columns (every column is the time column or a future feature)")
    keep_future = bool(cfg.future_features or cfg.calendar)
    parts, rows = [], []
    for column in columns:
        raw = frame[column]
        values, row = _as_numbers(raw)
        if row is not None:
            raise DataError(f"series {str(column)!r} (a column of the wide table) has the non-numeric or infinite "
                            f"value {raw.iloc[row]!r} at row {row}; name the series columns with --target "
                            "(series_columns)")
        finite = np.flatnonzero(np.isfinite(values))
        if not len(finite):
            raise DataError(f"series {str(column)!r} (a column of the wide table) has no values")
        first, last = int(finite[0]), int(finite[-1])
        gap = np.flatnonzero(~np.isfinite(values[first:last + 1]))
        if len(gap):
            raise DataError(f"series {str(column)!r} (a column of the wide table) has a missing value at row "
                            f"{first + int(gap[0])}, between its first value (row {first}) and its last (row {last})")
        span = np.arange(first, len(values) if keep_future else last + 1)
        part = {cfg.id_column: np.full(len(span), str(column), dtype=object), cfg.target: values[span]}
        for name in shared:
            part[name] = frame[name].to_numpy()[span]
        parts.append(pd.DataFrame(part))
        rows.append(span)
    long = pd.concat(parts, ignore_index=True)
    long.attrs = dict(frame.attrs)
    return long, np.concatenate(rows)


_FREQUENCY_SEASONS = {"yearly": 1, "annual": 1, "quarterly": 4, "monthly": 12, "other": 1}


def layout_hints(frame: pd.DataFrame, key: np.ndarray, cfg: GlobalConfig) -> dict:
    """Season and horizon from the competition layout (:func:`lstmkit.data.load_dataset` written to CSV):
    a ``frequency`` column with one value (monthly: 12, ...) and a ``split`` column whose ``"test"``
    rows number the same in every series."""
    hints = {}
    used = {cfg.id_column, cfg.target, cfg.time_column}
    if "frequency" in frame.columns and "frequency" not in used:
        values = frame["frequency"].dropna().astype(str).str.lower().unique()
        if len(values) == 1 and values[0] in _FREQUENCY_SEASONS:
            hints["season"] = _FREQUENCY_SEASONS[values[0]]
            hints["season_why"] = f"the table's frequency column says {values[0]}"
    if "split" in frame.columns and "split" not in used:
        counts = pd.Series((frame["split"].astype(str) == "test").to_numpy()).groupby(key).sum()
        if len(counts) and counts.nunique() == 1 and int(counts.iloc[0]) > 0:
            hints["horizon"] = int(counts.iloc[0])
            hints["horizon_why"] = f"the table's split column has {hints['horizon']} test rows per series"
    return hints
