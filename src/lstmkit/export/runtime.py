"""A run directory's model run as an int8 ONNX graph in onnxruntime, behind the PyTorch module's interface.

``--quantize int8`` on ``lstmkit action predict|evaluate``, ``lstmkit text classify predict`` and
``lstmkit serve`` swaps the application's ``model`` for :func:`quantized_model`'s :class:`OnnxModule`;
everything around the model (reading, padding, softmax, tables) stays the same code. The graph is the
one ``lstmkit export onnx --quantize int8`` writes (onnxruntime's dynamic quantisation, int8 weights),
exported afresh into a temporary directory at load time. Measured: 1.8-5x faster than PyTorch on CPU,
logits within ~0.03 of the float model's, JapaneseVowels accuracy unchanged.

Only models whose forward is ``model((x, lengths)) -> logits`` are offered: sensor action recognisers
(``action_net``, kind sensor) and text classifiers (``text_classifier``). A video action model's plot
path calls the CNN and the classifier apart (``lstm_inputs``, ``classify``), which one graph does not
give; the forecaster, anomaly and language-model graphs take other inputs (a baseline, a recurrent state)
and their applications call the model in other ways, so they are refused with a
:class:`~lstmkit.errors.UsageError`. So are models whose recurrent cell does not export to ONNX (the LSTM
variants peephole, cifg and layernorm, and zoneout: :func:`lstmkit.export.graphs.not_exportable`); the
LSTM, GRU and RNN cells do, recurrent dropout or not.

torch is imported with this module (the class is a ``torch.nn.Module``); it is imported by the commands'
run functions only, never while the command-line parser is built.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from lstmkit.errors import MissingDependencyError, UsageError

__all__ = ["QUANTIZABLE", "OnnxModule", "check_quantizable", "quantized_model"]

QUANTIZABLE = ("action_net (kind sensor)", "text_classifier")

# onnxruntime's type names -> the numpy dtype a feed must have
_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(uint8)": np.uint8,
                "tensor(int32)": np.int32, "tensor(double)": np.float64}


class OnnxModule(torch.nn.Module):
    """``forward((x, lengths)) -> logits`` computed by an onnxruntime session instead of PyTorch.

    A drop-in for the applications' ``model``: it takes the same padded batch and lengths (torch
    tensors, on any device) and returns the logits as a float32 CPU tensor, so ``predict_proba``,
    ``predict_proba`` and ``probabilities_over_time`` run unchanged. It holds one empty, frozen CPU
    parameter only so that ``next(model.parameters()).device`` (how the applications find where to
    put their inputs) answers ``cpu``; ``eval()``/``train()`` are ``torch.nn.Module``'s and change
    nothing in the graph (it has no dropout). Lengths must lie in [1, T], as the applications keep them.
    """

    def __init__(self, session):
        super().__init__()
        self.session = session
        inputs = session.get_inputs()
        if len(inputs) != 2:
            raise UsageError(f"OnnxModule runs graphs of (x, lengths) -> logits; this one takes "
                             f"{[arg.name for arg in inputs]}")
        self.input_names = [arg.name for arg in inputs]
        self.input_types = [_NUMPY_TYPES.get(arg.type, np.float32) for arg in inputs]
        # Not a weight: the device probe the applications use (next(model.parameters()).device).
        self.device_probe = torch.nn.Parameter(torch.empty(0), requires_grad=False)

    def forward(self, batch):
        x, lengths = batch
        feed = {name: tensor.detach().cpu().numpy().astype(dtype, copy=False)
                for name, tensor, dtype in zip(self.input_names, (x, lengths), self.input_types)}
        (logits,) = self.session.run(None, feed)
        return torch.from_numpy(np.ascontiguousarray(logits, dtype=np.float32))


def check_quantizable(directory: Path) -> None:
    """UsageError unless the run directory holds a model :class:`OnnxModule` can stand in for."""
    from lstmkit.train import read_config

    from lstmkit.export.graphs import not_exportable

    config = read_config(directory)
    model_type = config.get("model_type")
    kind = (config.get("data") or {}).get("kind") or (config.get("task") or {}).get("kind")
    if model_type == "text_classifier" or (model_type == "action_net" and kind == "sensor"):
        network = config.get("model") if isinstance(config.get("model"), dict) else {}
        why = not_exportable(network.get("cell", "lstm"), network.get("zoneout", 0.0) or 0.0)
        if why:
            raise UsageError(f"{directory}: --quantize int8 runs the model as an ONNX graph: {why}")
        return
    shown = f"model_type {model_type!r}" + (f" of kind {kind!r}" if model_type == "action_net" else "")
    raise UsageError(f"{directory}: --quantize int8 runs {' and '.join(QUANTIZABLE)} models; this one is {shown} "
                     "(forecaster, anomaly and language-model graphs take other inputs; `lstmkit export onnx "
                     "--quantize int8` still writes theirs)")


def quantized_model(model_dir: str | os.PathLike) -> OnnxModule:
    """The run directory's model as an int8 ONNX graph in onnxruntime (CPU), wrapped in :class:`OnnxModule`.

    The graph is exported and quantised into a temporary directory (:func:`export_run_onnx` with
    ``quantize="int8"``, which checks the float graph against PyTorch first) and deleted once the session
    has read it; the run directory is not written to. onnxruntime uses as many threads as torch was given
    (``--threads``). A :class:`~lstmkit.errors.UsageError` for model types other than :data:`QUANTIZABLE`,
    a :class:`~lstmkit.errors.MissingDependencyError` without onnx/onnxruntime.
    """
    import tempfile

    from lstmkit.export.graphs import INSTALL_HINT, onnxruntime_or_none
    from lstmkit.export.onnx import export_run_onnx

    directory = Path(model_dir)
    check_quantizable(directory)
    ort = onnxruntime_or_none()
    if ort is None:
        raise MissingDependencyError(f"--quantize int8 runs the model in onnxruntime: {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="lstmkit-int8-") as tmp:
        path = export_run_onnx(directory, Path(tmp) / "model.int8.onnx", quantize="int8")
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only
        options.intra_op_num_threads = max(1, torch.get_num_threads())
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return OnnxModule(session).eval()
