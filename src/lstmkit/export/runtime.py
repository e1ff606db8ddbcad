"""A run directory's model run as an int8 ONNX graph in onnxruntime, behind the PyTorch module's interface.

``--quantize int8`` on ``lstmkit action predict|evaluate``, ``lstmkit text classify predict``, ``lstmkit
forecast predict``, ``lstmkit anomaly detect``, ``lstmkit translate run|evaluate`` and ``lstmkit serve``
puts :func:`quantized_model`'s module where the application calls its network (:func:`use_int8`);
everything around the model (reading, padding, softmax, scaling, thresholds, decoding, tables) stays the
same code. The graphs are the ones ``lstmkit export onnx --quantize int8`` writes (onnxruntime's dynamic
quantisation, int8 weights), exported afresh into a temporary directory at load time. Measured: 1.8-5x
faster than PyTorch on CPU for the recurrent layers, outputs within a few hundredths of the float model's
(the numbers per task are in README.md).

What stands in for what:

* :class:`OnnxModule`: a graph with one output (``model((x, lengths)) -> logits`` of sensor action
  recognisers and text classifiers, ``model((x, base)) -> forecast`` of forecasters, ``model(x) ->
  reconstruction`` of anomaly autoencoders) or a stateful one (``model(x) -> (prediction, state)`` of
  anomaly next-step predictors).
* :class:`VideoOnnxModule`: a video action model as two graphs, the frame CNN (:meth:`lstm_inputs`) and
  the recurrent classifier (:meth:`classify`), since ``action predict --plot`` calls them apart.
* :class:`OnnxTranslator`: a translator's encoder and decoder-step graphs behind ``initial_state`` and
  ``step``, the protocol :mod:`lstmkit.decoding.search` drives: greedy, beam search and sampling run
  unchanged on onnxruntime's log-probabilities. :meth:`OnnxTranslator.from_files` opens the graphs of
  ``lstmkit export onnx`` (float or int8) the same way.

An anomaly detector keeps its float64 PyTorch copy for streams (``lstmkit anomaly watch``, ``serve``'s
``/stream``: the NumPy streamer is faster than onnxruntime one step at a time); only its batch scoring
(``detect``, ``/predict``) runs the int8 graph (:attr:`AnomalyDetector.batch_model`). Language models and
bare layers are refused with a :class:`~lstmkit.errors.UsageError`, and so are models whose recurrent cell
does not export to ONNX (the LSTM variants peephole, cifg and layernorm, and zoneout:
:func:`lstmkit.export.graphs.not_exportable`); the LSTM, GRU and RNN cells do, recurrent dropout or not.

torch is imported with this module (the classes are ``torch.nn.Module``); it is imported by the commands'
run functions only, never while the command-line parser is built.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from lstmkit.errors import MissingDependencyError, UsageError

__all__ = ["QUANTIZABLE", "OnnxModule", "OnnxTranslator", "VideoOnnxModule", "check_quantizable", "quantized_model",
           "use_int8"]

QUANTIZABLE = ("action_net", "anomaly_autoencoder", "anomaly_next_step", "forecaster", "text_classifier", "translator")

# onnxruntime's type names -> the numpy dtype a feed must have
_NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(uint8)": np.uint8,
                "tensor(int32)": np.int32, "tensor(double)": np.float64, "tensor(bool)": np.bool_}


def _numpy(tensor, dtype) -> np.ndarray:
    """A torch tensor (any device, any strides) as a contiguous NumPy array of ``dtype`` for a session."""
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=dtype)


def _torch(array: np.ndarray) -> torch.Tensor:
    """A session's output as a CPU tensor (float outputs float32)."""
    if array.dtype.kind == "f":
        array = np.ascontiguousarray(array, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(array))


class _SessionModule(torch.nn.Module):
    """What every stand-in shares: one empty, frozen CPU parameter, so that ``next(model.parameters()).device``
    (how the applications find where to put their inputs) answers ``cpu``; ``eval()``/``train()`` are
    ``torch.nn.Module``'s and change nothing in the graphs (they have no dropout)."""

    deviation: float | None = None  # the largest output difference from the float graph on the export's check

    def __init__(self):
        super().__init__()
        # Not a weight: the device probe the applications use (next(model.parameters()).device).
        self.device_probe = torch.nn.Parameter(torch.empty(0), requires_grad=False)


