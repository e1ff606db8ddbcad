r"""Choosing the next token from a model's scores: greedy, or sampled with a temperature and top-k.

From logits :math:`z \in \mathbb{R}^V` (float64), with banned ids set to :math:`-\infty` and, with
``top_k``, every logit below the k-th largest set to :math:`-\infty` too:

.. math::
    p_i = \frac{e^{z_i / \tau}}{\sum_j e^{z_j / \tau}}

and the token is drawn from :math:`p` by a seeded :class:`numpy.random.Generator` (``rng.choice``);
temperature :math:`\tau = 0` means greedy: always the most likely allowed token (no draw). A lower
temperature sharpens the distribution, a higher one flattens it. The same generator state gives the
same token, so a seed fixes a whole generated text.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from lstmkit.errors import ConfigError

__all__ = ["check_sampling", "sample_token", "softmax"]


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities of ``logits`` (1-D), computed stably (the maximum subtracted first)."""
    z = logits - np.max(logits)
    p = np.exp(z)
    return p / p.sum()


def check_sampling(temperature: float, top_k: int | None) -> None:
    """:class:`~lstmkit.errors.ConfigError` for a negative temperature or a ``top_k`` below 1."""
    if not temperature >= 0:
        raise ConfigError(f"temperature must be >= 0, got {temperature!r}")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise ConfigError(f"top_k must be a positive integer or None, got {top_k!r}")


def sample_token(logits: np.ndarray, rng: np.random.Generator, *, temperature: float = 1.0,
                 top_k: int | None = None, banned: Sequence[int] = ()) -> int:
    """One token id drawn from ``logits`` (V,) as the module docstring says; ``logits`` is not changed.

    ``banned`` ids are never chosen; ``temperature=0`` is greedy and draws nothing from ``rng``.
    """
    check_sampling(temperature, top_k)
    logits = np.array(logits, dtype=np.float64)
    logits[list(banned)] = -np.inf
    if top_k is not None and top_k < len(logits):
        cutoff = np.partition(logits, -top_k)[-top_k]
        logits[logits < cutoff] = -np.inf
    if temperature == 0:
        return int(np.argmax(logits))
    return int(rng.choice(len(logits), p=softmax(logits / temperature)))
