r"""CTC decoding: best path and prefix beam search, optionally fused with a character language model.

CTC (Graves et al. 2006). A network gives, for each of T frames, log-probabilities
:math:`y_t(k) = \ln p(k \mid x, t)` over V labels, one of them the blank :math:`\varnothing`. A path
:math:`\pi \in \{0..V-1\}^T` reads as the labelling :math:`\mathcal{B}(\pi)`: repeats merged, then
blanks dropped (``a a ∅ a b b -> a a b``). A labelling's probability sums over its paths:

.. math::
    p(l \mid x) = \sum_{\pi:\ \mathcal{B}(\pi) = l} \ \prod_{t=1}^{T} p(\pi_t \mid x, t)

(what ``torch.nn.functional.ctc_loss`` computes, negated and logged).

Best path (:func:`ctc_best_path`): :math:`\mathcal{B}(\arg\max_\pi \prod_t p(\pi_t))`, the argmax label
of each frame, collapsed. Fast, and usually close, but not the most probable labelling: with two
frames of p(∅) = 0.6, p(a) = 0.4, the best path is ``∅∅`` -> "" (0.36), yet "a" has
0.4·0.4 + 2·0.4·0.6 = 0.64.

Prefix beam search (:func:`ctc_prefix_beam_search`; Graves 2012 ch. 7, Hannun et al. 2014,
"First-pass large vocabulary continuous speech recognition using bi-directional recurrent DNNs").
Every prefix l kept after frame t carries two log-probabilities, of the paths of frames 1..t that
collapse to l and end in a blank, :math:`p_b^t(l)`, or in l's last label, :math:`p_{nb}^t(l)`
(:math:`p^t(l) = p_b^t(l) \oplus p_{nb}^t(l)`, :math:`\oplus` = log-add-exp; start
:math:`p_b^0(\emptyset) = 0`, :math:`p_{nb}^0(\emptyset) = -\infty`). From frame t-1 to t, for a
kept prefix l with last label e and every non-blank label c:

.. math::
    p_b^t(l) \mathrel{\oplus}= p^{t-1}(l) + y_t(\varnothing)             && \text{a blank: l stays}
    p_{nb}^t(l) \mathrel{\oplus}= p_{nb}^{t-1}(l) + y_t(e)                && \text{e repeated: merged, l stays}
    p_{nb}^t(l c) \mathrel{\oplus}= p^{t-1}(l) + y_t(c)        \ (c \ne e)   && \text{c appended}
    p_{nb}^t(l e) \mathrel{\oplus}= p_b^{t-1}(l) + y_t(e)                 && \text{e again needs a blank between}

(the sums also reach a prefix lc that is itself kept: its own paths and the new ones add). The
``beam`` prefixes of highest score survive each frame, scored with the language model's log-probability
:math:`\ln p_{lm}(l) = \sum_i \ln p_{lm}(l_i \mid l_{<i})` and an insertion bonus:

.. math::
    \text{score}(l) = p^t(l) + \alpha \ln p_{lm}(l) + \beta |l|
    \qquad \big(+\ \alpha \ln p_{lm}(\text{end} \mid l) \text{ after the last frame, when the LM has an end}\big)

The LM term depends on the labels only, not on the path, so it is kept apart from
:math:`p_b, p_{nb}` (Hannun et al. multiply it into :math:`p_{nb}` when a label is appended: the same
ranking) and each hypothesis reports its acoustic :math:`\ln p(l \mid x)` beside its score. The acoustic
value counts the paths whose every prefix stayed in the beam: with a beam wide enough to prune
nothing, it is the exact :math:`\ln p(l \mid x)`, and the search exact.

Language models. Anything with ``initial_state()`` and ``score(state, label) -> (log_prob, new_state)``
(label: a CTC label index, never the blank), and optionally ``final(state) -> log_prob`` (the text
ends here), is a language model here (:class:`LabelLM`). The search keeps one LM state per prefix (a
trie), so each (prefix, label) pair is scored once. Two are provided, in
:mod:`lstmkit.decoding.label_lm`: :class:`NGramCharLM` (add-k character n-grams, fitted on a list of
strings) and :class:`CharLM` (a character LSTM language model of ``lstmkit text lm --level char``).
"""
from __future__ import annotations

import heapq
import math
from typing import Iterable, NamedTuple

import numpy as np

from lstmkit.decoding.label_lm import CharLM, LabelLM, NGramCharLM, check_blank
from lstmkit.errors import ConfigError

__all__ = ["CTCHypothesis", "CharLM", "LabelLM", "NGramCharLM", "ctc_best_path", "ctc_best_path_frames",
           "ctc_collapse", "ctc_prefix_beam_search"]

_NEG_INF = float("-inf")


