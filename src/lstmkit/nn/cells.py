r"""Single-step cells: ``LSTMCell`` and ``RNNCell``, drop-ins for ``torch.nn.LSTMCell``/``RNNCell``.

A cell does one time step; the caller owns the loop (and the state between calls). Parameter names
and shapes are torch's (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), so state dicts copy
across in both directions.
"""
from __future__ import annotations


import torch
from torch import Tensor, _VF

from lstmkit.nn import functional as F_
from lstmkit.nn.init import check_forget_bias, check_init_name, init_biases_, init_gate_blocks_, set_forget_bias_
from lstmkit.nn.layers import check_backend


class _Cell(torch.nn.Module):
    _num_gates: int
    _name: str

    def __init__(self, input_size: int, hidden_size: int, bias: bool, *, backend: str, input_init: str,
                 recurrent_init: str, device, dtype) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{self._name}: {name} must be an integer >= 1, got {value!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bool(bias)
        self.backend = check_backend(backend)
        self.input_init = check_init_name(input_init, "input_init")
        self.recurrent_init = check_init_name(recurrent_init, "recurrent_init")
        factory = {"device": device, "dtype": dtype}
        rows = self._num_gates * hidden_size
        self.weight_ih = torch.nn.Parameter(torch.empty(rows, input_size, **factory))
        self.weight_hh = torch.nn.Parameter(torch.empty(rows, hidden_size, **factory))
        if bias:
            self.bias_ih = torch.nn.Parameter(torch.empty(rows, **factory))
            self.bias_hh = torch.nn.Parameter(torch.empty(rows, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_gate_blocks_(self.weight_ih, self._num_gates, self.input_init, hidden_size=self.hidden_size)
        init_gate_blocks_(self.weight_hh, self._num_gates, self.recurrent_init, hidden_size=self.hidden_size)
        if self.bias:
            init_biases_(self.bias_ih, self.bias_hh, self.input_init, hidden_size=self.hidden_size)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.backend != "auto":
            s += f", backend={self.backend!r}"
        return s

    def _prepare(self, input: Tensor, states: list[Tensor | None]):
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._name}: input must be a torch.Tensor, got {type(input).__name__}")
        if input.dim() not in (1, 2):
            raise ValueError(
                f"{self._name}: expected input of rank 2 (N, H_in) or rank 1 (H_in,) unbatched, "
                f"got shape {tuple(input.shape)}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{self._name}: expected {self.input_size} input features (input_size), got "
                f"{input.shape[-1]} (input shape {tuple(input.shape)})"
            )
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        out = []
        for s in states:
            if s is None:
                s = x.new_zeros(x.shape[0], self.hidden_size)
            else:
                s = s.unsqueeze(0) if unbatched and s.dim() == 1 else s
                if tuple(s.shape) != (x.shape[0], self.hidden_size):
                    raise ValueError(
                        f"{self._name}: expected state of shape {(x.shape[0], self.hidden_size)} (N, H), "
                        f"got {tuple(s.shape) if not unbatched else tuple(s.shape[1:])}"
                    )
            out.append(s)
        return x, out, unbatched


class LSTMCell(_Cell):
    r"""One LSTM time step (equations in :func:`lstmkit.nn.functional.lstm_step`).

    .. math::
        i, f, g, o &= \sigma, \sigma, \tanh, \sigma\,(W_{ih} x + b_{ih} + W_{hh} h + b_{hh}) \\
        c' &= f \odot c + i \odot g, \qquad h' = o \odot \tanh(c')

    Shape: x (N, H_in) or (H_in,); h, c (N, H). ``forward(input, hx=None) -> (h', c')``.
    Gate order i|f|g|o as ``torch.nn.LSTMCell``; initialisation as :class:`lstmkit.nn.LSTM`.
    """

    _num_gates = 4
    _name = "LSTMCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *, backend: str = "auto",
                 input_init: str = "xavier_uniform", recurrent_init: str = "orthogonal",
                 forget_bias: float | None = 1.0, device=None, dtype=None) -> None:
        self.forget_bias = check_forget_bias(forget_bias, "LSTMCell")
        super().__init__(input_size, hidden_size, bias, backend=backend, input_init=input_init,
                         recurrent_init=recurrent_init, device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if self.bias and self.forget_bias is not None:
            set_forget_bias_(self.bias_ih, self.bias_hh, self.forget_bias)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        h, c = (None, None) if hx is None else hx
        x, (h, c), unbatched = self._prepare(input, [h, c])
        if self.backend == "reference":
            h, c, _ = F_.lstm_step(x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        else:
            h, c = _VF.lstm_cell(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class RNNCell(_Cell):
    r"""One vanilla RNN step: :math:`h' = \phi(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`, φ = tanh or ReLU.

    Shape: x (N, H_in) or (H_in,); h (N, H). ``forward(input, hx=None) -> h'``.
    """

    _num_gates = 1
    _name = "RNNCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", *,
                 backend: str = "auto", input_init: str | None = None, recurrent_init: str = "orthogonal",
                 device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        if input_init is None:
            input_init = "xavier_uniform" if nonlinearity == "tanh" else "kaiming_uniform"
        super().__init__(input_size, hidden_size, bias, backend=backend, input_init=input_init,
                         recurrent_init=recurrent_init, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._prepare(input, [hx])
        if self.backend == "reference":
            h = F_.rnn_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                            nonlinearity=self.nonlinearity)
        else:
            kernel = _VF.rnn_tanh_cell if self.nonlinearity == "tanh" else _VF.rnn_relu_cell
            h = kernel(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h.squeeze(0) if unbatched else h
