"""Looking inside a saved LSTM: gate heat maps and per-unit gate statistics (``lstmkit inspect``).

:func:`inspect_model` loads a model directory, builds the inputs its LSTM reads from a data table,
records every gate with :func:`lstmkit.nn.record_gates` and writes to the output directory:

* ``gates.png``: input, forget and output gates and the cell state (units x time) of one layer and one
  sequence, the input series above them (:func:`lstmkit.plots.gates`);
* ``gate_stats.csv``: one row per layer, direction and unit: the mean of each gate, the fraction of
  steps it is saturated (below 0.05 or above 0.95), how often the forget gate is nearly closed
  (< 0.05: the unit forgets) or nearly open (> 0.95: the unit keeps its cell), the mean and largest
  absolute cell value; all over every valid step of every sequence;
* ``gate_stats.json``: the same per unit, a summary per layer and direction, and what was shown.

Model directories it understands:

* forecasting runs (``lstmkit forecast train``): the data is the same kind of table the model was
  trained on; every window of it the model could forecast from is one sequence (the latest
  ``max_sequences``), fed exactly as the forecaster feeds it (relative to the window's level and
  scaled), and ``member`` picks the ensemble member;
* a bare :class:`lstmkit.nn.LSTM` saved with :func:`lstmkit.train.save_model`: the table is one
  sequence, its columns the LSTM's inputs in order (``columns``, else ``config.json["data"]["columns"]``
  when the saver wrote it, else every numeric column);
* a model whose ``rnn`` attribute is an :class:`lstmkit.nn.LSTM` reading the raw input, such as the
  long-memory study's ``models/*-lstm`` (whose sample CSVs are in the study's ``samples/``).
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from lstmkit.data import DataError, read_table
from lstmkit.nn import LSTM, RNN, GateTrace, record_gates
from lstmkit.train import ModelFileError, load_model, read_config
from lstmkit.train.checkpoint import atomic_write_text, write_csv

logger = logging.getLogger(__name__)

SATURATION = (0.05, 0.95)  # a gate below / above these is saturated (closed / open)
MAX_SEQUENCES = 2000  # forecasting: the statistics use at most this many (latest) windows
_GATES = (("input", "input_gate"), ("forget", "forget_gate"), ("output", "output_gate"))


@dataclass
class Subject:
    """What to look at: the LSTM, the batch it reads (N, T, F) batch-first, and labels for the picture."""

    lstm: LSTM
    x: Tensor
    feature_names: list[str]
    kind: str  # "forecast", "lstm" or "rnn-attribute"
    times: list[list[Any]] | None = None  # per sequence, the time label of each step
    note: str = ""
    default_sequence: int = -1
    details: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------- statistics
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
            for name, key in _GATES:
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
        for name, _ in _GATES:
            entry[f"mean_{name}_gate"] = float(np.mean([u[f"mean_{name}_gate"] for u in units]))
            entry[f"saturated_{name}_gate"] = float(np.mean([u[f"saturated_{name}_gate"] for u in units]))
        # "mostly": on more than half of the steps
        entry["units_mostly_keeping"] = sum(u["forget_above_high"] > 0.5 for u in units)
        entry["units_mostly_forgetting"] = sum(u["forget_below_low"] > 0.5 for u in units)
        summary.append(entry)
    return summary


# ---------------------------------------------------------------------------------------- loading
def load_subject(model_dir: str | os.PathLike, data, *, columns: Sequence[str] | None = None,
                 member: int = 0, max_sequences: int = MAX_SEQUENCES) -> Subject:
    """Load ``model_dir`` and turn ``data`` (CSV path or DataFrame) into the batch its LSTM reads."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise ModelFileError(f"model directory {model_dir} does not exist")
    config = read_config(model_dir)  # ModelFileError: "no config.json in ...: not an lstmkit model directory"
    task = config.get("task") if isinstance(config.get("task"), dict) else {}
    if task.get("name") == "forecast":
        if columns:
            raise ValueError("--columns applies to plain LSTM models; a forecasting model reads the columns it "
                             "was trained on")
        return _forecast_subject(model_dir, data, member, max_sequences)
    model = load_model(model_dir)
    lstm = _find_lstm(model, model_dir, config)
    saved = config.get("data") if isinstance(config.get("data"), dict) else {}
    names, x = _table_sequence(data, lstm.input_size, columns or saved.get("columns"))
    kind = "lstm" if model is lstm else "rnn-attribute"
    return Subject(lstm, x, names, kind, default_sequence=0, details={"model_type": config.get("model_type")})


def _find_lstm(model: torch.nn.Module, model_dir: Path, config: dict) -> LSTM:
    if isinstance(model, LSTM):
        return model
    inner = getattr(model, "rnn", None)
    if isinstance(inner, LSTM):
        return inner
    if isinstance(model, RNN) or isinstance(inner, RNN):
        raise ValueError(f"{model_dir} holds a vanilla RNN: it has no gates to show (inspect reads LSTMs)")
    raise ValueError(
        f"{model_dir} holds a {config.get('model_type')!r} model; inspect reads forecasting runs, saved "
        "lstmkit.nn.LSTM models and models with an lstmkit.nn.LSTM as their 'rnn' (the long-memory study's)"
    )