class OnnxModule(_SessionModule):
    """A module's forward computed by an onnxruntime session instead of PyTorch.

    Called as the applications call their networks: ``model((x, lengths))`` or ``model((x, base))`` (a tuple of
    the graph's inputs in order) or ``model(x)`` (one input), with torch tensors on any device; inputs are
    cast to the graph's types (an anomaly detector's float64 values to float32). A graph with one output gives
    it as a CPU tensor (float32); a stateful graph (outputs ``y, hn[, cn]``: the anomaly next-step predictor)
    gives ``(y, hn)`` or ``(y, (hn, cn))``, as the PyTorch module does, from a zero state. Lengths must lie in
    [1, T], as the applications keep them.
    """

    def __init__(self, session):
        super().__init__()
        self.session = session
        inputs = session.get_inputs()  # the required ones: an optional state is an overridable initializer
        self.input_names = [arg.name for arg in inputs]
        self.input_types = [_NUMPY_TYPES.get(arg.type, np.float32) for arg in inputs]
        self.output_names = [arg.name for arg in session.get_outputs()]

    def forward(self, *args):
        inputs = args[0] if len(args) == 1 and isinstance(args[0], (tuple, list)) else args
        if len(inputs) != len(self.input_names):
            raise UsageError(f"this ONNX graph takes {len(self.input_names)} input(s) ({', '.join(self.input_names)}), "
                             f"got {len(inputs)}")
        feed = {name: _numpy(tensor, dtype) for name, tensor, dtype in zip(self.input_names, inputs, self.input_types)}
        outputs = [_torch(array) for array in self.session.run(None, feed)]
        if len(outputs) == 1:
            return outputs[0]
        y, *state = outputs
        return y, (state[0] if len(state) == 1 else tuple(state))


