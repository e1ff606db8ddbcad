"""Sentence pairs: reading them, splitting them without leakage, batching them; two real sources.

Reading (:func:`read_pairs`): a TSV or CSV file with a header (``.tsv``/``.tab`` are tab-separated,
anything else comma-separated), a DataFrame, or two aligned plain-text files (line i of one translates
line i of the other). Bad input is a :class:`~lstmkit.errors.DataError` naming the column and row (or
file and line): an empty file, a missing column, an empty sentence, files of different lengths.

Splitting (:func:`split_pairs`): whole *groups* go to one part, so that nothing of a test document was
seen in training. With a group column (a book, a document, a talk) the groups are its values; without
one every distinct source sentence is its own group, so a sentence that occurs twice cannot be in
training and in the test part at once. The groups are shuffled with the seed and dealt out: the test
part first until it holds ``test_fraction`` of the pairs, then validation, the rest is training.

Real data:

* :func:`load_bible_pairs`: English (King James Version, module ``engKJV2006eb``) and Spanish
  (Reina-Valera 1909, ``spaRV1909eb``) verse by verse, 31,102 verses in the KJV numbering, 18 of them
  empty in the Spanish text and dropped. They come from the Debian packages ``sword-text-kjv`` and
  ``sword-text-sparv``, read with ``pysword``; nothing is downloaded at run time. The group is the book.
* :func:`number_pairs`: numbers and their French words from ``num2words`` (``1234`` -> ``mille deux
  cent trente-quatre``), or English number words to French ones: small, made in milliseconds, for tests
  and demos.
"""
from __future__ import annotations

import csv
import functools
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from lstmkit.data import BucketBatchSampler, pad_sequences
from lstmkit.data.text import check_texts
from lstmkit.data.debian import find_package_data, how_to_get
from lstmkit.errors import DataError, InputFileError, MissingDependencyError
from lstmkit.files import atomic_write_text

__all__ = ["Pairs", "read_pairs", "split_pairs", "pair_loader", "collate_pairs", "load_bible_pairs",
           "number_pairs", "find_sword_root", "BIBLE_MODULES", "SWORD_ROOT_ENV"]

logger = logging.getLogger(__name__)


@dataclass
class Pairs:
    """Aligned sentences: ``src[i]`` translates to ``tgt[i]``; ``groups[i]`` its document (or None)."""

    src: list[str]
    tgt: list[str]
    groups: list[str] | None
    columns: dict  # {"src": name, "tgt": name, "group": name or None}
    origin: str = "the pairs"  # for messages

    def __len__(self) -> int:
        return len(self.src)

    def subset(self, rows: Sequence[int]) -> "Pairs":
        rows = [int(i) for i in rows]
        return Pairs([self.src[i] for i in rows], [self.tgt[i] for i in rows],
                     None if self.groups is None else [self.groups[i] for i in rows], self.columns, self.origin)


# ------------------------------------------------------------------------------------------- reading
def _read_table(path: Path) -> pd.DataFrame:
    tab = path.suffix.lower() in (".tsv", ".tab")
    try:
        # Only empty fields are missing ("NA" is a word); a TSV has no quoting (verses hold quotes).
        frame = pd.read_csv(path, sep="\t" if tab else ",", quoting=csv.QUOTE_NONE if tab else csv.QUOTE_MINIMAL,
                            dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text (byte {error.start}); convert it first, e.g. with iconv") from None
    except pd.errors.ParserError as error:
        raise DataError(f"{path}: not a readable {'TSV' if tab else 'CSV'} file "
                        f"({str(error).strip().splitlines()[-1]})") from None
    return frame


def _read_lines(path: Path) -> list[str]:
    if path.is_dir():
        raise InputFileError(f"{path} is a directory; expected a text file")
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text (byte {error.start}); convert it first, e.g. with iconv") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line, it does not start another
    return [line.rstrip("\r") for line in lines]


def read_aligned(src_path: str | os.PathLike, tgt_path: str | os.PathLike) -> Pairs:
    """Two plain-text files, one sentence per line, line i of one the translation of line i of the other."""
    src_path, tgt_path = Path(src_path), Path(tgt_path)
    src, tgt = _read_lines(src_path), _read_lines(tgt_path)
    for path, lines in ((src_path, src), (tgt_path, tgt)):
        if not lines:
            raise DataError(f"{path}: the file is empty")
    if len(src) != len(tgt):
        raise DataError(f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}: aligned files need one "
                        "translation per line")
    for path, lines in ((src_path, src), (tgt_path, tgt)):
        blank = [i + 1 for i, line in enumerate(lines) if not line.strip()]
        if blank:
            shown = ", ".join(map(str, blank[:5])) + (", ..." if len(blank) > 5 else "")
            raise DataError(f"{path}: {len(blank)} empty sentence(s) (line {shown}); remove the pair from both files")
    return Pairs(src, tgt, None, {"src": src_path.name, "tgt": tgt_path.name, "group": None},
                 f"{src_path} + {tgt_path}")


