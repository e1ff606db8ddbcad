"""Taking a trained model out of Python: ``lstmkit export onnx --model DIR``.

* :func:`export_lstm_onnx`: one :class:`lstmkit.nn.LSTM` as an ONNX graph with dynamic batch and time
  axes and its recurrent state as optional inputs and outputs, so a stream can carry it;
* :func:`export_run_onnx`: a run directory's model (a bare LSTM, an action recogniser, a text
  classifier, a language model, a forecaster, an anomaly detector, a translator's encoder and decoder
  step) as an ONNX graph, its preprocessing (``config.json``'s ``task`` and ``data``) in a JSON file
  beside it;
* :mod:`lstmkit.export.runtime`: a run's model as int8 graphs in onnxruntime behind the interface its
  application calls (``--quantize int8``).

Importing this package does not import torch or onnx; the functions do, when called.
"""
from __future__ import annotations

from lstmkit.export.onnx import SUPPORTED_MODEL_TYPES, export_lstm_onnx, export_run_onnx

__all__ = ["SUPPORTED_MODEL_TYPES", "export_lstm_onnx", "export_run_onnx"]
