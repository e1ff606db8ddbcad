r"""ONNX export of an LSTM and of a run directory's model, checked against PyTorch before it is kept.

What the graphs look like:

* a bare LSTM (:func:`export_lstm_onnx`, run directories with ``model_type`` ``"lstm"``): inputs
  ``input`` (N, T, F) batch first whatever the module's ``batch_first``, and ``h0`` (L*D, N, H_out),
  ``c0`` (L*D, N, H); outputs ``output`` (N, T, D*H_out), ``hn``, ``cn``. A bare GRU or RNN (``"gru"``,
  ``"rnn"``) likewise without ``c0``/``cn``. N and T are dynamic. ``h0``
  and ``c0`` may be left out of a run: each is also an initializer holding zeros of batch 1, which
  the graph broadcasts to the batch, so omitting them starts from zeros as PyTorch does. Feeding
  ``hn``/``cn`` of one chunk as ``h0``/``c0`` of the next carries a stream. (onnxruntime logs a
  warning that the initializers "appear in graph inputs": that is what makes them optional; its
  ``InferenceSession.get_inputs()`` lists only ``input`` and ``get_overridable_initializers()`` the
  two states.)
* an action recogniser (``"action_net"``): ``x`` (N, T, C) float32 standardised sensor channels, or
  (N, T, S, S, 3) uint8 frames for video (S fixed: ``task.size`` of config.json, what the frames are
  resized to), and ``lengths`` (N,) int64 -> ``logits`` (N, classes);
* a text classifier (``"text_classifier"``): ``ids`` (N, T) int64 padded with 0 and ``lengths`` (N,)
  int64 -> ``logits`` (N, classes).
* a forecaster (``"forecaster"``): ``x`` (N, W, F) float32, the window-relative inputs, and ``base``
  (N, K, T) float32, the relative seasonal baseline -> ``forecast`` (N, K, T, Q), the ensemble's mean
  on the relative scale. Only N is dynamic: W is the model's input width (``data.input_width``), fixed
  at training, and K (horizon), T (targets) and Q (quantiles) are sizes of its head. Building x and
  base from a table and turning ``forecast`` back into values needs only config.json's ``data``
  (season, horizon, input width, seasons averaged, lag, log targets, target scale, feature scaler),
  spelled out in the preprocessing JSON's descriptions.
* an anomaly next-step predictor (``"anomaly_next_step"``): ``x`` (N, T, F) float32, optional ``h0``,
  ``c0`` (L, N, H) -> ``prediction`` (N, T, F) (row t forecasts step t + 1), ``hn``, ``cn``; N and T
  dynamic, the state optional and carried as for a bare LSTM, so a stream can feed a step at a time.
* an anomaly autoencoder (``"anomaly_autoencoder"``): ``x`` (N, W, F) float32 -> ``reconstruction``
  (N, W, F); only N is dynamic, W is the window the model was trained on (``task.window``).
* a word or character language model (``"text_lm"``): ``ids`` (N, T) int64, optional ``h0``, ``c0``
  (L, N, H) -> ``logits`` (N, T, V) (row t scores the next token), ``hn``, ``cn``; N and T dynamic, the
  state optional and carried as for a bare LSTM, so a generator can feed one token at a time. The ids
  come from config.json's ``data``: its ``tokenizer`` splits the text, its ``vocabulary`` numbers the
  tokens (unknown ones ``<unk>``).
* a translator (``"translator"``): two graphs, ``X.encoder.onnx`` and ``X.decoder.onnx`` for ``--out X.onnx``
  (:func:`translator_paths`), and one ``X.preprocessing.json``. The encoder: ``src`` (N, S) int64 padded
  with 0 and ``src_lengths`` (N,) int64 -> the decoder's initial state ``h`` (N, L, H), ``c`` (N, L, H, the
  LSTM family only), ``feed`` (N, H) zeros, and ``memory``, ``keys`` (N, S, H) and ``mask`` (N, S) bool, the
  encoder's states, the attention's keys and the real tokens. The decoder step: ``tokens`` (R,) int64 (the
  previous token, ``<bos>`` first) and that state -> ``log_probs`` (R, V) (``<pad>`` and ``<bos>`` at -inf),
  ``h_next``, ``c_next``, ``feed_next``, and ``attention`` (R, S). N, R and S are dynamic; memory, keys and
  mask do not change between steps. A decoder that does not read ``feed`` (Bahdanau's attention, or Luong's
  without input feeding) does not list it. Greedy search, beam search (reorder every state tensor's rows)
  and sampling are loops over the step graph: :class:`lstmkit.export.runtime.OnnxTranslator` puts the two
  graphs behind ``initial_state``/``step``, so :mod:`lstmkit.decoding.search` drives them unchanged; the
  preprocessing JSON holds the tokenisers, the special ids and the length limit.

Models built with another cell (a task's ``--cell``): the GRU and the RNN export as ONNX's GRU and RNN
operators, and where a graph carries a state (bare layers, the anomaly next-step predictor, the language
model) it is ``h0``/``hn`` alone, without ``c0``/``cn``. The LSTM variants (peephole, cifg, layernorm) and
zoneout run on lstmkit's fused backend, a Python loop that does not trace to one graph: they are refused
with a :class:`~lstmkit.errors.UsageError` saying what does export
(:func:`lstmkit.export.graphs.not_exportable`). Recurrent dropout is off at evaluation, so a model
trained with it exports as the plain cell.

The anomaly detector itself scores in float64 (a copy of the model); these graphs are float32 like
every export here, so errors computed from them can differ from ``lstmkit anomaly detect``'s in the
float32 rounding: a point right at the threshold may be flagged differently.

Sequences of different lengths share a batch exactly as in PyTorch: the packed sequence of
:class:`lstmkit.nn.LSTM` becomes ONNX's ``LSTM`` operator with its ``sequence_lens`` input, which stops
each sequence at its length (the reverse direction starts there), and the masked pooling exports as
plain tensor operations. The data-dependent argument checks of the LSTM (every length in [1, T]) are
Python, not graph: the runtime that feeds the graph must keep lengths in [1, T] itself.

Which exporter, and why (measured with torch 2.13, onnx 1.23, onnxruntime 1.32, onnxscript 0.7.2):
two LSTMs exported one after the other in one process, (F=3, H=8, 1 layer) then (F=5, H=6, 2 layers,
bidirectional), examples of batch 2 and length 7, batch and time declared dynamic, then run in
onnxruntime at (N, T) = (1, 5) and (3, 17):

* ``dynamo=True`` (the default): the first graph declares its input's time axis dynamic but its
  output's fixed at 7, and fails at run time on any other length (a ``Reshape`` to (7, -1, 8)); the
  second graph has the time axis frozen at 7 on the input too (onnxruntime refuses length 5 and 17).
  Neither is usable for variable lengths, and nothing warns at export time.
* ``dynamo=False`` (the TorchScript exporter): both graphs declare ``batch`` and ``time`` on every
  input and output and match PyTorch to 2.1e-7 at both shapes; the lengths models (packed
  sequences, bidirectional, two layers, video frames) match to 6e-8.

So this module uses ``dynamo=False``. torch marks it deprecated and warns so on every call; the
warning is silenced here because the choice is deliberate and the result is checked: every export
is run in onnxruntime (when installed) at a second batch size and length (batch sizes only, for the
graphs whose time axis is fixed: forecaster, autoencoder) against the PyTorch module, and refused if it does not match, so a future exporter change that freezes an axis fails loudly.
The TorchScript tracer's warnings (Python booleans from the LSTM's argument checks) are silenced
too: those checks only raise on bad input and leave nothing in the graph. torch's C++ shape
inference prints "prim::PackPadded type is missing" to standard error for lengths models; it is
harmless (the ONNX pass that follows replaces PackPadded/PadPacked with ``sequence_lens``), so what
the C++ side writes during an export is held back and shown only if the export fails.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from lstmkit.errors import InputFileError, UsageError
from lstmkit.export.graphs import (check_against_torch, deviation, has_cell_state, make_state_optional,
                                   native_eval_copy, quantize_onnx_int8, require_onnx, seeded_randn, torch_export,
                                   write_onnx)
from lstmkit.export.task_graphs import (export_autoencoder, export_forecaster, export_language_model, export_next_step,
                                        export_translator, lengths_examples, lengths_graph_module)

if TYPE_CHECKING:  # torch is imported when a function runs, not with the module
    from lstmkit.nn import LSTM

__all__ = ["SUPPORTED_MODEL_TYPES", "export_lstm_onnx", "export_run_onnx", "preprocessing_path", "quantize_onnx_int8",
           "translator_paths"]

SUPPORTED_MODEL_TYPES = ("action_net", "anomaly_autoencoder", "anomaly_next_step", "forecaster", "gru", "lstm",
                         "rnn", "text_classifier", "text_lm", "translator")
# Bare recurrent layers saved with save_model: exported by export_lstm_onnx. The LSTM variants' model types are
# taken there too, to be refused with the reason (lstmkit.export.graphs.not_exportable).
_BARE_LAYERS = ("lstm", "gru", "rnn", "peephole_lstm", "layernorm_lstm")
# A translator is two graphs: X.onnx names X.encoder.onnx and X.decoder.onnx.
_TRANSLATOR_PARTS = (".encoder", ".decoder")


# ----------------------------------------------------------------------------------- a bare LSTM
def _lstm_graph_module(lstm: "LSTM"):
    import torch

    with_cell = has_cell_state(lstm)

    class LSTMGraph(torch.nn.Module):
        """(input (N, T, F), h0, c0) -> (output, hn, cn), batch first; h0/c0 of batch 1 broadcast to N.
        A GRU or RNN: (input, h0) -> (output, hn)."""

        def __init__(self, lstm: LSTM):
            super().__init__()
            self.lstm = lstm

        def forward(self, input, h0, c0=None):
            n = input.shape[0]
            # expand is a no-op for a full (L*D, N, H) state and broadcasts the batch-1 zeros that stand
            # in for an omitted one (see make_state_optional).
            h0 = h0.expand(-1, n, -1)
            x = input if self.lstm.batch_first else input.transpose(0, 1)
            out, state = self.lstm(x, (h0, c0.expand(-1, n, -1)) if with_cell else h0)
            out = out if self.lstm.batch_first else out.transpose(0, 1)
            return (out, *state) if with_cell else (out, state)

    return LSTMGraph(lstm).eval()  # a new Module starts in training mode: dropout would be live


def export_lstm_onnx(lstm: "LSTM", path: str | os.PathLike, *, opset: int | None = None) -> Path:
    """Write ``lstm`` (a :class:`lstmkit.nn.LSTM`, any layers, directions, projection, ``batch_first``
    or not; or a :class:`lstmkit.nn.GRU` or :class:`lstmkit.nn.RNN`) as an ONNX graph at ``path`` and
    return the path.

    Inputs ``input`` (N, T, F) batch first, optional ``h0`` (L*D, N, H_out) and ``c0`` (L*D, N, H),
    zeros when omitted; outputs ``output`` (N, T, D*H_out), ``hn``, ``cn``; N and T dynamic. A GRU or
    an RNN has no ``c0``/``cn``. Inter-layer dropout is off (eval mode). float32 only. When onnxruntime
    is installed the graph is checked against the module at a second batch size and length before it
    is kept. The LSTM variants and zoneout are refused (:func:`lstmkit.export.graphs.not_exportable`).
    """
    import torch

    from lstmkit.nn import GRU, LSTM, RNN

    require_onnx()
    if not isinstance(lstm, (LSTM, GRU, RNN)):
        raise UsageError(f"export_lstm_onnx exports an lstmkit.nn.LSTM, GRU or RNN, got {type(lstm).__name__}")
    if lstm.weight_ih_l0.dtype != torch.float32:
        raise UsageError(f"ONNX export is float32; convert the layer first (lstm.float()), got "
                         f"{lstm.weight_ih_l0.dtype}")
    module = _lstm_graph_module(native_eval_copy(lstm))
    with_cell = has_cell_state(lstm)
    LD = lstm.num_layers * lstm.num_directions
    H_out, H = lstm.output_size, lstm.hidden_size

    def example(n: int, t: int, seed: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        feed = {"input": torch.randn(n, t, lstm.input_size, generator=g),
                "h0": torch.randn(LD, n, H_out, generator=g)}
        if with_cell:
            feed["c0"] = torch.randn(LD, n, H, generator=g)
        return feed

    names_in, names_out = ["input", "h0", "c0"], ["output", "hn", "cn"]
    axes = {"input": {0: "batch", 1: "time"}, "h0": {1: "batch"}, "c0": {1: "batch"},
            "output": {0: "batch", 1: "time"}, "hn": {1: "batch"}, "cn": {1: "batch"}}
    states = {"h0": (LD, 1, H_out), "c0": (LD, 1, H)}
    if not with_cell:
        names_in, names_out = names_in[:2], names_out[:2]
        axes = {name: axis for name, axis in axes.items() if name not in ("c0", "cn")}
        del states["c0"]

    def write(tmp: Path) -> None:
        torch_export(module, tuple(example(2, 7, 0).values()), tmp, input_names=names_in,
                      output_names=names_out, dynamic_axes=axes, opset=opset)
        make_state_optional(tmp, states)
        check_against_torch(tmp, module, [example(3, 11, 1), example(1, 4, 2)], names_out)

    return write_onnx(Path(path), write)


# ---------------------------------------------------------------------------------- run directories
def preprocessing_path(onnx_path: str | os.PathLike) -> Path:
    """Where the preprocessing of ``model.onnx`` is written: ``model.preprocessing.json`` beside it (for a
    translator's ``model.encoder.onnx`` and ``model.decoder.onnx``, their shared ``model.preprocessing.json``)."""
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(_graph_stem(onnx_path) + ".preprocessing.json")


def translator_paths(onnx_path: str | os.PathLike) -> tuple[Path, Path]:
    """A translator's two graphs, ``X.encoder.onnx`` and ``X.decoder.onnx``, for ``X.onnx`` (the name given
    to the export) or either graph's own path."""
    onnx_path = Path(onnx_path)
    stem = _graph_stem(onnx_path)
    return onnx_path.with_name(stem + ".encoder.onnx"), onnx_path.with_name(stem + ".decoder.onnx")


def _graph_stem(onnx_path: Path) -> str:
    """``model`` for model.onnx, model.encoder.onnx and model.decoder.onnx."""
    stem = onnx_path.stem
    for part in _TRANSLATOR_PARTS:
        if stem.endswith(part):
            return stem[: -len(part)]
    return stem


def export_run_onnx(model_dir: str | os.PathLike, out_path: str | os.PathLike | None = None, *,
                    opset: int | None = None, quantize: str | None = None) -> Path:
    """Export the model of a run directory (``config.json`` + ``model.safetensors``) to ONNX.

    ``out_path`` defaults to ``<model_dir>/model.onnx``. Beside it, ``<name>.preprocessing.json``
    holds what another runtime needs to prepare inputs and read outputs: the graph's inputs and
    outputs, and config.json's ``task`` and ``data`` sections (channel means and scales, vocabulary,
    classes in logit order, frame size; a forecaster's season, widths, target scale and feature scaler; an
    anomaly detector's transform and scaler; a translator's tokenisers, special ids and length limit).
    Supported ``model_type``s: :data:`SUPPORTED_MODEL_TYPES`; any other is a :class:`~lstmkit.errors.UsageError`.
    ``quantize="int8"`` writes the graph with int8 weights instead (:func:`quantize_onnx_int8`; default name
    ``model.int8.onnx``) and records in the JSON how far its outputs are from the float graph's on a check
    batch. Returns the ONNX path; for a translator, which is two graphs (:func:`translator_paths`), the
    encoder's (``model.encoder.onnx``), whose :func:`preprocessing_path` is their shared JSON.
    """
    from lstmkit.files import atomic_write_text
    from lstmkit.train import load_model, read_config

    require_onnx()
    directory = Path(model_dir)
    if not directory.is_dir():
        raise InputFileError(f"model directory {directory}: no such directory")
    config = read_config(directory)
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES + _BARE_LAYERS:
        shown = "no model_type" if model_type is None else f"model_type {model_type!r}"
        raise UsageError(f"{directory / 'config.json'}: cannot export {shown} to ONNX; supported: "
                         f"{', '.join(SUPPORTED_MODEL_TYPES)}")
    if quantize not in (None, "int8"):
        raise UsageError(f"--quantize {quantize}: the only quantisation offered is int8")
    default_name = "model.int8.onnx" if quantize else "model.onnx"
    final = Path(out_path) if out_path is not None else directory / default_name
    if final.suffix != ".onnx":
        raise UsageError(f"--out {final}: the ONNX file's name must end in .onnx")
    model = load_model(directory)
    if model_type == "translator":
        return _export_translator_run(model, config, final, opset, quantize)
    if quantize:  # the float graph is written and checked first, then quantised into place
        import tempfile

        with tempfile.TemporaryDirectory(prefix="lstmkit-onnx-") as tmp:
            floating = Path(tmp) / "float.onnx"
            check_feed, inputs, outputs = _export_graph(model_type, model, config, floating, opset)
            quantize_onnx_int8(floating, final)
            quantization = {
                "weights": "int8, onnxruntime dynamic quantisation (activations quantised per call)",
                "max_abs_output_difference_from_float": deviation(floating, final, check_feed),
                "checked_on": {name: list(t.shape) for name, t in check_feed.items()},
            }
    else:
        check_feed, inputs, outputs = _export_graph(model_type, model, config, final, opset)
    description = {"model_type": model_type, "onnx": final.name, "inputs": inputs, "outputs": outputs,
                   "task": config.get("task"), "data": config.get("data")}
    if quantize:
        description["quantization"] = quantization
    atomic_write_text(preprocessing_path(final), json.dumps(description, indent=2) + "\n")
    return final


def _export_translator_run(model, config: dict, final: Path, opset: int | None, quantize: str | None) -> Path:
    """A translator's encoder and decoder-step graphs (:func:`translator_paths` of ``final``) and their shared
    preprocessing JSON; with ``quantize``, both graphs int8 and the deviation of each recorded. Returns the
    encoder's path (whose :func:`preprocessing_path` is the JSON)."""
    from lstmkit.files import atomic_write_text

    encoder, decoder = translator_paths(final)
    if quantize:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="lstmkit-onnx-") as tmp:
            floating = translator_paths(Path(tmp) / "float.onnx")
            encoder_feed, decoder_feed, described = export_translator(model, config, *floating, opset)
            quantization = {"weights": "int8, onnxruntime dynamic quantisation (activations quantised per call)"}
            for part, source, target, feed in (("encoder", floating[0], encoder, encoder_feed),
                                               ("decoder", floating[1], decoder, decoder_feed)):
                quantize_onnx_int8(source, target)
                quantization[part] = {"max_abs_output_difference_from_float": deviation(source, target, feed),
                                      "checked_on": {name: list(t.shape) for name, t in feed.items()}}
            # one number for the command line and for callers that read it as for the other models
            quantization["max_abs_output_difference_from_float"] = max(
                quantization[part]["max_abs_output_difference_from_float"] for part in ("encoder", "decoder"))
    else:
        _, _, described = export_translator(model, config, encoder, decoder, opset)
    description = {"model_type": "translator", "onnx": {"encoder": encoder.name, "decoder": decoder.name},
                   **described, "task": config.get("task"), "data": config.get("data")}
    if quantize:
        description["quantization"] = quantization
    atomic_write_text(preprocessing_path(final), json.dumps(description, indent=2) + "\n")
    return encoder


