"""CTC decoding (lstmkit.decoding.ctc) against brute force over every path and torch's ctc_loss."""
import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lstmkit.decoding.ctc import (CharLM, NGramCharLM, ctc_best_path, ctc_best_path_frames, ctc_collapse,
                                  ctc_prefix_beam_search)
from lstmkit.errors import ConfigError, DataError

WIDE = 5000  # wider than the number of labellings of any case below: the search prunes nothing


def random_log_probs(rng, T, V, sharpness=2.0):
    z = rng.normal(size=(T, V)) * sharpness
    return z - np.logaddexp.reduce(z, axis=1, keepdims=True)  # (T, V) float64 log-softmax


def brute_force(log_probs, blank=0):
    """{labelling: ln p(labelling | x)} by summing over all V^T paths, and the most probable path."""
    T, V = log_probs.shape
    totals, best_path, best = {}, None, -np.inf
    for path in itertools.product(range(V), repeat=T):
        lp = float(log_probs[np.arange(T), path].sum())
        if lp > best:
            best_path, best = path, lp
        key = tuple(ctc_collapse(path, blank))
        totals[key] = np.logaddexp(totals.get(key, -np.inf), lp)
    return totals, best_path


def torch_log_prob(log_probs, labels, blank=0):
    loss = torch.nn.functional.ctc_loss(
        torch.from_numpy(log_probs)[:, None], torch.tensor(labels, dtype=torch.long), [len(log_probs)],
        [len(labels)], blank=blank, reduction="sum")
    return -float(loss)


def lm_log_prob(lm, labels):
    """ln p_lm(labels) with the end term, by calling the model label by label."""
    state, total = lm.initial_state(), 0.0
    for k in labels:
        lp, state = lm.score(state, k)
        total += lp
    return total + lm.final(state)


def test_beam_finds_the_labelling_best_path_misses():
    log_probs = np.log([[0.6, 0.4], [0.6, 0.4]])  # blank, a
    assert ctc_best_path(log_probs) == []  # the path "blank blank": 0.36
    top, second = ctc_prefix_beam_search(log_probs, beam=4, nbest=2)
    assert top.labels == [1] and top.acoustic_log_prob == pytest.approx(math.log(0.4 * 0.4 + 2 * 0.4 * 0.6))
    assert second.labels == [] and second.acoustic_log_prob == pytest.approx(math.log(0.36))


@pytest.mark.parametrize("seed", range(25))
def test_wide_beam_is_exact(seed):
    rng = np.random.default_rng(seed)
    T, V = int(rng.integers(1, 7)), int(rng.integers(2, 5))
    blank = int(rng.integers(V))
    log_probs = random_log_probs(rng, T, V)
    totals, best_path = brute_force(log_probs, blank)
    ranked = sorted(totals, key=totals.get, reverse=True)
    found = ctc_prefix_beam_search(log_probs, beam=WIDE, blank=blank, nbest=min(5, len(ranked)))
    assert [tuple(h.labels) for h in found] == ranked[: len(found)]
    for h in found:
        assert h.acoustic_log_prob == pytest.approx(totals[tuple(h.labels)], abs=1e-9)
        assert h.acoustic_log_prob == pytest.approx(torch_log_prob(log_probs, h.labels, blank), abs=1e-9)
        assert h.score == h.acoustic_log_prob
    # best path: the brute-force best path, collapsed; torch input and a padded batch give the same
    assert ctc_best_path(log_probs, blank) == ctc_collapse(best_path, blank)
    assert ctc_best_path(torch.from_numpy(log_probs), blank) == ctc_collapse(best_path, blank)
    other = random_log_probs(rng, T + 2, V)
    batch = np.stack([np.concatenate([log_probs, other[:2]]), other])
    assert ctc_best_path(batch, blank, lengths=[T, T + 2]) == [ctc_best_path(log_probs, blank),
                                                               ctc_best_path(other, blank)]


def test_best_path_frames():
    log_probs = np.log(np.eye(3)[[1, 1, 0, 1, 2, 2, 0]] * 0.9 + 0.1 / 3)  # path a a _ a b b _
    labels, frames = ctc_best_path_frames(log_probs)
    assert labels == [1, 1, 2] and frames == [0, 3, 4]
    assert ctc_best_path_frames(log_probs[None], lengths=[4]) == [([1, 1], [0, 3])]


