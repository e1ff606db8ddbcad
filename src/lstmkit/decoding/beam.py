r"""Batched beam search with GNMT scoring (Wu et al. 2016, eq. 14), n-best lists and n-gram blocking.

A finished hypothesis :math:`Y` of source :math:`X` is ranked by

.. math::
    s(Y, X) = \frac{\log P(Y \mid X)}{lp(Y)} + cp(X; Y), \qquad
    lp(Y) = \frac{(5 + |Y|)^\alpha}{(5 + 1)^\alpha}, \qquad
    cp(X; Y) = \beta \sum_{i=1}^{|X|} \log\Big(\min\big(\sum_{j=1}^{|Y|} p_{i,j},\ 1.0\big)\Big)

with :math:`|Y|` the scored tokens (EOS included when it ended), :math:`p_{i,j}` the attention of
target step :math:`j` on source position :math:`i`, and :math:`i` over the sentence's REAL length
only (``src_lengths``: batch padding never counts). :math:`\alpha = 0` ranks by raw log-prob;
:math:`\beta > 0` penalises sources left unattended. Live beams are ranked by :math:`\log P` alone:
they all have the same length, and GNMT applies the coverage term to finished hypotheses.

Batch independence: every operation here is row-wise (nothing mixes sentences), ties are broken by
the lowest flat index (earliest beam, then lowest token id) whatever ``torch.topk`` does with equal
values, and log-probs are summed in float64 in time order. A sentence's hypotheses therefore depend
on its batch only through what ``step`` returns for its rows.
"""
from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from lstmkit.decoding.common import Hypothesis, Step, check_limits, select_rows, trim_attention
from lstmkit.errors import ConfigError

__all__ = ["beam_search", "gnmt_length_penalty", "gnmt_coverage_penalty"]


def gnmt_length_penalty(length: int, alpha: float) -> float:
    r""":math:`lp = ((5 + |Y|) / 6)^\alpha` (1 for alpha 0)."""
    return ((5.0 + length) / 6.0) ** alpha


def gnmt_coverage_penalty(coverage: list[float], beta: float) -> float:
    r""":math:`cp = \beta \sum_i \log \min(c_i, 1)` over the summed attention ``coverage`` of the real
    source positions; a position never attended (:math:`c_i = 0`) gives -inf, as the formula does."""
    if beta == 0:
        return 0.0
    return beta * sum(math.log(min(c, 1.0)) if c > 0 else -math.inf for c in coverage)


@torch.no_grad()  # a search never trains: no graph kept across the steps
def beam_search(step: Step, state: Any, *, bos: int, eos: int, max_len: Tensor | int, beam: int = 5,
                n_best: int = 1, length_penalty: float = 0.6, coverage_penalty: float = 0.0,
                no_repeat_ngram_size: int = 0, min_len: int = 0,
                src_lengths: Tensor | None = None) -> list[list[Hypothesis]]:
    """Beam search of width ``beam``: for each sentence its ``n_best`` best hypotheses, best first.

    ``state`` has one row per sentence; it is expanded to ``beam`` rows per sentence after the first
    step. Each step scores every continuation of every live beam, ``log P(prefix) + log p(token)``,
    and takes the sentence's ``2 * beam`` best candidates. EOS among the first ``beam`` of them become
    finished hypotheses; the first ``beam`` non-EOS ones are the next live beams (2 * beam makes sure
    there are enough). At max_len the live beams become unfinished hypotheses (``finished=False``),
    ranked with the finished ones. Ties between hypotheses: the one found first wins.

    Early stop, exact: a sentence is done when it has ``n_best`` hypotheses and no live beam can beat
    the worst of them. A live beam's final score is at most ``log P / lp(max_len)`` (later tokens only
    lower ``log P <= 0``, a longer hypothesis divides by at most ``lp(max_len)``, and ``cp <= 0``), so
    stopping then returns what running on to max_len would. Done sentences leave the batch.

    ``min_len``: EOS is forbidden before that many tokens. ``no_repeat_ngram_size`` n > 0: a token
    that would repeat an n-gram already in the hypothesis gets -inf. ``src_lengths`` (B,): the real
    source lengths; the coverage penalty sums over them and returned attention is cut to them
    (without, all S columns count). ``n_best > beam`` is a :class:`~lstmkit.errors.ConfigError`.
    """
    _check_beam(beam, n_best, length_penalty, coverage_penalty, no_repeat_ngram_size, min_len)
    limits, srcs, device = check_limits(max_len, state, src_lengths)
    run = _Kept(beam, n_best, length_penalty, coverage_penalty, limits, srcs)
    alive = [s for s, n in enumerate(limits) if n > 0]
    state = select_rows(state, torch.tensor(alive, dtype=torch.long, device=device))
    beam_lp = torch.zeros(len(alive), 1, dtype=torch.float64, device=device)  # (sentences, beams); 1 at t=0
    live = _Live(len(alive), device)
    t = 0
    while alive:
        n, nb = beam_lp.shape
        lp, state, attn = step(live.hist[:, -1] if t else torch.full((n,), bos, device=device), state)
        if coverage_penalty and attn is None:
            raise ConfigError("coverage_penalty needs a step function that returns attention weights")
        live.attend(attn)
        lp = lp.to(torch.float64, copy=True)  # ours to change in place: bans, then the prefix scores
        _ban(lp, live.hist, eos, t < min_len, no_repeat_ngram_size)
        V = lp.size(1)
        lp += beam_lp.view(-1, 1)  # log P(prefix) + log p(token), per row (float64: no rounding to speak of)
        val, idx = _topk_stable(lp.view(n, nb * V), min(2 * beam, nb * V))
        origin, token = idx // V, idx % V
        run.finish_eos(alive, val, origin, token, nb, t, live, eos)
        beam_lp, rows, new_tok = _next_beams(val, origin, token, nb, beam, eos)
        live.select(rows, new_tok)
        keep = run.check_done(alive, beam_lp, t, live)
        if len(keep) < n:  # done sentences leave the batch: their rows are dropped with the reorder
            sent = torch.tensor(keep, dtype=torch.long, device=device)
            sub = (sent[:, None] * beam + torch.arange(beam, device=device)).view(-1)
            beam_lp, rows = beam_lp.index_select(0, sent), rows.index_select(0, sub)
            alive = [alive[i] for i in keep]
            live.select(sub)
        state = select_rows(state, rows)
        t += 1
    return run.best()


