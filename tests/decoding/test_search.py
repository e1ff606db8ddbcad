"""Batched searches over a step function (lstmkit.decoding.search): greedy, beam (GNMT), sampling."""
import itertools
import math
from collections import namedtuple

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstmkit.decoding.beam import _topk_stable
from lstmkit.decoding.search import (
    beam_search, gnmt_coverage_penalty, gnmt_length_penalty, greedy_search, max_lengths, sample_search,
    select_rows, top_k_top_p_filter,
)
from lstmkit.errors import ConfigError

BOS, EOS, A, B, C = 0, 1, 2, 3, 4
TINY = 1e-6  # "never": a finite log-prob far below the others


def table_step(table, V=5, default=None, calls=None):
    """A step function from a table {generated prefix (tuple, no BOS): probabilities over V}.

    The state is the sequence fed so far, (R, t) with BOS first: the search reorders it like any
    state, so the table lookup checks the reordering too. Unknown prefixes get ``default``
    (EOS almost surely). ``calls`` collects the number of rows of each call.
    """
    default = default or {EOS: 1.0}

    def step(tokens, state):
        (seq,) = state
        seq = torch.cat([seq, tokens[:, None]], 1)
        if calls is not None:
            calls.append(len(tokens))
        rows = []
        for prefix in seq[:, 1:].tolist():
            probs = table.get(tuple(prefix), default)
            rows.append([probs.get(v, TINY) for v in range(V)])
        p = torch.tensor(rows, dtype=torch.float64)
        return (p / p.sum(1, keepdim=True)).log().float(), (seq,), None
    return step


def start(n):
    return (torch.zeros(n, 0, dtype=torch.long),)


def lengths(*n):
    return torch.tensor(n)


# A model where greedy is provably suboptimal: greedy takes A (0.6) and then at best 0.35,
# 0.6 * 0.35 = 0.21, while B then EOS has 0.4 * 0.9 = 0.36.
TRAP = {(): {A: 0.6, B: 0.4}, (A,): {EOS: 0.35, A: 0.35, B: 0.3}, (B,): {EOS: 0.9, A: 0.1}}


def test_beam_finds_what_greedy_misses():
    step = table_step(TRAP)
    g = greedy_search(step, start(1), bos=BOS, eos=EOS, max_len=lengths(10))[0]
    assert g.tokens == [A] and g.finished  # the EOS/A tie at 0.35 goes to the lowest id, EOS
    assert g.log_prob == pytest.approx(math.log(0.6 * 0.35), abs=1e-5) and g.score == g.log_prob
    best = beam_search(step, start(1), bos=BOS, eos=EOS, max_len=lengths(10), beam=2, length_penalty=0)[0]
    assert len(best) == 1 and best[0].tokens == [B] and best[0].finished
    assert best[0].score == pytest.approx(math.log(0.36), abs=1e-5) and best[0].score > g.score
    one = beam_search(step, start(1), bos=BOS, eos=EOS, max_len=lengths(10), beam=1, length_penalty=0)[0]
    assert one[0].tokens == [A]  # width 1 falls in the same trap


def test_n_best_above_beam_is_a_config_error():
    with pytest.raises(ConfigError, match=r"n_best \(3\) cannot exceed the beam width \(2\)"):
        beam_search(table_step(TRAP), start(1), bos=BOS, eos=EOS, max_len=lengths(5), beam=2, n_best=3)
    bad = [dict(beam=0), dict(length_penalty=-0.1), dict(coverage_penalty=-1.0), dict(no_repeat_ngram_size=-1),
           dict(min_len=1.5)]
    for kwargs in bad:
        with pytest.raises(ConfigError):
            beam_search(table_step(TRAP), start(1), bos=BOS, eos=EOS, max_len=lengths(5), **kwargs)
    with pytest.raises(ConfigError, match="coverage_penalty needs"):  # the step gives no attention
        beam_search(table_step(TRAP), start(1), bos=BOS, eos=EOS, max_len=lengths(5), coverage_penalty=0.2)


