r"""Pure step math: one time step of an LSTM or a vanilla RNN, as tensors in and tensors out.

Everything else in :mod:`lstmkit.nn` (cells, layers, gate recording, streaming, and the reference
backend of every variant) calls these functions, so the equations live in exactly one place. Gate order
in the stacked weight matrices is ``i | f | g | o`` (input, forget, candidate, output), the same as
``torch.nn.LSTM``, so weights copy across unchanged; the coupled-gate LSTM has no input-gate rows
(``f | g | o``) and the GRU uses torch's ``r | z | n``.

The fused backend (:mod:`lstmkit.nn.fused`) computes the same equations with a hand-written backward
pass; ``tests/nn`` holds the two to 1e-10 in float64.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class LSTMNorm(NamedTuple):
    """Layer-normalisation gains and biases of one layer-normalised LSTM direction (Ba et al. 2016)."""

    ih_weight: Tensor  # gamma of LN(W_ih x), (G*H,)
    hh_weight: Tensor  # gamma of LN(W_hh h), (G*H,)
    cell_weight: Tensor  # gamma of LN(c), (H,)
    cell_bias: Tensor  # beta of LN(c), (H,)
    eps: float = 1e-5


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
    peephole: tuple[Tensor, Tensor, Tensor] | None = None,
    coupled: bool = False,
    norm: LSTMNorm | None = None,
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

    Variants (each keyword changes only the lines named; they combine):

    * ``peephole=(p_i, p_f, p_o)``, each (H,): the gates see the cell (Gers & Schmidhuber 2000),
      :math:`i_t = \sigma(\dots + p_i \odot c_{t-1})`, :math:`f_t = \sigma(\dots + p_f \odot c_{t-1})`,
      :math:`o_t = \sigma(\dots + p_o \odot c_t)`.
    * ``coupled=True`` (CIFG, Greff et al. 2017): no input gate; :math:`i_t = 1 - f_t`. The weights
      then hold three blocks ``f | g | o`` (3H rows).
    * ``norm``: layer normalisation (Ba et al. 2016), :math:`\mathrm{LN}(v; \gamma, \beta) = \gamma
      \odot (v - \bar v) / \sqrt{\mathrm{var}(v) + \epsilon} + \beta` over the features of one step:
      the pre-activation is :math:`\mathrm{LN}(W_{ih} x_t; \gamma_{ih}) + b_{ih} + \mathrm{LN}(W_{hh}
      h_{t-1}; \gamma_{hh}) + b_{hh}` (the biases stand in for the betas) and
      :math:`h_t = o_t \odot \tanh(\mathrm{LN}(c_t; \gamma_c, \beta_c))`. ``x_projected``, if given,
      must already be :func:`lstm_input_projection`'s normalised value.

    Returns ``(h_t, c_t, gates)``.
    """
    if x_projected is None:
        x_projected = lstm_input_projection(x, weight_ih, bias_ih, norm)  # (N, G*H)
    if norm is None:
        pre = x_projected + torch.nn.functional.linear(h_prev, weight_hh, bias_hh)  # (N, G*H)
    else:
        recurrent = layer_norm(torch.nn.functional.linear(h_prev, weight_hh), norm.hh_weight, None, norm.eps)
        pre = x_projected + recurrent if bias_hh is None else x_projected + recurrent + bias_hh
    if coupled:
        f, g, o = pre.chunk(3, dim=-1)  # each (N, H)
        i = None
    else:
        i, f, g, o = pre.chunk(4, dim=-1)  # each (N, H)
    if peephole is not None:
        f = f + peephole[1] * c_prev
        i = None if i is None else i + peephole[0] * c_prev
    f = torch.sigmoid(f)  # forget gate: how much of the old cell is kept
    i = 1 - f if i is None else torch.sigmoid(i)  # input gate: how much of the candidate enters the cell
    g = torch.tanh(g)  # candidate cell content
    c = f * c_prev + i * g  # (N, H)
    if peephole is not None:
        o = o + peephole[2] * c
    o = torch.sigmoid(o)  # output gate: how much of the cell is shown as h
    shown = c if norm is None else layer_norm(c, norm.cell_weight, norm.cell_bias, norm.eps)
    h = o * torch.tanh(shown)  # (N, H)
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


def layer_norm(v: Tensor, weight: Tensor, bias: Tensor | None, eps: float) -> Tensor:
    """LN over the last dimension: ``weight * (v - mean) / sqrt(var + eps) (+ bias)``, var biased."""
    return torch.nn.functional.layer_norm(v, v.shape[-1:], weight, bias, eps)


def lstm_input_projection(x: Tensor, weight_ih: Tensor, bias_ih: Tensor | None, norm: LSTMNorm | None = None) -> Tensor:
    """The input's share of the gate pre-activations, ``W_ih x + b_ih`` (``LN(W_ih x) + b_ih`` with
    layer norm), for any leading shape: the layers compute it for all steps in one product."""
    if norm is None:
        return torch.nn.functional.linear(x, weight_ih, bias_ih)
    projected = layer_norm(torch.nn.functional.linear(x, weight_ih), norm.ih_weight, None, norm.eps)
    return projected if bias_ih is None else projected + bias_ih


class GRUGates(NamedTuple):
    """The gates of one GRU step, each (N, H)."""

    reset_gate: Tensor  # r_t
    update_gate: Tensor  # z_t
    candidate: Tensor  # n_t


def gru_step(
    x: Tensor,
    h_prev: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    *,
    x_projected: Tensor | None = None,
    h_recurrent: Tensor | None = None,
) -> tuple[Tensor, GRUGates]:
    r"""One GRU step (Cho et al. 2014), in ``torch.nn.GRU``'s form and gate order ``r | z | n``.

    .. math::
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})                    \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})                    \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))          \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    Shapes: x (N, H_in); h_prev (N, H); weight_ih (3H, H_in); weight_hh (3H, H); biases (3H,).
    ``h_recurrent`` replaces :math:`h_{t-1}` inside the three recurrent products only (recurrent
    dropout masks it there; the carry :math:`z_t \odot h_{t-1}` keeps the unmasked state, as Keras).
    Returns ``(h_t, gates)``.
    """
    if x_projected is None:
        x_projected = torch.nn.functional.linear(x, weight_ih, bias_ih)  # (N, 3H)
    recurrent = torch.nn.functional.linear(h_prev if h_recurrent is None else h_recurrent, weight_hh, bias_hh)
    x_r, x_z, x_n = x_projected.chunk(3, dim=-1)
    h_r, h_z, h_n = recurrent.chunk(3, dim=-1)
    r = torch.sigmoid(x_r + h_r)  # reset gate: how much of the old state the candidate sees
    z = torch.sigmoid(x_z + h_z)  # update gate: how much of the old state is kept
    n = torch.tanh(x_n + r * h_n)  # candidate state
    h = (1 - z) * n + z * h_prev
    return h, GRUGates(r, z, n)


def zoneout(new: Tensor, old: Tensor, keep: Tensor | float) -> Tensor:
    r"""Zoneout (Krueger et al. 2016): :math:`s_t = d_t \odot s_{t-1} + (1 - d_t) \odot \tilde s_t`.

    While training ``keep`` is a 0/1 mask :math:`d_t` drawn per unit and step with probability p of
    a 1 (the unit keeps its old value); at evaluation it is p itself, the mask's expectation.
    """
    return new + keep * (old - new)
