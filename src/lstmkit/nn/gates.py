r"""Gate introspection: what an LSTM's gates and memory cell did on a given input.

:func:`record_gates` reruns a :class:`lstmkit.nn.LSTM` on the reference path (the same
:func:`lstmkit.nn.functional.lstm_step` the model is defined by) and keeps every intermediate
value, so the trace satisfies the model's equations exactly:

.. math::
    \text{cell}[t] = f_t \odot \text{cell}[t-1] + i_t \odot g_t, \qquad
    \text{hidden}[t] = o_t \odot \tanh(\text{cell}[t])\ (\text{then } W_{hr}\cdot \text{ with a projection})

For a reverse direction the recurrence runs backwards in time, so there "t-1" means t+1 and the
direction's last valid step is t = 0. Values are indexed by input time in both directions.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lstmkit.nn.layers import LSTM
from lstmkit.nn.variants import GRU

__all__ = ["GRUGateTrace", "GateTrace", "record_gates"]


@dataclass(frozen=True)
class GateTrace:
    """Every gate activation and state of an LSTM over one batch.

    Each field is shaped (L*D, N, T, H), indexed like ``h_n``: entry ``layer * D + direction``;
    ``hidden`` has size H_out (the projection size when ``proj_size > 0``). Steps past a sequence's
    length hold zeros. ``lengths`` (N,) gives each sequence's valid length.
    """

    input_gate: Tensor
    forget_gate: Tensor
    candidate: Tensor
    output_gate: Tensor
    cell: Tensor
    hidden: Tensor
    lengths: Tensor
    num_layers: int
    num_directions: int

    def index(self, layer: int = -1, direction: int = 0) -> int:
        """Row of the fields for ``layer`` (negative counts from the top) and ``direction``."""
        if not -self.num_layers <= layer < self.num_layers:
            raise IndexError(f"layer {layer} out of range for {self.num_layers} layer(s)")
        if direction not in range(self.num_directions):
            raise IndexError(f"direction {direction} out of range for {self.num_directions} direction(s)")
        return (layer % self.num_layers) * self.num_directions + direction


@dataclass(frozen=True)
class GRUGateTrace:
    """Every gate activation and state of a GRU over one batch, laid out as :class:`GateTrace`
    (each field (L*D, N, T, H)): :math:`h_t = (1 - z_t) n_t + z_t h_{t-1}`."""

    reset_gate: Tensor
    update_gate: Tensor
    candidate: Tensor
    hidden: Tensor
    lengths: Tensor
    num_layers: int
    num_directions: int

    index = GateTrace.index


@torch.no_grad()
def record_gates(module: LSTM | GRU, input, hx=None, lengths=None) -> GateTrace | GRUGateTrace:
    """Run ``module`` on ``input`` and return a :class:`GateTrace` of its gates and states.

    Accepts exactly what :meth:`lstmkit.nn.LSTM.forward` accepts (batch-first, unbatched, packed,
    ``lengths``), for every LSTM variant (the coupled cell's input gate is recorded as 1 - f) and,
    as a :class:`GRUGateTrace`, for the GRU. No dropout is applied and zoneout is its expectation:
    the trace shows the model as it predicts.
    """
    if not isinstance(module, (LSTM, GRU)):
        raise TypeError(f"record_gates expects an lstmkit.nn.LSTM (or a variant) or GRU, got {type(module).__name__}")
    x, lengths, record = module.record_steps(input, hx, lengths)
    T, N = x.shape[0], x.shape[1]
    if lengths is None:
        lengths = torch.full((N,), T, dtype=torch.int64)
    valid = (torch.arange(T)[None, :] < lengths[:, None]).to(x.device)  # (N, T)

    def stacked(pick) -> Tensor:
        rows = []
        for _, _, steps in record:
            per_step = torch.stack([pick(s) for s in steps], dim=1)  # (N, T, H)
            rows.append(per_step * valid.unsqueeze(-1))
        return torch.stack(rows)  # (L*D, N, T, H)

    if isinstance(module, GRU):
        return GRUGateTrace(
            reset_gate=stacked(lambda s: s[0].reset_gate),
            update_gate=stacked(lambda s: s[0].update_gate),
            candidate=stacked(lambda s: s[0].candidate),
            hidden=stacked(lambda s: s[1]),
            lengths=lengths,
            num_layers=module.num_layers,
            num_directions=module.num_directions,
        )
    return GateTrace(
        input_gate=stacked(lambda s: s[0].input_gate),
        forget_gate=stacked(lambda s: s[0].forget_gate),
        candidate=stacked(lambda s: s[0].candidate),
        output_gate=stacked(lambda s: s[0].output_gate),
        cell=stacked(lambda s: s[1]),
        hidden=stacked(lambda s: s[2]),
        lengths=lengths,
        num_layers=module.num_layers,
        num_directions=module.num_directions,
    )
