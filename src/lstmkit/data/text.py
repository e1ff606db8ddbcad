r"""Text to integer ids: tokenisers, a vocabulary, and checks on columns of texts.

Tokenisers (both are stateless and JSON-able through ``to_dict``/``tokenizer_from_dict``):

* :class:`WordTokenizer`, the rules in order:

  1. Unicode NFKC normalisation (full-width letters, ligatures and the like become plain ones), and
     curly apostrophes (U+2018, U+2019) become ``'``;
  2. lower-casing (``lower=True``, the default);
  3. a *word* is a run of letters, digits or underscores (any script), with apostrophes allowed
     *inside* it: ``don't``, ``o'er``, ``king's`` are one token each; a leading or trailing
     apostrophe is punctuation (``'tis`` -> ``'``, ``tis``);
  4. every other non-space character is a token of its own: ``"well, good night."`` ->
     ``well`` ``,`` ``good`` ``night`` ``.``; with ``punctuation=False`` these are dropped;
  5. whitespace (spaces, tabs, newlines) only separates tokens.

  ``lines=True`` (language modelling) tokenises line by line and ends each non-blank line with
  ``<eos>``, so the model learns where lines end (as the Penn Treebank set-up does).

* :class:`CharTokenizer`: one token per character, whitespace and newlines included (the text is
  NFC-normalised; ``lower=False`` by default).

:class:`Vocabulary` maps tokens to ids. Ids 0-3 are always ``<pad>``, ``<unk>``, ``<bos>``,
``<eos>``; then the tokens seen in ``fit`` at least ``min_freq`` times, most frequent first (ties by
the token's first appearance, so the order is deterministic), until ``max_size`` entries (specials
included). An unknown token maps to ``<unk>``, never an error. Learned state ends in ``_`` and the
whole vocabulary round-trips through JSON (:meth:`Vocabulary.to_dict` / :meth:`Vocabulary.from_dict`).
"""
from __future__ import annotations

import json
import math
import os
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

from lstmkit.data.errors import DataError, NotFittedError
from lstmkit.files import atomic_write_text

__all__ = [
    "BOS", "EOS", "PAD", "SPECIALS", "UNK",
    "CharTokenizer", "Vocabulary", "WordTokenizer",
    "check_texts", "detokenize", "tokenizer_from_dict",
]

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIALS = (PAD, UNK, BOS, EOS)  # ids 0, 1, 2, 3

# A word: letters/digits/underscore with inner apostrophes; or any single other non-space character.
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")
_WORD_ONLY = re.compile(r"\w+(?:'\w+)*")
_APOSTROPHES = str.maketrans({"\u2018": "'", "\u2019": "'"})
# No space before these when turning tokens back into text; none after the opening ones.
_NO_SPACE_BEFORE = set(".,;:!?)]}'%")
_NO_SPACE_AFTER = set("([{$")


# --------------------------------------------------------------------------------------- tokenisers
class WordTokenizer:
    """Word-level tokeniser; the rules are in the module docstring.

    >>> WordTokenizer()("Don't stop -- 'tis 2 o'clock!")
    ["don't", 'stop', '-', '-', "'", 'tis', '2', "o'clock", '!']
    """

    level = "word"

    def __init__(self, *, lower: bool = True, punctuation: bool = True, lines: bool = False):
        self.lower = bool(lower)
        self.punctuation = bool(punctuation)
        self.lines = bool(lines)

    def normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
        return text.lower() if self.lower else text

    def __call__(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"WordTokenizer expects a str, got {type(text).__name__}")
        pattern = _WORD if self.punctuation else _WORD_ONLY
        text = self.normalize(text)
        if not self.lines:
            return pattern.findall(text)
        tokens: list[str] = []
        for line in text.splitlines():
            words = pattern.findall(line)
            if words:
                tokens.extend(words)
                tokens.append(EOS)
        return tokens

    def detokenize(self, tokens: Sequence[str]) -> str:
        return detokenize(tokens, level=self.level)

    def to_dict(self) -> dict:
        return {"level": self.level, "lower": self.lower, "punctuation": self.punctuation, "lines": self.lines}

    def __repr__(self) -> str:
        return f"WordTokenizer(lower={self.lower}, punctuation={self.punctuation}, lines={self.lines})"


