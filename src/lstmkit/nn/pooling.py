r"""Pooling a padded batch of sequences over time into one vector per sequence, pads left out.

For outputs :math:`x \in \mathbb{R}^{N \times T \times F}` of sequences with lengths :math:`L_i`
(the valid steps of row i are :math:`t < L_i`, pads after them):

.. math::
    \text{max}_i = \max_{t < L_i} x_{i,t}, \qquad
    \text{mean}_i = \frac{1}{L_i} \sum_{t < L_i} x_{i,t}, \qquad
    \text{last}_i = x_{i, L_i - 1}

feature by feature. With ``directions=2`` (a bidirectional recurrent layer: features
``[forward | backward]``), ``"last"`` takes each direction's own final state: the forward half at step
:math:`L_i - 1`, the backward half at step 0, where the backward pass ends. That is the ``h_n`` of
the top layer, so ``"last"`` equals pooling the final states.

Pads never change a result: they are masked out of the maximum and the sum, and ``"last"`` reads
only valid steps, so a sequence's pooled vector does not depend on the batch it is padded into.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["POOLINGS", "MaskedPooling", "masked_pool"]

POOLINGS = ("max", "mean", "last")


def masked_pool(x: Tensor, lengths: Tensor, mode: str = "max", *, directions: int = 1) -> Tensor:
    """Pool ``x`` (N, T, F), batch first and padded after each sequence, over its valid steps -> (N, F).

    ``lengths`` (N,) are the valid steps of each row (at least 1); ``mode`` is ``"max"``, ``"mean"``
    or ``"last"``; ``directions`` splits the features into that many equal blocks for ``"last"``
    (see the module docstring).
    """
    if mode not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {mode!r}")
    if directions not in (1, 2):
        raise ValueError(f"directions must be 1 or 2, got {directions!r}")
    lengths = torch.as_tensor(lengths).to(x.device)
    if mode == "last":
        rows = torch.arange(x.shape[0], device=x.device)
        last = x[rows, lengths.long() - 1]  # (N, F): every feature at its row's last valid step
        if directions == 1:
            return last
        half = x.shape[-1] // 2
        return torch.cat([last[:, :half], x[:, 0, half:]], dim=-1)  # the backward pass ends at step 0
    mask = (torch.arange(x.shape[1], device=x.device) < lengths.unsqueeze(-1)).unsqueeze(-1)  # (N, T, 1)
    if mode == "max":
        return x.masked_fill(~mask, float("-inf")).amax(dim=1)
    return x.masked_fill(~mask, 0.0).sum(dim=1) / lengths.to(x.dtype).unsqueeze(-1)


class MaskedPooling(torch.nn.Module):
    """:func:`masked_pool` as a layer (no parameters): ``forward(x, lengths) -> (N, F)``."""

    def __init__(self, mode: str = "max", *, directions: int = 1):
        super().__init__()
        if mode not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {mode!r}")
        self.mode, self.directions = mode, directions

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return masked_pool(x, lengths, self.mode, directions=self.directions)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, directions={self.directions}"