# Y1 = EOS now: 0.4 (|Y| = 1); Y2 = A B EOS: 0.6 * 0.7 * 0.8 = 0.336 (|Y| = 3); A EOS: 0.18 (|Y| = 2).
LONG = {(): {EOS: 0.4, A: 0.6}, (A,): {B: 0.7, EOS: 0.3}, (A, B): {EOS: 0.8, C: 0.2}}


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_length_penalty_changes_the_ranking(alpha):
    hyps = beam_search(table_step(LONG), start(1), bos=BOS, eos=EOS, max_len=lengths(10), beam=3, n_best=3,
                       length_penalty=alpha)[0]
    by_hand = {(): math.log(0.4) / 1.0,                                   # lp(1) = 1 for any alpha
               (A, B): math.log(0.336) / ((5 + 3) / 6) ** alpha,
               (A,): math.log(0.18) / ((5 + 2) / 6) ** alpha}
    # alpha 0: -0.916 (Y1) > -1.091 (Y2) > -1.715;  alpha 1: -0.818 (Y2) > -0.916 (Y1) > -1.470
    expected = [(), (A, B), (A,)] if alpha == 0 else [(A, B), (), (A,)]
    assert [tuple(h.tokens) for h in hyps] == expected
    for h in hyps:
        assert h.finished and h.score == pytest.approx(by_hand[tuple(h.tokens)], abs=1e-5)
    assert gnmt_length_penalty(3, 1.0) == pytest.approx(8 / 6) and gnmt_length_penalty(7, 0.0) == 1.0


def test_early_stop_waits_for_what_length_normalisation_can_lift():
    # EOS now and A A EOS have the same probability 0.5; with alpha = 1 the longer one scores
    # log 0.5 / (8/6) > log 0.5. After step 1 the search holds EOS-now (n_best = 1) and a live beam
    # A as likely: only the bound with lp(max_len) sees that A may still win.
    table = {(): {EOS: 0.5, A: 0.5}, (A,): {A: 1.0}, (A, A): {EOS: 1.0}}
    best = beam_search(table_step(table), start(1), bos=BOS, eos=EOS, max_len=lengths(6), beam=2,
                       length_penalty=1.0)[0][0]
    assert best.tokens == [A, A] and best.score == pytest.approx(math.log(0.5) * 6 / 8, abs=1e-5)


def test_coverage_penalty_by_hand_over_the_real_source_only():
    # Source of 3 real positions padded to 4. Step 1 (token A) and step 2 (EOS) attend as below:
    # coverage (1.1, 0.4, 0.5) -> cp = beta * (log 1 + log 0.4 + log 0.5) = beta * log 0.2.
    att = torch.tensor([[0.5, 0.3, 0.2, 0.0], [0.6, 0.1, 0.3, 0.0]])
    inner = table_step({(): {A: 0.9, EOS: 0.1}, (A,): {EOS: 1.0}})

    def step(tokens, state):
        lp, new, _ = inner(tokens, state)
        return lp, new, att[new[0].size(1) - 1].expand(len(tokens), 4)

    h = beam_search(step, start(1), bos=BOS, eos=EOS, max_len=lengths(5), beam=2, length_penalty=0.6,
                    coverage_penalty=0.5, src_lengths=lengths(3))[0][0]
    assert h.tokens == [A] and h.finished
    lp = ((5 + 2) / 6) ** 0.6
    assert h.score == pytest.approx(h.log_prob / lp + 0.5 * math.log(0.2), abs=1e-6)
    assert torch.equal(h.attention, att[:, :3])  # cut to the real source length
    assert gnmt_coverage_penalty([1.1, 0.4, 0.5], 0.5) == pytest.approx(0.5 * math.log(0.2))
    assert gnmt_coverage_penalty([1.0, 0.0], 1.0) == -math.inf and gnmt_coverage_penalty([0.0], 0.0) == 0.0


def test_no_repeat_ngram_blocks_a_repeat():
    # The model loves the loop A B A B ...; EOS is unlikely until 4 tokens.
    loop = {(): {A: 0.9, C: 0.1}}
    for n in range(1, 6):
        for prefix in itertools.product([A, B, C], repeat=n):
            nxt = {A: B, B: A, C: A}[prefix[-1]]
            loop[prefix] = {nxt: 0.8, C: 0.1, EOS: 0.1} if n < 4 else {EOS: 0.9, nxt: 0.1}
    free = beam_search(table_step(loop), start(1), bos=BOS, eos=EOS, max_len=lengths(8), beam=3)[0][0]
    assert free.tokens == [A, B, A, B]
    for size in (2, 3):
        hyps = beam_search(table_step(loop), start(1), bos=BOS, eos=EOS, max_len=lengths(8), beam=3, n_best=3,
                           no_repeat_ngram_size=size)[0]
        for h in hyps:
            grams = [tuple(h.tokens[i:i + size]) for i in range(len(h.tokens) - size + 1)]
            assert len(grams) == len(set(grams)), (size, h.tokens)
    assert beam_search(table_step(loop), start(1), bos=BOS, eos=EOS, max_len=lengths(8), beam=3,
                       no_repeat_ngram_size=2)[0][0].tokens == [A, B, A, C]  # A B A [B] blocked


