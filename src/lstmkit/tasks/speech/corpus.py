"""What ``lstmkit speech`` reads: a corpus of audio files and their transcripts.

A corpus is one of

* a folder holding ``labels.csv`` or ``labels.tsv`` with columns ``path,transcript`` (paths relative to
  the folder, or absolute) and optionally ``speaker`` (whole speakers are then held out for
  validation and test) and ``split`` (``train``/``val``/``test``: a fixed split; without val rows the
  validation part is carved from train); this is the layout
  ``lstmkit speech synth`` writes and the one most corpora come in (LibriSpeech-style manifests);
* such a CSV/TSV file itself;
* a folder without a labels file: audio files in sub-folders are labelled by their folder
  (``DIR/<word>/*.wav``, the Speech Commands layout), audio files at the top by their file name
  (``seven.wav``; underscores read as spaces, and a trailing ``-N`` counter is dropped: ``seven-2.wav``).

Transcripts are lowercased (``lowercase``) and their runs of white space collapsed; nothing else is
changed, so a character outside the model's alphabet is reported, never dropped.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.audio import AUDIO_EXTENSIONS
from lstmkit.errors import DataError, InputFileError

__all__ = ["AUDIO_EXTENSIONS", "Corpus", "read_corpus", "audio_files", "clean_transcript", "split_corpus"]

logger = logging.getLogger(__name__)

LABEL_FILES = ("labels.csv", "labels.tsv")
_COUNTER = re.compile(r"-\d+$")


@dataclass
class Corpus:
    """Audio files with their transcripts (and, when known, speakers and a fixed split), in one order."""

    paths: list[Path]
    transcripts: list[str]
    speakers: list[str] | None
    split: list[str] | None  # "train" / "val" / "test" per file
    source: str  # what was read, for messages
    root: Path | None = None  # the folder relative paths are taken from (None: a list of files)

    def __len__(self) -> int:
        return len(self.paths)

    def relative(self, i: int) -> str:
        """File ``i``'s path relative to the corpus folder (absolute when it lies outside), '/'-separated."""
        path = self.paths[i]
        if self.root is not None and path.is_relative_to(self.root):
            return path.relative_to(self.root).as_posix()
        return path.as_posix()

    def digest(self) -> str:
        """A fingerprint of the corpus's files and transcripts: the same corpus, wherever it is named from."""
        import hashlib

        rows = sorted(f"{self.relative(i)},{t}" for i, t in enumerate(self.transcripts))
        return hashlib.sha1("\n".join(rows).encode()).hexdigest()


def clean_transcript(text: str, lowercase: bool = True) -> str:
    text = " ".join(str(text).split())
    return text.lower() if lowercase else text


