r"""What every recurrent layer of :mod:`lstmkit.nn` shares: parameters, argument checks, input,
lengths and state handling, backend resolution, the regularisers' masks and the loop over layers and
directions (step by step for the reference backend, one :mod:`lstmkit.nn.fused` call per direction
for the fused one).

The layers themselves (:mod:`lstmkit.nn.layers`: ``LSTM``, ``RNN``; :mod:`lstmkit.nn.variants`:
``PeepholeLSTM``, ``LayerNormLSTM``, ``GRU``) add their equations: a step function, a fused call and
torch's kernel. See :mod:`lstmkit.nn.layers` for the conventions (shapes, backends, lengths).
"""
from __future__ import annotations

import warnings
from typing import Callable, NamedTuple

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmkit.nn.init import check_init_name, init_biases_, init_gate_blocks_

__all__ = ["BACKENDS", "RecurrentMasks", "check_backend"]

BACKENDS = ("auto", "native", "fused", "reference")


class RecurrentMasks(NamedTuple):
    """The random masks of one layer direction for one forward call (None where the option is off).

    ``recurrent``: (N, H_out), multiplies :math:`h_{t-1}` inside the recurrent product, scaled by
    1/(1-p) (recurrent dropout). ``zoneout_h`` / ``zoneout_c``: (T, N, H) 0/1 keep-masks while
    training, the keep probability itself (a float) at evaluation.
    """

    recurrent: Tensor | None = None
    zoneout_h: Tensor | float | None = None
    zoneout_c: Tensor | float | None = None

    def keep_h(self, t: int) -> Tensor | float:
        """Zoneout's keep value for h at step t: that step's mask (training) or the rate (evaluation)."""
        return _keep(self.zoneout_h, t)

    def keep_c(self, t: int) -> Tensor | float:
        """As :meth:`keep_h`, for the cell state c."""
        return _keep(self.zoneout_c, t)


def _keep(zone: Tensor | float, t: int):
    """Zoneout's keep value at step t: the float itself (evaluation) or that step's mask (training)."""
    return zone if isinstance(zone, float) else zone[t]


