"""Token sampling (lstmkit.decoding.sampling): the draws generate() made before it moved here, seed for seed."""
import numpy as np
import pytest

from lstmkit.decoding.sampling import sample_token, softmax
from lstmkit.errors import ConfigError


def reference(logits, rng, temperature, top_k, banned):
    """The loop body of LanguageModel.generate before the move (lstmkit 389ee1b), verbatim."""
    logits = logits.copy()
    logits[banned] = -np.inf
    if top_k is not None and top_k < len(logits):
        cutoff = np.partition(logits, -top_k)[-top_k]
        logits[logits < cutoff] = -np.inf
    if temperature == 0:
        return int(np.argmax(logits))
    return int(rng.choice(len(logits), p=softmax(logits / temperature)))


@pytest.mark.parametrize("temperature,top_k", [(1.0, None), (0.8, 5), (1.5, 1), (0.0, None), (0.3, 50)])
def test_same_draws_as_before(temperature, top_k):
    scores = np.random.default_rng(1).normal(size=(40, 30)) * 3
    banned = [0, 1, 2]
    a, b = np.random.default_rng(7), np.random.default_rng(7)
    new = [sample_token(z, a, temperature=temperature, top_k=top_k, banned=banned) for z in scores]
    old = [reference(z, b, temperature, top_k, banned) for z in scores]
    assert new == old and not set(new) & set(banned)
    if top_k == 1 or temperature == 0:
        allowed = scores.copy()
        allowed[:, banned] = -np.inf
        assert new == allowed.argmax(1).tolist()  # greedy
    assert a.random() == b.random()  # the generators advanced alike (temperature 0 draws nothing)


def test_logits_untouched_and_bad_settings_refused():
    logits = np.array([0.0, 5.0, 1.0])
    assert sample_token(logits, np.random.default_rng(0), temperature=0, banned=[1]) == 2
    assert logits.tolist() == [0.0, 5.0, 1.0]
    with pytest.raises(ConfigError, match="temperature must be >= 0"):
        sample_token(logits, np.random.default_rng(0), temperature=-1)
    with pytest.raises(ConfigError, match="top_k must be a positive integer"):
        sample_token(logits, np.random.default_rng(0), top_k=0)
