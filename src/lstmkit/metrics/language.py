r"""Language-model metrics: cross-entropy, perplexity and bits per character.

For tokens :math:`w_1 \dots w_n` and a model's :math:`p(w_i \mid w_{<i})`:

.. math::
    H = -\frac{1}{n} \sum_i \ln p(w_i \mid w_{<i}) \ \text{(nats per token)}, \qquad
    \text{perplexity} = e^{H}, \qquad \text{bits per token} = H / \ln 2

At character level the bits per token are the bits per character. Perplexity is the size of a
uniform choice as hard as the model's: a model that knows nothing scores the vocabulary size.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["bits_per_char", "nll_sum", "perplexity"]


def nll_sum(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """:math:`-\\sum_i \\ln p(\\text{targets}_i)` in nats, in float64: logits (..., V), targets (...)."""
    return float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]).double(), targets.reshape(-1),
                                 reduction="sum"))


def perplexity(cross_entropy: float) -> float:
    """:math:`e^H` of a mean cross-entropy :math:`H` in nats per token."""
    return math.exp(cross_entropy)


def bits_per_char(cross_entropy: float) -> float:
    """:math:`H / \\ln 2`: a mean cross-entropy in nats per character, in bits."""
    return cross_entropy / math.log(2)