def test_min_len_forbids_an_early_eos():
    h = beam_search(table_step(LONG), start(1), bos=BOS, eos=EOS, max_len=lengths(10), beam=2, min_len=2,
                    length_penalty=0)[0][0]
    assert h.tokens == [A, B]


def test_max_len_per_sentence_in_one_batch():
    never_ends = table_step({}, default={A: 0.5, B: 0.3, C: 0.2})
    limits = lengths(1, 3, 6)
    for hyps in (greedy_search(never_ends, start(3), bos=BOS, eos=EOS, max_len=limits),
                 sample_search(never_ends, start(3), bos=BOS, eos=EOS, max_len=limits,
                               generator=torch.Generator().manual_seed(0)),
                 [hs[0] for hs in beam_search(never_ends, start(3), bos=BOS, eos=EOS, max_len=limits, beam=2)]):
        assert [len(h.tokens) for h in hyps] == [1, 3, 6] and not any(h.finished for h in hyps)
    ends = beam_search(table_step(LONG), start(2), bos=BOS, eos=EOS, max_len=lengths(2, 3), beam=3, n_best=3,
                       length_penalty=0)
    assert all(len(h.tokens) + h.finished <= n for hs, n in zip(ends, (2, 3)) for h in hs)
    # (A, B) is cut unfinished at 2 and, lacking its EOS factor, outranks EOS now (0.42 > 0.4)
    assert [(tuple(h.tokens), h.finished) for h in ends[0]] == [((A, B), False), ((), True), ((A,), True)]
    assert [(tuple(h.tokens), h.finished) for h in ends[1]] == [((), True), ((A, B), True), ((A,), True)]
    assert max_lengths(lengths(0, 2, 10), a=1.5, b=2).tolist() == [2, 5, 17]
    assert max_lengths(lengths(4)).tolist() == [16]  # default a = 1.5, b = 10
    with pytest.raises(ConfigError):
        max_lengths(lengths(3), a=-1.0)


