"""Language models over CTC labels, for :func:`lstmkit.decoding.ctc.ctc_prefix_beam_search` to fuse.

Anything with ``initial_state()`` and ``score(state, label) -> (log_prob, new_state)`` (label: a CTC
label index, never the blank), and optionally ``final(state) -> log_prob`` (the text ends here), is
one (:class:`LabelLM`). Two are provided: :class:`NGramCharLM` (add-k character n-grams fitted on a
list of strings) and :class:`CharLM` (a character LSTM language model of ``lstmkit text lm --level
char``). ``labels`` maps each CTC label index to its character (the blank's entry is ignored).
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Any, Iterable, Protocol, Sequence

import numpy as np

from lstmkit.errors import ConfigError, DataError

__all__ = ["CharLM", "LabelLM", "NGramCharLM", "check_blank"]


def check_blank(blank: int, vocab_size: int) -> None:
    """:class:`~lstmkit.errors.ConfigError` unless ``blank`` is a label index in [0, vocab_size)."""
    if not isinstance(blank, (int, np.integer)) or isinstance(blank, bool) or not 0 <= blank < vocab_size:
        raise ConfigError(f"blank must be a label index in [0, {vocab_size}), got {blank!r}")


class LabelLM(Protocol):
    """What :func:`ctc_prefix_beam_search` asks of a language model over CTC labels.

    States are opaque to the search; it never changes one, and it may score many labels from the
    same state (one per prefix extension), so ``score`` must not mutate ``state``.
    """

    def initial_state(self) -> Any:
        """The state before the first label (the start of a text)."""

    def score(self, state: Any, label: int) -> tuple[float, Any]:
        r"""``(ln p(label | state), the state after label)``; ``label`` is a CTC label index, not the blank."""

    # optional: def final(self, state) -> float: ln p(the text ends | state)


def _label_chars(labels: Sequence[str | None], blank: int) -> dict[int, str]:
    """CTC label index -> its character, the blank left out; a ConfigError unless each is one character."""
    check_blank(blank, len(labels))
    chars = {}
    for k, ch in enumerate(labels):
        if k == blank:
            continue
        if not isinstance(ch, str) or len(ch) != 1:
            raise ConfigError(f"CTC label {k} must be one character, got {ch!r} (labels holds one entry per "
                              f"label index, the blank's entry ignored)")
        chars[k] = ch
    if len(set(chars.values())) != len(chars):
        raise ConfigError(f"CTC labels must be distinct characters, got {''.join(chars.values())!r}")
    return chars


class NGramCharLM:
    r"""Add-k smoothed character n-gram model over the CTC labels (Jurafsky & Martin, ch. 3).

    .. math::
        p(c \mid h) = \frac{N(h\,c) + k}{N(h) + k\,|S|}

    h: the previous ``order - 1`` symbols (padded with a start symbol before the text), N: counts in the
    fitted texts, S: the symbols, i.e. the labels' characters plus the end of a text (when
    ``end_of_text``; then :meth:`final` is :math:`\ln p(\text{end} \mid h)`). Every probability is
    above zero, so no hypothesis is ruled out. Cheap: a state is the tuple h.

    ``labels[k]`` is the character of CTC label k (``labels[blank]`` is ignored), e.g.
    ``["_"] + list(" abcdefghijklmnopqrstuvwxyz'")``. The fitted texts must use those characters only
    (a :class:`~lstmkit.errors.DataError` names the others): characters are matched exactly, with no
    case folding.
    """

    _START = -1  # padding symbol before a text's first character
    _END = -2

    def __init__(self, labels: Sequence[str | None], order: int = 3, *, k: float = 0.1, blank: int = 0,
                 end_of_text: bool = True):
        self.labels, self.order, self.k, self.blank, self.end_of_text = labels, order, k, blank, end_of_text
        if not isinstance(order, int) or isinstance(order, bool) or order < 1:
            raise ConfigError(f"order must be a positive integer, got {order!r}")
        if not (isinstance(k, (int, float)) and 0 < k < math.inf):
            raise ConfigError(f"k (the add-k smoothing count) must be > 0, got {k!r}")
        self._index = {ch: i for i, ch in _label_chars(labels, blank).items()}
        self.counts_: Counter | None = None

    def fit(self, texts: Iterable[str]) -> "NGramCharLM":
        """Count the n-grams of ``texts`` (each read from its start, ending with the end symbol)."""
        if isinstance(texts, str):
            raise DataError("fit takes a list of texts, got one string; wrap it in a list")
        n = self.order - 1
        counts, contexts, unknown = Counter(), Counter(), set()
        for text in texts:
            unknown.update(ch for ch in text if ch not in self._index)
            symbols = [self._START] * n + [self._index.get(ch, self._START) for ch in text]
            if self.end_of_text:
                symbols.append(self._END)
            for i in range(n, len(symbols)):
                context = tuple(symbols[i - n : i])
                counts[context, symbols[i]] += 1
                contexts[context] += 1
        if unknown:
            shown = ", ".join(repr(ch) for ch in sorted(unknown)[:10])
            raise DataError(f"the texts hold characters that are no CTC label: {shown}; map them to labels "
                            f"(e.g. lower-case the texts) or drop them before fitting")
        self.counts_, self.context_counts_ = counts, contexts
        self.symbols_ = len(self._index) + bool(self.end_of_text)
        return self

    def _log_prob(self, context: tuple, symbol: int) -> float:
        if self.counts_ is None:
            raise ConfigError("this NGramCharLM is not fitted: call fit(texts) first")
        return math.log((self.counts_.get((context, symbol), 0) + self.k)
                        / (self.context_counts_.get(context, 0) + self.k * self.symbols_))

    def initial_state(self) -> tuple:
        return (self._START,) * (self.order - 1)

    def score(self, state: tuple, label: int) -> tuple[float, tuple]:
        return self._log_prob(state, label), (state + (label,))[1:]  # order 1: () stays ()

    def final(self, state: tuple) -> float:
        return self._log_prob(state, self._END) if self.end_of_text else 0.0


class _LSTMState:
    """A CharLM state: the recurrent state after a prefix and the next-character log-probs, or, until
    first asked, only the parent state and the character that extends it (computed lazily: most
    extensions are pruned without ever being extended themselves)."""

    __slots__ = ("hidden", "log_probs", "parent", "token")

    def __init__(self, hidden=None, log_probs=None, parent=None, token=None):
        self.hidden, self.log_probs, self.parent, self.token = hidden, log_probs, parent, token


class CharLM:
    r"""A character LSTM language model (``lstmkit text lm --level char``) as a :class:`LabelLM`.

    ``lm``: a fitted :class:`lstmkit.tasks.text.language_model.LanguageModel` of level ``"char"`` (e.g.
    ``LanguageModel.load(run_dir)``). ``labels[k]``: the character of CTC label k (``labels[blank]``
    ignored). Each character goes through the LM's own normalisation (NFC, lower-casing when the LM
    was trained lower-cased) and is looked up in its vocabulary. Characters the vocabulary lacks are,
    with ``unknown="error"`` (the default), a :class:`~lstmkit.errors.DataError` naming them: the LM
    never saw them in training, so its ``<unk>`` probability for them is near zero and would silently
    veto those labels; ``unknown="unk"`` scores them as ``<unk>`` anyway, knowingly.

    A text starts as the LM's training lines do (after its line-break token, :attr:`LanguageModel.start_id`)
    and, with ``end_of_text``, :meth:`final` is :math:`\ln p(\text{line break} \mid \text{prefix})`
    (0 when the LM's vocabulary has no line break). :math:`\ln p` is the log-softmax of the model's
    logits, in float64.

    The LSTM is stepped only when a state is first scored from (one step per prefix that the search
    extends, counted in :attr:`steps`), through the model's stateful ``forward(ids, state)``, which
    works for every recurrent cell the text LM offers.
    """

    def __init__(self, lm, labels: Sequence[str | None], *, blank: int = 0, unknown: str = "error",
                 end_of_text: bool = True):
        self.lm, self.labels, self.blank, self.unknown, self.end_of_text = lm, labels, blank, unknown, end_of_text
        if unknown not in ("error", "unk"):
            raise ConfigError(f"unknown must be 'error' or 'unk', got {unknown!r}")
        level = getattr(getattr(lm, "config", None), "level", None)
        if level != "char":
            raise ConfigError("CharLM needs a character-level language model (lstmkit text lm --level char), "
                              f"got {type(lm).__name__} of level {level!r}")
        lm.require_fitted()
        vocab, normalize = lm.vocab, lm.tokenizer.normalize
        self._ids: dict[int, int] = {}
        missing = []
        for label, ch in _label_chars(labels, blank).items():
            token = normalize(ch)
            if token in vocab:
                self._ids[label] = vocab[token]
            elif unknown == "unk":
                self._ids[label] = vocab.unk_id
            else:
                missing.append(ch)
        if missing:
            raise DataError(f"the language model's vocabulary lacks the characters {''.join(missing)!r} of the CTC "
                            "labels; train it on text that holds them, or pass unknown='unk' to score them as <unk>")
        self._model = lm.model.eval()
        self._start = lm.start_id
        self._end = vocab["\n"] if "\n" in vocab else None
        self.steps = 0  # LSTM steps run so far

    def _step(self, token: int, hidden):
        import torch

        with torch.no_grad():
            logits, hidden = self._model(torch.tensor([[token]]), hidden)  # (1, 1, V)
            log_probs = torch.log_softmax(logits[0, 0].double(), dim=-1).numpy()
        self.steps += 1
        return hidden, log_probs

    def _ready(self, state: _LSTMState) -> _LSTMState:
        if state.log_probs is None:
            state.hidden, state.log_probs = self._step(state.token, state.parent.hidden)
            state.parent = None  # the chain back to the start is no longer needed
        return state

    def initial_state(self) -> _LSTMState:
        return _LSTMState(*self._step(self._start, None))

    def score(self, state: _LSTMState, label: int) -> tuple[float, _LSTMState]:
        token = self._ids[label]
        return float(self._ready(state).log_probs[token]), _LSTMState(parent=state, token=token)

    def final(self, state: _LSTMState) -> float:
        if not self.end_of_text or self._end is None:
            return 0.0
        return float(self._ready(state).log_probs[self._end])


# ------------------------------------------------------------------------------- prefix beam search
