"""Labelled multivariate sequences for action recognition: the ``.ts`` format and three archive sets.

:func:`read_ts` parses the ``.ts`` text format of the UEA & UCR Time Series Classification Archive,
as shipped in the sktime and aeon wheels. The loaders ``basic_motions``, ``gunpoint`` and
``japanese_vowels`` (registered with :func:`lstmkit.data.load_dataset`) read those files straight
from the installed package's directory (sktime's first, then aeon's), so neither is ever imported,
and return one long table: a row per case and time step. :func:`sequences_from_frame` turns such a
table (or a user's CSV read into one) back into one array per sequence.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmkit.data.datasets import DatasetInfo, package_file, register_dataset
from lstmkit.errors import DataError, InputFileError, MissingDependencyError

__all__ = ["load_basic_motions", "load_gunpoint", "load_japanese_vowels", "read_ts", "sequences_from_frame"]

_BOOLEAN_TAGS = ("timeStamps", "missing", "univariate", "equalLength", "classLabel", "targetLabel")
_INTEGER_TAGS = ("dimensions", "seriesLength")
_CANONICAL = {tag.lower(): tag for tag in (*_BOOLEAN_TAGS, *_INTEGER_TAGS, "problemName")}


def _header_line(line: str, header: dict[str, Any], where: str) -> None:
    """Store one ``@tag value...`` line under the tag's canonical spelling (tags are case-insensitive)."""
    tokens = line.split()
    tag = _CANONICAL.get(tokens[0][1:].lower(), tokens[0][1:])
    rest = tokens[1:]
    if tag in _BOOLEAN_TAGS:
        if not rest or rest[0].lower() not in ("true", "false"):
            raise DataError(f"{where}: @{tag} needs true or false, found {' '.join(rest)!r}")
        header[tag] = rest[0].lower() == "true"
        if tag == "classLabel":
            header["classes"] = rest[1:]
    elif tag in _INTEGER_TAGS:
        if len(rest) != 1 or not rest[0].isdigit():
            raise DataError(f"{where}: @{tag} needs a whole number, found {' '.join(rest)!r}")
        header[tag] = int(rest[0])
    else:  # @problemName and any tag this reader does not use: kept as text
        header[tag] = " ".join(rest)


def _check_header(header: dict[str, Any], where: str) -> None:
    """Refuse, before the first case, the variants of the format that lstmkit does not read."""
    if header.get("timeStamps"):
        raise DataError(f"{where}: @timeStamps true (values written as (time, value) pairs) is not supported; "
                        "lstmkit reads .ts files with @timeStamps false")
    if header.get("targetLabel"):
        raise DataError(f"{where}: @targetLabel true (a regression target) is not supported; lstmkit reads "
                        "class labels")
    if not header.get("classLabel"):
        raise DataError(f"{where}: the file has no class labels (@classLabel true <labels...> is missing or false)")


def _values(text: str, where: str, channel: int) -> np.ndarray:
    """Comma-separated numbers; ``?`` and ``NaN`` are missing values."""
    parts = text.replace("?", "nan").split(",")
    try:
        return np.array(parts, dtype=np.float64)
    except ValueError:
        for k, part in enumerate(parts):
            try:
                float(part)
            except ValueError:
                raise DataError(f"{where}: channel {channel}, value {k}: {part.strip()!r} is not a number") from None
        raise