class RandomDecoder:
    """A prefix-dependent random step function (a tanh RNN), no attention."""

    def __init__(self, V=4, H=6, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.emb = torch.randn(V, H, generator=g, dtype=torch.float64)
        self.rec = torch.randn(H, H, generator=g, dtype=torch.float64) * 0.8
        self.out = torch.randn(H, V, generator=g, dtype=torch.float64) * 1.5

    def step(self, tokens, state):
        (h,) = state
        h = torch.tanh(h @ self.rec + self.emb[tokens])
        return torch.log_softmax(h @ self.out, 1), (h,), None

    def log_prob(self, seq, h):
        total, tok = 0.0, BOS
        for nxt in seq:
            lp, (h,), _ = self.step(torch.tensor([tok]), (h,))
            total, tok = total + float(lp[0, nxt]), nxt
        return total


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
def test_n_best_equals_exhaustive_search_when_the_beam_holds_everything(alpha):
    # V = 4 (3 non-EOS tokens), max_len 4: at most 27 live prefixes and 108 candidates per step, so a
    # beam of 108 never prunes: its n-best must be the best of all 3 + 9 + 27 + 81 finished and 81
    # unfinished hypotheses. Also checks that the early stop loses nothing: with alpha > 0 a longer
    # hypothesis can overtake, so stopping at the first n_best finished would be wrong.
    model, h0 = RandomDecoder(), torch.randn(2, 6, dtype=torch.float64)
    got = beam_search(model.step, (h0,), bos=BOS, eos=EOS, max_len=lengths(4, 4), beam=108, n_best=8,
                      length_penalty=alpha)
    every = [(list(p), True) for n in range(4) for p in itertools.product([0, 2, 3], repeat=n)]
    every += [(list(p), False) for p in itertools.product([0, 2, 3], repeat=4)]
    for s in range(2):
        scored = sorted(((model.log_prob(tokens + [EOS] * ended, h0[s:s + 1])
                          / gnmt_length_penalty(len(tokens) + ended, alpha), tokens, ended)
                         for tokens, ended in every), key=lambda x: -x[0])
        assert [(h.tokens, h.finished) for h in got[s]] == [(t, e) for _, t, e in scored[:8]]
        assert [h.score for h in got[s]] == pytest.approx([x[0] for x in scored[:8]], abs=1e-12)
        assert all(a.score >= b.score for a, b in zip(got[s], got[s][1:]))


def test_one_step_call_per_time_step_for_all_rows_and_early_stop():
    calls = []
    always_eos = table_step({}, default={EOS: 0.97, A: 0.01, B: 0.01, C: 0.01}, calls=calls)
    hyps = beam_search(always_eos, start(3), bos=BOS, eos=EOS, max_len=lengths(50, 50, 50), beam=4, n_best=2)
    assert [hs[0].tokens for hs in hyps] == [[]] * 3
    assert calls[0] == 3 and all(r == 3 * 4 for r in calls[1:])  # one call for every sentence and beam
    assert len(calls) < 10  # every continuation is far below the finished ones: stopped long before 50


def test_ties_go_to_the_lowest_token_id():
    flat = table_step({}, default={A: 0.25, B: 0.25, C: 0.25, EOS: 0.25})
    assert greedy_search(flat, start(1), bos=BOS, eos=EOS, max_len=lengths(4))[0].tokens == []  # EOS = 1 < A
    hyps = beam_search(flat, start(1), bos=BOS, eos=EOS, max_len=lengths(2), beam=3, n_best=3, length_penalty=0)
    # EOS now (0.25); then A EOS and A A (cut at max_len) tie at 0.25 ** 2: the one found first
    # (the finished one: EOS is the lowest id of A's continuations) wins
    assert [(h.tokens, h.finished) for h in hyps[0]] == [([], True), ([A], True), ([A, A], False)]


def test_stable_top_k_against_a_stable_full_sort():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (50, 30), generator=g).double()  # many ties, at the cut too
    x[x == 0] = -math.inf
    x[:5] = torch.rand(5, 30, generator=g, dtype=torch.float64)  # and rows without any
    for k in (1, 3, 7, 30):
        val, idx = _topk_stable(x, k)
        ref_val, ref_idx = x.sort(dim=1, descending=True, stable=True)
        assert torch.equal(idx, ref_idx[:, :k]) and torch.equal(val, ref_val[:, :k])


def test_beam_of_one_without_penalties_is_greedy():
    model, h0 = RandomDecoder(V=7, seed=1), torch.randn(6, 6, dtype=torch.float64)
    kw = dict(bos=BOS, eos=EOS, max_len=lengths(1, 2, 3, 5, 8, 12))
    greedy = greedy_search(model.step, (h0,), **kw)
    beam = beam_search(model.step, (h0,), beam=1, length_penalty=0.0, **kw)
    assert [(h.tokens, h.finished) for h in greedy] == [(hs[0].tokens, hs[0].finished) for hs in beam]
    assert [h.log_prob for h in greedy] == pytest.approx([hs[0].log_prob for hs in beam], abs=1e-12)


def test_edge_cases_of_the_inputs():
    model, h0 = RandomDecoder(), torch.randn(3, 6, dtype=torch.float64)
    out = beam_search(model.step, (h0,), bos=BOS, eos=EOS, max_len=lengths(0, 2, 0), beam=2, n_best=2)
    assert [h.tokens for h in out[0]] == [[]] and not out[0][0].finished and len(out[1]) == 2
    assert greedy_search(model.step, (h0,), bos=BOS, eos=EOS, max_len=0)[0].tokens == []
    assert all(len(h.tokens) <= 2 for h in greedy_search(model.step, (h0,), bos=BOS, eos=EOS, max_len=2))
    with pytest.raises(ValueError, match="3 rows"):
        greedy_search(model.step, (h0,), bos=BOS, eos=EOS, max_len=lengths(4, 4))
    once = beam_search(table_step({}, default={A: 0.4, B: 0.3, EOS: 0.3}), start(1), bos=BOS, eos=EOS,
                       max_len=lengths(4), beam=2, n_best=2, no_repeat_ngram_size=1)[0]
    assert all(len(set(h.tokens)) == len(h.tokens) for h in once)  # size 1: no token twice


