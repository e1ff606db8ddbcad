"""Language-model metrics (lstmkit.metrics.language)."""
import math

import pytest
import torch

from lstmkit.metrics.language import bits_per_char, nll_sum, perplexity


def test_uniform_model_has_the_vocabulary_size_as_perplexity():
    V = 17
    logits, targets = torch.zeros(2, 5, V), torch.randint(0, V, (2, 5))
    ce = nll_sum(logits, targets) / targets.numel()
    assert ce == pytest.approx(math.log(V), rel=1e-12)
    assert perplexity(ce) == pytest.approx(V)
    assert bits_per_char(ce) == pytest.approx(math.log2(V))