def audio_files(folder: Path) -> list[Path]:
    """Every audio file under ``folder`` (any depth), sorted."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def read_corpus(data, config, *, labelled: bool = True) -> Corpus:
    """Read the corpus ``data`` (a folder or a labels file) as the module docstring describes.

    ``labelled=False`` (transcription): a folder's or file list's audio without transcripts.
    """
    if isinstance(data, (list, tuple)):
        paths = [Path(p) for p in data]
        for p in paths:
            if not p.is_file():
                raise InputFileError(f"{p}: no such audio file")
        return Corpus(paths, [""] * len(paths), None, None, f"{len(paths)} file(s)")
    path = Path(data)
    if not path.exists():
        raise InputFileError(f"{path}: no such corpus (expected a folder of audio files with labels.csv, or a "
                             "labels CSV/TSV of path,transcript)")
    if path.is_file():
        if path.suffix.lower() in AUDIO_EXTENSIONS:
            return Corpus([path], [""], None, None, str(path), path.parent)
        return _from_table(path, path.parent, config)
    for name in LABEL_FILES:
        if (path / name).is_file():
            return _from_table(path / name, path, config)
    files = audio_files(path)
    if not files:
        raise DataError(f"{path} holds no audio files ({', '.join(AUDIO_EXTENSIONS)}) and no labels.csv/labels.tsv")
    if not labelled:
        return Corpus(files, [""] * len(files), None, None, str(path), path)
    transcripts = []
    for f in files:
        parent = f.parent
        label = parent.name if parent != path else _COUNTER.sub("", f.stem).replace("_", " ")
        transcripts.append(clean_transcript(label, config.lowercase))
    return Corpus(files, transcripts, None, None, str(path), path)


def _from_table(table: Path, root: Path, config) -> Corpus:
    sep = "\t" if table.suffix.lower() == ".tsv" else ","
    try:
        frame = pd.read_csv(table, sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"{table}: not a readable {'TSV' if sep == chr(9) else 'CSV'} file: {error}") from None
    for column in (config.path_column, config.transcript_column):
        if column not in frame.columns:
            raise DataError(f"{table}: expected columns {config.path_column!r} and {config.transcript_column!r}, "
                            f"found {list(frame.columns)}")
    if frame.empty:
        raise DataError(f"{table} lists no files")
    paths = []
    for row, value in enumerate(frame[config.path_column], start=2):
        p = Path(value)
        p = p if p.is_absolute() else root / p
        if not p.is_file():
            raise InputFileError(f"{table}, line {row}: audio file {value!r} not found (paths are relative to {root})")
        paths.append(p)
    transcripts = [clean_transcript(t, config.lowercase) for t in frame[config.transcript_column]]
    empty = [i + 2 for i, t in enumerate(transcripts) if not t]
    if empty:
        raise DataError(f"{table}: empty transcript on line(s) {empty[:10]}")
    speakers = frame[config.speaker_column].tolist() if config.speaker_column in frame.columns else None
    split = None
    if config.split_column in frame.columns:
        split = [s.strip().lower() for s in frame[config.split_column]]
        bad = sorted(set(split) - {"train", "val", "test"})
        if bad:
            raise DataError(f"{table}: column {config.split_column!r} holds {bad}; expected train, val or test")
        missing = {"train", "test"} - set(split)
        if missing:
            raise DataError(f"{table}: column {config.split_column!r} has no {' or '.join(sorted(missing))} rows; a "
                            "fixed split needs train and test rows (val rows are carved from train when missing)")
    return Corpus(paths, transcripts, speakers, split, str(table), root)


def _carve(rows: np.ndarray, corpus: Corpus, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held out): ``fraction`` of the speakers of ``rows`` (of the files, with fewer than 3 speakers),
    at least one, at least one left."""
    if corpus.speakers is not None and len({corpus.speakers[i] for i in rows}) >= 3:
        speakers = np.array(sorted({corpus.speakers[i] for i in rows}))
        rng.shuffle(speakers)
        count = min(len(speakers) - 1, max(1, round(fraction * len(speakers))))
        held = np.isin(np.asarray([corpus.speakers[i] for i in rows]), speakers[:count])
        return rows[~held], rows[held]
    order = rows[rng.permutation(len(rows))]
    count = min(len(rows) - 1, max(1, round(fraction * len(rows))))
    return np.sort(order[count:]), np.sort(order[:count])


def split_corpus(corpus: Corpus, config) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Indices of the train, validation and test files, and how they were chosen: "fixed" (the corpus's
    split column; validation carved from its training rows when it has none), "speaker" (whole speakers
    held out, seeded) or "file" (files at random, when fewer than 3 speakers are named)."""
    rng = np.random.default_rng(config.seed)
    everything = np.arange(len(corpus))
    if corpus.split is not None:
        split = np.asarray(corpus.split)
        train, val, test = (np.flatnonzero(split == part) for part in ("train", "val", "test"))
        if not len(val):
            if len(train) < 2:
                raise DataError(f"{corpus.source}: {len(train)} training file(s), too few to carve a validation part")
            train, val = _carve(train, corpus, config.val_fraction, rng)
        return train, val, test, "fixed"
    if len(corpus) < 3:
        raise DataError(f"{corpus.source}: {len(corpus)} file(s), too few to split into training, validation and "
                        "test parts")
    by_speaker = corpus.speakers is not None and len(set(corpus.speakers)) >= 3
    if corpus.speakers is not None and not by_speaker:
        logger.warning("%s names fewer than 3 speakers: the split is by file, so the test part holds voices "
                       "the model was trained on", corpus.source)
    rest, test = _carve(everything, corpus, config.test_fraction, rng)
    train, val = _carve(rest, corpus, config.val_fraction / (1 - config.test_fraction), rng)
    return train, val, test, "speaker" if by_speaker else "file"
