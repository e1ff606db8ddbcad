r"""Multi-layer LSTM and vanilla RNN: the loop over time, stacking, directions, lengths and backends.

Both layers are drop-in replacements for ``torch.nn.LSTM`` / ``torch.nn.RNN``: same constructor
arguments, same parameter names and shapes (``weight_ih_l{k}[_reverse]``, ``weight_hh_l{k}``,
``bias_ih_l{k}``, ``bias_hh_l{k}``, ``weight_hr_l{k}``), same return values, so
``load_state_dict(torch_module.state_dict())`` works in both directions. They add:

* ``lengths=``: positions past each sequence's length are zero in ``output``, and ``h_n``/``c_n``
  are the states at each sequence's own last valid step (first step for the reverse direction), so
  padding never changes a result;
* ``backend=``: ``"reference"`` runs the gate equations of :mod:`lstmkit.nn.functional` step by step
  under autograd, the readable definition; ``"native"`` runs PyTorch's fused kernel (oneDNN on CPU,
  cuDNN on GPU) on the same parameters; ``"fused"`` runs our own loop with a hand-written backward
  through time (:mod:`lstmkit.nn.fused`), for the variants no vendor kernel covers; ``"auto"`` picks
  native wherever it computes the same thing, else fused where it exists, else the reference;
* the variants and regularisers no vendor kernel covers: peephole connections, the coupled
  input-forget gate and layer normalisation (:class:`LSTM` options, with
  :class:`lstmkit.nn.PeepholeLSTM` and :class:`lstmkit.nn.LayerNormLSTM` as names for them), and on
  every layer recurrent dropout with one mask per sequence (Gal & Ghahramani 2016), zoneout on h and
  c (Krueger et al. 2016) and DropConnect on the recurrent weights (``weight_drop``, Merity et al.
  2017); every backend draws the same masks in the same order, so under one seed they agree;
* initialisation by name (:mod:`lstmkit.nn.init`), defaulting to Glorot input weights, orthogonal
  recurrent weights and a forget-gate bias of 1.

Shapes: T time, N batch, H_in input features, H hidden, H_out = proj_size or H, L layers,
D = 2 if bidirectional else 1.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor, _VF

from lstmkit.nn import functional as F_
from lstmkit.nn.init import check_forget_bias, set_forget_bias_
from lstmkit.nn.recurrent import BACKENDS, RecurrentMasks, StackedRecurrent, check_backend
from lstmkit.registry import register_model

__all__ = ["BACKENDS", "LSTM", "RNN", "check_backend"]


@register_model("lstm")
class LSTM(StackedRecurrent):
    r"""Multi-layer long short-term memory (LSTM) network, a drop-in for ``torch.nn.LSTM``.

    For each element of the input sequence each layer computes
    (:func:`lstmkit.nn.functional.lstm_step` holds the code beside these lines):

    .. math::
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi})   & \text{input gate}\\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf})   & \text{forget gate}\\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg})    & \text{candidate}\\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho})   & \text{output gate}\\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t                        & \text{cell state}\\
        h_t &= o_t \odot \tanh(c_t)                                     & \text{hidden state}

    With ``proj_size > 0``, :math:`h_t = W_{hr}(o_t \odot \tanh(c_t))` (Sak et al. 2014). Layer
    :math:`k > 0` takes the previous layer's :math:`h_t` as its :math:`x_t`, after dropout with
    probability ``dropout`` while training.

    The variants (:func:`lstmkit.nn.functional.lstm_step` has their equations) need the fused or
    the reference backend: ``peephole=True`` (Gers & Schmidhuber 2000), ``coupled=True`` (CIFG:
    :math:`i_t = 1 - f_t`, three gate blocks f|g|o), ``layer_norm=True`` (Ba et al. 2016, on the two
    products and the cell). The regularisers combine with any of them:

    * ``recurrent_dropout=p``: :math:`h_{t-1}` enters the recurrent product as :math:`m \odot h_{t-1}`
      with one Bernoulli(1-p)/(1-p) mask m per sequence and layer for the whole sequence (Gal &
      Ghahramani 2016); off at evaluation;
    * ``zoneout=z`` or ``(z_h, z_c)``: each unit keeps its previous value with probability z per step,
      :math:`c_t = d^c_t \odot c_{t-1} + (1-d^c_t) \odot \tilde c_t` and likewise h (Krueger et al.
      2016); at evaluation the expectation, :math:`c_t = z c_{t-1} + (1-z) \tilde c_t`;
    * ``weight_drop=p``: DropConnect on ``weight_hh``, one mask per forward call (Merity et al. 2017),
      which keeps the standard cell on torch's kernel.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size:
            exactly as ``torch.nn.LSTM``.
        backend: ``"auto"`` (default), ``"native"``, ``"fused"`` or ``"reference"``; see the module
            docstring and :meth:`resolve_backend`.
        input_init: initialiser of ``weight_ih`` per gate block (default ``"xavier_uniform"``).
        recurrent_init: initialiser of ``weight_hh`` per gate block (default ``"orthogonal"``).
        forget_bias: initial forget-gate bias (default 1.0, Jozefowicz et al. 2015); ``None`` keeps
            what the initialiser gave. ``input_init=recurrent_init="uniform", forget_bias=None`` is
            torch's own initialisation.

    Inputs: ``input, hx=None, lengths=None``
        input: (T, N, H_in), (N, T, H_in) with ``batch_first``, (T, H_in) unbatched, or a PackedSequence.
        hx: ``(h_0, c_0)``, shapes (L*D, N, H_out) and (L*D, N, H); zeros when omitted.
        lengths: one valid length per sequence (1-D tensor or list).

    Outputs: ``output, (h_n, c_n)`` as ``torch.nn.LSTM``: output (T, N, D*H_out) (or packed);
    h_n (L*D, N, H_out); c_n (L*D, N, H).
    """

    _num_gates = 4
    _name = "LSTM"
    _has_cell = True
    layer_norm_eps = 1e-5

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, *, backend: str = "auto", input_init: str = "xavier_uniform",
                 recurrent_init: str = "orthogonal", forget_bias: float | None = 1.0,
                 recurrent_dropout: float = 0.0, zoneout: float | tuple[float, float] = 0.0,
                 weight_drop: float = 0.0, peephole: bool = False, coupled: bool = False,
                 layer_norm: bool = False, device=None, dtype=None) -> None:
        self.forget_bias = check_forget_bias(forget_bias, self._name)
        for name, value in (("peephole", peephole), ("coupled", coupled), ("layer_norm", layer_norm)):
            if not isinstance(value, bool):
                raise ValueError(f"{self._name}: {name} must be True or False, got {value!r}")
        self.peephole, self.coupled, self.layer_norm = peephole, coupled, layer_norm
        self._num_gates = 3 if coupled else 4  # CIFG has no input-gate rows
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, backend=backend, input_init=input_init, recurrent_init=recurrent_init,
                         recurrent_dropout=recurrent_dropout, zoneout=zoneout, weight_drop=weight_drop,
                         device=device, dtype=dtype)
        self.resolve_backend()  # an explicit backend that cannot run this layer fails here, not later

    def _extra_parameter_shapes(self):
        H, GH = self.hidden_size, self._num_gates * self.hidden_size
        shapes = []
        if self.peephole:
            shapes.append(("peephole", (2 if self.coupled else 3, H)))  # rows p_i, p_f, p_o (no p_i coupled)
        if self.layer_norm:
            shapes += [("layer_norm_ih", (GH,)), ("layer_norm_hh", (GH,)),
                       ("layer_norm_cell_weight", (H,)), ("layer_norm_cell_bias", (H,))]
        return shapes

    @torch.no_grad()
    def _init_extra(self, w) -> None:
        if w.get("peephole") is not None:
            bound = 1.0 / math.sqrt(self.hidden_size)  # torch's scale for a vector beside an H-unit layer
            w["peephole"].uniform_(-bound, bound)
        if w.get("layer_norm_ih") is not None:
            for kind in ("layer_norm_ih", "layer_norm_hh", "layer_norm_cell_weight"):
                w[kind].fill_(1.0)
            w["layer_norm_cell_bias"].zero_()

    def _init_bias_extra(self, bias_ih: Tensor, bias_hh: Tensor) -> None:
        if self.forget_bias is not None:
            set_forget_bias_(bias_ih, bias_hh, self.forget_bias, block=0 if self.coupled else 1,
                             num_gates=self._num_gates)

    def get_config(self) -> dict:
        return {**super().get_config(), "forget_bias": self.forget_bias, "peephole": self.peephole,
                "coupled": self.coupled, "layer_norm": self.layer_norm}

    def extra_repr(self) -> str:
        s = super().extra_repr()
        for name in ("peephole", "coupled", "layer_norm"):
            if getattr(self, name) and getattr(type(self), f"_default_{name}", False) is False:
                s += f", {name}=True"
        return s

    def _variant_math(self):
        names = [name for name, on in (("peephole connections", self.peephole), ("a coupled input-forget gate",
                 self.coupled), ("layer normalisation", self.layer_norm)) if on]
        return " and ".join(names) or None

    def _fused_covers(self):
        if self.proj_size > 0:
            return "the fused LSTM has no projection (proj_size)"
        return None

    def _norm(self, w) -> F_.LSTMNorm | None:
        if not self.layer_norm:
            return None
        return F_.LSTMNorm(w["layer_norm_ih"], w["layer_norm_hh"], w["layer_norm_cell_weight"],
                           w["layer_norm_cell_bias"], self.layer_norm_eps)

    def _peephole(self, w):
        p = w.get("peephole")
        if p is None:
            return None
        return (None, p[0], p[1]) if self.coupled else (p[0], p[1], p[2])

    def _input_projection(self, x, w):
        return F_.lstm_input_projection(x, w["weight_ih"], w["bias_ih"], self._norm(w))

    def state_shapes(self, N: int):
        LD = self.num_layers * self.num_directions
        return [("h_0", (LD, N, self.output_size)), ("c_0", (LD, N, self.hidden_size))]

    def forward(self, input, hx: tuple[Tensor, Tensor] | None = None, lengths: Sequence[int] | Tensor | None = None):
        out, (h_n, c_n) = self._run(input, hx, lengths)
        return out, (h_n, c_n)

    def _native_kernel(self, data, batch_sizes, states, weights):
        if batch_sizes is None:
            return _VF.lstm(data, states, weights, self.bias, self.num_layers, self.dropout,
                            self.training, self.bidirectional, False)
        return _VF.lstm(data, batch_sizes, states, weights, self.bias, self.num_layers,
                        self.dropout, self.training, self.bidirectional)

    def _step_function(self, w, steps, masks=RecurrentMasks()):
        peephole, norm = self._peephole(w), self._norm(w)

        def step(t, x_projected, state):
            h_prev, c_prev = state
            h_in = h_prev if masks.recurrent is None else h_prev * masks.recurrent  # recurrent dropout
            h, c, gates = F_.lstm_step(None, h_in, c_prev, w["weight_ih"], w["weight_hh"], None,
                                       w["bias_hh"], w["weight_hr"], x_projected=x_projected,
                                       peephole=peephole, coupled=self.coupled, norm=norm)
            if masks.zoneout_h is not None:
                h = F_.zoneout(h, h_prev, masks.keep_h(t))
            if masks.zoneout_c is not None:
                c = F_.zoneout(c, c_prev, masks.keep_c(t))
            if steps is not None:
                steps[t] = (gates, c, h)
            return h, (h, c)

        return step

    def _fused_direction(self, x, state, w, valid, *, reverse, masks):
        from lstmkit.nn.fused import lstm_sequence

        norm = self._norm(w)
        out, h, c = lstm_sequence(
            self._input_projection(x, w), state[0], state[1], w["weight_hh"], w["bias_hh"],
            peephole=w.get("peephole"), coupled=self.coupled,
            ln_hh_weight=None if norm is None else norm.hh_weight,
            ln_cell_weight=None if norm is None else norm.cell_weight,
            ln_cell_bias=None if norm is None else norm.cell_bias, eps=self.layer_norm_eps,
            valid=valid, reverse=reverse, recurrent_mask=masks.recurrent,
            zoneout_h=masks.zoneout_h, zoneout_c=masks.zoneout_c,
        )
        return out, (h, c)

    def streamer(self, batch_size: int = 1):
        """A streamer stepping this LSTM one time step per call: :class:`lstmkit.nn.streaming.LSTMStreamer`
        (NumPy, the fastest) for the standard cell, :class:`~lstmkit.nn.streaming.RecurrentStreamer`
        for the variants and zoneout."""
        from lstmkit.nn.streaming import LSTMStreamer, RecurrentStreamer

        if self._variant_math() is None and not any(self.zoneout_rates):
            return LSTMStreamer(self, batch_size=batch_size)
        return RecurrentStreamer(self, batch_size=batch_size)


@register_model("rnn")
class RNN(StackedRecurrent):
    r"""Multi-layer vanilla (Elman) RNN, a drop-in for ``torch.nn.RNN``; the LSTM's point of comparison.

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad \phi = \tanh \text{ or ReLU}

    Args as ``torch.nn.RNN`` (``nonlinearity="tanh"|"relu"``), plus ``backend``, ``input_init``
    (default: Glorot for tanh, He for ReLU) and ``recurrent_init`` (default orthogonal).
    ``forward(input, hx=None, lengths=None)`` returns ``(output, h_n)``.
    """

    _num_gates = 1
    _name = "RNN"
    _has_projection = False

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, backend: str = "auto", input_init: str | None = None,
                 recurrent_init: str = "orthogonal", recurrent_dropout: float = 0.0, zoneout: float = 0.0,
                 weight_drop: float = 0.0, device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        if input_init is None:
            input_init = "xavier_uniform" if nonlinearity == "tanh" else "kaiming_uniform"
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, backend=backend, input_init=input_init, recurrent_init=recurrent_init,
                         recurrent_dropout=recurrent_dropout, zoneout=zoneout, weight_drop=weight_drop,
                         device=device, dtype=dtype)
        self.resolve_backend()

    def get_config(self) -> dict:
        return {**super().get_config(), "nonlinearity": self.nonlinearity}

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity!r}"

    def forward(self, input, hx: Tensor | None = None, lengths: Sequence[int] | Tensor | None = None):
        out, (h_n,) = self._run(input, hx, lengths)
        return out, h_n

    def _native_kernel(self, data, batch_sizes, states, weights):
        kernel = _VF.rnn_tanh if self.nonlinearity == "tanh" else _VF.rnn_relu
        if batch_sizes is None:
            return kernel(data, states[0], weights, self.bias, self.num_layers, self.dropout,
                          self.training, self.bidirectional, False)
        return kernel(data, batch_sizes, states[0], weights, self.bias, self.num_layers,
                      self.dropout, self.training, self.bidirectional)

    def _step_function(self, w, steps, masks=RecurrentMasks()):
        def step(t, x_projected, state):
            h_prev = state[0]
            h_in = h_prev if masks.recurrent is None else h_prev * masks.recurrent
            h = F_.rnn_step(None, h_in, w["weight_ih"], w["weight_hh"], None, w["bias_hh"],
                            nonlinearity=self.nonlinearity, x_projected=x_projected)
            if masks.zoneout_h is not None:
                h = F_.zoneout(h, h_prev, masks.keep_h(t))
            if steps is not None:
                steps[t] = h
            return h, (h,)

        return step