class CharTokenizer:
    """Character-level tokeniser: ``"Hi!\\n"`` -> ``['H', 'i', '!', '\\n']`` (NFC-normalised first)."""

    level = "char"

    def __init__(self, *, lower: bool = False):
        self.lower = bool(lower)

    def normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        return text.lower() if self.lower else text

    def __call__(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"CharTokenizer expects a str, got {type(text).__name__}")
        return list(self.normalize(text))

    def detokenize(self, tokens: Sequence[str]) -> str:
        return detokenize(tokens, level=self.level)

    def to_dict(self) -> dict:
        return {"level": self.level, "lower": self.lower}

    def __repr__(self) -> str:
        return f"CharTokenizer(lower={self.lower})"


def tokenizer_from_dict(values: dict) -> WordTokenizer | CharTokenizer:
    """Rebuild a tokeniser from its ``to_dict()``."""
    values = dict(values)
    level = values.pop("level", None)
    if level == "word":
        return WordTokenizer(**values)
    if level == "char":
        return CharTokenizer(**values)
    raise ValueError(f"unknown tokenizer level {level!r}; expected 'word' or 'char'")


def detokenize(tokens: Sequence[str], *, level: str = "word") -> str:
    """Tokens back to readable text: characters are concatenated; words are joined by spaces, except
    before closing punctuation and after opening brackets, and ``<eos>`` becomes a line break.
    Specials other than ``<eos>`` are kept as written (``<unk>``)."""
    if level == "char":
        return "".join("\n" if t == EOS else t for t in tokens)
    out: list[str] = []
    glue = True  # no space before the first token or after a line break / opening bracket
    for token in tokens:
        if token == EOS:
            out.append("\n")
            glue = True
            continue
        if not glue and not (len(token) == 1 and token in _NO_SPACE_BEFORE):
            out.append(" ")
        out.append(token)
        glue = len(token) == 1 and token in _NO_SPACE_AFTER
    return "".join(out)


