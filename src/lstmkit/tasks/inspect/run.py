"""Looking inside a saved LSTM: gate heat maps and per-unit gate statistics (``lstmkit inspect``).

:func:`inspect_model` loads a model directory (:func:`~lstmkit.tasks.inspect.subjects.load_subject`),
builds the inputs its LSTM reads from a data table, records every gate with
:func:`lstmkit.nn.record_gates` and writes to the output directory (missing or empty, as every run
directory: :func:`lstmkit.files.check_run_dir`):

* ``gates.png``: input, forget and output gates and the cell state (units x time) of one layer and one
  sequence, the input series above them (:func:`lstmkit.plots.gates`); for a GRU its reset and update
  gates, candidate and hidden state;
* ``gate_stats.csv``: one row per layer, direction and unit: the mean of each gate, the fraction of
  steps it is saturated (below 0.05 or above 0.95), how often the forget gate is nearly closed
  (< 0.05: the unit forgets) or nearly open (> 0.95: the unit keeps its cell), the mean and largest
  absolute cell value; all over every valid step of every sequence
  (:func:`~lstmkit.tasks.inspect.statistics.gate_statistics`);
* ``gate_stats.json``: the same per unit, a summary per layer and direction, and what was shown.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

from lstmkit.errors import UsageError
from lstmkit.files import atomic_write_text, check_run_dir, write_csv
from lstmkit.nn import record_gates
from lstmkit.nn.variants import cell_name
from lstmkit.tasks.inspect.statistics import SATURATION, gate_statistics, summarize_statistics
from lstmkit.tasks.inspect.subjects import load_subject


def inspect_model(model_dir: str | os.PathLike, data, out: str | os.PathLike, *, layer: int = -1,
                  direction: int = 0, sequence: int | None = None, columns: Sequence[str] | None = None,
                  member: int = 0, saturation: tuple[float, float] = SATURATION) -> dict:
    """Write ``gates.png``, ``gate_stats.csv`` and ``gate_stats.json`` for ``model_dir`` on ``data`` to ``out``.

    ``out`` must be missing or empty (:class:`~lstmkit.errors.RunDirError` otherwise, before anything
    is read). ``sequence`` picks the sequence drawn (default: the latest window of a forecasting run,
    the table itself otherwise); ``layer``/``direction`` pick the layer drawn. Returns the JSON's content.
    """
    from lstmkit.plots import gates

    out = check_run_dir(out, resumable=False)
    subject = load_subject(model_dir, data, columns=columns, member=member)
    lstm = subject.lstm.eval()
    layers, directions = lstm.num_layers, lstm.num_directions
    what = "GRU" if cell_name(lstm) == "gru" else "LSTM"
    if not -layers <= layer < layers:
        raise UsageError(f"--layer {layer} out of range: the {what} has {layers} layer(s)")
    if direction not in range(directions):
        raise UsageError(f"--direction {direction} out of range: the {what} has {directions} direction(s)")
    N = subject.x.shape[0]
    sequence = subject.default_sequence if sequence is None else sequence
    if not -N <= sequence < N:
        raise UsageError(f"--sequence {sequence} out of range: there are {N} sequence(s)")
    sequence %= N
    x = subject.x if lstm.batch_first else subject.x.transpose(0, 1)
    trace = record_gates(lstm, x)
    rows = gate_statistics(trace, saturation=saturation)
    summary = summarize_statistics(rows, saturation=saturation)
    title = (f"{Path(model_dir).name}: layer {layer % layers}"
             + (f", direction {direction}" if directions > 1 else "")
             + f", sequence {sequence} (of {N}, counted from 0)")
    if subject.note:
        title += f"\n({subject.note})"
    gates(trace, subject.x, path=out / "gates.png", layer=layer, direction=direction, sequence=sequence,
          input_labels=subject.feature_names, times=subject.times[sequence] if subject.times else None, title=title)
    write_csv(out / "gate_stats.csv", rows)
    result = {
        "model": str(model_dir), "kind": subject.kind, "cell": cell_name(lstm), "lstm": lstm.get_config(),
        **subject.details,
        "inputs": subject.feature_names, "sequences": N, "steps": int(subject.x.shape[1]),
        "saturation": list(saturation), "shown": {"layer": layer % layers, "direction": direction,
                                                  "sequence": sequence},
        "summary": summary, "units": rows,
    }
    atomic_write_text(out / "gate_stats.json", json.dumps(result, indent=1) + "\n")
    return result