def test_sampling_reproducible_top_k_1_is_greedy():
    model, h0 = RandomDecoder(V=9, seed=3), torch.randn(4, 6, dtype=torch.float64)
    kw = dict(bos=BOS, eos=EOS, max_len=lengths(8, 8, 8, 8))
    greedy = greedy_search(model.step, (h0,), **kw)

    def sample(seed, **extra):
        return sample_search(model.step, (h0,), generator=torch.Generator().manual_seed(seed), **kw, **extra)
    assert [h.tokens for h in sample(5, top_k=1)] == [h.tokens for h in greedy]
    assert [h.tokens for h in sample(5, temperature=0.0)] == [h.tokens for h in greedy]
    first, again = sample(5, temperature=1.3, top_p=0.9), sample(5, temperature=1.3, top_p=0.9)
    assert [(h.tokens, h.log_prob) for h in first] == [(h.tokens, h.log_prob) for h in again]
    assert len({str([h.tokens for h in sample(seed, temperature=1.3, top_p=0.9)]) for seed in range(5)}) > 1
    for bad in (dict(temperature=-1.0), dict(top_k=0), dict(top_p=0.0), dict(top_p=1.5)):
        with pytest.raises(ConfigError):
            sample(0, **bad)


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.1, 0.4, 0.2, 0.3]], dtype=torch.float64)  # sorted: 0.4, 0.3, 0.2, 0.1
    for p, kept in [(0.3, {1}), (0.65, {1, 3}), (0.75, {1, 3, 2}), (0.95, {0, 1, 2, 3}), (1.0, {0, 1, 2, 3})]:
        out = top_k_top_p_filter(probs.log(), top_p=p)
        assert set(torch.isfinite(out[0]).nonzero().view(-1).tolist()) == kept, p
    both = top_k_top_p_filter(probs.log(), top_k=2, top_p=0.95)  # top-k first, then p of what is left
    assert torch.isfinite(both[0]).tolist() == [False, True, False, True]
    step = table_step({}, default={A: 0.5, B: 0.3, C: 0.15, EOS: 0.05})
    draws = sample_search(step, start(300), bos=BOS, eos=EOS, max_len=1, top_p=0.7,
                          generator=torch.Generator().manual_seed(0))
    assert {tuple(h.tokens) for h in draws} == {(A,), (B,)}  # 0.5 < 0.7 <= 0.8: A and B only


def test_select_rows_keeps_the_nesting():
    Pair = namedtuple("Pair", "h c")
    state = {"rnn": Pair(torch.arange(3), torch.arange(3) * 10), "extra": [torch.ones(3, 2), None], "n": 7}
    out = select_rows(state, torch.tensor([2, 2, 0]))
    assert isinstance(out["rnn"], Pair) and out["rnn"].c.tolist() == [20, 20, 0]
    assert out["extra"][0].shape == (3, 2) and out["extra"][1] is None and out["n"] == 7