# --------------------------------------------------------------------------------------- vocabulary
class Vocabulary:
    """Token <-> id map with ``<pad>`` = 0, ``<unk>`` = 1, ``<bos>`` = 2, ``<eos>`` = 3.

    Args:
        min_freq: keep tokens seen at least this often in ``fit``.
        max_size: at most this many entries, the four specials included (``None``: no limit).

    Learned: ``itos_`` (id -> token), ``stoi_`` (token -> id), ``counts_`` (training count of every
    kept token; 0 for the specials).
    """

    pad_id, unk_id, bos_id, eos_id = 0, 1, 2, 3

    def __init__(self, *, min_freq: int = 1, max_size: int | None = None):
        if not isinstance(min_freq, int) or isinstance(min_freq, bool) or min_freq < 1:
            raise ValueError(f"min_freq must be an integer >= 1, got {min_freq!r}")
        if max_size is not None and (not isinstance(max_size, int) or isinstance(max_size, bool)
                                     or max_size <= len(SPECIALS)):
            raise ValueError(f"max_size must be an integer > {len(SPECIALS)} (the specials count) or None, "
                             f"got {max_size!r}")
        self.min_freq = min_freq
        self.max_size = max_size

    # ---- fitting ---------------------------------------------------------------------------------
    def fit(self, token_lists: Iterable[Sequence[str]]) -> "Vocabulary":
        """Count tokens over ``token_lists`` (an iterable of token sequences) and keep the frequent ones."""
        counts: Counter = Counter()
        for tokens in token_lists:
            if isinstance(tokens, str):
                raise TypeError("Vocabulary.fit expects token lists (e.g. [tokenizer(t) for t in texts]), got a str")
            counts.update(tokens)
        for special in SPECIALS:
            counts.pop(special, None)  # their ids are fixed; the <eos> a line tokeniser adds is not a word
        # Counter keeps first-insertion order, so a stable sort on the count breaks ties by first appearance.
        ranked = sorted(counts.items(), key=lambda kv: -kv[1])
        kept = [(tok, n) for tok, n in ranked if n >= self.min_freq]
        if self.max_size is not None:
            kept = kept[: self.max_size - len(SPECIALS)]
        self.itos_ = [*SPECIALS, *(tok for tok, _ in kept)]
        self.counts_ = [0] * len(SPECIALS) + [n for _, n in kept]
        self.stoi_ = {tok: i for i, tok in enumerate(self.itos_)}
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "itos_"):
            raise NotFittedError("this Vocabulary is not fitted yet: call fit(token_lists) first")

    # ---- mapping ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        self._check_fitted()
        return len(self.itos_)

    def __contains__(self, token: str) -> bool:
        self._check_fitted()
        return token in self.stoi_

    def __getitem__(self, token: str) -> int:
        """The id of ``token``; ``<unk>``'s id for a token not in the vocabulary."""
        self._check_fitted()
        return self.stoi_.get(token, self.unk_id)

    def encode(self, tokens: Sequence[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        """Ids of ``tokens``; unknown tokens become ``<unk>``'s id. ``bos``/``eos`` add the markers."""
        self._check_fitted()
        get, unk = self.stoi_.get, self.unk_id
        ids = [get(t, unk) for t in tokens]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Iterable[int], *, skip_specials: bool = False) -> list[str]:
        """Tokens of ``ids``; ``skip_specials`` drops ``<pad>``, ``<bos>`` and ``<eos>`` (``<unk>`` stays)."""
        self._check_fitted()
        size = len(self.itos_)
        tokens = []
        for i in ids:
            i = int(i)
            if not 0 <= i < size:
                raise ValueError(f"id {i} is outside the vocabulary (size {size})")
            if skip_specials and i in (self.pad_id, self.bos_id, self.eos_id):
                continue
            tokens.append(self.itos_[i])
        return tokens

    def unknown(self, tokens: Iterable[str]) -> list[str]:
        """The tokens (in order, without repeats) that map to ``<unk>``."""
        self._check_fitted()
        return list(dict.fromkeys(t for t in tokens if t not in self.stoi_))

    # ---- files -----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        self._check_fitted()
        return {"min_freq": self.min_freq, "max_size": self.max_size, "specials": list(SPECIALS),
                "tokens": list(self.itos_), "counts": list(self.counts_)}

    @classmethod
    def from_dict(cls, values: dict) -> "Vocabulary":
        try:
            tokens, counts = list(values["tokens"]), list(values["counts"])
            vocab = cls(min_freq=values.get("min_freq", 1), max_size=values.get("max_size"))
        except (KeyError, TypeError) as error:
            raise DataError(f"not a saved Vocabulary (expected 'tokens' and 'counts'): {error}") from None
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS or len(counts) != len(tokens):
            raise DataError(f"a saved Vocabulary must start with the specials {list(SPECIALS)} and have one "
                            "count per token")
        if len(set(tokens)) != len(tokens):
            raise DataError("a saved Vocabulary holds a token twice")
        vocab.itos_, vocab.counts_ = tokens, [int(n) for n in counts]
        vocab.stoi_ = {tok: i for i, tok in enumerate(tokens)}
        return vocab

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as JSON, atomically (:func:`lstmkit.files.atomic_write_text`): no
        half-written file remains, and the file gets a plain ``open()``'s permissions."""
        return atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Vocabulary":
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DataError(f"cannot read a vocabulary from {path}: {error}") from None
        return cls.from_dict(values)

    def __repr__(self) -> str:
        size = len(self.itos_) if hasattr(self, "itos_") else "unfitted"
        return f"Vocabulary(size={size}, min_freq={self.min_freq}, max_size={self.max_size})"


# ------------------------------------------------------------------------------------- text columns
def check_texts(values: Any, *, name: str = "text") -> list[str]:
    """The texts of a column as a list of str, or a :class:`DataError` naming the first bad row.

    Refused: a numeric or boolean column (the wrong column was named), a non-string value in an object
    column, and missing or blank texts. Rows count from 0 (the first data row of a CSV is row 0).
    """
    import pandas as pd

    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if len(series) == 0:
        raise DataError(f"column {name!r} has no rows")
    if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        present = [(row, v) for row, v in enumerate(series.tolist()) if v == v]  # v != v: NaN
        example = f" (row {present[0][0]} is {present[0][1]!r})" if present else ""
        raise DataError(f"column {name!r} holds numbers, not text{example}; name the column that holds the texts")
    texts: list[str] = []
    blank: list[int] = []
    for row, value in enumerate(series.tolist()):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            blank.append(row)
            texts.append("")
            continue
        if isinstance(value, (bytes, bytearray)):
            raise DataError(f"column {name!r}: row {row} holds bytes, not text; decode it first")
        if not isinstance(value, str):
            raise DataError(f"column {name!r}: row {row} holds a non-text value {value!r} "
                            f"({type(value).__name__}); every value must be a string")
        if not value.strip():
            blank.append(row)
        texts.append(value)
    if blank:
        rows = ", ".join(str(r) for r in blank[:5]) + (", ..." if len(blank) > 5 else "")
        raise DataError(f"column {name!r} has {len(blank)} empty text(s) (row {rows}); remove or fill those rows")
    return texts
