r"""The recurrent layers beside the standard LSTM: ``PeepholeLSTM``, ``LayerNormLSTM`` and ``GRU``.

No vendor kernel covers the first two, so they run on the fused backend (:mod:`lstmkit.nn.fused`,
a hand-written backward through time) by default. The GRU has one of its own
(:mod:`lstmkit.nn.fused_gru`), which trains faster than torch's CPU kernel; it runs on torch's kernel
for inference and on GPUs unless zoneout or recurrent dropout needs the fused one. Every layer takes the LSTM's
constructor arguments (``dtype`` and ``device`` included), ``lengths=``, stacking and directions, and
the regularisers ``recurrent_dropout``, ``zoneout`` and ``weight_drop`` (see :class:`lstmkit.nn.LSTM`).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, _VF

from lstmkit.nn import functional as F_
from lstmkit.nn.layers import LSTM, RNN
from lstmkit.nn.recurrent import RecurrentMasks, StackedRecurrent
from lstmkit.registry import register_model

__all__ = ["CELLS", "GRU", "LayerNormLSTM", "PeepholeLSTM", "cell_name", "check_cell", "last_hidden", "recurrent_layer"]


@register_model("peephole_lstm")
class PeepholeLSTM(LSTM):
    r"""LSTM with peephole connections (Gers & Schmidhuber 2000): the gates look at the cell.

    .. math::
        i_t &= \sigma(W_{ii} x_t + W_{hi} h_{t-1} + p_i \odot c_{t-1} + b_i) \\
        f_t &= \sigma(W_{if} x_t + W_{hf} h_{t-1} + p_f \odot c_{t-1} + b_f) \\
        o_t &= \sigma(W_{io} x_t + W_{ho} h_{t-1} + p_o \odot c_t + b_o)

    the rest as :class:`lstmkit.nn.LSTM`. The peephole weights are ``peephole_l{k}[_reverse]``,
    shaped (3, H) with rows :math:`p_i, p_f, p_o` ((2, H) with ``coupled=True``, which removes the
    input gate: :math:`i_t = 1 - f_t`, the CIFG of Greff et al. 2017). Arguments as :class:`LSTM`.
    """

    _name = "PeepholeLSTM"
    _default_peephole = True

    def __init__(self, *args, peephole: bool = True, **kwargs) -> None:
        super().__init__(*args, peephole=peephole, **kwargs)


@register_model("layernorm_lstm")
class LayerNormLSTM(LSTM):
    r"""Layer-normalised LSTM (Ba, Kiros & Hinton 2016), normalising both products and the cell.

    .. math::
        (i, f, g, o)_t &= \mathrm{LN}(W_{ih} x_t; \gamma_{ih}) + \mathrm{LN}(W_{hh} h_{t-1}; \gamma_{hh}) + b \\
        h_t &= o_t \odot \tanh(\mathrm{LN}(c_t; \gamma_c, \beta_c))

    where LN normalises over the features of one step (all 4H pre-activations together for the
    products, as in the paper) and the biases ``bias_ih + bias_hh`` stand in for the products' betas,
    so the forget-gate bias still starts at 1. Parameters per layer direction: ``layer_norm_ih``,
    ``layer_norm_hh`` (4H,), ``layer_norm_cell_weight``, ``layer_norm_cell_bias`` (H,), starting at
    1, 1, 1, 0. Normalisation makes each step independent of the scale of its inputs, which the
    paper found speeds up training of long sequences. Arguments as :class:`LSTM`
    (``peephole=True`` adds peepholes too).
    """

    _name = "LayerNormLSTM"
    _default_layer_norm = True

    def __init__(self, *args, layer_norm: bool = True, **kwargs) -> None:
        super().__init__(*args, layer_norm=layer_norm, **kwargs)


@register_model("gru")
class GRU(StackedRecurrent):
    r"""Multi-layer gated recurrent unit (Cho et al. 2014), a drop-in for ``torch.nn.GRU``.

    .. math::
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr})          & \text{reset gate}\\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz})          & \text{update gate}\\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) & \text{candidate}\\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    (:func:`lstmkit.nn.functional.gru_step`). Same parameters, names and gate order (r|z|n) as
    ``torch.nn.GRU``, so state dicts copy across; also the form Keras uses with ``reset_after=True``
    (:mod:`lstmkit.nn.keras`). ``forward(input, hx=None, lengths=None)`` returns ``(output, h_n)``.
    With ``recurrent_dropout`` the mask multiplies :math:`h_{t-1}` in the three recurrent products
    only (Keras' choice); ``zoneout`` takes one rate (there is no cell).
    """

    _num_gates = 3
    _name = "GRU"
    _has_projection = False

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, *,
                 backend: str = "auto", input_init: str = "xavier_uniform", recurrent_init: str = "orthogonal",
                 recurrent_dropout: float = 0.0, zoneout: float = 0.0, weight_drop: float = 0.0,
                 device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, backend=backend, input_init=input_init, recurrent_init=recurrent_init,
                         recurrent_dropout=recurrent_dropout, zoneout=zoneout, weight_drop=weight_drop,
                         device=device, dtype=dtype)
        self.resolve_backend()

    def _fused_covers(self):
        return None

    def _fused_is_faster(self) -> bool:
        # Training step, one thread, T = 100, N = 32-64, H = 64-512: fused / torch.nn.GRU = 0.68-0.98
        # (torch's CPU GRU is not oneDNN); inference is even (0.97-1.1), so torch's kernel keeps it.
        return self.weight_ih_l0.device.type == "cpu" and self.training and torch.is_grad_enabled()

    def forward(self, input, hx: Tensor | None = None, lengths: Sequence[int] | Tensor | None = None):
        out, (h_n,) = self._run(input, hx, lengths)
        return out, h_n

    def _native_kernel(self, data, batch_sizes, states, weights):
        if batch_sizes is None:
            return _VF.gru(data, states[0], weights, self.bias, self.num_layers, self.dropout,
                           self.training, self.bidirectional, False)
        return _VF.gru(data, batch_sizes, states[0], weights, self.bias, self.num_layers,
                       self.dropout, self.training, self.bidirectional)

    def _step_function(self, w, steps, masks=RecurrentMasks()):
        def step(t, x_projected, state):
            h_prev = state[0]
            h_in = None if masks.recurrent is None else h_prev * masks.recurrent
            h, gates = F_.gru_step(None, h_prev, w["weight_ih"], w["weight_hh"], None, w["bias_hh"],
                                   x_projected=x_projected, h_recurrent=h_in)
            if masks.zoneout_h is not None:
                h = F_.zoneout(h, h_prev, masks.keep_h(t))
            if steps is not None:
                steps[t] = (gates, h)
            return h, (h,)

        return step

    def _fused_direction(self, x, state, w, valid, *, reverse, masks):
        from lstmkit.nn.fused_gru import gru_sequence

        out, h = gru_sequence(self._input_projection(x, w), state[0], w["weight_hh"], w["bias_hh"],
                              valid=valid, reverse=reverse, recurrent_mask=masks.recurrent,
                              zoneout_h=masks.zoneout_h)
        return out, (h,)


# ------------------------------------------------------------------------------------ by name
#: The cells a task can be built with (``--cell``): name -> (layer class, fixed constructor options).
CELLS: dict[str, tuple[type, dict]] = {
    "lstm": (LSTM, {}),
    "peephole": (PeepholeLSTM, {}),
    "cifg": (LSTM, {"coupled": True}),
    "layernorm": (LayerNormLSTM, {}),
    "gru": (GRU, {}),
    "rnn": (RNN, {}),
}


def check_cell(cell: str) -> str:
    """``cell`` if it names one of :data:`CELLS`, else a ValueError listing them."""
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; expected one of {', '.join(CELLS)}")
    return cell


def recurrent_layer(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, **kwargs):
    """A recurrent layer by cell name: ``recurrent_layer("gru", 8, 32, 2, batch_first=True, zoneout=0.1)``.

    ``kwargs`` are the layers' shared keyword arguments (``batch_first``, ``dropout``,
    ``bidirectional``, ``recurrent_dropout``, ``zoneout``, ``weight_drop``, ``backend``, ``dtype``,
    ``device``, ...). The LSTM family returns ``(output, (h_n, c_n))``, the GRU and RNN
    ``(output, h_n)``: :func:`last_hidden` reads h_n from either.
    """
    layer_class, fixed = CELLS[check_cell(cell)]
    return layer_class(input_size, hidden_size, num_layers=num_layers, **fixed, **kwargs)


def last_hidden(state) -> Tensor:
    """h_n (L*D, N, H_out) from a layer's returned state: ``(h_n, c_n)`` (LSTM family) or ``h_n``."""
    return state[0] if isinstance(state, tuple) else state


def cell_name(layer) -> str:
    """The :data:`CELLS` name a layer was built as (for configs and messages)."""
    if isinstance(layer, GRU):
        return "gru"
    if isinstance(layer, RNN):
        return "rnn"
    if layer.layer_norm:
        return "layernorm"
    if layer.peephole:
        return "peephole"
    return "cifg" if layer.coupled else "lstm"
