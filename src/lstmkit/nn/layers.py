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
  cuDNN on GPU) on the same parameters; ``"auto"`` picks native wherever it computes the same thing
  (today: always for these two layers; variants no vendor kernel covers will run on the reference or
  a fused backend of ours);
* initialisation by name (:mod:`lstmkit.nn.init`), defaulting to Glorot input weights, orthogonal
  recurrent weights and a forget-gate bias of 1.

Shapes: T time, N batch, H_in input features, H hidden, H_out = proj_size or H, L layers,
D = 2 if bidirectional else 1.
"""
from __future__ import annotations

import warnings
from typing import Callable, Sequence

import torch
from torch import Tensor, _VF
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmkit.nn import functional as F_
from lstmkit.nn.init import check_forget_bias, check_init_name, init_biases_, init_gate_blocks_, set_forget_bias_
from lstmkit.registry import register_model

BACKENDS = ("auto", "native", "reference")


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {list(BACKENDS)}")
    return backend


class _StackedRecurrent(torch.nn.Module):
    """What LSTM and RNN share: parameters, argument checks, input/lengths/state handling."""

    _num_gates: int  # 4 for the LSTM (i, f, g, o), 1 for the vanilla RNN
    _name: str

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        *,
        backend: str = "auto",
        input_init: str = "xavier_uniform",
        recurrent_init: str = "orthogonal",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        for name, value, low in (("input_size", input_size, 1), ("hidden_size", hidden_size, 1),
                                 ("num_layers", num_layers, 1), ("proj_size", proj_size, 0)):
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{self._name}: {name} must be an integer >= {low}, got {value!r}")
        if proj_size >= hidden_size:
            raise ValueError(
                f"{self._name}: proj_size must be smaller than hidden_size, got proj_size={proj_size} "
                f"and hidden_size={hidden_size}"
            )
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"{self._name}: dropout must be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{self._name}: dropout={dropout} acts only between stacked layers, so it does nothing "
                "with num_layers=1",
                stacklevel=3,
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = proj_size
        self.backend = check_backend(backend)
        self.input_init = check_init_name(input_init, "input_init")
        self.recurrent_init = check_init_name(recurrent_init, "recurrent_init")

        factory = {"device": device, "dtype": dtype}
        gate_rows = self._num_gates * hidden_size
        out = self.output_size
        self._flat_weight_names: list[str] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else out * self.num_directions
            for direction in range(self.num_directions):
                sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = [(f"weight_ih{sfx}", (gate_rows, layer_input)), (f"weight_hh{sfx}", (gate_rows, out))]
                if bias:
                    shapes += [(f"bias_ih{sfx}", (gate_rows,)), (f"bias_hh{sfx}", (gate_rows,))]
                if proj_size > 0:
                    shapes.append((f"weight_hr{sfx}", (proj_size, hidden_size)))
                for name, shape in shapes:
                    self.register_parameter(name, torch.nn.Parameter(torch.empty(shape, **factory)))
                    self._flat_weight_names.append(name)
        self.reset_parameters()

    # ----------------------------------------------------------------------------------- properties
    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """H_out: the size of h_t (proj_size when projecting, else hidden_size)."""
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    @property
    def _flat_weights(self) -> list[Tensor]:
        # Order expected by torch's fused kernels: per layer, per direction: w_ih, w_hh, b_ih, b_hh, w_hr.
        return [getattr(self, name) for name in self._flat_weight_names]

    def layer_weights(self, layer: int, direction: int) -> dict[str, Tensor | None]:
        """The parameters of one layer and direction by kind: ``weight_ih``, ``weight_hh``, ``bias_ih``,
        ``bias_hh`` and ``weight_hr`` (None where the layer has no bias or no projection)."""
        sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        return {
            kind: getattr(self, f"{kind}{sfx}", None)
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        }

    # ------------------------------------------------------------------------------ initialisation
    def reset_parameters(self) -> None:
        for layer in range(self.num_layers):
            for direction in range(self.num_directions):
                w = self.layer_weights(layer, direction)
                init_gate_blocks_(w["weight_ih"], self._num_gates, self.input_init, hidden_size=self.hidden_size)
                init_gate_blocks_(w["weight_hh"], self._num_gates, self.recurrent_init, hidden_size=self.hidden_size)
                if w["weight_hr"] is not None:
                    proj_init = "uniform" if self.input_init == "uniform" else "xavier_uniform"
                    init_gate_blocks_(w["weight_hr"], 1, proj_init, hidden_size=self.hidden_size)
                if w["bias_ih"] is not None:
                    init_biases_(w["bias_ih"], w["bias_hh"], self.input_init, hidden_size=self.hidden_size)
                    self._init_bias_extra(w["bias_ih"], w["bias_hh"])

    def _init_bias_extra(self, bias_ih: Tensor, bias_hh: Tensor) -> None:
        pass

    # ------------------------------------------------------------------------------------- config
    def get_config(self) -> dict:
        """JSON-able constructor arguments: ``type(self).from_config(m.get_config())`` rebuilds ``m``."""
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bias": self.bias,
            "batch_first": self.batch_first,
            "dropout": self.dropout,
            "bidirectional": self.bidirectional,
            "proj_size": self.proj_size,
            "backend": self.backend,
            "input_init": self.input_init,
            "recurrent_init": self.recurrent_init,
        }

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False, "proj_size": 0, "backend": "auto"}
        for name, default in defaults.items():
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)!r}"
        return s

    # ------------------------------------------------------------------------------ input checking
    def _prepare(self, input, hx, lengths):
        """Bring any accepted input to (x (T, N, H_in), hx tuple or None, lengths (N,) int64 cpu or None).

        Returns also a function that puts the (T, N, D*H_out) output back in the caller's layout.
        """
        name = self._name
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError(f"{name}: pass either a PackedSequence or lengths=, not both")
            x, lengths = pad_packed_sequence(input, batch_first=False)  # (T, N, H_in), original order
            sorted_indices, unsorted_indices = input.sorted_indices, input.unsorted_indices

            def restore(out: Tensor) -> PackedSequence:
                if sorted_indices is not None:
                    out = out.index_select(1, sorted_indices)  # the packing's order: longest first
                packed = pack_padded_sequence(out, lengths[sorted_indices] if sorted_indices is not None
                                              else lengths, enforce_sorted=True)
                return PackedSequence(packed.data, packed.batch_sizes, sorted_indices, unsorted_indices)

            unbatched = False
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"{name}: input must be a torch.Tensor or PackedSequence, got {type(input).__name__}")
            layout = "(N, T, H_in)" if self.batch_first else "(T, N, H_in)"
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"{name}: expected input of rank 3 {layout} or rank 2 (T, H_in) for one unbatched "
                    f"sequence, got rank {input.dim()} with shape {tuple(input.shape)}"
                )
            unbatched = input.dim() == 2
            if unbatched:
                x = input.unsqueeze(1)
            else:
                x = input.transpose(0, 1) if self.batch_first else input

            def restore(out: Tensor) -> Tensor:
                if unbatched:
                    return out.squeeze(1)
                return out.transpose(0, 1) if self.batch_first else out

        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input with {self.input_size} features (input_size) in the last "
                f"dimension, got {x.shape[-1]} (input shape {tuple(input.shape if isinstance(input, Tensor) else x.shape)})"
            )
        w = self.weight_ih_l0
        if x.dtype != w.dtype:
            raise TypeError(
                f"{name}: input dtype {x.dtype} does not match the parameters' dtype {w.dtype}; "
                f"convert one of them (e.g. input.to({w.dtype}) or module.to({x.dtype}))"
            )
        T, N = x.shape[0], x.shape[1]
        if T == 0:
            raise ValueError(f"{name}: the input sequence is empty (length 0)")
        lengths = self._check_lengths(lengths, N, T, unbatched)
        hx = self._check_hx(hx, N, unbatched, x)
        return x, hx, lengths, restore, unbatched

    def _check_lengths(self, lengths, N: int, T: int, unbatched: bool) -> Tensor | None:
        if lengths is None:
            return None
        name = self._name
        if isinstance(lengths, Tensor):
            if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
                raise TypeError(f"{name}: lengths must hold integers, got dtype {lengths.dtype}")
            lengths = lengths.detach().to("cpu", torch.int64)
        else:
            try:
                values = list(lengths) if not isinstance(lengths, int) else [lengths]
            except TypeError:
                raise TypeError(f"{name}: lengths must be a 1-D tensor or a list of ints, got {type(lengths).__name__}") from None
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
                raise TypeError(f"{name}: lengths must hold integers, got {values!r}")
            lengths = torch.tensor(values, dtype=torch.int64)
        if unbatched and lengths.dim() == 0:
            lengths = lengths.reshape(1)
        if lengths.dim() != 1 or lengths.shape[0] != N:
            raise ValueError(
                f"{name}: lengths must be 1-D with one entry per sequence ({N}), got shape {tuple(lengths.shape)}"
            )
        if (lengths < 1).any():
            bad = int(torch.nonzero(lengths < 1)[0])
            raise ValueError(f"{name}: every length must be >= 1, got lengths[{bad}] = {int(lengths[bad])}")
        if (lengths > T).any():
            bad = int(torch.nonzero(lengths > T)[0])
            raise ValueError(
                f"{name}: lengths[{bad}] = {int(lengths[bad])} is longer than the sequence ({T} time steps)"
            )
        return lengths

    def _state_shapes(self, N: int) -> list[tuple[str, tuple[int, ...]]]:
        LD = self.num_layers * self.num_directions
        return [("h_0", (LD, N, self.output_size))]

    def _check_hx(self, hx, N: int, unbatched: bool, x: Tensor):
        if hx is None:
            return None
        name = self._name
        states = list(hx) if isinstance(hx, (tuple, list)) else [hx]
        expected = self._state_shapes(N)
        if len(states) != len(expected):
            names = ", ".join(n for n, _ in expected)
            raise ValueError(f"{name}: hx must be ({names}), got {len(states)} tensor(s)")
        checked = []
        for (state_name, shape), state in zip(expected, states):
            if not isinstance(state, Tensor):
                raise TypeError(f"{name}: {state_name} must be a tensor, got {type(state).__name__}")
            if unbatched:
                if state.dim() != 2:
                    raise ValueError(
                        f"{name}: for an unbatched input {state_name} must have shape "
                        f"{(shape[0], shape[2])}, got {tuple(state.shape)}"
                    )
                state = state.unsqueeze(1)
            if tuple(state.shape) != shape:
                raise ValueError(
                    f"{name}: expected {state_name} of shape {shape} (num_layers * num_directions, N, "
                    f"{'H_out' if state_name == 'h_0' else 'H'}), got {tuple(state.shape)}"
                )
            if state.dtype != x.dtype:
                raise TypeError(f"{name}: {state_name} has dtype {state.dtype}, the input {x.dtype}")
            checked.append(state)
        return tuple(checked)

    def _zero_states(self, x: Tensor) -> tuple[Tensor, ...]:
        N = x.shape[1]
        return tuple(x.new_zeros(shape) for _, shape in self._state_shapes(N))

    def resolve_backend(self, input=None) -> str:
        """The backend a forward call will use: ``"auto"`` resolves to ``"native"`` here.

        torch's fused kernels cover the standard LSTM/RNN in every configuration these layers
        accept (projections, directions, dropout, packed lengths, float16/bfloat16/float32/float64 on
        CPU and CUDA), and agree with the reference to 1e-10 in float64 (``tests/nn``).
        """
        return "native" if self.backend == "auto" else self.backend

    # ------------------------------------------------------------------------------------ backends
    def _forward_native(self, x: Tensor, states: tuple[Tensor, ...], lengths: Tensor | None):
        T = x.shape[0]
        if lengths is None:
            out, *new_states = self._native_kernel(x, None, states)
            return out, tuple(new_states)
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        sorted_states = tuple(s.index_select(1, packed.sorted_indices) for s in states)
        data, *new_states = self._native_kernel(packed.data, packed.batch_sizes, sorted_states)
        out, _ = pad_packed_sequence(
            PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
            total_length=T,
        )
        return out, tuple(s.index_select(1, packed.unsorted_indices) for s in new_states)

    def _forward_reference(self, x, states, lengths, *, record: list | None = None, dropout: bool = True):
        """The layer loop written out: run each layer and direction, concatenate, dropout between layers.

        ``record``, if given, receives one ``(layer, direction, per_step_records)`` entry per
        direction, where ``per_step_records[t]`` is whatever the step function recorded at time t.
        """
        T = x.shape[0]
        valid = None
        if lengths is not None:
            # (T, N, 1) True where step t lies inside sequence n
            valid = (torch.arange(T)[:, None] < lengths[None, :]).unsqueeze(-1).to(x.device)
        layer_input = x
        final_states: list[tuple[Tensor, ...]] = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                state = tuple(s[index] for s in states)
                steps: list | None = [None] * T if record is not None else None
                out, state = self._run_direction(layer_input, state, self.layer_weights(layer, direction),
                                                 valid, reverse=direction == 1, steps=steps)
                if record is not None:
                    record.append((layer, direction, steps))
                outputs.append(out)
                final_states.append(state)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)  # (T, N, D*H_out)
            if dropout and self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = torch.nn.functional.dropout(layer_input, self.dropout, training=True)
        new_states = tuple(torch.stack([s[k] for s in final_states]) for k in range(len(states)))
        return layer_input, new_states

    def _run_direction(self, x, state, w, valid, *, reverse: bool, steps: list | None):
        """Run one direction of one layer over time. x (T, N, in) -> output (T, N, H_out), final state.

        Steps past a sequence's length leave its state unchanged and output zero, so the forward
        direction ends at each sequence's last valid step and the reverse direction starts there.
        """
        step = self._step_function(w, steps)
        # W_ih x_t + b_ih for all t in one matrix product; unbind (not x[t]) keeps backward cheap.
        projected = torch.nn.functional.linear(x, w["weight_ih"], w["bias_ih"]).unbind(0)  # T x (N, G*H)
        outputs: list[Tensor] = [None] * len(projected)  # type: ignore[list-item]
        for t in (reversed(range(len(projected))) if reverse else range(len(projected))):
            out, new_state = step(t, projected[t], state)
            if valid is not None:
                v = valid[t]  # (N, 1)
                new_state = tuple(torch.where(v, new, old) for new, old in zip(new_state, state))
                out = torch.where(v, out, torch.zeros((), dtype=out.dtype, device=out.device))
            state = new_state
            outputs[t] = out
        return torch.stack(outputs), state  # (T, N, H_out)

    # ------------------------------------------------------------------------------------- forward
    def _run(self, input, hx, lengths):
        x, hx, lengths, restore, unbatched = self._prepare(input, hx, lengths)
        states = hx if hx is not None else self._zero_states(x)
        if lengths is not None and bool((lengths == x.shape[0]).all()):
            lengths = None  # no padding anywhere: keep the unpacked (fastest) kernel path
        if self.resolve_backend() == "native":
            out, new_states = self._forward_native(x, states, lengths)
        else:
            out, new_states = self._forward_reference(x, states, lengths)
        if unbatched:
            new_states = tuple(s.squeeze(1) for s in new_states)
        return restore(out), new_states

    def _step_function(self, w, steps) -> Callable:
        raise NotImplementedError

    def _native_kernel(self, data, batch_sizes, states):
        raise NotImplementedError


@register_model("lstm")
class LSTM(_StackedRecurrent):
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

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size:
            exactly as ``torch.nn.LSTM``.
        backend: ``"auto"`` (default), ``"native"`` or ``"reference"``; see the module docstring.
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

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, *, backend: str = "auto", input_init: str = "xavier_uniform",
                 recurrent_init: str = "orthogonal", forget_bias: float | None = 1.0,
                 device=None, dtype=None) -> None:
        self.forget_bias = check_forget_bias(forget_bias, "LSTM")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, backend=backend, input_init=input_init, recurrent_init=recurrent_init,
                         device=device, dtype=dtype)

    def _init_bias_extra(self, bias_ih: Tensor, bias_hh: Tensor) -> None:
        if self.forget_bias is not None:
            set_forget_bias_(bias_ih, bias_hh, self.forget_bias)

    def get_config(self) -> dict:
        return {**super().get_config(), "forget_bias": self.forget_bias}

    def _state_shapes(self, N: int):
        LD = self.num_layers * self.num_directions
        return [("h_0", (LD, N, self.output_size)), ("c_0", (LD, N, self.hidden_size))]

    def forward(self, input, hx: tuple[Tensor, Tensor] | None = None, lengths: Sequence[int] | Tensor | None = None):
        out, (h_n, c_n) = self._run(input, hx, lengths)
        return out, (h_n, c_n)

    def _native_kernel(self, data, batch_sizes, states):
        if batch_sizes is None:
            return _VF.lstm(data, states, self._flat_weights, self.bias, self.num_layers, self.dropout,
                            self.training, self.bidirectional, False)
        return _VF.lstm(data, batch_sizes, states, self._flat_weights, self.bias, self.num_layers,
                        self.dropout, self.training, self.bidirectional)

    def _step_function(self, w, steps):
        def step(t, x_projected, state):
            h, c, gates = F_.lstm_step(None, state[0], state[1], w["weight_ih"], w["weight_hh"], None,
                                       w["bias_hh"], w["weight_hr"], x_projected=x_projected)
            if steps is not None:
                steps[t] = (gates, c, h)
            return h, (h, c)

        return step

    def record_steps(self, input, hx=None, lengths=None) -> tuple[Tensor, Tensor | None, list]:
        """Run the reference equations on ``input`` (anything ``forward`` accepts), recording every step.

        Inter-layer dropout is not applied: the record shows the model as it predicts. Returns
        ``(x, lengths, record)``: ``x`` the input time-major (T, N, H_in), ``lengths`` (N,) or None,
        and one ``(layer, direction, steps)`` entry per direction, ``steps[t]`` holding the gates and
        states of step t (what :func:`lstmkit.nn.record_gates` turns into a :class:`GateTrace`).
        """
        x, hx, lengths, _, _ = self._prepare(input, hx, lengths)
        states = hx if hx is not None else self._zero_states(x)
        record: list = []
        self._forward_reference(x, states, lengths, record=record, dropout=False)
        return x, lengths, record

    def streamer(self, batch_size: int = 1):
        """A :class:`lstmkit.nn.streaming.LSTMStreamer` stepping this LSTM one time step per call."""
        from lstmkit.nn.streaming import LSTMStreamer

        return LSTMStreamer(self, batch_size=batch_size)


@register_model("rnn")
class RNN(_StackedRecurrent):
    r"""Multi-layer vanilla (Elman) RNN, a drop-in for ``torch.nn.RNN``; the LSTM's point of comparison.

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}), \qquad \phi = \tanh \text{ or ReLU}

    Args as ``torch.nn.RNN`` (``nonlinearity="tanh"|"relu"``), plus ``backend``, ``input_init``
    (default: Glorot for tanh, He for ReLU) and ``recurrent_init`` (default orthogonal).
    ``forward(input, hx=None, lengths=None)`` returns ``(output, h_n)``.
    """

    _num_gates = 1
    _name = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, backend: str = "auto", input_init: str | None = None,
                 recurrent_init: str = "orthogonal", device=None, dtype=None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'")
        self.nonlinearity = nonlinearity
        if input_init is None:
            input_init = "xavier_uniform" if nonlinearity == "tanh" else "kaiming_uniform"
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, backend=backend, input_init=input_init, recurrent_init=recurrent_init,
                         device=device, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["proj_size"]
        return {**config, "nonlinearity": self.nonlinearity}

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity!r}"

    def forward(self, input, hx: Tensor | None = None, lengths: Sequence[int] | Tensor | None = None):
        out, (h_n,) = self._run(input, hx, lengths)
        return out, h_n

    def _native_kernel(self, data, batch_sizes, states):
        kernel = _VF.rnn_tanh if self.nonlinearity == "tanh" else _VF.rnn_relu
        if batch_sizes is None:
            return kernel(data, states[0], self._flat_weights, self.bias, self.num_layers, self.dropout,
                          self.training, self.bidirectional, False)
        return kernel(data, batch_sizes, states[0], self._flat_weights, self.bias, self.num_layers,
                      self.dropout, self.training, self.bidirectional)

    def _step_function(self, w, steps):
        def step(t, x_projected, state):
            h = F_.rnn_step(None, state[0], w["weight_ih"], w["weight_hh"], None, w["bias_hh"],
                            nonlinearity=self.nonlinearity, x_projected=x_projected)
            if steps is not None:
                steps[t] = h
            return h, (h,)

        return step