def read_ts(path: str | os.PathLike) -> tuple[list[np.ndarray], list[str], dict[str, Any]]:
    """Read a ``.ts`` file: one float64 array ``(length, channels)`` per case, the labels, the header.

    The header dict holds the ``@`` tags under their spelling in the format's specification
    (``problemName``, ``univariate``, ``dimensions``, ``equalLength``, ``seriesLength``,
    ``timeStamps``, ``missing``, ``classLabel``; booleans and integers parsed), ``classes`` (the
    labels listed after ``@classLabel true``) and ``comments`` (the ``#`` lines before ``@data``,
    where the archive describes the data set). ``?`` and ``NaN`` values are read as NaN whatever
    ``@missing`` says. Cases are numbered from 0 in messages, like the ids
    of the loaders (case 7 is ``train_0007``); lines from 1.

    Raises:
        InputFileError: the file does not exist.
        DataError: naming the file and line: a channel count that differs from ``@dimensions`` or
            from the first case, channels of one case with different lengths, a value that is not a
            number, a label not listed in ``@classLabel``, unequal lengths under
            ``@equalLength true``, or a variant lstmkit does not read (``@timeStamps true``,
            regression targets, no class labels).
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such .ts file")
    header: dict[str, Any] = {"comments": []}
    cases: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    try:
        with open(path, encoding="utf-8") as lines:
            for number, raw in enumerate(lines, start=1):
                line = raw.strip()
                if not line or line.startswith("#"):
                    if line and not in_data:
                        header["comments"].append(line[1:].strip())
                    continue
                if not in_data:
                    if not line.startswith("@"):
                        raise DataError(f"{path}, line {number}: expected an @tag or @data before the values")
                    if line.lower() == "@data":
                        _check_header(header, f"{path}, line {number}")
                        in_data = True
                    else:
                        _header_line(line, header, f"{path}, line {number}")
                    continue
                where = f"{path}: case {len(cases)} (line {number})"
                *fields, label = line.split(":")
                if any("(" in text for text in fields):
                    raise DataError(f"{where}: a (time, value) pair: @timeStamps true data is not supported")
                expected = header.get("dimensions") or (1 if header.get("univariate") else None)
                expected = expected or (cases[0].shape[1] if cases else len(fields))
                if len(fields) != expected:
                    raise DataError(f"{where}: {len(fields)} channels, expected {expected} "
                                    f"({'@dimensions' if 'dimensions' in header else 'as in case 0'})")
                channels = [_values(text, where, c) for c, text in enumerate(fields)]
                for c, values in enumerate(channels):
                    if len(values) != len(channels[0]):
                        raise DataError(f"{where}: channel {c} has {len(values)} values, channel 0 has "
                                        f"{len(channels[0])}")
                label = label.strip()
                if label not in header["classes"]:
                    raise DataError(f"{where}: label {label!r} is not in @classLabel ({' '.join(header['classes'])})")
                cases.append(np.stack(channels, axis=1))
                labels.append(label)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a text file in UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not in_data:
        raise DataError(f"{path}: no @data line: not a .ts file")
    if not cases:
        raise DataError(f"{path}: no cases after @data")
    if header.get("equalLength"):
        length = header.get("seriesLength", len(cases[0]))
        for k, case in enumerate(cases):
            if len(case) != length:
                raise DataError(f"{path}: case {k} has {len(case)} steps under @equalLength true "
                                f"({'@seriesLength' if 'seriesLength' in header else 'case 0 has'} {length})")
    return cases, labels, header


def sequences_from_frame(
    frame: pd.DataFrame,
    *,
    id_column: str,
    label_column: str,
    channels: Sequence[str],
    step_column: str | None = None,
    source: str = "table",
) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Arrays ``(length, channels)``, labels and ids of the sequences of a long table (a row per step).

    Sequences come in the order of their ids' first appearance; the rows of one sequence keep
    their order, or are sorted by ``step_column`` when given. Ids and labels are returned as
    strings. ``source`` names the table in messages (a file name). Rows are named by position from 0.

    Raises:
        DataError: a missing column (naming the available ones), a non-numeric channel, a missing
            value (naming the sequence, column and row), a sequence with two labels or a repeated step.
    """
    wanted = [id_column, label_column, *channels] + ([step_column] if step_column is not None else [])
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: no column {missing[0]!r}; available: {', '.join(map(str, frame.columns))}")
    if not channels:
        raise DataError(f"{source}: no channel columns given")
    ids = frame[id_column]
    for column in [id_column, label_column] + ([step_column] if step_column is not None else []):
        if frame[column].isna().any():
            row = int(np.flatnonzero(frame[column].isna().to_numpy())[0])
            who = "" if column == id_column else f"sequence {str(ids.iloc[row])!r}: "
            raise DataError(f"{source}: {who}column {column!r} is missing a value at row {row}")
    values = np.empty((len(frame), len(channels)), dtype=np.float64)
    for c, column in enumerate(channels):
        numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(~np.isfinite(numbers))
        if len(bad):
            row = int(bad[0])
            found = frame[column].iloc[row]
            what = "is missing a value" if pd.isna(found) else f"has {found!r}, not a finite number,"
            raise DataError(f"{source}: sequence {str(ids.iloc[row])!r}: column {column!r} {what} at row {row}")
        values[:, c] = numbers
    codes, uniques = pd.factorize(ids, sort=False)  # codes in order of first appearance
    labels = frame[label_column].astype(str).to_numpy()
    order = np.argsort(codes, kind="stable")
    if step_column is not None:
        steps = pd.to_numeric(frame[step_column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(steps).any():
            row = int(np.flatnonzero(np.isnan(steps))[0])
            raise DataError(f"{source}: column {step_column!r}: row {row} has {frame[step_column].iloc[row]!r}, "
                            "not a number")
        order = np.lexsort((steps, codes))
        same = (codes[order][1:] == codes[order][:-1]) & (steps[order][1:] == steps[order][:-1])
        if same.any():
            i = int(np.flatnonzero(same)[0])
            a, b = sorted((int(order[i]), int(order[i + 1])))
            raise DataError(f"{source}: sequence {str(uniques[codes[a]])!r} has {step_column} {steps[a]:g} twice "
                            f"(rows {a} and {b})")
    bounds = np.cumsum(np.bincount(codes, minlength=len(uniques)))[:-1]
    arrays, out_labels = [], []
    for k, rows in enumerate(np.split(order, bounds)):
        by_position = np.sort(rows)
        first = labels[by_position[0]]
        other = np.flatnonzero(labels[by_position] != first)
        if len(other):
            row = int(by_position[other[0]])
            raise DataError(f"{source}: sequence {str(uniques[k])!r} has two labels in column {label_column!r}: "
                            f"{first!r} (row {int(by_position[0])}) and {labels[row]!r} (row {row}); each sequence "
                            "needs one")
        arrays.append(values[rows])
        out_labels.append(str(first))
    return arrays, out_labels, [str(u) for u in uniques]


# --------------------------------------------------------------- the archive's sets, as shipped in sktime (and aeon)

_MOTION_INSTALL = ("pip install 'lstmkit[motion-data]'  (or: pip install sktime==1.2.0; aeon's copy is found too; "
                   "only the data files are read, neither package is imported)")
_ARCHIVE = "UEA & UCR Time Series Classification Archive (timeseriesclassification.com), as shipped in sktime/aeon"
_REQUIRES = {"requirement": "sktime==1.2.0", "install": _MOTION_INSTALL}
_ARCHIVE_TERMS = "free for research use (UEA & UCR archive); sktime and aeon packages: BSD-3-Clause"


def _ts_file(problem: str, split: str, info: DatasetInfo) -> Path:
    """``<problem>_<SPLIT>.ts`` from sktime's data directory, else from aeon's (same files)."""
    relative = f"datasets/data/{problem}/{problem}_{split.upper()}.ts"
    found = []
    for module in ("sktime", "aeon"):
        try:
            return package_file(module, relative, info)
        except MissingDependencyError:
            found.append(f"{module} is not installed")
        except DataError:
            found.append(f"the installed {module} does not ship it")
    raise MissingDependencyError(f"data set {info.name!r} needs the 'sktime' package (or 'aeon'), which holds "
                                 f"{relative}; {', '.join(found)}: {info.install}")


def _long_frame(problem: str, info: DatasetInfo) -> pd.DataFrame:
    """Both fixed archive splits as one table: sequence, split, label, step, dim_0, dim_1, ..."""
    parts = []
    for split in ("train", "test"):
        cases, labels, _ = read_ts(_ts_file(problem, split, info))
        lengths = np.array([len(case) for case in cases])
        ids = [f"{split}_{k:04d}" for k in range(len(cases))]
        part = pd.DataFrame({
            "sequence": np.repeat(ids, lengths), "split": split, "label": np.repeat(labels, lengths),
            "step": np.concatenate([np.arange(n) for n in lengths]),
        })  # fmt: skip
        values = np.concatenate(cases)
        parts.append(part.join(pd.DataFrame(values, columns=[f"dim_{c}" for c in range(values.shape[1])])))
    if parts[0].shape[1] != parts[1].shape[1]:
        raise DataError(f"data set {info.name!r}: the train and test files have different numbers of channels")
    return pd.concat(parts, ignore_index=True)


_BASIC_MOTIONS = DatasetInfo(
    name="basic_motions",
    task="motion",  # labelled multivariate sequences: lstmkit action
    description=(
        "Smart-watch 3-D accelerometer and 3-D gyroscope (6 channels, 10 Hz, 100 steps = 10 s) of four "
        "students standing, walking, running and playing badminton (4 classes); 40 train / 40 test sequences."
    ),
    source=_ARCHIVE + "; recorded in a University of East Anglia student project (Bagnall et al., The UEA "
    "multivariate time series classification archive, 2018)",
    license=_ARCHIVE_TERMS,
    **_REQUIRES,
)


@register_dataset(_BASIC_MOTIONS)
def load_basic_motions() -> pd.DataFrame:
    """BasicMotions: columns sequence, split, label, step, dim_0..dim_5; 80 sequences of 100 steps."""
    return _long_frame("BasicMotions", _BASIC_MOTIONS)


_GUNPOINT = DatasetInfo(
    name="gunpoint",
    task="motion",
    description=(
        "X coordinate of an actor's right hand, tracked in video, while drawing a replica gun from a hip "
        "holster and pointing it (label 1) or pointing a finger (label 2); 1 channel, 150 steps (z-normalised); "
        "50 train / 150 test sequences."
    ),
    source=_ARCHIVE + "; recorded by C. A. Ratanamahatana and E. Keogh (UC Riverside)",
    license=_ARCHIVE_TERMS,
    **_REQUIRES,
)


@register_dataset(_GUNPOINT)
def load_gunpoint() -> pd.DataFrame:
    """GunPoint: columns sequence, split, label ("1" gun, "2" point), step, dim_0; 200 sequences of 150 steps."""
    return _long_frame("GunPoint", _GUNPOINT)


_JAPANESE_VOWELS = DatasetInfo(
    name="japanese_vowels",
    task="motion",
    description=(
        "Nine male speakers uttering the Japanese vowels /ae/: 12 LPC cepstrum coefficients per 6.4 ms frame, "
        "7 to 29 frames; the label is the speaker (1-9); 270 train / 370 test sequences."
    ),
    source=_ARCHIVE + "; UCI Machine Learning Repository (doi:10.24432/C5NS47), from M. Kudo, J. Toyama and "
    "M. Shimbo, Multidimensional curve classification using passing-through regions, Pattern Recognition "
    "Letters 20 (1999)",
    license="CC BY 4.0 (UCI Machine Learning Repository); sktime and aeon packages: BSD-3-Clause",
    **_REQUIRES,
)


@register_dataset(_JAPANESE_VOWELS)
def load_japanese_vowels() -> pd.DataFrame:
    """JapaneseVowels: columns sequence, split, label, step, dim_0..dim_11; 640 sequences of 7-29 steps."""
    return _long_frame("JapaneseVowels", _JAPANESE_VOWELS)