def _check_beam(beam, n_best, alpha, beta, no_repeat, min_len) -> None:
    for name, v, low in (("beam", beam, 1), ("n_best", n_best, 1), ("no_repeat_ngram_size", no_repeat, 0),
                         ("min_len", min_len, 0)):
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise ConfigError(f"{name} must be an integer >= {low}, got {v!r}")
    if n_best > beam:
        raise ConfigError(f"n_best ({n_best}) cannot exceed the beam width ({beam}): a beam search keeps "
                          f"only `beam` hypotheses per step; raise the beam or lower n_best")
    if not alpha >= 0 or not beta >= 0:
        raise ConfigError(f"length_penalty and coverage_penalty must be >= 0, got {alpha!r} and {beta!r}")


def _topk_stable(x: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The k largest of each row of ``x`` (n, N), best first, equal values in increasing column order.

    ``torch.topk`` does not promise which of several equal values it returns. When a row's k-th and
    (k+1)-th values differ, the chosen set is unambiguous and only its order needs fixing; otherwise
    (rare with real log-probs, common with hand-set tables and -inf) the row takes the lowest-index
    elements equal to the k-th value. O(N) either way, no full sort.
    """
    N = x.size(1)
    val, idx = x.topk(min(k + 1, N), dim=1)
    if k < N:
        tied = (val[:, k - 1] == val[:, k]).nonzero()[:, 0]  # rows whose cut splits equal values
        val, idx = val[:, :k].clone(), idx[:, :k].clone()
        if len(tied):
            val[tied], idx[tied] = _lowest_ties(x.index_select(0, tied), k)
    idx, pos = idx.sort(dim=1)  # then: by value, decreasing, equal values by column, increasing
    val = val.gather(1, pos)
    order = val.argsort(dim=1, descending=True, stable=True)
    return val.gather(1, order), idx.gather(1, order)


def _lowest_ties(x: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Per row: the elements above the k-th value, and the lowest-index ones equal to it (k in all)."""
    kth = x.topk(k, dim=1).values[:, -1:]
    above, tie = x > kth, x == kth
    keep = above | (tie & (tie.cumsum(1) <= k - above.sum(1, keepdim=True)))
    idx = keep.nonzero()[:, 1].view(x.size(0), k)  # row-major: ascending column within a row
    return x.gather(1, idx), idx


def _ban(lp: Tensor, hist: Tensor, eos: int, no_eos: bool, n: int) -> None:
    """Set to -inf, in place: EOS (``no_eos``: before min_len) and each token that would complete an
    n-gram already in the row's history ``hist`` (R, t)."""
    if no_eos:
        lp[:, eos] = -math.inf
    t = hist.size(1)
    if n and t >= n:  # a full n-gram in the history to repeat
        windows = hist.unfold(1, n, 1)                                              # (R, t-n+1, n)
        row, at = (windows[:, :, :-1] == hist[:, None, t - n + 1:]).all(-1).nonzero(as_tuple=True)
        lp[row, windows[row, at, -1]] = -math.inf  # a few (row, token) pairs: no dense (R, V) mask


def _next_beams(val: Tensor, origin: Tensor, token: Tensor, nb: int, beam: int, eos: int
                ) -> tuple[Tensor, Tensor, Tensor]:
    """The first ``beam`` non-EOS candidates of each sentence: their log-probs (n, beam), the rows they
    continue (n * beam,) and their tokens (n * beam,). Missing ones (tiny vocabulary, bans) are dead
    beams at -inf: they never finish and their continuations stay at -inf."""
    n = val.size(0)
    dead_tok = 0 if eos != 0 else 1
    val = torch.cat([val, val.new_full((n, beam), -math.inf)], 1)
    origin = torch.cat([origin, origin.new_zeros(n, beam)], 1)
    token = torch.cat([token, token.new_full((n, beam), dead_tok)], 1)
    non_eos = token != eos
    pick = (non_eos & (non_eos.cumsum(1) <= beam)).nonzero()[:, 1].view(n, beam)
    rows = (torch.arange(n, device=val.device)[:, None] * nb + origin.gather(1, pick)).view(-1)
    return val.gather(1, pick), rows, token.gather(1, pick).view(-1)


class _Live:
    """What the search keeps per live row: the tokens so far (R, t), the attention rows (R, t, S) and
    the coverage, the attention summed over the steps (R, S) in float64 and in time order."""

    def __init__(self, n: int, device: torch.device):
        self.hist = torch.zeros(n, 0, dtype=torch.long, device=device)
        self.attn: Tensor | None = None
        self.cov: Tensor | None = None

    def attend(self, attn: Tensor | None) -> None:
        """Add this step's attention (rows in the order the step returned them)."""
        if attn is not None:
            self.attn = attn[:, None] if self.attn is None else torch.cat([self.attn, attn[:, None]], 1)
            self.cov = attn.double() if self.cov is None else self.cov + attn.double()

    def select(self, rows: Tensor, new_tokens: Tensor | None = None) -> None:
        """Keep (and reorder) ``rows``, then append ``new_tokens``, one per kept row."""
        self.hist = self.hist.index_select(0, rows)
        if new_tokens is not None:
            self.hist = torch.cat([self.hist, new_tokens[:, None]], 1)
        self.attn = None if self.attn is None else self.attn.index_select(0, rows)
        self.cov = None if self.cov is None else self.cov.index_select(0, rows)

    def row(self, r: int) -> tuple[list[int], Tensor | None, Tensor | None]:
        return (self.hist[r].tolist(), None if self.attn is None else self.attn[r],
                None if self.cov is None else self.cov[r])


class _Kept:
    """Per sentence, the best hypotheses so far (at most n_best) and the done test."""

    def __init__(self, beam, n_best, alpha, beta, limits, srcs):
        self.beam, self.n_best, self.alpha, self.beta = beam, n_best, alpha, beta
        self.limits, self.srcs = limits, srcs
        # (sort key, hypothesis); a sentence with max_len 0 gets its only possible, empty, hypothesis
        self.kept: list[list[tuple[tuple, Hypothesis]]] = [
            [] if n > 0 else [((0.0, 0, 0), Hypothesis([], 0.0, 0.0, None, False))] for n in limits]

    def best(self) -> list[list[Hypothesis]]:
        return [[h for _, h in kept] for kept in self.kept]

    def add(self, s: int, found: tuple, row: tuple, log_prob: float, finished: bool) -> None:
        """Score a hypothesis of sentence ``s`` (``row``: its tokens, attention and coverage) and keep it
        if it is among the n_best; ``found`` (step, rank) breaks ties: the one found first wins."""
        tokens, attention, cov = row
        score = log_prob / gnmt_length_penalty(len(tokens) + finished, self.alpha)
        if self.beta:  # cov is there: checked at the first step
            score += gnmt_coverage_penalty((cov if self.srcs is None else cov[: self.srcs[s]]).tolist(), self.beta)
        kept = self.kept[s]
        if len(kept) == self.n_best and (-score,) + found >= kept[-1][0]:
            return
        hyp = Hypothesis(tokens, log_prob, score, trim_attention(attention, self.srcs, s), finished)
        kept.append(((-score,) + found, hyp))
        kept.sort(key=lambda x: x[0])
        del kept[self.n_best:]

    def finish_eos(self, alive, val, origin, token, nb, t, live: _Live, eos) -> None:
        """EOS among each sentence's first ``beam`` candidates become finished hypotheses (``live`` is
        still in the rows' order before this step's reorder)."""
        top = min(self.beam, val.size(1))
        for i, rank in ((token[:, :top] == eos) & torch.isfinite(val[:, :top])).nonzero().tolist():
            row = live.row(i * nb + int(origin[i, rank]))
            self.add(alive[i], (t, rank), row, float(val[i, rank]), True)

    def check_done(self, alive, beam_lp, t, live: _Live) -> list[int]:
        """Indices (into ``alive``) of the sentences still searching; the others are settled here."""
        keep = []
        for i, (s, lps) in enumerate(zip(alive, beam_lp.tolist())):
            if t + 1 >= self.limits[s]:  # max_len reached: the live beams end unfinished
                for b, v in enumerate(lps):
                    if v > -math.inf:
                        self.add(s, (t, self.beam + b), live.row(i * self.beam + b), v, False)
                continue
            best, kept = max(lps), self.kept[s]
            bound = best / gnmt_length_penalty(self.limits[s], self.alpha)  # see beam_search: early stop
            if best > -math.inf and (len(kept) < self.n_best or bound > -kept[-1][0][0]):
                keep.append(i)
        return keep