def _export_graph(model_type: str, model, config: dict, out: Path, opset: int | None):
    """Write ``model``'s checked float graph to ``out``; (a check batch, inputs described, outputs described)."""
    if model_type in _BARE_LAYERS:
        export_lstm_onnx(model, out, opset=opset)
        inputs = {"input": f"(N, T, {model.input_size}) float32, batch first",
                  "h0": "(L*D, N, H_out) float32, optional (zeros)", "c0": "(L*D, N, H) float32, optional (zeros)"}
        outputs = {"output": "(N, T, D*H_out)", "hn": "(L*D, N, H_out)", "cn": "(L*D, N, H)"}
        if not has_cell_state(model):
            del inputs["c0"], outputs["cn"]
        return {"input": seeded_randn(3, 11, model.input_size)}, inputs, outputs
    if model_type == "forecaster":
        return export_forecaster(model, config, out, opset)
    if model_type == "anomaly_next_step":
        return export_next_step(model, out, opset)
    if model_type == "anomaly_autoencoder":
        return export_autoencoder(model, out, opset)
    if model_type == "text_lm":
        return export_language_model(model, config, out, opset)
    input_name, feed, described = lengths_examples(model_type, model, config)
    module = lengths_graph_module(native_eval_copy(model))
    names_in, names_out = [input_name, "lengths"], ["logits"]
    axes = {input_name: {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "logits": {0: "batch"}}

    def write(tmp: Path) -> None:
        # The example must hold a length shorter than T: the LSTM skips packing when none is, and
        # tracing would keep only that branch (see lstmkit.nn.layers _run).
        torch_export(module, tuple(feed(2, 6, [6, 3], 0).values()), tmp, input_names=names_in,
                     output_names=names_out, dynamic_axes=axes, opset=opset)
        check_against_torch(tmp, module, [feed(3, 9, [9, 2, 5], 1), feed(1, 4, [4], 2)], names_out)

    write_onnx(out, write)
    inputs = {input_name: described, "lengths": "(N,) int64, valid steps of each row, 1 <= length <= T"}
    outputs = {"logits": "(N, classes) float32, in the order of data.classes; softmax for probabilities"}
    return feed(3, 9, [9, 2, 5], 1), inputs, outputs
