r"""Speech-recognition error rates: character and word error rate (CER, WER), from edit distances.

The edit (Levenshtein) distance between a reference r (n tokens) and a hypothesis h (m tokens) is
the fewest substitutions, deletions (tokens of r missing from h) and insertions (tokens of h not in
r) turning r into h, by dynamic programming over prefixes:

.. math::
    D_{i,0} = i, \quad D_{0,j} = j, \quad
    D_{i,j} = \min\big(D_{i-1,j-1} + [r_i \ne h_j],\ D_{i-1,j} + 1,\ D_{i,j-1} + 1\big)

Corpus-level rates, as jiwer computes them: total edits over total reference length (not a mean of
per-utterance rates, which would weigh a two-word utterance like a fifty-word one):

.. math::
    \text{WER} = \frac{S + D + I}{S + D + H} = \frac{\sum_u d(r_u, h_u)}{\sum_u |r_u|}

with H the hits (tokens matched). Words are the whitespace-separated parts of a text; characters are
those of the text with leading and trailing whitespace stripped (inner spaces count, as in jiwer's
``cer``). A rate can exceed 1 (many insertions). With no reference token at all it is 0 when the
hypotheses are empty too and ``inf`` otherwise (jiwer returns the insertion count there).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np

from lstmkit.errors import ConfigError, DataError

__all__ = ["ErrorCounts", "cer", "edit_distance", "error_counts", "wer"]

UNITS = ("word", "char", "token")


def _ids(ref_seq: Sequence[Hashable], hyp_seq: Sequence[Hashable]) -> tuple[np.ndarray, np.ndarray]:
    """Both sequences as int arrays over one shared token -> id map (equal tokens, equal ids)."""
    index: dict = {}
    ref = np.array([index.setdefault(tok, len(index)) for tok in ref_seq], dtype=np.int64)
    hyp = np.array([index.setdefault(tok, len(index)) for tok in hyp_seq], dtype=np.int64)
    return ref, hyp


def _distance_table(ref: np.ndarray, hyp: np.ndarray) -> np.ndarray:
    """The whole table D (n + 1, m + 1) of the module docstring, one NumPy row at a time.

    Within row i the insertion term chains along j; unrolled, :math:`D_{i,j} = \\min_{k \\le j}
    (E_{i,k} + j - k)` with E the row before insertions, i.e. a running minimum of E - k, plus j.
    """
    n, m = len(ref), len(hyp)
    j = np.arange(m + 1)
    table = np.empty((n + 1, m + 1), dtype=np.int64)
    table[0] = j
    for i in range(1, n + 1):
        previous, row = table[i - 1], table[i]
        row[0] = i
        np.minimum(previous[:-1] + (hyp != ref[i - 1]), previous[1:] + 1, out=row[1:])  # substitute/match, delete
        row[:] = np.minimum.accumulate(row - j) + j  # insertions
    return table


def edit_distance(ref_seq: Sequence[Hashable], hyp_seq: Sequence[Hashable]) -> int:
    """Levenshtein distance between two token sequences (a string is a sequence of characters)."""
    return int(_distance_table(*_ids(ref_seq, hyp_seq))[-1, -1])


@dataclass(frozen=True)
class ErrorCounts:
    """Edit operations of an alignment of references to hypotheses, summed over a corpus."""
    substitutions: int
    deletions: int
    insertions: int
    hits: int

    @property
    def edits(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def reference_length(self) -> int:
        return self.substitutions + self.deletions + self.hits

    @property
    def rate(self) -> float:
        """Edits per reference token (WER or CER); see the module docstring for an empty reference."""
        if self.reference_length == 0:
            return 0.0 if self.edits == 0 else float("inf")
        return self.edits / self.reference_length

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        return ErrorCounts(self.substitutions + other.substitutions, self.deletions + other.deletions,
                           self.insertions + other.insertions, self.hits + other.hits)


def _align_counts(ref_seq, hyp_seq) -> ErrorCounts:
    """Counts of one minimal alignment. Equally short alignments can split the distance differently
    between S, D and I ("ab" -> "ba": two substitutions, or a deletion and an insertion around a hit);
    this one takes jiwer's (rapidfuzz's) choice: the common prefix and suffix are hits, then, tracing back
    from the table's corner, a deletion first, a substitution next, an insertion next, a hit last."""
    ref, hyp = _ids(ref_seq, hyp_seq)
    n = min(len(ref), len(hyp))
    mismatch = np.flatnonzero(ref[:n] != hyp[:n])
    prefix = int(mismatch[0]) if len(mismatch) else n
    ref, hyp = ref[prefix:], hyp[prefix:]
    n = min(len(ref), len(hyp))
    mismatch = np.flatnonzero(ref[len(ref) - n :][::-1] != hyp[len(hyp) - n :][::-1])
    suffix = int(mismatch[0]) if len(mismatch) else n
    ref, hyp = ref[: len(ref) - suffix], hyp[: len(hyp) - suffix]
    table = _distance_table(ref, hyp)
    i, j = len(ref), len(hyp)
    s = d = ins = 0
    hits = prefix + suffix
    while i or j:
        here = table[i, j]
        same = bool(i and j and ref[i - 1] == hyp[j - 1])
        if i and here == table[i - 1, j] + 1:
            d, i = d + 1, i - 1
        elif i and j and not same and here == table[i - 1, j - 1] + 1:
            s, i, j = s + 1, i - 1, j - 1
        elif j and here == table[i, j - 1] + 1:
            ins, j = ins + 1, j - 1
        else:  # a hit: D[i, j] == D[i-1, j-1] with equal tokens
            hits, i, j = hits + 1, i - 1, j - 1
    return ErrorCounts(s, d, ins, hits)


def _tokens(text, unit: str, side: str, u: int):
    if unit == "token":
        if isinstance(text, str):
            raise DataError(f"{side} {u} is a string; with unit='token' each item must be a sequence of tokens")
        return list(text)
    if not isinstance(text, str):
        raise DataError(f"{side} {u} must be text (str), got {type(text).__name__}")
    return text.split() if unit == "word" else list(text.strip())


def error_counts(refs, hyps, *, unit: str = "word") -> ErrorCounts:
    """Substitutions, deletions, insertions and hits summed over a corpus.

    ``refs``, ``hyps``: two texts, or two equally long lists of texts (utterance u's reference and
    hypothesis); ``unit``: ``"word"``, ``"char"``, or ``"token"`` when each item is already a sequence
    of tokens (e.g. CTC label ids, for a phone or label error rate).
    """
    if unit not in UNITS:
        raise ConfigError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if isinstance(refs, str) and isinstance(hyps, str):
        refs, hyps = [refs], [hyps]
    if isinstance(refs, str) or isinstance(hyps, str):
        raise DataError("refs and hyps must both be texts or both be lists of texts")
    refs, hyps = list(refs), list(hyps)
    if len(refs) != len(hyps):
        raise DataError(f"refs has {len(refs)} utterances but hyps has {len(hyps)}; they must pair up")
    total = ErrorCounts(0, 0, 0, 0)
    for u, (ref, hyp) in enumerate(zip(refs, hyps)):
        total = total + _align_counts(_tokens(ref, unit, "reference", u), _tokens(hyp, unit, "hypothesis", u))
    return total


def wer(refs, hyps) -> float:
    """Word error rate over a corpus: total word edits / total reference words."""
    return error_counts(refs, hyps, unit="word").rate


def cer(refs, hyps) -> float:
    """Character error rate over a corpus: total character edits / total reference characters."""
    return error_counts(refs, hyps, unit="char").rate