def read_pairs(data, src_column: str | None = None, tgt_column: str | None = None,
               group_column: str | None = None) -> Pairs:
    """Sentence pairs from ``data``: a TSV/CSV path, a DataFrame, a ``(source file, target file)`` pair of
    aligned text files, or :class:`Pairs` (returned as is).

    Columns default to the table's first two (leaving out ``group_column``). Every sentence must be
    non-empty text; the group column (documents or books) must have no missing value.
    """
    if isinstance(data, Pairs):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(p, (str, os.PathLike)) for p in data):
        return read_aligned(*data)
    if isinstance(data, pd.DataFrame):
        frame, origin = data, "the table"
    elif isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if path.is_dir():
            raise InputFileError(f"{path} is a directory; expected a TSV or CSV file of sentence pairs")
        if not path.is_file():
            raise InputFileError(f"{path}: no such file")
        frame, origin = _read_table(path), str(path)
    else:
        raise TypeError(f"read_pairs: expected a path, a DataFrame or two paths, got {type(data).__name__}")
    columns = [str(c) for c in frame.columns]
    frame.columns = columns
    for option, column in (("--src-column", src_column), ("--tgt-column", tgt_column),
                           ("--group-column", group_column)):
        if column is not None and column not in columns:
            raise DataError(f"{origin}: column {column!r} ({option}) not found; columns are: {', '.join(columns)}")
    free = [c for c in columns if c not in (group_column, src_column, tgt_column)]
    if src_column is None:
        if not free:
            raise DataError(f"{origin}: no column left for the source sentences; name it with --src-column")
        src_column = free.pop(0)
    if tgt_column is None:
        if not free:
            raise DataError(f"{origin} has only the column {src_column!r} of sentences; a translation pair needs two "
                            "(--src-column and --tgt-column)")
        tgt_column = free.pop(0)
    if src_column == tgt_column:
        raise DataError(f"the source and target columns are both {src_column!r}; name two different columns")
    if len(frame) == 0:
        raise DataError(f"{origin}: the table has no rows (only a header)")
    src = check_texts(frame[src_column], name=src_column)
    tgt = check_texts(frame[tgt_column], name=tgt_column)
    groups = None
    if group_column is not None:
        values = frame[group_column]
        missing = values.isna().to_numpy()
        if missing.any():
            raise DataError(f"group column {group_column!r} has a missing value at row {int(np.argmax(missing))}")
        groups = [str(v) for v in values.tolist()]
    return Pairs(src, tgt, groups, {"src": src_column, "tgt": tgt_column, "group": group_column}, origin)


# ----------------------------------------------------------------------------------------- splitting
def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def split_pairs(pairs: Pairs, *, val_fraction: float = 0.1, test_fraction: float = 0.1,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """``(train, val, test, info)``: sorted row indices of the three parts and how they were made.

    Whole groups go to one part (module docstring): the group column's values, or else the distinct
    source sentences (case and spacing ignored). ``info`` holds the pair counts, ``seed``, ``by``
    and, with a group column, the groups of the validation and test parts.
    """
    n = len(pairs)
    by_column = pairs.groups is not None
    keys = pairs.groups if by_column else [_normalise(s) for s in pairs.src]
    order = list(dict.fromkeys(keys))  # first appearance
    if len(order) < 3:
        what = f"groups in column {pairs.columns['group']!r}" if by_column else "distinct source sentences"
        raise DataError(f"{pairs.origin}: {len(order)} {what}; a train/validation/test split needs at least 3")
    index = {g: i for i, g in enumerate(order)}
    group_of = np.array([index[k] for k in keys], dtype=np.int64)
    sizes = np.bincount(group_of, minlength=len(order))
    shuffled = np.random.default_rng(seed).permutation(len(order))
    part = np.zeros(len(order), dtype=np.int64)  # 0 train, 1 val, 2 test
    filled = {2: 0, 1: 0}
    targets = {2: test_fraction * n, 1: val_fraction * n}
    current = 2
    for g in shuffled:
        if current in targets and filled[current] >= targets[current]:
            current = 1 if current == 2 else 0
        if current == 0:
            break
        part[g] = current
        filled[current] += int(sizes[g])
    row_part = part[group_of]
    train, val, test = (np.flatnonzero(row_part == p) for p in (0, 1, 2))
    if len(train) == 0 or len(val) == 0:
        what = f"groups in column {pairs.columns['group']!r}" if by_column else "distinct source sentences"
        raise DataError(f"{pairs.origin}: too few {what} ({len(order)}) to fill a training, validation and test part")
    info = {"train": int(len(train)), "val": int(len(val)), "test": int(len(test)), "seed": int(seed),
            "by": f"group column {pairs.columns['group']!r}" if by_column else "source sentence"}
    if by_column:
        names = np.array(order, dtype=object)
        info["groups"] = {"train": int((part == 0).sum()),
                          "val": [str(g) for g in names[np.sort(np.flatnonzero(part == 1))]],
                          "test": [str(g) for g in names[np.sort(np.flatnonzero(part == 2))]]}
    return train, val, test, info


# ------------------------------------------------------------------------------------------ batching
class PairDataset(torch.utils.data.Dataset):
    """Encoded pairs: item i is ``(source ids, target ids)`` (1-D int64 tensors, no markers)."""

    def __init__(self, src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]]):
        self.src = [torch.as_tensor(s, dtype=torch.int64) for s in src_ids]
        self.tgt = [torch.as_tensor(t, dtype=torch.int64) for t in tgt_ids]

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, i):
        return self.src[i], self.tgt[i]