@pytest.mark.parametrize("seed", range(12))
def test_wide_beam_with_lm_maximises_the_fused_score(seed):
    rng = np.random.default_rng(100 + seed)
    T, V = int(rng.integers(1, 6)), int(rng.integers(2, 5))
    labels = ["_"] + list("abc")[: V - 1]
    texts = ["".join(rng.choice(labels[1:], rng.integers(0, 6))) for _ in range(8)]
    lm = NGramCharLM(labels, order=int(rng.integers(1, 4)), k=0.3).fit(texts)
    log_probs = random_log_probs(rng, T, V)
    totals, _ = brute_force(log_probs)
    alpha, beta = float(rng.uniform(0.2, 2)), float(rng.uniform(-1, 1))
    fused = {l: p + alpha * lm_log_prob(lm, l) + beta * len(l) for l, p in totals.items()}
    top = ctc_prefix_beam_search(log_probs, beam=WIDE, lm=lm, lm_weight=alpha, insertion_bonus=beta)[0]
    assert tuple(top.labels) == max(fused, key=fused.get)
    assert top.score == pytest.approx(fused[tuple(top.labels)], abs=1e-9)
    assert top.acoustic_log_prob == pytest.approx(totals[tuple(top.labels)], abs=1e-9)


def test_lm_and_insertion_bonus_move_the_choice_the_expected_way():
    labels = ["_", "a", "b"]
    one_frame = np.log([[0.1, 0.5, 0.4]])  # acoustics prefer "a" a little
    lm = NGramCharLM(labels, order=2, k=0.1).fit(["b"] * 5)  # the LM prefers "b" strongly
    assert ctc_prefix_beam_search(one_frame, lm=lm, lm_weight=0.0)[0].labels == [1]
    assert ctc_prefix_beam_search(one_frame, lm=lm, lm_weight=1.0)[0].labels == [2]
    assert ctc_prefix_beam_search(one_frame, lm=None, lm_weight=1.0)[0].labels == [1]
    # two frames of mostly blank: "" (0.81) beats "a" (0.19) until the bonus is above ln(0.81 / 0.19)
    quiet = np.log([[0.9, 0.1], [0.9, 0.1]])
    assert ctc_prefix_beam_search(quiet)[0].labels == []
    assert ctc_prefix_beam_search(quiet, insertion_bonus=1.4)[0].labels == []
    assert ctc_prefix_beam_search(quiet, insertion_bonus=1.5)[0].labels == [1]
    # and on random inputs a larger bonus never shortens the (exact) best labelling
    rng = np.random.default_rng(7)
    for _ in range(10):
        log_probs = random_log_probs(rng, 6, 3)
        lengths = [len(ctc_prefix_beam_search(log_probs, beam=WIDE, insertion_bonus=b)[0].labels)
                   for b in (-3, -1, 0, 1, 3)]
        assert lengths == sorted(lengths) and lengths[0] < lengths[-1]


def test_each_prefix_and_label_is_scored_once():
    class Recording:
        def __init__(self):
            self.calls = []

        def initial_state(self):
            return ()

        def score(self, state, label):
            self.calls.append((state, label))
            return -0.1 * (label + len(state)), state + (label,)

    lm = Recording()
    ctc_prefix_beam_search(random_log_probs(np.random.default_rng(3), 30, 6), beam=8, lm=lm)
    assert len(lm.calls) == len(set(lm.calls)) > 30


def test_pruning():
    rng = np.random.default_rng(5)
    log_probs = random_log_probs(rng, 8, 4)
    log_probs[:, 3] = np.log(1e-6)
    log_probs -= np.logaddexp.reduce(log_probs, axis=1, keepdims=True)
    unpruned = ctc_prefix_beam_search(log_probs, beam=8, nbest=8)
    assert ctc_prefix_beam_search(log_probs, beam=8, nbest=8, prune_log_prob=-1e9) == unpruned
    pruned = ctc_prefix_beam_search(log_probs, beam=8, nbest=8, prune_log_prob=math.log(1e-4))
    assert all(3 not in h.labels for h in pruned)
    # only each frame's argmax may extend: the best path is still found
    assert ctc_best_path(log_probs) in [h.labels for h in
                                       ctc_prefix_beam_search(log_probs, beam=8, nbest=8, prune_log_prob=0.0)]


def test_bad_settings():
    log_probs = np.log(np.full((3, 4), 0.25))
    with pytest.raises(ConfigError, match="beam must be a positive integer"):
        ctc_prefix_beam_search(log_probs, beam=0)
    with pytest.raises(ConfigError, match="nbest"):
        ctc_prefix_beam_search(log_probs, beam=2, nbest=3)
    with pytest.raises(ConfigError, match="blank must be a label index"):
        ctc_best_path(log_probs, blank=4)
    with pytest.raises(ValueError, match="apply log_softmax"):
        ctc_prefix_beam_search(np.full((3, 4), 0.25))
    with pytest.raises(ValueError, match=r"\(T, V\) or \(B, T, V\)"):
        ctc_best_path(np.zeros(4))
    with pytest.raises(ValueError, match="decodes one sequence"):
        ctc_prefix_beam_search(log_probs[None])