class VideoOnnxModule(_SessionModule):
    """A video action model as two sessions: :meth:`lstm_inputs` (frames -> per-frame CNN features) and
    :meth:`classify` (features -> logits), the two halves of ``ActionNet``; ``forward((x, lengths))`` runs one
    after the other, as ``ActionNet.forward`` does (:func:`lstmkit.export.task_graphs.export_video_parts`)."""

    def __init__(self, features_session, classify_session):
        super().__init__()
        self.features = OnnxModule(features_session)
        self.classifier = OnnxModule(classify_session)

    def lstm_inputs(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.features((x, lengths))

    def classify(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.classifier((features, lengths))

    def forward(self, inputs) -> torch.Tensor:
        x, lengths = inputs
        return self.classify(self.lstm_inputs(x, lengths), lengths)


class OnnxTranslator(_SessionModule):
    """A translator's two graphs behind :class:`~lstmkit.tasks.translate.model.Seq2SeqAttention`'s decoding
    interface, so that ``Translator.search`` (greedy, beam, sampling, ``<unk>`` replacement) runs unchanged.

    ``initial_state(src, src_lengths)`` runs the encoder graph once: ``(h, c, feed, memory, keys, mask)``, rows
    on dim 0 (c None for a GRU or an RNN). ``step(tokens, state)`` runs the decoder graph once:
    ``(log_probs (R, V), state, attention (R, S))``. The state is torch tensors, so the searches reorder and
    drop its rows with :func:`lstmkit.decoding.search.select_rows` as they do PyTorch's; the network itself
    runs only in onnxruntime.
    """

    def __init__(self, encoder_session, decoder_session):
        super().__init__()
        self.encoder, self.decoder = encoder_session, decoder_session
        self.state_names = [arg.name for arg in encoder_session.get_outputs()]  # h, [c,] feed, memory, keys, mask
        # The decoder lists what it reads: no feed without input feeding (Bahdanau, or Luong without it).
        self.decoder_inputs = [arg.name for arg in decoder_session.get_inputs()]
        self.decoder_outputs = [arg.name for arg in decoder_session.get_outputs()]

    @classmethod
    def from_files(cls, onnx_path: str | os.PathLike) -> "OnnxTranslator":
        """The graphs ``lstmkit export onnx`` wrote for a translator: ``X.encoder.onnx`` and ``X.decoder.onnx``
        (given ``X.onnx`` or either file), in onnxruntime sessions on the CPU."""
        from lstmkit.export.onnx import translator_paths

        encoder, decoder = translator_paths(onnx_path)
        return cls(_session(encoder), _session(decoder)).eval()

    @torch.no_grad()
    def initial_state(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple:
        outputs = self.encoder.run(None, {"src": _numpy(src, np.int64),
                                          "src_lengths": _numpy(torch.as_tensor(src_lengths), np.int64)})
        named = dict(zip(self.state_names, map(_torch, outputs)))
        return named["h"], named.get("c"), named["feed"], named["memory"], named["keys"], named["mask"]

    @torch.no_grad()
    def step(self, tokens: torch.Tensor, state: tuple):
        h, c, feed, memory, keys, mask = state
        values = {"tokens": (tokens, np.int64), "h": (h, np.float32), "c": (c, np.float32),
                  "feed": (feed, np.float32), "memory": (memory, np.float32), "keys": (keys, np.float32),
                  "mask": (mask, np.bool_)}
        outputs = dict(zip(self.decoder_outputs, map(_torch, self.decoder.run(
            None, {name: _numpy(*values[name]) for name in self.decoder_inputs}))))
        new_state = (outputs["h_next"], outputs.get("c_next"), outputs["feed_next"], memory, keys, mask)
        return outputs["log_probs"], new_state, outputs["attention"]

    def forward(self, inputs):
        raise UsageError("an ONNX translator decodes (initial_state, then step per token); it does not train")


# ------------------------------------------------------------------------------------------ loading
def _model_config(directory: Path) -> tuple[dict, str | None, str | None]:
    """(config.json, its model_type, the action kind)."""
    from lstmkit.train import read_config

    config = read_config(directory)
    kind = (config.get("data") or {}).get("kind") or (config.get("task") or {}).get("kind")
    return config, config.get("model_type"), kind


def check_quantizable(directory: Path) -> None:
    """UsageError unless the run directory holds a model :func:`quantized_model` can stand in for."""
    from lstmkit.export.graphs import not_exportable

    config, model_type, _ = _model_config(Path(directory))
    if model_type in QUANTIZABLE:
        network = config.get("model") if isinstance(config.get("model"), dict) else {}
        why = not_exportable(network.get("cell", "lstm"), network.get("zoneout", 0.0) or 0.0)
        if why:
            raise UsageError(f"{directory}: --quantize int8 runs the model as an ONNX graph: {why}")
        return
    shown = "no model_type" if model_type is None else f"model_type {model_type!r}"
    raise UsageError(f"{directory}: --quantize int8 runs {', '.join(QUANTIZABLE)} models; this one has {shown} "
                     "(`lstmkit export onnx --quantize int8` still writes its int8 graph)")


def _session(path: Path):
    """An onnxruntime CPU session of ``path`` with as many threads as torch was given (``--threads``)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    options.intra_op_num_threads = max(1, torch.get_num_threads())
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def quantized_model(model_dir: str | os.PathLike) -> OnnxModule | VideoOnnxModule | OnnxTranslator:
    """The run directory's model as int8 ONNX graphs in onnxruntime (CPU), behind the interface its application
    calls (:class:`OnnxModule`, :class:`VideoOnnxModule`, :class:`OnnxTranslator`).

    The graphs are exported and quantised into a temporary directory (:func:`export_run_onnx` with
    ``quantize="int8"``, which checks the float graphs against PyTorch first) and deleted once the sessions
    have read them; the run directory is not written to. The module's ``deviation`` is the largest output
    difference of the int8 graphs from the float ones on the export's check batch. A
    :class:`~lstmkit.errors.UsageError` for model types other than :data:`QUANTIZABLE`, a
    :class:`~lstmkit.errors.MissingDependencyError` without onnx/onnxruntime.
    """
    import json
    import tempfile

    from lstmkit.export.graphs import INSTALL_HINT, onnxruntime_or_none

    directory = Path(model_dir)
    check_quantizable(directory)
    if onnxruntime_or_none() is None:
        raise MissingDependencyError(f"--quantize int8 runs the model in onnxruntime: {INSTALL_HINT}")
    config, model_type, kind = _model_config(directory)
    with tempfile.TemporaryDirectory(prefix="lstmkit-int8-") as tmp:
        if model_type == "action_net" and kind == "video":
            module = _video_int8(directory, config, Path(tmp))
        else:
            from lstmkit.export.onnx import export_run_onnx, preprocessing_path, translator_paths

            path = export_run_onnx(directory, Path(tmp) / "model.int8.onnx", quantize="int8")
            if model_type == "translator":
                module = OnnxTranslator(*map(_session, translator_paths(path)))
            else:
                module = OnnxModule(_session(path))
            quantization = json.loads(preprocessing_path(path).read_text())["quantization"]
            module.deviation = quantization["max_abs_output_difference_from_float"]
    return module.eval()


def _video_int8(directory: Path, config: dict, tmp: Path) -> VideoOnnxModule:
    from lstmkit.export.graphs import deviation, quantize_onnx_int8
    from lstmkit.export.task_graphs import export_video_parts
    from lstmkit.train import load_model

    floating = [tmp / "features.onnx", tmp / "classify.onnx"]
    feeds = export_video_parts(load_model(directory), config, *floating, opset=None)
    sessions, deviations = [], []
    for path, feed in zip(floating, feeds):
        int8 = path.with_suffix(".int8.onnx")
        quantize_onnx_int8(path, int8)
        deviations.append(deviation(path, int8, feed))
        sessions.append(_session(int8))
    module = VideoOnnxModule(*sessions)
    module.deviation = max(deviations)
    return module


def use_int8(app, model_dir: str | os.PathLike):
    """Run ``app`` (an application loaded from ``model_dir``) on its int8 graphs: the module of
    :func:`quantized_model` replaces ``app.model``, or, for an anomaly detector, becomes its ``batch_model``
    (``detect`` scores with it; streams keep the float64 PyTorch copy and its NumPy streamer). Returns the module."""
    module = quantized_model(model_dir)
    if hasattr(app, "batch_model"):
        app.batch_model = module
    else:
        app.model = module
    return module