# ------------------------------------------------------------------------------------------ inputs
def _as_array(log_probs, name: str = "log_probs") -> np.ndarray:
    """A float64 NumPy copy of a torch tensor or an array (gradients dropped, moved to the CPU)."""
    if hasattr(log_probs, "detach"):  # torch.Tensor; torch is not imported for NumPy callers
        log_probs = log_probs.detach().cpu().double().numpy()
    array = np.asarray(log_probs, dtype=np.float64)
    if array.ndim not in (2, 3):
        raise ValueError(f"{name} must be (T, V) or (B, T, V), got shape {tuple(array.shape)}")
    if np.isnan(array).any():
        raise ValueError(f"{name} holds NaN: the network's output is broken")
    return array


def _frame_counts(lengths, batch: int, frames: int) -> list[int]:
    if lengths is None:
        return [frames] * batch
    if hasattr(lengths, "detach"):
        lengths = lengths.detach().cpu().numpy()
    counts = [int(n) for n in np.asarray(lengths).reshape(-1).tolist()]
    if len(counts) != batch:
        raise ValueError(f"log_probs holds {batch} sequences but lengths has {len(counts)} values")
    if any(not 0 <= n <= frames for n in counts):
        raise ValueError(f"lengths must lie in [0, {frames}] (the frame count), got {counts}")
    return counts


# --------------------------------------------------------------------------------------- best path
def ctc_collapse(path: Iterable[int], blank: int = 0) -> list[int]:
    r""":math:`\mathcal{B}(\pi)`: repeated labels merged, then blanks dropped (``[1, 1, 0, 1, 2, 2] -> [1, 1, 2]``
    with blank 0)."""
    return _collapse_with_frames(path, blank)[0]


def _collapse_with_frames(path: Iterable[int], blank: int) -> tuple[list[int], list[int]]:
    labels, frames, previous = [], [], None
    for t, k in enumerate(path):
        k = int(k)
        if k != blank and k != previous:
            labels.append(k)
            frames.append(t)  # the first frame of the run: where a streaming decoder knows the label
        previous = k
    return labels, frames


def ctc_best_path_frames(log_probs, blank: int = 0, lengths=None):
    """Best path decoding with the frame at which each label is emitted (the first frame of its run).

    ``log_probs`` (T, V) -> ``(labels, frames)``, two lists of ints of equal length;
    (B, T, V) with optional ``lengths`` (B,) (frames past a sequence's length are ignored) -> a list
    of such pairs. Scores may be log-probabilities, probabilities or logits alike: only the argmax of
    each frame counts. NumPy arrays and torch tensors are both accepted.
    """
    y = _as_array(log_probs)
    check_blank(blank, y.shape[-1])
    if y.ndim == 2:
        if lengths is not None:
            raise ValueError("lengths is for a batch (B, T, V); log_probs is a single sequence (T, V)")
        return _collapse_with_frames(y.argmax(axis=-1).tolist(), blank)
    counts = _frame_counts(lengths, y.shape[0], y.shape[1])
    best = y.argmax(axis=-1)  # (B, T)
    return [_collapse_with_frames(best[b, :n].tolist(), blank) for b, n in enumerate(counts)]


def ctc_best_path(log_probs, blank: int = 0, lengths=None) -> list[int] | list[list[int]]:
    """Best path (greedy) decoding: the argmax label of every frame, repeats merged, blanks dropped.

    ``log_probs`` (T, V) -> list[int]; (B, T, V) with optional ``lengths`` (B,) -> list[list[int]].
    :func:`ctc_best_path_frames` gives the emission frames too.
    """
    out = ctc_best_path_frames(log_probs, blank, lengths)
    return out[0] if isinstance(out, tuple) else [labels for labels, _ in out]


class CTCHypothesis(NamedTuple):
    """One labelling found by :func:`ctc_prefix_beam_search`."""
    labels: list[int]
    score: float              # what ranks: acoustic + lm_weight * LM + insertion_bonus * len(labels)
    acoustic_log_prob: float  # ln p(labels | x) over the paths the beam kept (exact with an unpruned beam)


def _logaddexp(a: float, b: float) -> float:
    if a < b:
        a, b = b, a
    if b == _NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


def _check_search(beam, nbest, lm_weight, insertion_bonus, prune_log_prob) -> None:
    for name, value in (("beam", beam), ("nbest", nbest)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if nbest > beam:
        raise ConfigError(f"nbest ({nbest}) cannot exceed the beam width ({beam}): the search keeps only "
                          f"{beam} labellings")
    for name, value in (("lm_weight", lm_weight), ("insertion_bonus", insertion_bonus)):
        if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value)):
            raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if prune_log_prob is not None and not (isinstance(prune_log_prob, (int, float, np.floating))
                                           and prune_log_prob <= 0):
        raise ConfigError(f"prune_log_prob must be a log-probability (<= 0) or None, got {prune_log_prob!r}")