def _check_probability(name: str, who: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{who}: {name} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {list(BACKENDS)}")
    return backend


class StackedRecurrent(torch.nn.Module):
    """What every recurrent layer shares: parameters, argument checks, input/lengths/state handling,
    backends, masks and the loop over layers and directions (see the module docstring)."""

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
        recurrent_dropout: float = 0.0,
        zoneout: float | tuple[float, float] = 0.0,
        weight_drop: float = 0.0,
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
        self.recurrent_dropout = _check_probability("recurrent_dropout", self._name, recurrent_dropout)
        self.weight_drop = _check_probability("weight_drop", self._name, weight_drop)
        if isinstance(zoneout, (tuple, list)):
            if len(zoneout) != 2:
                raise ValueError(f"{self._name}: zoneout must be a number or a pair (h, c), got {zoneout!r}")
            self.zoneout = tuple(_check_probability("zoneout", self._name, z) for z in zoneout)
        else:
            self.zoneout = _check_probability("zoneout", self._name, zoneout)
        if isinstance(self.zoneout, tuple) and not self._has_cell and self.zoneout[1] != 0:
            raise ValueError(f"{self._name}: has no cell state; give zoneout as one number (for h)")

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
                for name, shape in self._extra_parameter_shapes():
                    self.register_parameter(f"{name}{sfx}", torch.nn.Parameter(torch.empty(shape, **factory)))
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

    @property
    def zoneout_rates(self) -> tuple[float, float]:
        """(rate on h, rate on c) of zoneout; one number given applies to both."""
        return self.zoneout if isinstance(self.zoneout, tuple) else (self.zoneout, self.zoneout if self._has_cell else 0.0)

    _has_cell = False  # the LSTM family carries a cell state c beside h

    def _extra_parameter_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Parameters a variant adds per layer and direction (suffix ``_l{k}[_reverse]`` appended)."""
        return []

    def layer_weights(self, layer: int, direction: int) -> dict[str, Tensor | None]:
        """The parameters of one layer and direction by kind: ``weight_ih``, ``weight_hh``, ``bias_ih``,
        ``bias_hh`` and ``weight_hr`` (None where the layer has no bias or no projection), and any
        variant's own (``peephole``, ``layer_norm_ih``, ...)."""
        sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
        kinds = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"]
        kinds += [name for name, _ in self._extra_parameter_shapes()]
        return {kind: getattr(self, f"{kind}{sfx}", None) for kind in kinds}

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
                self._init_extra(w)

    def _init_bias_extra(self, bias_ih: Tensor, bias_hh: Tensor) -> None:
        pass

    def _init_extra(self, weights: dict[str, Tensor | None]) -> None:
        """Initialise a variant's own parameters of one layer direction."""

    # ------------------------------------------------------------------------------------- config
    _has_projection = True  # takes proj_size (the LSTM family); the RNN and GRU do not, as in torch

    def get_config(self) -> dict:
        """JSON-able constructor arguments: ``type(self).from_config(m.get_config())`` rebuilds ``m``."""
        config = {
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
            "recurrent_dropout": self.recurrent_dropout,
            "zoneout": list(self.zoneout) if isinstance(self.zoneout, tuple) else self.zoneout,
            "weight_drop": self.weight_drop,
        }
        if not self._has_projection:
            del config["proj_size"]
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                    "bidirectional": False, "proj_size": 0, "backend": "auto", "recurrent_dropout": 0.0,
                    "zoneout": 0.0, "weight_drop": 0.0}
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
                packed = pack_padded_sequence(out, lengths[sorted_indices.cpu()] if sorted_indices is not None
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

    def state_shapes(self, N: int) -> list[tuple[str, tuple[int, ...]]]:
        """The recurrent states for a batch of N, by name and shape: ``h_0`` (L*D, N, H_out), and for
        the LSTM family ``c_0`` (L*D, N, H)."""
        LD = self.num_layers * self.num_directions
        return [("h_0", (LD, N, self.output_size))]

    def _check_hx(self, hx, N: int, unbatched: bool, x: Tensor):
        if hx is None:
            return None
        name = self._name
        states = list(hx) if isinstance(hx, (tuple, list)) else [hx]
        expected = self.state_shapes(N)
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
        return tuple(x.new_zeros(shape) for _, shape in self.state_shapes(N))

    def _variant_math(self) -> str | None:
        """What in this layer's equations no vendor kernel computes (a phrase for errors), or None."""
        return None

    def _native_covers(self) -> str | None:
        """None when torch's kernel computes exactly this layer as it is now (training or not), else why not.

        Recurrent dropout is off at evaluation, and DropConnect only masks a weight before the
        kernel runs, so both stay on the native kernel where they can; zoneout changes every step
        (also at evaluation, where it mixes in the expectation) and never can.
        """
        variant = self._variant_math()
        if variant:
            return variant
        if any(self.zoneout_rates):
            return "zoneout"
        if self.recurrent_dropout > 0 and self.training:
            return "recurrent dropout (while training)"
        return None

    def _fused_covers(self) -> str | None:
        """None when :mod:`lstmkit.nn.fused` has this layer, else why not."""
        return f"{self._name} has no fused backend"

    def _fused_is_faster(self) -> bool:
        """True where the fused backend was measured faster than torch's kernel on the same layer."""
        return False

    def resolve_backend(self, input=None) -> str:
        """The backend a forward call will use now (it may change with ``train()``/``eval()``).

        ``"auto"``: ``"native"`` where torch's fused kernels compute this layer (the standard cell,
        in every configuration torch accepts: projections, directions, dropout, packed lengths, any
        float dtype on CPU and CUDA, plus DropConnect, and recurrent dropout at evaluation); else
        ``"fused"`` where :mod:`lstmkit.nn.fused` has it; else ``"reference"``. One exception,
        measured: the GRU trains faster on the fused backend than on torch's CPU kernel (which, unlike
        the LSTM's, is not oneDNN), so on CPU with gradients it takes the fused one. All agree to 1e-10
        in float64 (``tests/nn``). An explicit backend that cannot run this layer is an error.
        """
        if self.backend == "auto":
            if self._native_covers() is None and not self._fused_is_faster():
                return "native"
            return "fused" if self._fused_covers() is None else "reference"
        if self.backend == "native" and (why := self._native_covers()):
            raise ValueError(
                f"{self._name}: backend='native' (torch's kernel) cannot compute {why}; "
                "use backend='auto' or 'fused'"
            )
        if self.backend == "fused" and (why := self._fused_covers()):
            raise ValueError(f"{self._name}: backend='fused' is not available: {why}; use 'auto' or 'reference'")
        return self.backend

    # --------------------------------------------------------------------------- masks and weights
    def _run_weights(self, layer: int, direction: int) -> dict[str, Tensor | None]:
        """``layer_weights``, with DropConnect applied to ``weight_hh`` while training: one mask per
        forward call, scaled by 1/(1-p), drawn before the direction's other masks (every backend
        draws in this order, so they see the same masks under one seed)."""
        w = self.layer_weights(layer, direction)
        if self.weight_drop > 0 and self.training:
            p = self.weight_drop
            keep = torch.empty_like(w["weight_hh"]).bernoulli_(1 - p).div_(1 - p)
            w = {**w, "weight_hh": w["weight_hh"] * keep}
        return w

    def _masks(self, x: Tensor) -> RecurrentMasks:
        """The recurrent dropout and zoneout masks of one layer direction for input x (T, N, ...)."""
        T, N = x.shape[0], x.shape[1]
        recurrent = None
        if self.recurrent_dropout > 0 and self.training:
            p = self.recurrent_dropout
            recurrent = x.new_empty(N, self.output_size).bernoulli_(1 - p).div_(1 - p)
        rate_h, rate_c = self.zoneout_rates

        def zone(rate: float, size: int):
            if rate == 0:
                return None
            return x.new_empty(T, N, size).bernoulli_(rate) if self.training else rate

        return RecurrentMasks(recurrent, zone(rate_h, self.output_size), zone(rate_c, self.hidden_size))

    def _eval_masks(self) -> RecurrentMasks:
        """The masks at evaluation (what a streamer steps with): no dropout, zoneout's expectation."""
        rate_h, rate_c = self.zoneout_rates
        return RecurrentMasks(None, rate_h or None, rate_c or None)

    # ------------------------------------------------------------------------------------ backends
    def _forward_native(self, x: Tensor, states: tuple[Tensor, ...], lengths: Tensor | None):
        T = x.shape[0]
        weights = self._flat_weights
        if self.weight_drop > 0 and self.training:
            weights = []
            for layer in range(self.num_layers):
                for direction in range(self.num_directions):
                    w = self._run_weights(layer, direction)  # one DropConnect mask per direction
                    weights += [w[kind] for kind in self._flat_weight_kinds()]
        if lengths is None:
            out, *new_states = self._native_kernel(x, None, states, weights)
            return out, tuple(new_states)
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        sorted_states = tuple(s.index_select(1, packed.sorted_indices) for s in states)
        data, *new_states = self._native_kernel(packed.data, packed.batch_sizes, sorted_states, weights)
        out, _ = pad_packed_sequence(
            PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
            total_length=T,
        )
        return out, tuple(s.index_select(1, packed.unsorted_indices) for s in new_states)

    def _flat_weight_kinds(self) -> list[str]:
        kinds = ["weight_ih", "weight_hh"]
        if self.bias:
            kinds += ["bias_ih", "bias_hh"]
        if self.proj_size > 0:
            kinds.append("weight_hr")
        return kinds

    def _forward_reference(self, x, states, lengths, *, record: list | None = None, dropout: bool = True,
                           fused: bool = False):
        """The layer loop written out: run each layer and direction, concatenate, dropout between layers.

        Each direction runs step by step under autograd (the reference), or, with ``fused``, as one
        :mod:`lstmkit.nn.fused` call. ``dropout=False`` computes the layer as it predicts (no dropout
        of any kind, zoneout as its expectation), whatever the training mode. ``record``, if given, receives one ``(layer, direction,
        per_step_records)`` entry per direction, where ``per_step_records[t]`` is whatever the step
        function recorded at time t.
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
                if dropout:
                    w, masks = self._run_weights(layer, direction), self._masks(layer_input)
                else:  # as the model predicts: no dropout of any kind, zoneout's expectation
                    w, masks = self.layer_weights(layer, direction), self._eval_masks()
                if fused:
                    out, state = self._fused_direction(layer_input, state, w, valid, reverse=direction == 1,
                                                       masks=masks)
                else:
                    steps: list | None = [None] * T if record is not None else None
                    out, state = self._run_direction(layer_input, state, w, valid, reverse=direction == 1,
                                                     steps=steps, masks=masks)
                    if record is not None:
                        record.append((layer, direction, steps))
                outputs.append(out)
                final_states.append(state)
            layer_input = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=-1)  # (T, N, D*H_out)
            if dropout and self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = torch.nn.functional.dropout(layer_input, self.dropout, training=True)
        new_states = tuple(torch.stack([s[k] for s in final_states]) for k in range(len(states)))
        return layer_input, new_states

    def _input_projection(self, x: Tensor, w: dict) -> Tensor:
        """The input's share of the gate pre-activations, for all steps in one product."""
        return torch.nn.functional.linear(x, w["weight_ih"], w["bias_ih"])

    def _run_direction(self, x, state, w, valid, *, reverse: bool, steps: list | None,
                       masks: RecurrentMasks = RecurrentMasks()):
        """Run one direction of one layer over time. x (T, N, in) -> output (T, N, H_out), final state.

        Steps past a sequence's length leave its state unchanged and output zero, so the forward
        direction ends at each sequence's last valid step and the reverse direction starts there.
        """
        step = self._step_function(w, steps, masks)
        # W_ih x_t + b_ih for all t in one matrix product; unbind (not x[t]) keeps backward cheap.
        projected = self._input_projection(x, w).unbind(0)  # T x (N, G*H)
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

    def _fused_direction(self, x, state, w, valid, *, reverse: bool, masks: RecurrentMasks):
        raise NotImplementedError

    def step_function(self, layer: int = 0, direction: int = 0, *, batch_size: int, steps: int = 1) -> Callable:
        """``step(t, x_t, state) -> (h_t, new_state)``: one time step of one layer direction, for callers
        that drive the recurrence themselves (a decoder feeding its output back, a streamer).

        x_t is the layer's input at step t (N, H_in); ``state`` a tuple ``(h, c)`` (LSTM family) or
        ``(h,)``, each (N, size). The masks are drawn here, once, as a forward call over a sequence of
        ``steps`` steps and ``batch_size`` rows would draw them while training (DropConnect, one
        recurrent dropout mask for the sequence, zoneout masks per step ``t < steps``); in eval mode no
        dropout and zoneout's expectation. The equations are the reference backend's.
        """
        if self.training:
            w = self._run_weights(layer, direction)
            masks = self._masks(self.weight_ih_l0.new_empty(steps, batch_size, 0))  # reads shape, dtype, device
        else:
            w, masks = self.layer_weights(layer, direction), self._eval_masks()
        step = self._step_function(w, None, masks)

        def one_step(t: int, x: Tensor, state: tuple):
            return step(t, self._input_projection(x, w), state)

        return one_step

    # ------------------------------------------------------------------------------------- forward
    def _run(self, input, hx, lengths):
        x, hx, lengths, restore, unbatched = self._prepare(input, hx, lengths)
        states = hx if hx is not None else self._zero_states(x)
        if lengths is not None and bool((lengths == x.shape[0]).all()):
            lengths = None  # no padding anywhere: keep the unpacked (fastest) kernel path
        backend = self.resolve_backend()
        if backend == "native":
            out, new_states = self._forward_native(x, states, lengths)
        else:
            out, new_states = self._forward_reference(x, states, lengths, fused=backend == "fused")
        if unbatched:
            new_states = tuple(s.squeeze(1) for s in new_states)
        return restore(out), new_states

    def _step_function(self, w, steps, masks: RecurrentMasks = RecurrentMasks()) -> Callable:
        """``step(t, x_projected, state) -> (output, new_state)``: one time step on the reference path."""
        raise NotImplementedError

    def _native_kernel(self, data, batch_sizes, states, weights):
        raise NotImplementedError

    def record_steps(self, input, hx=None, lengths=None) -> tuple[Tensor, Tensor | None, list]:
        """Run the reference equations on ``input`` (anything ``forward`` accepts), recording every step.

        No dropout of any kind is applied and zoneout is its expectation: the record shows the model
        as it predicts. Returns
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
        """A streamer stepping this layer one time step per call (:mod:`lstmkit.nn.streaming`)."""
        from lstmkit.nn.streaming import RecurrentStreamer

        return RecurrentStreamer(self, batch_size=batch_size)


