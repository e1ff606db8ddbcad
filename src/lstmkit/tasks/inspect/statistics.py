"""Per-unit gate statistics of a recorded LSTM (:class:`lstmkit.nn.GateTrace`) or GRU
(:class:`lstmkit.nn.GRUGateTrace`), and their summary.

For each layer, direction and unit, over every valid step of every sequence: the mean of each gate,
the fraction of steps it is saturated (below 0.05 or above 0.95), how often the forget gate is
nearly closed (< 0.05: the unit forgets) or nearly open (> 0.95: the unit keeps its cell), the mean
and largest absolute cell value. For a GRU the gates are reset and update, and the update gate plays
the forget gate's part (:math:`h_t = (1 - z_t) n_t + z_t h_{t-1}`: near 1 the unit keeps its state,
near 0 it takes the candidate); the state is h.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from lstmkit.nn import GateTrace, GRUGateTrace

SATURATION = (0.05, 0.95)  # a gate below / above these is saturated (closed / open)
GATES = (("input", "input_gate"), ("forget", "forget_gate"), ("output", "output_gate"))
GRU_GATES = (("reset", "reset_gate"), ("update", "update_gate"))


def gate_names(trace: GateTrace | GRUGateTrace) -> tuple[tuple[str, str], ...]:
    """(name, trace field) of the gates of ``trace``'s cell."""
    return GRU_GATES if isinstance(trace, GRUGateTrace) else GATES


def gate_statistics(trace: GateTrace | GRUGateTrace, *, saturation: tuple[float, float] = SATURATION) -> list[dict]:
    """One dict per (layer, direction, unit) over all valid steps of all sequences of ``trace``.

    An LSTM's keys: ``mean_<gate>_gate`` and ``saturated_<gate>_gate`` for input, forget and output,
    ``forget_below_low``, ``forget_above_high``, ``mean_abs_cell``, ``max_abs_cell``. A GRU's: the same for
    reset and update, ``update_below_low``, ``update_above_high``, ``mean_abs_hidden``, ``max_abs_hidden``."""
    low, high = saturation
    gru = isinstance(trace, GRUGateTrace)
    keeper, state = ("update", "hidden") if gru else ("forget", "cell")
    T = trace.hidden.shape[2]
    valid = (torch.arange(T)[None, :] < trace.lengths[:, None])  # (N, T)
    count = valid.sum()
    rows = []
    for layer in range(trace.num_layers):
        for direction in range(trace.num_directions):
            k = trace.index(layer, direction)

            def over_steps(values: Tensor) -> Tensor:  # (N, T, H) -> (H,) mean over valid steps
                return (values.double() * valid[..., None]).sum((0, 1)) / count

            stats: dict[str, Tensor] = {}
            for name, key in gate_names(trace):
                gate = getattr(trace, key)[k]  # (N, T, H)
                stats[f"mean_{name}_gate"] = over_steps(gate)
                stats[f"saturated_{name}_gate"] = over_steps(((gate < low) | (gate > high)).double())
            forget = getattr(trace, f"{keeper}_gate")[k]
            stats[f"{keeper}_below_low"] = over_steps((forget < low).double())  # the unit wipes its memory
            stats[f"{keeper}_above_high"] = over_steps((forget > high).double())  # the unit keeps its memory
            memory = getattr(trace, state)[k].abs()
            stats[f"mean_abs_{state}"] = over_steps(memory)
            stats[f"max_abs_{state}"] = (memory.double() * valid[..., None]).amax((0, 1))
            H = forget.shape[-1]
            for unit in range(H):
                rows.append({"layer": layer, "direction": direction, "unit": unit,
                             **{name: float(value[unit]) for name, value in stats.items()}})
    return rows


def summarize_statistics(rows: list[dict], *, saturation: tuple[float, float] = SATURATION) -> list[dict]:
    """Per (layer, direction): means over units and how many units mostly keep or mostly forget (an LSTM's
    forget gate, a GRU's update gate, above / below the saturation bounds on more than half of the steps)."""
    summary = []
    for key in dict.fromkeys((r["layer"], r["direction"]) for r in rows):
        units = [r for r in rows if (r["layer"], r["direction"]) == key]
        entry = {"layer": key[0], "direction": key[1], "units": len(units)}
        gru = "mean_update_gate" in units[0]
        keeper = "update" if gru else "forget"
        for name, _ in (GRU_GATES if gru else GATES):
            entry[f"mean_{name}_gate"] = float(np.mean([u[f"mean_{name}_gate"] for u in units]))
            entry[f"saturated_{name}_gate"] = float(np.mean([u[f"saturated_{name}_gate"] for u in units]))
        # "mostly": on more than half of the steps
        entry["units_mostly_keeping"] = sum(u[f"{keeper}_above_high"] > 0.5 for u in units)
        entry["units_mostly_forgetting"] = sum(u[f"{keeper}_below_low"] > 0.5 for u in units)
        summary.append(entry)
    return summary
