"""Reading what ``lstmkit action`` is given into :class:`Examples`: one array per clip or sequence.

Video (``kind="video"``):

* a folder per class, ``DIR/<label>/*.mp4`` (also .avi, .webm, .mkv, .mov), or a CSV of ``path,label``
  (:func:`lstmkit.data.video.list_clips`); each clip decoded by :func:`lstmkit.data.video.read_clip`
  to ``frames`` evenly spaced frames (or ``fps`` per second) of ``size x size`` RGB, kept in memory as
  uint8 so that every epoch reuses the decoded frames.

Motion sensors (``kind="sensor"``):

* a data set name (``basic_motions``, ``gunpoint``, ``japanese_vowels``) with its fixed train/test split;
* a long table, CSV or DataFrame, one row per sequence and step: ``sequence`` (id), ``label``, the
  channels (every other numeric column, or ``channels``), optionally ``step`` (the order) and
  ``split`` (``train``/``test``, a fixed split);
* a ``.ts`` file of the UEA/UCR archive (``X_TRAIN.ts``; a ``X_TEST.ts`` beside it is the fixed test part);
* a folder per class of CSV files, ``DIR/<label>/*.csv``, each file one sequence with channel columns.

``kind="auto"`` decides from the input: clip folders and tables with a ``path`` column are video.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.errors import DataError, InputFileError
from lstmkit.tasks.action.config import ActionConfig

__all__ = ["Examples", "detect_kind", "read_examples", "read_clips", "MOTION_DATASETS"]

logger = logging.getLogger(__name__)

MOTION_DATASETS = ("basic_motions", "gunpoint", "japanese_vowels")
SPLITS = ("train", "test")


@dataclass
class Examples:
    """Clips or sequences with their labels: ``x[i]`` is (T, H, W, 3) uint8 or (T, channels) float32."""

    kind: str
    x: list[np.ndarray]
    labels: list[str] | None  # None when the input has no labels (predict)
    ids: list[str]  # the clip's path or the sequence's id
    split: list[str] | None  # "train"/"test" per example when the data fixes the split
    channels: list[str]

    def __len__(self) -> int:
        return len(self.x)

    def lengths(self) -> np.ndarray:
        return np.array([len(a) for a in self.x], dtype=np.int64)


def _video_extensions() -> tuple[str, ...]:
    from lstmkit.data.video import VIDEO_EXTENSIONS

    return tuple(VIDEO_EXTENSIONS)


def detect_kind(data) -> str:
    """``"video"`` or ``"sensor"`` for what ``data`` looks like (see the module docstring)."""
    if isinstance(data, pd.DataFrame):
        return "video" if "path" in data.columns else "sensor"
    if isinstance(data, str) and data in MOTION_DATASETS:
        return "sensor"
    path = Path(data)
    if path.is_dir():
        extensions = _video_extensions()
        if any(p.suffix.lower() in extensions for p in path.glob("*/*")):
            return "video"
        return "sensor"
    if path.suffix.lower() in _video_extensions():
        return "video"
    if path.suffix.lower() == ".csv" and path.is_file():
        try:
            header = pd.read_csv(path, nrows=0).columns
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            return "sensor"  # the sensor reader reports what is wrong with it
        return "video" if "path" in header else "sensor"
    return "sensor"


def read_examples(data, config: ActionConfig, *, labelled: bool = True) -> Examples:
    """Read ``data`` as ``config.kind`` says (``"auto"``: :func:`detect_kind`)."""
    kind = detect_kind(data) if config.kind == "auto" else config.kind
    if kind == "video":
        return read_clips(data, config)
    return _read_sensors(data, config, labelled=labelled)


# ------------------------------------------------------------------------------------------ video
def read_clips(data, config: ActionConfig, *, files: list | None = None, labelled: bool = True) -> Examples:
    """Decode the clips of a class folder / ``path,label`` CSV, or the unlabelled ``files``.

    ``labelled=False`` (prediction): a folder's clips at any depth, and a CSV (or DataFrame) needs
    only its ``path`` column.
    """
    from lstmkit.data.video import list_clips, read_clip

    if files is not None:
        listed, labels = [Path(f) for f in files], None
    else:
        pairs = list_clips(data, labelled=labelled)
        listed, labels = [p for p, _ in pairs], ([label for _, label in pairs] if labelled else None)
    frames = None if config.fps is not None else config.frames
    x = [read_clip(p, frames=frames, fps=config.fps, size=config.size) for p in listed]
    return Examples("video", x, labels, [str(p) for p in listed], None, ["r", "g", "b"])


# ------------------------------------------------------------------------------------------ sensors
def _read_sensors(data, config: ActionConfig, *, labelled: bool) -> Examples:
    if isinstance(data, str) and data in MOTION_DATASETS:
        from lstmkit.data.datasets import load_dataset

        return _from_frame(load_dataset(data), config, data, labelled=labelled, default_step="step")
    if isinstance(data, pd.DataFrame):
        return _from_frame(data, config, "the table", labelled=labelled)
    path = Path(data)
    if not path.exists():
        hint = f" (or a data set: {', '.join(MOTION_DATASETS)})" if not str(data).endswith((".csv", ".ts")) else ""
        raise InputFileError(f"{path}: no such file or directory{hint}")
    if path.is_dir():
        return _from_folder(path, config, labelled=labelled)
    if path.suffix.lower() == ".ts":
        return _from_ts(path)
    try:
        # Ids and labels are names: "007" stays "007", not the number 7.
        frame = pd.read_csv(path, dtype={config.id_column: str, config.label_column: str})
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: not a readable CSV file ({str(error).splitlines()[0]})") from None
    return _from_frame(frame, config, str(path), labelled=labelled)


def _channels_of(frame: pd.DataFrame, config: ActionConfig, reserved: set[str], source: str) -> list[str]:
    if config.channels:
        missing = [c for c in config.channels if c not in frame.columns]
        if missing:
            raise DataError(f"{source}: channel column(s) {missing} not found; columns are: "
                            f"{', '.join(map(str, frame.columns))}")
        return list(config.channels)
    channels, ignored = [], []
    for column in frame.columns:
        if column in reserved:
            continue
        if pd.api.types.is_numeric_dtype(frame[column]):
            channels.append(str(column))
            continue
        # A column of numbers with one stray word would otherwise vanish from the channels unnoticed.
        values = frame[column]
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.notna().mean() > 0.5:
            row = int(np.flatnonzero(numbers.isna().to_numpy())[0])
            raise DataError(f"{source}: column {column!r} holds numbers but row {row} has {values.iloc[row]!r}; "
                            "fix the value, or name the channels with --channels")
        ignored.append(str(column))
    if ignored:
        logger.warning("%s: non-numeric column(s) %s are not channels", source, ", ".join(ignored))
    if not channels:
        raise DataError(f"{source}: no numeric channel columns besides {sorted(reserved & set(frame.columns))}; "
                        "expected one row per sequence and step with numeric channel columns")
    return channels


def _from_frame(frame: pd.DataFrame, config: ActionConfig, source: str, *, labelled: bool,
                default_step: str | None = None) -> Examples:
    from lstmkit.data.motion import sequences_from_frame

    if len(frame) == 0:
        raise DataError(f"{source}: the table has no rows")
    frame = frame.rename(columns=str)  # channels are named by strings in config.json
    if config.id_column not in frame.columns:
        raise DataError(f"{source}: id column {config.id_column!r} not found (one row per sequence and step; "
                        f"`train --id-column` names it); columns are: {', '.join(map(str, frame.columns))}")
    label_column = config.label_column if (labelled or config.label_column in frame.columns) else None
    if label_column is not None and label_column not in frame.columns:
        raise DataError(f"{source}: label column {label_column!r} not found; columns are: "
                        f"{', '.join(map(str, frame.columns))}")
    step = config.step_column or default_step
    step = step if step in frame.columns else None
    split_column = config.split_column if config.split_column in frame.columns else None
    # Columns that are not channels, used or not: a prediction table may keep its labels and split.
    reserved = {config.id_column, config.label_column, step, split_column} - {None}
    channels = _channels_of(frame, config, reserved, source)
    if label_column is None:
        frame = frame.assign(__label__="?")
    x, labels, ids = sequences_from_frame(frame, id_column=config.id_column,
                                          label_column=label_column or "__label__", channels=channels,
                                          step_column=step, source=source)
    split = None
    if split_column is not None and labelled:
        grouped = frame.groupby(config.id_column, sort=False)[split_column].agg(lambda s: set(s.astype(str)))
        per_id = {str(k): v for k, v in grouped.items()}
        split = []
        for sequence_id in ids:
            values = per_id.get(str(sequence_id), set())
            if len(values) != 1 or next(iter(values)) not in SPLITS:
                raise DataError(f"{source}: sequence {sequence_id!r} has split value(s) {sorted(values)} in column "
                                f"{split_column!r}; expected one of 'train' or 'test' per sequence")
            split.append(next(iter(values)))
    x = [np.asarray(a, dtype=np.float32) for a in x]
    return Examples("sensor", x, list(map(str, labels)) if label_column else None, list(map(str, ids)), split,
                    channels)


def _from_ts(path: Path) -> Examples:
    from lstmkit.data.motion import read_ts

    x, labels, _ = read_ts(path)
    ids, split = [f"train_{i:04d}" for i in range(len(x))], ["train"] * len(x)
    test_path = path.with_name(path.name.replace("_TRAIN", "_TEST")) if "_TRAIN" in path.name else None
    if test_path is not None and test_path.is_file():
        tx, tlabels, _ = read_ts(test_path)
        x, labels = x + tx, labels + tlabels
        ids += [f"test_{i:04d}" for i in range(len(tx))]
        split += ["test"] * len(tx)
    else:
        split = None
    channels = [f"dim_{k}" for k in range(x[0].shape[1])]
    return Examples("sensor", [np.asarray(a, dtype=np.float32) for a in x], list(labels), ids, split, channels)


def _from_folder(root: Path, config: ActionConfig, *, labelled: bool = True) -> Examples:
    """``root/<label>/*.csv``: one sequence per file, its numeric columns the channels (rows ordered by
    the step column when there is one). ``labelled=False``: the CSV files at any depth."""
    pattern = "*/*.csv" if labelled else "**/*.csv"
    files = sorted(p for p in root.glob(pattern) if p.is_file())
    if not files:
        raise DataError(f"{root}: no clips or sequences found; expected {root}/<label>/*.mp4 (video) or "
                        f"{root}/<label>/*.csv (one sensor sequence per file)")
    x, labels, ids, channels = [], [], [], None
    reserved = {config.step_column, config.label_column, config.split_column, config.id_column} - {None}
    for file in files:
        try:
            frame = pd.read_csv(file).rename(columns=str)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise DataError(f"{file}: not a readable CSV file ({str(error).strip().splitlines()[0]})") from None
        names = _channels_of(frame, config, reserved, str(file))
        if channels is None:
            channels = names
        elif names != channels:
            raise DataError(f"{file}: channels {names} differ from {channels} of {files[0]}; every sequence "
                            "needs the same channel columns")
        if config.step_column in frame.columns:
            frame = frame.sort_values(config.step_column, kind="stable")
        values = frame[channels].to_numpy(dtype=np.float64)
        bad = np.argwhere(~np.isfinite(values))
        if len(bad):
            row, col = bad[0]
            raise DataError(f"{file}: channel {channels[col]!r} has a missing or infinite value at row {row}")
        if len(values) == 0:
            raise DataError(f"{file}: the sequence has no rows")
        x.append(values.astype(np.float32))
        labels.append(file.parent.name)
        ids.append(os.path.relpath(file, root))
    return Examples("sensor", x, labels if labelled else None, ids, None, channels or [])