def collate_pairs(batch, *, bos: int = 2, eos: int = 3):
    """``((src (N, S), src_lengths (N,), tgt_in (N, T)), tgt_out (N, T))``, padded with 0:
    ``tgt_in`` is ``<bos>`` + target (teacher forcing), ``tgt_out`` the target + ``<eos>``."""
    src, src_lengths = pad_sequences([s for s, _ in batch])
    bos_t, eos_t = torch.tensor([bos]), torch.tensor([eos])
    tgt_in, _ = pad_sequences([torch.cat([bos_t, t]) for _, t in batch])
    tgt_out, _ = pad_sequences([torch.cat([t, eos_t]) for _, t in batch])
    return (src, src_lengths, tgt_in), tgt_out


def pair_loader(src_ids, tgt_ids, batch_size: int, *, shuffle: bool) -> torch.utils.data.DataLoader:
    """Batches of pairs of similar lengths (:class:`lstmkit.data.BucketBatchSampler`)."""
    lengths = [len(s) + len(t) for s, t in zip(src_ids, tgt_ids)]
    sampler = BucketBatchSampler(lengths, batch_size, shuffle=shuffle)
    return torch.utils.data.DataLoader(PairDataset(src_ids, tgt_ids), batch_sampler=sampler,
                                       collate_fn=collate_pairs)


# ---------------------------------------------------------------------------------------- numbers
def number_pairs(count: int = 2000, *, low: int = 0, high: int = 9999, source: str = "digits", target: str = "fr",
                 seed: int = 0) -> pd.DataFrame:
    """``count`` distinct numbers in ``[low, high]`` and their words in ``target`` (``num2words``).

    ``source="digits"``: column ``number`` holds ``"1234"``; ``source="en"`` (or another language
    code): column ``en`` holds ``"one thousand, two hundred and thirty-four"``. The target column is
    named by its language code (``fr``). Seeded, sorted by number.
    """
    try:
        from num2words import num2words
    except ImportError:
        raise MissingDependencyError("number_pairs needs num2words: pip install 'lstmkit[translate]'") from None
    if high < low or count < 1:
        raise ValueError(f"number_pairs: need count >= 1 and low <= high, got {count}, [{low}, {high}]")
    rng = np.random.default_rng(seed)
    span = high - low + 1
    numbers = np.sort(rng.choice(span, size=min(count, span), replace=False) + low)
    src_name = "number" if source == "digits" else source
    src = [str(int(v)) if source == "digits" else num2words(int(v), lang=source) for v in numbers]
    return pd.DataFrame({src_name: src, target: [num2words(int(v), lang=target) for v in numbers]})


# ------------------------------------------------------------------------------------------ Bible
BIBLE_MODULES = {"en": "engKJV2006eb", "es": "spaRV1909eb"}
BIBLE_PACKAGES = ("sword-text-kjv", "sword-text-sparv")
SWORD_ROOT_ENV = "LSTMKIT_SWORD_ROOT"
BIBLE_VERSES = 31102
_USFM = re.compile(r"\\[a-z]+\d*\*?")  # character markers left in the KJV text (\nd LORD)

GET_SWORD = how_to_get(list(BIBLE_PACKAGES), "the English-Spanish Bible", "--sword-root", SWORD_ROOT_ENV)


