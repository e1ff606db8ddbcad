"""What ``lstmkit inspect`` looks at: the LSTM of a model directory and the batch it reads from a table.

Model directories it understands:

* forecasting runs (``lstmkit forecast train``): the data is the same kind of table the model was
  trained on; every window of it the model could forecast from is one sequence (the latest
  ``max_sequences``), fed exactly as the forecaster feeds it (relative to the window's level and
  scaled, :meth:`lstmkit.tasks.forecast.Forecaster.window_inputs`), and ``member`` picks the ensemble
  member;
* a bare :class:`lstmkit.nn.LSTM` saved with :func:`lstmkit.train.save_model`: the table is one
  sequence, its columns the LSTM's inputs in order (``columns``, else ``config.json["data"]["columns"]``
  when the saver wrote it, else every numeric column);
* action-recognition runs (``lstmkit action train``): the data is clips or sensor sequences like
  those of training; the LSTM's inputs are the frame features of the CNN or the (convolved) channels,
  one sequence per clip, those of the most common length (pads would count in the statistics);
* a model whose ``rnn`` attribute is an :class:`lstmkit.nn.LSTM` reading the raw input, such as the
  long-memory study's ``models/*-lstm`` (whose sample CSVs are in the study's ``samples/``).

"LSTM" stands for any LSTM variant (peephole, CIFG, layer-normalised) and for the GRU, whose gates
are drawn and counted as its own (reset, update); a vanilla RNN has no gates and is refused in one line.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from lstmkit.data import read_table
from lstmkit.errors import DataError, InputFileError, ModelFileError, UsageError
from lstmkit.nn import GRU, LSTM
from lstmkit.train import load_model, read_config

MAX_SEQUENCES = 2000  # forecasting: the statistics use at most this many (latest) windows


@dataclass
class Subject:
    """What to look at: the LSTM (or GRU), the batch it reads (N, T, F) batch-first, and labels for the picture."""

    lstm: LSTM | GRU
    x: Tensor
    feature_names: list[str]
    kind: str  # "forecast", "lstm" or "rnn-attribute"
    times: list[list[Any]] | None = None  # per sequence, the time label of each step
    note: str = ""
    default_sequence: int = -1
    details: dict = field(default_factory=dict)


def load_subject(model_dir: str | os.PathLike, data, *, columns: Sequence[str] | None = None,
                 member: int = 0, max_sequences: int = MAX_SEQUENCES) -> Subject:
    """Load ``model_dir`` and turn ``data`` (CSV path or DataFrame) into the batch its LSTM reads."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputFileError(f"model directory {model_dir} does not exist")
    config = read_config(model_dir)  # ModelFileError: "no config.json in ...: not an lstmkit model directory"
    task = config.get("task") if isinstance(config.get("task"), dict) else {}
    if task.get("name") == "forecast":
        if columns:
            raise UsageError("--columns applies to plain LSTM models; a forecasting model reads the columns it "
                             "was trained on")
        _refuse_rnn_cell(model_dir, task, "forecasting")
        return _forecast_subject(model_dir, data, member, max_sequences)
    if task.get("name") == "action":
        if columns:
            raise UsageError("--columns applies to plain LSTM models; an action model reads what it was trained on")
        _refuse_rnn_cell(model_dir, task, "action")
        return _action_subject(model_dir, data, max_sequences)
    model = load_model(model_dir)
    lstm = _find_lstm(model, model_dir, config)
    saved = config.get("data") if isinstance(config.get("data"), dict) else {}
    names, x = _table_sequence(data, lstm.input_size, columns or saved.get("columns"))
    kind = "lstm" if model is lstm else "rnn-attribute"
    return Subject(lstm, x, names, kind, default_sequence=0, details={"model_type": config.get("model_type")})


NO_GATES = "it has no gates to show (inspect reads the LSTM cells and the GRU)"


def _refuse_rnn_cell(model_dir: Path, task: dict, what: str) -> None:
    """A one-line refusal for a task model trained with ``--cell rnn`` (read from its config, before loading)."""
    if task.get("cell") == "rnn":
        raise ModelFileError(f"{model_dir} holds a {what} model with cell rnn, a vanilla RNN: {NO_GATES}")


def _find_lstm(model: torch.nn.Module, model_dir: Path, config: dict) -> LSTM | GRU:
    from lstmkit.nn import RNN

    if isinstance(model, (LSTM, GRU)):
        return model
    inner = getattr(model, "rnn", None)
    if isinstance(inner, (LSTM, GRU)):
        return inner
    if isinstance(model, RNN) or isinstance(inner, RNN):
        raise ModelFileError(f"{model_dir} holds a vanilla RNN: {NO_GATES}")
    raise ModelFileError(
        f"{model_dir} holds a {config.get('model_type')!r} model; inspect reads forecasting and action runs, "
        "saved lstmkit.nn.LSTM (or GRU) models and models with one as their 'rnn' (the long-memory study's)"
    )


def _table_sequence(data, input_size: int, columns: Sequence[str] | None) -> tuple[list[str], Tensor]:
    """One sequence (1, T, F) from the table's ``columns`` (default: its numeric columns)."""
    import pandas as pd

    if isinstance(data, (str, os.PathLike)) and not Path(data).is_file():
        raise InputFileError(f"{data}: file not found")
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
    from lstmkit.tasks.forecast import Forecaster

    forecaster = Forecaster.load(model_dir)
    net = forecaster.model
    if not 0 <= member < len(net.lstms):
        raise UsageError(f"--member {member} out of range: the forecaster has {len(net.lstms)} ensemble member(s)")
    # DataError for missing columns, bad timestamps, too few rows, ...; the window ending at the last row included
    windows = forecaster.window_inputs(data, max_windows=max_sequences)
    note = "inputs as the LSTM sees them: targets relative to each window's level, divided by the scale"
    return Subject(net.lstms[member], windows.x, windows.feature_names, "forecast", times=windows.times, note=note,
                   default_sequence=-1,
                   details={"windows": len(windows.origins), "input_width": forecaster.state.input_width,
                            "member": member, "ensemble": len(net.lstms)})


def _action_subject(model_dir: Path, data, max_sequences: int) -> Subject:
    from lstmkit.tasks.action import ActionRecognizer

    app = ActionRecognizer.load(model_dir)
    x, names, ids = app.lstm_inputs(data, max_sequences)
    what = "frame features from the CNN" if app.state.kind == "video" else "channels as the LSTM reads them"
    note = f"{what}; {len(ids)} {app.state.kind} sequence(s) of {x.shape[1]} steps"
    return Subject(app.model.lstm, x, names, "action", note=note, default_sequence=0,
                   details={"kind": app.state.kind, "sequences": ids[:20]})