def test_ngram_counts():
    lm = NGramCharLM(["_", "a", "b"], order=2, k=0.5).fit(["ab", "ab"])  # symbols: a, b, end
    start = lm.initial_state()
    lp, after_a = lm.score(start, 1)
    assert lp == pytest.approx(math.log(2.5 / 3.5))
    assert lm.score(after_a, 1)[0] == pytest.approx(math.log(0.5 / 3.5))
    assert lm.final(lm.score(after_a, 2)[1]) == pytest.approx(math.log(2.5 / 3.5))
    for state in (start, after_a, (2,)):
        total = sum(math.exp(lm.score(state, k)[0]) for k in (1, 2)) + math.exp(lm.final(state))
        assert total == pytest.approx(1.0)
    with pytest.raises(DataError, match="no CTC label: 'c'"):
        NGramCharLM(["_", "a", "b"]).fit(["abc"])


@pytest.fixture(scope="module")
def char_lm():
    from lstmkit.tasks.text.config import LMConfig
    from lstmkit.tasks.text.language_model import LanguageModel

    torch.manual_seed(0)
    text = "".join(f"{w} sat on the {m}\n" for w, m in itertools.product(["the cat", "a bat", "the hen"],
                                                                          ["mat", "cot", "hat", "net"]))
    config = LMConfig(level="char", epochs=1, hidden_size=16, num_layers=1, bptt=10, batch_size=4)
    return LanguageModel(config).fit(text)


def test_char_lm_scores_as_the_model(char_lm):
    labels = ["<blank>"] + list(" abcehmnost")
    lm = CharLM(char_lm, labels)
    vocab = char_lm.vocab
    state, text = lm.initial_state(), "the hat"
    for i, ch in enumerate(text):
        lp, state = lm.score(state, labels.index(ch))
        # float32 LSTM both ways (torch forward here, NumPy streamer there): equal to float32 rounding
        assert lp == pytest.approx(math.log(char_lm.next_distribution(text[:i])[vocab[ch]]), abs=1e-5)
    assert lm.final(state) == pytest.approx(math.log(char_lm.next_distribution(text)[vocab["\n"]]), abs=1e-5)
    assert lm.steps == len(text) + 1  # the start token, then one per character scored from

    # the fused search, exact, against brute force with the LM called directly on each labelling
    small = ["_", "a", "t"]
    log_probs = random_log_probs(np.random.default_rng(0), 4, 3, sharpness=1.0)
    totals, _ = brute_force(log_probs)

    def direct(l):
        s = "".join(small[k] for k in l)
        return sum(math.log(char_lm.next_distribution(s[:i])[vocab[s[i]]]) for i in range(len(s))) \
            + math.log(char_lm.next_distribution(s)[vocab["\n"]])

    fused = {l: p + 0.8 * direct(l) + 0.5 * len(l) for l, p in totals.items()}
    best = ctc_prefix_beam_search(log_probs, beam=WIDE, lm=CharLM(char_lm, small), lm_weight=0.8,
                                  insertion_bonus=0.5)[0]
    assert tuple(best.labels) == max(fused, key=fused.get)
    assert best.score == pytest.approx(fused[tuple(best.labels)], abs=1e-4)

    lazy = CharLM(char_lm, labels)
    ctc_prefix_beam_search(random_log_probs(np.random.default_rng(1), 20, len(labels)), beam=4, lm=lazy)
    assert lazy.steps <= 1 + 4 * 20 + 4  # one LSTM step per kept prefix extended, not per label scored


def test_char_lm_refuses_what_it_cannot_score(char_lm):
    with pytest.raises(DataError, match="lacks the characters 'zq'"):
        CharLM(char_lm, ["_", "a", "z", "q"])
    as_unk = CharLM(char_lm, ["_", "a", "z"], unknown="unk")
    lp, _ = as_unk.score(as_unk.initial_state(), 2)
    assert lp == pytest.approx(math.log(char_lm.next_distribution("")[char_lm.vocab.unk_id]), abs=1e-5)
    with pytest.raises(ConfigError, match="one character"):
        CharLM(char_lm, ["_", "ab"])
    with pytest.raises(ConfigError, match="character-level language model"):
        CharLM(SimpleNamespace(config=SimpleNamespace(level="word")), ["_", "a"])
