"""What every search shares: the step-function protocol, :class:`Hypothesis`, the state reordering.

A decoder is driven through one step function, so a search knows nothing of LSTMs or attention::

    step(tokens: LongTensor (R,), state) -> (log_probs (R, V), state, attention (R, S) | None)

``R`` rows are decoded at once (sentences x beams): ONE step call per time step for the whole batch.
``log_probs`` are log-softmax outputs. ``state`` is any nesting of tuples/lists/dicts of tensors whose
first dimension is ``R``; the searches expand, reorder (by beam origin) and drop rows with
:func:`select_rows`. ``attention[r, i]`` is the weight row ``r`` gave source position ``i`` while
predicting this step's token (or None when the decoder has no attention).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from lstmkit.errors import ConfigError

__all__ = ["Hypothesis", "Step", "select_rows", "max_lengths"]

Step = Callable[[Tensor, Any], "tuple[Tensor, Any, Tensor | None]"]


@dataclass
class Hypothesis:
    """One output sequence of a search."""
    tokens: list[int]         # without BOS, without the final EOS
    log_prob: float           # sum of the token log-probs (EOS included when it ended), float64
    score: float              # what ranks hypotheses (beam: GNMT score; greedy/sampling: log_prob)
    attention: Tensor | None  # (len(tokens) + finished, S) rows; S = the real source length with src_lengths
    finished: bool            # ended with EOS (False: stopped at max_len)


def select_rows(state: Any, index: Tensor) -> Any:
    """``state`` with every tensor replaced by ``tensor.index_select(0, index)`` (nesting kept).

    Tuples (named ones too), lists and dicts are rebuilt; anything that is not a tensor (None, ints)
    passes through unchanged.
    """
    if isinstance(state, Tensor):
        return state.index_select(0, index)
    if isinstance(state, dict):
        return {k: select_rows(v, index) for k, v in state.items()}
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(select_rows(v, index) for v in state))
    if isinstance(state, (tuple, list)):
        return type(state)(select_rows(v, index) for v in state)
    return state


def max_lengths(src_lengths: Tensor, a: float = 1.5, b: int = 10) -> Tensor:
    """Per-sentence output limit ``floor(a * src_length + b)``, at least 1 (LongTensor (B,)).

    The limit counts generated tokens with the EOS: every hypothesis has
    ``len(tokens) + finished <= max_len``, i.e. at most max_len step calls for the sentence.
    """
    if not (a >= 0 and b >= 0):
        raise ConfigError(f"max length a * src + b needs a >= 0 and b >= 0, got a={a!r}, b={b!r}")
    return (torch.as_tensor(src_lengths).double() * a + b).floor().long().clamp(min=1)


def first_tensor(state: Any) -> Tensor | None:
    """The first tensor met in ``state`` (depth first), or None."""
    if isinstance(state, Tensor):
        return state
    items = state.values() if isinstance(state, dict) else state if isinstance(state, (tuple, list)) else ()
    for v in items:
        t = first_tensor(v)
        if t is not None:
            return t
    return None


def check_limits(max_len: Tensor | int, state: Any, src_lengths: Tensor | None
                 ) -> tuple[list[int], list[int] | None, torch.device]:
    """``max_len`` (an int applies to every sentence) and ``src_lengths`` as lists, and the state's device
    (the searches build their index tensors there). A row count that does not match is a ValueError."""
    first = first_tensor(state)
    rows = None if first is None else first.size(0)
    if isinstance(max_len, int) and rows is not None:
        limits = [max_len] * rows
    else:
        limits = [int(n) for n in torch.as_tensor(max_len).reshape(-1).tolist()]
    srcs = None if src_lengths is None else [int(n) for n in torch.as_tensor(src_lengths).reshape(-1).tolist()]
    for name, values in (("max_len", limits), ("src_lengths", srcs)):
        if values is not None and rows is not None and len(values) != rows:
            raise ValueError(f"state has {rows} rows (one per sentence) but {name} has {len(values)} values")
    return limits, srcs, (first.device if first is not None else torch.device("cpu"))


def trim_attention(attention: Tensor | None, srcs: list[int] | None, s: int) -> Tensor | None:
    """A hypothesis's attention rows cut to sentence ``s``'s real source length (batch padding dropped),
    copied so that it holds no view of the batch's tensors."""
    if attention is None:
        return None
    return (attention if srcs is None else attention[:, : srcs[s]]).clone()