class TinyNMT(nn.Module):
    """Embedding + LSTM encoder over a padded, packed batch; LSTMCell decoder with input feeding and
    dot attention over the padded encoder output, masked to each sentence's length. Like a trained
    model, it grows likelier to end once it has written about as many tokens as the source has (a
    countdown in the state), so sentences end at different steps."""

    def __init__(self, V=12, E=8, H=16):
        super().__init__()
        self.src_emb, self.tgt_emb = nn.Embedding(V, E), nn.Embedding(V, E)
        self.enc, self.cell = nn.LSTM(E, H, batch_first=True), nn.LSTMCell(E + H, H)
        self.mix, self.proj = nn.Linear(2 * H, H), nn.Linear(H, V)
        with torch.no_grad():
            self.proj.weight.mul_(3.0)  # peaked enough that beams differ

    def encode(self, src, src_len):
        packed = pack_padded_sequence(self.src_emb(src), src_len, batch_first=True, enforce_sorted=False)
        out, (h, c) = self.enc(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        mask = torch.arange(src.size(1))[None] < src_len[:, None]
        return (h[0], c[0]), torch.zeros_like(h[0]), out, mask, -src_len.float()

    def step(self, tokens, state):
        (h, c), feed, enc, mask, countdown = state
        h, c = self.cell(torch.cat([self.tgt_emb(tokens), feed], 1), (h, c))
        attn = torch.softmax(torch.bmm(enc, h[:, :, None]).squeeze(2).masked_fill(~mask, -math.inf), 1)
        feed = torch.tanh(self.mix(torch.cat([torch.bmm(attn[:, None], enc).squeeze(1), h], 1)))
        logits = self.proj(feed)
        logits[:, EOS] += 0.5 * countdown
        return torch.log_softmax(logits, 1), ((h, c), feed, enc, mask, countdown + 1), attn


def row_by_row(model):
    """The model's step run on one row at a time: what a row gets cannot depend on the other rows."""
    def step(tokens, state):
        outs = [model.step(tokens[i:i + 1], select_rows(state, torch.tensor([i]))) for i in range(len(tokens))]

        def cat(*parts):  # the rows' outputs stacked back, nesting kept
            return torch.cat(parts) if isinstance(parts[0], torch.Tensor) else tuple(map(cat, *parts))
        return cat(*[lp for lp, _, _ in outs]), cat(*[st for _, st, _ in outs]), cat(*[a for _, _, a in outs])
    return step


def encode_alone(model, group, pad_to):
    """The encoder run on each sentence alone, its outputs padded with zeros: a batch-free state."""
    states = [model.encode(torch.tensor([s]), torch.tensor([len(s)])) for s in group]
    enc = states[0][2]
    out = torch.zeros(len(group), pad_to, enc.size(2))
    for i, (_, _, e, _, _) in enumerate(states):
        out[i, :e.size(1)] = e[0]
    src_len = torch.tensor([len(s) for s in group])
    return ((torch.cat([st[0][0] for st in states]), torch.cat([st[0][1] for st in states])),
            torch.zeros(len(group), enc.size(2)), out, torch.arange(pad_to)[None] < src_len[:, None],
            -src_len.float())


SEARCHES = {
    "beam": lambda step, state, **k: beam_search(step, state, bos=BOS, eos=EOS, beam=4, n_best=3,
                                                 coverage_penalty=0.2, no_repeat_ngram_size=3, **k),
    "greedy": lambda step, state, **k: [[h] for h in greedy_search(step, state, bos=BOS, eos=EOS, **k)],
}


def sentences(seed, n=8):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(2, 12, (int(k),), generator=g).tolist() for k in torch.randint(1, 10, (n,), generator=g)]


def decode(model, group, pad_to, search, exact):
    src_len = torch.tensor([len(s) for s in group])
    if exact:
        state, step = encode_alone(model, group, pad_to), row_by_row(model)
    else:
        src = torch.zeros(len(group), pad_to, dtype=torch.long)
        for i, s in enumerate(group):
            src[i, :len(s)] = torch.tensor(s)
        state, step = model.encode(src, src_len), model.step
    return SEARCHES[search](step, state, max_len=max_lengths(src_len, 1.0, 2), src_lengths=src_len)


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize("exact", [False, True], ids=["batched-model", "row-by-row-model"])
def test_a_sentence_decodes_the_same_alone_and_in_a_padded_batch(search, exact):
    torch.manual_seed(4)
    model, sents = TinyNMT().eval(), sentences(1)
    with torch.no_grad():
        alone = [decode(model, [s], len(s), search, exact)[0] for s in sents]
        batched = decode(model, sents, 11, search, exact)  # padded beyond the longest sentence too
        shuffled = decode(model, sents[::-1], 10, search, exact)[::-1]
    assert len({len(hs[0].tokens) for hs in alone}) >= 3  # sentences end at different steps ...
    assert search == "greedy" or {h.finished for hs in alone for h in hs} == {True, False}  # ... EOS or max_len
    for one, *others in zip(alone, batched, shuffled):
        for other in others:
            assert [(h.tokens, h.finished) for h in one] == [(h.tokens, h.finished) for h in other]
            if exact:  # the search itself adds nothing that depends on the batch: equal to the bit
                assert [(h.score, h.log_prob) for h in one] == [(h.score, h.log_prob) for h in other]
                assert all(torch.equal(a.attention, b.attention) for a, b in zip(one, other))
            else:
                # Not bit-equal, and it cannot be: torch's float32 CPU GEMM (Linear, LSTMCell, LSTM) gives
                # a row different last bits with 1 row (a GEMV path), 2-3 rows and >= 4 rows (measured:
                # up to ~1e-6 apart), and a sentence alone starts with 1 row. Hence 1e-6 on the scores
                # (the tokens stay the same).
                assert [h.score for h in one] == pytest.approx([h.score for h in other], abs=1e-6, rel=0)
                assert all(torch.allclose(a.attention, b.attention, atol=1e-6) for a, b in zip(one, other))
