r"""One path per sentence: greedy search and sampling (temperature, top-k, top-p), batched.

Greedy takes :math:`\arg\max_v \log p(v \mid y_{<t}, x)` at every step (ties: the lowest token id).
Sampling draws from the tempered, filtered distribution

.. math::
    q(v) \propto \exp(\log p(v) / \tau) \quad \text{over the kept set } K

where top-k keeps the tokens whose logit is at least the k-th largest, then top-p (nucleus, Holtzman
et al. 2020) keeps, in decreasing :math:`q`, the smallest set whose mass reaches p: the n-th most
likely token is kept iff :math:`\sum_{m<n} q_{(m)} < p`. Tokens tied with the last kept one are kept
too (the rule of :func:`lstmkit.decoding.sampling.sample_token`), so the set depends on values only.
:math:`\tau = 0` is greedy. Draws come from a ``torch.Generator``: the same seed and batch give the
same hypotheses.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import Tensor

from lstmkit.decoding.common import Hypothesis, Step, check_limits, select_rows, trim_attention
from lstmkit.errors import ConfigError

__all__ = ["greedy_search", "sample_search", "top_k_top_p_filter"]


@torch.no_grad()  # a search never trains: no graph kept across the steps
def greedy_search(step: Step, state: Any, *, bos: int, eos: int, max_len: Tensor | int,
                  src_lengths: Tensor | None = None) -> list[Hypothesis]:
    """The most likely token at every step, one hypothesis per sentence (``score`` = ``log_prob``).

    ``src_lengths`` (B,), optional, cuts each returned attention to the sentence's real length.
    """
    return _one_path(step, state, lambda lp: lp.argmax(1), bos, eos, max_len, src_lengths)


@torch.no_grad()
def sample_search(step: Step, state: Any, *, bos: int, eos: int, max_len: Tensor | int,
                  temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                  generator: torch.Generator | None = None,
                  src_lengths: Tensor | None = None) -> list[Hypothesis]:
    """One sampled hypothesis per sentence, as the module docstring says.

    ``log_prob`` is under the model itself (untempered, unfiltered); ``score`` equals it. ``generator``
    must live on the decoder's device (one uniform draw per row and step).
    """
    check_sampling(temperature, top_k, top_p)

    def choose(lp: Tensor) -> Tensor:
        if temperature == 0:
            return lp.argmax(1)
        return _draw(top_k_top_p_filter(lp.double() / temperature, top_k, top_p), generator)

    return _one_path(step, state, choose, bos, eos, max_len, src_lengths)


def check_sampling(temperature: float, top_k: int | None, top_p: float | None) -> None:
    """:class:`~lstmkit.errors.ConfigError` for a negative temperature, top_k < 1, top_p outside (0, 1]."""
    if not temperature >= 0:
        raise ConfigError(f"temperature must be >= 0, got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise ConfigError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ConfigError(f"top_p must be in (0, 1] or None, got {top_p!r}")


def top_k_top_p_filter(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """``logits`` (R, V) with every token outside the kept set (module docstring) at -inf; a new tensor."""
    V = logits.size(1)
    if top_k is not None and top_k < V:
        kth = logits.topk(top_k, dim=1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, -math.inf)
    if top_p is not None and top_p < 1.0:
        # Only the head of each row matters: take the m best (m = 64, 256, ... ) until every row's
        # head holds mass p, instead of sorting all V (a full sort costs ~100x more per step).
        log_total = logits.logsumexp(1, keepdim=True)
        m = min(64, V)
        while True:
            head = logits.topk(m, dim=1).values                      # sorted, decreasing
            q = (head - log_total).exp()
            before = q.cumsum(1) - q                                 # mass of the better tokens
            if m == V or bool((before[:, -1] + q[:, -1] >= top_p).all()):
                break
            m = min(4 * m, V)
        n_kept = (before < top_p).sum(1, keepdim=True)               # >= 1: before[0] = 0 < p
        cut = head.gather(1, n_kept - 1)
        logits = logits.masked_fill(logits < cut, -math.inf)
    return logits


def _draw(logits: Tensor, generator: torch.Generator | None) -> Tensor:
    """One token per row from softmax(``logits``), by inverting the CDF with one uniform draw per row.

    (``torch.multinomial`` is ~30x slower for a 64 x 8000 batch.) A token at -inf has zero width, so
    it is never drawn.
    """
    cdf = torch.softmax(logits, 1).cumsum(1)
    u = torch.rand(logits.size(0), 1, generator=generator, dtype=cdf.dtype, device=cdf.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).clamp(max=logits.size(1) - 1).squeeze(1)


def _one_path(step: Step, state: Any, choose: Callable[[Tensor], Tensor], bos: int, eos: int,
              max_len: Tensor | int, src_lengths: Tensor | None) -> list[Hypothesis]:
    """The loop of greedy and sampling: one row per sentence, ``choose`` picks the next tokens, and a
    sentence leaves the batch as soon as it ends (EOS, or max_len tokens)."""
    limits, srcs, device = check_limits(max_len, state, src_lengths)
    tokens: list[list[int]] = [[] for _ in limits]
    log_probs = [0.0] * len(limits)
    attn_rows: list[list[Tensor]] = [[] for _ in limits]
    finished = [False] * len(limits)
    alive = [s for s, n in enumerate(limits) if n > 0]
    if len(alive) < len(limits):
        state = select_rows(state, torch.tensor(alive, dtype=torch.long, device=device))
    last = torch.full((len(alive),), bos, dtype=torch.long, device=device)
    while alive:
        lp, state, attn = step(last, state)
        nxt = choose(lp)
        chosen = lp.gather(1, nxt[:, None]).squeeze(1).double().tolist()
        keep = []
        for r, (s, tok) in enumerate(zip(alive, nxt.tolist())):
            log_probs[s] += chosen[r]  # float64, in time order: the same sum in any batch
            if attn is not None:
                attn_rows[s].append(attn[r])
            if tok == eos:
                finished[s] = True
                continue
            tokens[s].append(tok)
            if len(tokens[s]) < limits[s]:
                keep.append(r)
        if len(keep) < len(alive):
            index = torch.tensor(keep, dtype=torch.long, device=device)
            state, nxt, alive = select_rows(state, index), nxt.index_select(0, index), [alive[r] for r in keep]
        last = nxt
    return [Hypothesis(tokens[s], log_probs[s], log_probs[s],
                       trim_attention(torch.stack(attn_rows[s]), srcs, s) if attn_rows[s] else None, finished[s])
            for s in range(len(limits))]