def ctc_prefix_beam_search(log_probs, *, beam: int = 16, blank: int = 0, lm: LabelLM | None = None,
                           lm_weight: float = 0.5, insertion_bonus: float = 0.0,
                           prune_log_prob: float | None = None, nbest: int = 1) -> list[CTCHypothesis]:
    r"""The ``nbest`` most probable labellings of one sequence, best first (module docstring: equations).

    ``log_probs``: (T, V) log-probabilities (log-softmax output), NumPy or torch; computed in float64.
    ``lm``: a :class:`LabelLM` fused with weight ``lm_weight`` (:math:`\alpha`); ``insertion_bonus``
    (:math:`\beta`) is added per label, to offset the LM's pull toward short outputs.
    ``prune_log_prob``: at each frame, only labels with :math:`y_t(c) \ge` this value (and the frame's
    argmax label, so that the best path stays reachable) extend prefixes; e.g. ``math.log(1e-3)``.
    None: every label, every frame.
    Returns :class:`CTCHypothesis` tuples ``(labels, score, acoustic_log_prob)``.
    """
    _check_search(beam, nbest, lm_weight, insertion_bonus, prune_log_prob)
    y = _as_array(log_probs)
    if y.ndim != 2:
        raise ValueError(f"ctc_prefix_beam_search decodes one sequence (T, V), got shape {y.shape}; "
                         "loop over the batch")
    T, V = y.shape
    check_blank(blank, V)
    if T and np.abs(np.logaddexp.reduce(y, axis=1)).max() > 1e-3:
        raise ValueError("log_probs rows must be log-probabilities (each row's exp summing to 1); "
                         "apply log_softmax to the network's output first")
    others = [k for k in range(V) if k != blank]

    # The prefixes form a trie: node 0 is the empty prefix; node n extends parent_[n] by label_[n].
    # Per node: its LM log-prob (summed over its labels) and LM state, computed once when it is made.
    fuse = lm is not None and lm_weight != 0  # a zero weight: the LM is not even asked
    parent_, label_, length_ = [-1], [-1], [0]
    lm_total_, lm_state_ = [0.0], [lm.initial_state() if fuse else None]
    children: dict[tuple[int, int], int] = {}

    def child(node: int, label: int) -> int:
        key = (node, label)
        n = children.get(key)
        if n is None:
            n = len(parent_)
            children[key] = n
            parent_.append(node)
            label_.append(label)
            length_.append(length_[node] + 1)
            if fuse:
                lp, state = lm.score(lm_state_[node], label)
                lm_total_.append(lm_total_[node] + lp)
                lm_state_.append(state)
        return n

    def score(node: int, acoustic: float) -> float:
        return acoustic + (lm_weight * lm_total_[node] if fuse else 0.0) + insertion_bonus * length_[node]

    kept = {0: (0.0, _NEG_INF)}  # node -> (p_b, p_nb) after the frames read so far
    for t in range(T):
        yt = y[t].tolist()
        if prune_log_prob is None:
            candidates = others
        else:
            top = max(range(V), key=yt.__getitem__)  # kept even below the threshold: the best path stays reachable
            candidates = [k for k in others if yt[k] >= prune_log_prob or k == top]
        p_b: dict[int, float] = {}
        p_nb: dict[int, float] = {}
        y_blank = yt[blank]
        for node, (b, nb) in kept.items():
            total = _logaddexp(b, nb)
            p_b[node] = _logaddexp(p_b.get(node, _NEG_INF), total + y_blank)  # a blank: l stays
            last = label_[node]
            if node:
                p_nb[node] = _logaddexp(p_nb.get(node, _NEG_INF), nb + yt[last])  # last label repeated
            for c in candidates:
                n = child(node, c)
                extend = (b if c == last else total) + yt[c]  # the same label again needs a blank between
                p_nb[n] = _logaddexp(p_nb.get(n, _NEG_INF), extend)
        merged = {n: (p_b.get(n, _NEG_INF), p_nb.get(n, _NEG_INF)) for n in p_b.keys() | p_nb.keys()}
        best = heapq.nlargest(beam, merged, key=lambda n: (score(n, _logaddexp(*merged[n])), -n))
        kept = {n: merged[n] for n in best}

    hypotheses = []
    final = getattr(lm, "final", None) if fuse else None
    for node, (b, nb) in kept.items():
        acoustic = _logaddexp(b, nb)
        total = score(node, acoustic) + (lm_weight * final(lm_state_[node]) if final is not None else 0.0)
        labels, n = [], node
        while n:
            labels.append(label_[n])
            n = parent_[n]
        hypotheses.append(CTCHypothesis(labels[::-1], total, acoustic))
    hypotheses.sort(key=lambda h: -h.score)  # stable: ties keep the beam's order
    return hypotheses[:nbest]