def _table_sequence(data, input_size: int, columns: Sequence[str] | None) -> tuple[list[str], Tensor]:
    """One sequence (1, T, F) from the table's ``columns`` (default: its numeric columns)."""
    import pandas as pd

    if isinstance(data, (str, os.PathLike)) and not Path(data).is_file():
        raise DataError(f"{data}: file not found")
    source = str(data) if isinstance(data, (str, os.PathLike)) else "the table"
    if columns is None:
        try:
            head = pd.read_csv(data, nrows=100) if isinstance(data, (str, os.PathLike)) else data
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
            raise DataError(f"{source}: cannot read it as CSV: {str(error).strip().splitlines()[0]}") from None
        columns = [c for c in head.columns if pd.api.types.is_numeric_dtype(head[c])]
        if len(columns) != input_size:
            raise DataError(
                f"the model reads {input_size} input column(s) but {source} has {len(columns)} numeric column(s)"
                f" ({', '.join(map(str, columns)) or 'none'}); name the model's inputs in order with --columns"
            )
    columns = list(columns)
    if len(columns) != input_size:
        raise DataError(f"the model reads {input_size} input column(s), {len(columns)} given: {columns}")
    frame = read_table(data, columns=columns, freq=None)  # DataError names a missing column / bad value
    x = torch.tensor(frame[columns].to_numpy(dtype=np.float32)).unsqueeze(0)  # (1, T, F)
    return [str(c) for c in columns], x


def _forecast_subject(model_dir: Path, data, member: int, max_sequences: int) -> Subject:
    from lstmkit.tasks.forecasting import Forecaster

    forecaster = Forecaster.load(model_dir)
    net = forecaster.model
    if not 0 <= member < len(net.lstms):
        raise ValueError(f"--member {member} out of range: the forecaster has {len(net.lstms)} ensemble member(s)")
    frame = forecaster._read(data)  # DataError for missing columns, bad timestamps, ...
    first = forecaster._first_origin()
    n = len(frame)
    if n < first:
        raise DataError(f"the model's windows need at least {first} rows (input width "
                        f"{forecaster.state['input_width']} and the seasonal baseline's history), the data has {n}")
    origins = np.arange(max(first, n + 1 - max_sequences), n + 1)  # the window ending at the last row included
    (x, _base), _level = forecaster._inputs(forecaster._prepare(frame), origins)  # x (N, W, F)
    W = forecaster.state["input_width"]
    labels = [_time_label(t) for t in frame.index]
    times = [labels[o - W:o] for o in origins]
    cfg = forecaster.config
    names = [f"{c} (rel.)" for c in cfg.targets] + [f"{c} (scaled)" for c in cfg.features]
    note = "inputs as the LSTM sees them: targets relative to each window's level, divided by the scale"
    return Subject(net.lstms[member], x, names, "forecast", times=times, note=note, default_sequence=-1,
                   details={"windows": len(origins), "input_width": W, "member": member,
                            "ensemble": len(net.lstms)})


def _time_label(t) -> Any:
    if hasattr(t, "strftime"):
        has_time = any(getattr(t, part, 0) for part in ("hour", "minute", "second"))
        return t.strftime("%Y-%m-%d %H:%M" if has_time else "%Y-%m-%d")
    return t


# ------------------------------------------------------------------------------------------- main
def inspect_model(model_dir: str | os.PathLike, data, out: str | os.PathLike, *, layer: int = -1,
                  direction: int = 0, sequence: int | None = None, columns: Sequence[str] | None = None,
                  member: int = 0, saturation: tuple[float, float] = SATURATION) -> dict:
    """Write ``gates.png``, ``gate_stats.csv`` and ``gate_stats.json`` for ``model_dir`` on ``data`` to ``out``.

    ``sequence`` picks the sequence drawn (default: the latest window of a forecasting run, the table
    itself otherwise); ``layer``/``direction`` pick the layer drawn. Returns the JSON's content.
    """
    from lstmkit.plots import gates

    subject = load_subject(model_dir, data, columns=columns, member=member)
    lstm = subject.lstm.eval()
    layers, directions = lstm.num_layers, lstm.num_directions
    if not -layers <= layer < layers:
        raise ValueError(f"--layer {layer} out of range: the LSTM has {layers} layer(s)")
    if direction not in range(directions):
        raise ValueError(f"--direction {direction} out of range: the LSTM has {directions} direction(s)")
    N = subject.x.shape[0]
    sequence = subject.default_sequence if sequence is None else sequence
    if not -N <= sequence < N:
        raise ValueError(f"--sequence {sequence} out of range: there are {N} sequence(s)")
    sequence %= N
    x = subject.x if lstm.batch_first else subject.x.transpose(0, 1)
    trace = record_gates(lstm, x)
    rows = gate_statistics(trace, saturation=saturation)
    summary = summarize_statistics(rows, saturation=saturation)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    title = (f"{Path(model_dir).name}: layer {layer % layers}"
             + (f", direction {direction}" if directions > 1 else "")
             + f", sequence {sequence} (of {N}, counted from 0)")
    if subject.note:
        title += f"\n({subject.note})"
    gates(trace, subject.x, path=out / "gates.png", layer=layer, direction=direction, sequence=sequence,
          input_labels=subject.feature_names, times=subject.times[sequence] if subject.times else None, title=title)
    write_csv(out / "gate_stats.csv", rows)
    result = {
        "model": str(model_dir), "kind": subject.kind, "lstm": lstm.get_config(), **subject.details,
        "inputs": subject.feature_names, "sequences": N, "steps": int(subject.x.shape[1]),
        "saturation": list(saturation), "shown": {"layer": layer % layers, "direction": direction,
                                                  "sequence": sequence},
        "summary": summary, "units": rows,
    }
    atomic_write_text(out / "gate_stats.json", json.dumps(result, indent=1) + "\n")
    return result
