r"""Count-based baseline for language modelling: an interpolated Kneser-Ney n-gram model.

For an n-gram model over a vocabulary of size V, with history :math:`h` (the previous k-1 tokens)
and its shortened form :math:`h'` (the previous k-2), every level k = n, n-1, ..., 1 interpolates
with the level below (Kneser & Ney 1995; Chen & Goodman 1999, "interpolated Kneser-Ney"):

.. math::
    P_k(w \mid h) = \frac{\max(a_k(hw) - D_k, 0)}{A_k(h)} + \frac{D_k\, T_k(h)}{A_k(h)}\, P_{k-1}(w \mid h'),
    \qquad P_0(w) = 1/V,

where :math:`a_n` is the raw count of the n-gram and, below the top level, :math:`a_k(g)` is the
*continuation count* of the k-gram g: the number of distinct tokens seen before it. That is the
Kneser-Ney idea: a word that follows many different contexts ("the") is a better guess in an unseen
context than one that is frequent but always after the same word ("Francisco" after "san").
:math:`A_k(h) = \sum_w a_k(hw)`, :math:`T_k(h) = |\{w : a_k(hw) > 0\}|`, and a history never seen at
level k passes the lower level's probability through unchanged. The discount is Ney's estimate
:math:`D_k = n_1 / (n_1 + 2 n_2)` from the numbers of k-grams with a = 1 and a = 2. Every
:math:`P_k(\cdot \mid h)` sums to one over the vocabulary, so perplexities are comparable with a neural
model's over the same tokens and vocabulary.

The counts are kept as sorted NumPy arrays of integer n-gram codes (:math:`\sum_j w_j V^{k-1-j}`),
so fitting and scoring a million tokens take seconds, not minutes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["KneserNeyLM"]


@dataclass
class _Level:
    grams: np.ndarray  # sorted unique k-gram codes
    counts: np.ndarray  # a_k of each (float64)
    histories: np.ndarray  # sorted unique history codes (k-gram // V)
    totals: np.ndarray  # A_k(h)
    types: np.ndarray  # T_k(h)
    discount: float


def _codes(seq: np.ndarray, k: int, V: int) -> np.ndarray:
    """Code of every k-gram of ``seq`` (len(seq) - k + 1 of them)."""
    n = len(seq) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    code = np.zeros(n, dtype=np.int64)
    for j in range(k):
        code = code * V + seq[j : j + n]
    return code


def _lookup(keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` at ``queries`` in sorted ``keys`` (0 where absent), and whether each was found."""
    if len(keys) == 0:
        return np.zeros(len(queries)), np.zeros(len(queries), dtype=bool)
    pos = np.clip(np.searchsorted(keys, queries), 0, len(keys) - 1)
    found = keys[pos] == queries
    return np.where(found, values[pos], 0.0), found


class KneserNeyLM:
    """Interpolated Kneser-Ney n-gram language model over integer token ids (see the module docstring).

    >>> kn = KneserNeyLM(order=3).fit(train_ids, vocab_size=len(vocab))
    >>> kn.cross_entropy(test_ids, start_id=vocab.eos_id)  # mean nats per token; exp() is the perplexity
    """

    def __init__(self, order: int = 3, discount: float | None = None):
        if not isinstance(order, int) or isinstance(order, bool) or order < 1:
            raise ValueError(f"order must be an integer >= 1, got {order!r}")
        if discount is not None and not 0 < discount < 1:
            raise ValueError(f"discount must lie in (0, 1) or be None (Ney's estimate), got {discount!r}")
        self.order = order
        self.discount = discount

    def fit(self, ids, vocab_size: int) -> "KneserNeyLM":
        seq = np.asarray(ids, dtype=np.int64)
        V = int(vocab_size)
        if seq.ndim != 1 or len(seq) < self.order:
            raise ValueError(f"KneserNeyLM.fit needs a 1-D id sequence of at least {self.order} tokens")
        if seq.min() < 0 or seq.max() >= V:
            raise ValueError(f"ids must lie in [0, {V})")
        if float(V) ** self.order >= 2.0**62:
            raise ValueError(f"vocabulary of {V} is too large for order {self.order} (n-gram codes overflow int64)")
        self.vocab_size_ = V
        self.levels_: list[_Level] = []
        for k in range(1, self.order + 1):
            if k == self.order:
                grams, counts = np.unique(_codes(seq, k, V), return_counts=True)  # raw counts
            else:
                # continuation counts: distinct (k+1)-grams whose last k tokens are the k-gram
                longer = np.unique(_codes(seq, k + 1, V))
                grams, counts = np.unique(longer % V**k, return_counts=True)
            histories, inverse = np.unique(grams // V, return_inverse=True)
            counts = counts.astype(np.float64)
            totals = np.bincount(inverse, weights=counts, minlength=len(histories))
            types = np.bincount(inverse, minlength=len(histories)).astype(np.float64)
            self.levels_.append(_Level(grams, counts, histories, totals, types, self._discount(counts)))
        return self

    def _discount(self, counts: np.ndarray) -> float:
        if self.discount is not None:
            return self.discount
        n1, n2 = float(np.sum(counts == 1)), float(np.sum(counts == 2))
        if n1 + 2 * n2 == 0:
            return 0.5
        return float(np.clip(n1 / (n1 + 2 * n2), 0.05, 0.95))

    def probabilities(self, histories: np.ndarray, words: np.ndarray) -> np.ndarray:
        """P(words[i] | histories[i]); ``histories`` is (m, order - 1), oldest token first."""
        V = self.vocab_size_
        histories = np.asarray(histories, dtype=np.int64).reshape(len(words), self.order - 1)
        words = np.asarray(words, dtype=np.int64)
        p = np.full(len(words), 1.0 / V)
        for k, level in enumerate(self.levels_, start=1):
            history = np.zeros(len(words), dtype=np.int64)
            for j in range(self.order - k, self.order - 1):  # the last k - 1 history tokens
                history = history * V + histories[:, j]
            a, _ = _lookup(level.grams, level.counts, history * V + words)
            total, seen = _lookup(level.histories, level.totals, history)
            types, _ = _lookup(level.histories, level.types, history)
            seen &= total > 0
            D = level.discount
            safe = np.where(seen, total, 1.0)
            p = np.where(seen, (np.maximum(a - D, 0.0) + D * types * p) / safe, p)
        return p

    def log_probs(self, ids, *, start_id: int) -> np.ndarray:
        """log P(ids[i] | the order-1 tokens before it), the text preceded by ``start_id`` tokens."""
        seq = np.asarray(ids, dtype=np.int64)
        n = self.order - 1
        full = np.concatenate([np.full(n, start_id, dtype=np.int64), seq])
        if n:
            histories = np.lib.stride_tricks.sliding_window_view(full[:-1], n)  # (len(seq), n)
        else:
            histories = np.zeros((len(seq), 0), dtype=np.int64)
        return np.log(self.probabilities(histories, seq))

    def cross_entropy(self, ids, *, start_id: int) -> float:
        """Mean negative log-likelihood in nats per token of ``ids``."""
        return float(-self.log_probs(ids, start_id=start_id).mean())