def find_sword_root(sword_root: str | os.PathLike | None = None) -> Path:
    """The SWORD modules directory (holding ``mods.d``): under ``sword_root`` (a ``dpkg -x`` directory, or the
    modules directory itself), else under ``$LSTMKIT_SWORD_ROOT``, ``<cache>/sword`` or ``/`` (packages
    installed with apt). A :class:`~lstmkit.errors.InputFileError` says how to get them; a folder
    lacking one of the two Bibles is refused when it is read."""
    return find_package_data(sword_root, subdir="usr/share/sword", looks_right=lambda folder: (folder / "mods.d").is_dir(),
                             holds="SWORD modules (no usr/share/sword/mods.d)", option="--sword-root",
                             env=SWORD_ROOT_ENV, cache_name="sword", get=GET_SWORD)


def _read_bible_module(modules, key: str) -> list[tuple[str, str, int, int, str]]:
    """(testament, book, chapter, verse, text) of every verse of one module, read book by book."""
    bible = modules.get_bible_from_module(key)
    # pysword decompresses a whole compressed block (about a book) for every verse it returns: keeping
    # the last blocks makes reading a Bible take 2 s instead of 35 s. (pysword 0.2.8's own method.)
    if hasattr(bible, "_decompressed_text"):
        bible._decompressed_text = functools.lru_cache(maxsize=4)(bible._decompressed_text)
    rows = []
    for testament, books in bible.get_structure().get_books().items():
        for book in books:
            texts = list(bible.get_iter(books=[book.name], clean=True))
            if len(texts) != sum(book.chapter_lengths):
                raise DataError(f"SWORD module {key}: {book.name} has {len(texts)} verses, expected "
                                f"{sum(book.chapter_lengths)}")
            refs = [(c + 1, v + 1) for c, n in enumerate(book.chapter_lengths) for v in range(n)]
            rows.extend((testament, book.name, c, v, t) for (c, v), t in zip(refs, texts))
    return rows


def _clean_verse(text: str) -> str:
    text = _USFM.sub("", text).replace("\u00b6", " ")  # ¶: the KJV's paragraph mark
    return " ".join(text.split())


def load_bible_pairs(sword_root: str | os.PathLike | None = None, *, cache: str | os.PathLike | None = None,
                     refresh: bool = False) -> pd.DataFrame:
    """English (KJV) - Spanish (Reina-Valera 1909) verse pairs: columns ``testament``, ``book``,
    ``chapter``, ``verse``, ``en``, ``es``, in canonical order; the 18 verses empty in the Spanish text
    are dropped (31,084 rows).

    The first call reads the two SWORD modules (``find_sword_root``; about 5 s) and caches the table as
    ``<cache>/translate/bible-en-es.tsv`` (``cache`` defaults to :func:`lstmkit.data.datasets.cache_dir`);
    later calls read the cache. Split it by book (``group_column="book"``).
    """
    from lstmkit.data.datasets import cache_dir

    target = (Path(cache) if cache is not None else cache_dir()) / "translate" / "bible-en-es.tsv"
    if target.is_file() and not refresh:
        return pd.read_csv(target, sep="\t", quoting=csv.QUOTE_NONE, dtype={"book": str, "en": str, "es": str},
                           keep_default_na=False)
    try:
        from pysword.modules import SwordModules
    except ImportError:
        raise MissingDependencyError("reading the SWORD Bibles needs pysword: "
                                     "pip install 'lstmkit[translate]'") from None
    root = find_sword_root(sword_root)
    modules = SwordModules(str(root))
    found = modules.parse_modules()
    missing = [m for m in BIBLE_MODULES.values() if m not in found]
    if missing:
        raise InputFileError(f"{root} lacks the SWORD module(s) {', '.join(missing)}; " + GET_SWORD)
    sides = {lang: _read_bible_module(modules, key) for lang, key in BIBLE_MODULES.items()}
    en, es = sides["en"], sides["es"]
    if len(en) != BIBLE_VERSES or len(es) != BIBLE_VERSES:
        raise DataError(f"expected {BIBLE_VERSES} verses in each Bible, got {len(en)} (en) and {len(es)} (es)")
    rows = []
    for a, b in zip(en, es):
        if a[:4] != b[:4]:
            raise DataError(f"the two Bibles are not aligned at {a[1]} {a[2]}:{a[3]} / {b[1]} {b[2]}:{b[3]}")
        src, tgt = _clean_verse(a[4]), _clean_verse(b[4])
        if src and tgt:
            rows.append((a[0], a[1], a[2], a[3], src, tgt))
    frame = pd.DataFrame(rows, columns=["testament", "book", "chapter", "verse", "en", "es"])
    if frame[["en", "es"]].apply(lambda col: col.str.contains("\t")).any().any():
        raise DataError("a verse holds a tab character; cannot cache the Bible as TSV")
    atomic_write_text(target, frame.to_csv(sep="\t", index=False, quoting=csv.QUOTE_NONE))
    logger.info("load_bible_pairs: %d verse pairs cached in %s", len(frame), target)
    return frame
