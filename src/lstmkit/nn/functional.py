r"""Pure step math: one time step of an LSTM or a vanilla RNN, as tensors in and tensors out.

Everything else in :mod:`lstmkit.nn` (cells, layers, gate recording, streaming) calls these two
functions, so the equations live in exactly one place. Gate order in the stacked weight matrices is
``i | f | g | o`` (input, forget, candidate, output), the same as ``torch.nn.LSTM``, so weights copy
across unchanged.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class LSTMGates(NamedTuple):
    """The four gate activations of one LSTM step, each (N, H)."""

    input_gate: Tensor  # i_t
    forget_gate: Tensor  # f_t
    candidate: Tensor  # g_t
    output_gate: Tensor  # o_t


def lstm_step(
    x: Tensor,
    h_prev: Tensor,
    c_prev: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    weight_hr: Tensor | None = None,
    *,
    x_projected: Tensor | None = None,
) -> tuple[Tensor, Tensor, LSTMGates]:
    r"""One LSTM step (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    .. math::
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})   \\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})   \\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})    \\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})   \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t                        \\
        h_t &= o_t \odot \tanh(c_t)        \quad (\text{then } h_t = W_{hr} h_t \text{ with a projection})

    Shapes: x (N, H_in); h_prev (N, H_out); c_prev (N, H); weight_ih (4H, H_in);
    weight_hh (4H, H_out); biases (4H,); weight_hr (H_out, H) or None, where H_out = H without a
    projection. ``x_projected`` may carry ``W_ih x_t + b_ih`` already computed for all steps at once
    (one large matrix product instead of T small ones); ``x`` is then ignored.

    Returns ``(h_t, c_t, gates)``.
    """
    if x_projected is None:
        x_projected = torch.nn.functional.linear(x, weight_ih, bias_ih)  # (N, 4H)
    pre = x_projected + torch.nn.functional.linear(h_prev, weight_hh, bias_hh)  # (N, 4H)
    i, f, g, o = pre.chunk(4, dim=-1)  # each (N, H)
    i = torch.sigmoid(i)  # input gate: how much of the candidate enters the cell
    f = torch.sigmoid(f)  # forget gate: how much of the old cell is kept
    g = torch.tanh(g)  # candidate cell content
    o = torch.sigmoid(o)  # output gate: how much of the cell is shown as h
    c = f * c_prev + i * g  # (N, H)
    h = o * torch.tanh(c)  # (N, H)
    if weight_hr is not None:
        h = torch.nn.functional.linear(h, weight_hr)  # (N, H_out)
    return h, c, LSTMGates(i, f, g, o)


def rnn_step(
    x: Tensor,
    h_prev: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    *,
    nonlinearity: str = "tanh",
    x_projected: Tensor | None = None,
) -> Tensor:
    r"""One vanilla (Elman) RNN step.

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad \phi \in \{\tanh, \mathrm{ReLU}\}

    Shapes: x (N, H_in); h_prev (N, H); weight_ih (H, H_in); weight_hh (H, H); biases (H,).
    """
    if x_projected is None:
        x_projected = torch.nn.functional.linear(x, weight_ih, bias_ih)  # (N, H)
    pre = x_projected + torch.nn.functional.linear(h_prev, weight_hh, bias_hh)  # (N, H)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
