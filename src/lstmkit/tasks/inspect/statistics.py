"""Per-unit gate statistics of a recorded LSTM (:class:`lstmkit.nn.GateTrace`), and their summary.

For each layer, direction and unit, over every valid step of every sequence: the mean of each gate,
the fraction of steps it is saturated (below 0.05 or above 0.95), how often the forget gate is
nearly closed (< 0.05: the unit forgets) or nearly open (> 0.95: the unit keeps its cell), the mean
and largest absolute cell value.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from lstmkit.nn import GateTrace

SATURATION = (0.05, 0.95)  # a gate below / above these is saturated (closed / open)
GATES = (("input", "input_gate"), ("forget", "forget_gate"), ("output", "output_gate"))


def gate_statistics(trace: GateTrace, *, saturation: tuple[float, float] = SATURATION) -> list[dict]:
    """One dict per (layer, direction, unit) over all valid steps of all sequences of ``trace``."""
    low, high = saturation
    N, T = trace.forget_gate.shape[1], trace.forget_gate.shape[2]
    valid = (torch.arange(T)[None, :] < trace.lengths[:, None])  # (N, T)
    count = valid.sum()
    rows = []
    for layer in range(trace.num_layers):
        for direction in range(trace.num_directions):
            k = trace.index(layer, direction)

            def over_steps(values: Tensor) -> Tensor:  # (N, T, H) -> (H,) mean over valid steps
                return (values.double() * valid[..., None]).sum((0, 1)) / count

            stats: dict[str, Tensor] = {}
            for name, key in GATES:
                gate = getattr(trace, key)[k]  # (N, T, H)
                stats[f"mean_{name}_gate"] = over_steps(gate)
                stats[f"saturated_{name}_gate"] = over_steps(((gate < low) | (gate > high)).double())
            forget = trace.forget_gate[k]
            stats["forget_below_low"] = over_steps((forget < low).double())  # the unit wipes its cell
            stats["forget_above_high"] = over_steps((forget > high).double())  # the unit keeps its cell
            cell = trace.cell[k].abs()
            stats["mean_abs_cell"] = over_steps(cell)
            stats["max_abs_cell"] = (cell.double() * valid[..., None]).amax((0, 1))
            H = forget.shape[-1]
            for unit in range(H):
                rows.append({"layer": layer, "direction": direction, "unit": unit,
                             **{name: float(value[unit]) for name, value in stats.items()}})
    return rows


def summarize_statistics(rows: list[dict], *, saturation: tuple[float, float] = SATURATION) -> list[dict]:
    """Per (layer, direction): means over units and how many units mostly keep or mostly forget."""
    summary = []
    for key in dict.fromkeys((r["layer"], r["direction"]) for r in rows):
        units = [r for r in rows if (r["layer"], r["direction"]) == key]
        entry = {"layer": key[0], "direction": key[1], "units": len(units)}
        for name, _ in GATES:
            entry[f"mean_{name}_gate"] = float(np.mean([u[f"mean_{name}_gate"] for u in units]))
            entry[f"saturated_{name}_gate"] = float(np.mean([u[f"saturated_{name}_gate"] for u in units]))
        # "mostly": on more than half of the steps
        entry["units_mostly_keeping"] = sum(u["forget_above_high"] > 0.5 for u in units)
        entry["units_mostly_forgetting"] = sum(u["forget_below_low"] > 0.5 for u in units)
        summary.append(entry)
    return summary
