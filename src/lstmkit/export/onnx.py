r"""ONNX export of an LSTM and of a run directory's model, checked against PyTorch before it is kept.

What the graphs look like:

* a bare LSTM (:func:`export_lstm_onnx`, run directories with ``model_type`` ``"lstm"``): inputs
  ``input`` (N, T, F) batch first whatever the module's ``batch_first``, and ``h0`` (L*D, N, H_out),
  ``c0`` (L*D, N, H); outputs ``output`` (N, T, D*H_out), ``hn``, ``cn``. N and T are dynamic. ``h0``
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
is run in onnxruntime (when installed) at a second batch size and length against the PyTorch module,
and refused if it does not match, so a future exporter change that freezes an axis fails loudly.
The TorchScript tracer's warnings (Python booleans from the LSTM's argument checks) are silenced
too: those checks only raise on bad input and leave nothing in the graph. torch's C++ shape
inference prints "prim::PackPadded type is missing" to standard error for lengths models; it is
harmless (the ONNX pass that follows replaces PackPadded/PadPacked with ``sequence_lens``), so what
the C++ side writes during an export is held back and shown only if the export fails.
"""
from __future__ import annotations

import contextlib
import copy
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstmkit.errors import InputFileError, MissingDependencyError, UsageError

if TYPE_CHECKING:  # torch is imported when a function runs, not with the module
    import torch

    from lstmkit.nn import LSTM

__all__ = ["SUPPORTED_MODEL_TYPES", "export_lstm_onnx", "export_run_onnx", "preprocessing_path"]

SUPPORTED_MODEL_TYPES = ("action_net", "lstm", "text_classifier")
INSTALL_HINT = "pip install 'lstmkit[onnx]'"
TOLERANCE = 1e-4  # the self-check's bound; measured differences are ~1e-7 in float32


# ----------------------------------------------------------------------------------------- helpers
def _require_onnx():
    """The ``onnx`` module (torch's exporter needs it), or a MissingDependencyError naming the extra."""
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(f"exporting to ONNX needs the onnx package: {INSTALL_HINT}") from None
    return onnx


def _onnxruntime():
    """The ``onnxruntime`` module, or None: without it the export is written but not checked."""
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


def _torch_export(module: "torch.nn.Module", args: tuple, path: Path, *, input_names: list[str],
                  output_names: list[str], dynamic_axes: dict, opset: int | None) -> None:
    """``torch.onnx.export`` with the TorchScript exporter (see the module docstring for why)."""
    import torch

    kwargs: dict[str, Any] = {}
    if opset is not None:
        kwargs["opset_version"] = opset
    with warnings.catch_warnings():
        # The deprecation notice of dynamo=False: a deliberate choice, checked after every export.
        warnings.filterwarnings("ignore", message=r"You are using the legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")  # its internals
        # "last" pooling indexes step lengths - 1, never negative for lengths >= 1 (the graph's contract).
        warnings.filterwarnings("ignore", message=r"Exporting aten::index operator of advanced indexing")
        # Python booleans from argument checks (lengths in range): they raise or not, and trace to nothing.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        # "variable length with LSTM ... batch_size other than 1": the zero initial state is built from
        # the input's traced shape, and the check after export runs other batch sizes.
        warnings.filterwarnings("ignore", message=r"Exporting a model to ONNX with a batch_size other than 1")
        with _native_stderr_kept_back():
            torch.onnx.export(module, args, str(path), dynamo=False, input_names=input_names,
                              output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True,
                              **kwargs)


@contextlib.contextmanager
def _native_stderr_kept_back():
    """Hold back what torch's C++ side writes to standard error during an export ("The shape inference
    of prim::PadPacked type is missing": the graph is checked against PyTorch after every export, so
    the warning says nothing a user can act on); if the export fails, what was held back is shown."""
    import sys
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            held.seek(0)
            sys.stderr.write(held.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _session(path: Path):
    ort = _onnxruntime()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the check below reports what matters
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _check_against_torch(path: Path, module: "torch.nn.Module", feeds: list[dict[str, "torch.Tensor"]],
                         output_names: list[str]) -> None:
    """Run the graph in onnxruntime on each feed and compare with ``module``; RuntimeError if they differ.

    A graph with a frozen axis (the dynamo exporter's failure) fails here, not in production.
    """
    import numpy as np
    import torch

    if _onnxruntime() is None:
        return
    session = _session(path)
    for feed in feeds:
        with torch.no_grad():
            expected = module(*feed.values())
        expected = expected if isinstance(expected, tuple) else (expected,)
        shapes = {name: tuple(t.shape) for name, t in feed.items()}
        try:
            got = session.run(output_names, {name: t.numpy() for name, t in feed.items()})
        except Exception as error:  # onnxruntime's own exception types vary by version
            raise RuntimeError(f"the exported graph {path} does not run on inputs of shapes {shapes}: "
                               f"{error}") from error
        for name, a, b in zip(output_names, got, expected):
            diff = float(np.abs(a - b.numpy()).max()) if a.size else 0.0
            if a.shape != tuple(b.shape) or not diff <= TOLERANCE:
                raise RuntimeError(f"the exported graph {path} differs from PyTorch on {name} for inputs of "
                                   f"shapes {shapes}: shape {a.shape} vs {tuple(b.shape)}, max |diff| {diff:.3g}")


def _native_eval_copy(module: "torch.nn.Module") -> "torch.nn.Module":
    """A CPU copy in eval mode whose LSTMs run the fused kernel (``_VF.lstm``), which exports as ONNX's LSTM.

    The reference backend would trace its Python loop over time and freeze T; both backends compute the
    same thing (tests/nn), so switching is safe. The caller's module is left untouched.
    """
    from lstmkit.nn import LSTM

    clone = copy.deepcopy(module).cpu().eval()
    for sub in clone.modules():
        if isinstance(sub, LSTM):
            sub.backend = "native"
    return clone


def _write_onnx(path: Path, export) -> Path:
    """Run ``export(tmp_path)`` and move the file into place only once it was written and checked."""
    from lstmkit.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, export)


# ----------------------------------------------------------------------------------- a bare LSTM
def _lstm_graph_module(lstm: "LSTM"):
    import torch

    class LSTMGraph(torch.nn.Module):
        """(input (N, T, F), h0, c0) -> (output, hn, cn), batch first; h0/c0 of batch 1 broadcast to N."""

        def __init__(self, lstm: LSTM):
            super().__init__()
            self.lstm = lstm

        def forward(self, input, h0, c0):
            n = input.shape[0]
            # expand is a no-op for a full (L*D, N, H) state and broadcasts the batch-1 zeros that stand
            # in for an omitted one (see _make_state_optional).
            h0, c0 = h0.expand(-1, n, -1), c0.expand(-1, n, -1)
            x = input if self.lstm.batch_first else input.transpose(0, 1)
            out, (hn, cn) = self.lstm(x, (h0, c0))
            return (out if self.lstm.batch_first else out.transpose(0, 1)), hn, cn

    return LSTMGraph(lstm).eval()  # a new Module starts in training mode: dropout would be live


def _make_state_optional(path: Path, states: dict[str, tuple[int, ...]]) -> None:
    """Give the state inputs a default: an initializer of zeros, batch 1, under the input's own name.

    An ONNX graph input that is also an initializer may be omitted from a run (onnxruntime then uses
    the initializer) or fed (the fed value wins). Its declared shape keeps the symbolic batch axis.
    """
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    present = {init.name for init in model.graph.initializer}
    for name, shape in states.items():
        if name not in present:
            model.graph.initializer.append(numpy_helper.from_array(np.zeros(shape, np.float32), name))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def export_lstm_onnx(lstm: "LSTM", path: str | os.PathLike, *, opset: int | None = None) -> Path:
    """Write ``lstm`` (a :class:`lstmkit.nn.LSTM`, any layers, directions, projection, ``batch_first``
    or not) as an ONNX graph at ``path`` and return the path.

    Inputs ``input`` (N, T, F) batch first, optional ``h0`` (L*D, N, H_out) and ``c0`` (L*D, N, H),
    zeros when omitted; outputs ``output`` (N, T, D*H_out), ``hn``, ``cn``; N and T dynamic. Inter-layer
    dropout is off (eval mode). float32 only. When onnxruntime is installed the graph is checked
    against the module at a second batch size and length before it is kept.
    """
    import torch

    from lstmkit.nn import LSTM

    _require_onnx()
    if not isinstance(lstm, LSTM):
        raise UsageError(f"export_lstm_onnx exports an lstmkit.nn.LSTM, got {type(lstm).__name__}")
    if lstm.weight_ih_l0.dtype != torch.float32:
        raise UsageError(f"ONNX export is float32; convert the LSTM first (lstm.float()), got {lstm.weight_ih_l0.dtype}")
    module = _lstm_graph_module(_native_eval_copy(lstm))
    LD = lstm.num_layers * lstm.num_directions
    H_out, H = lstm.output_size, lstm.hidden_size

    def example(n: int, t: int, seed: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        return {"input": torch.randn(n, t, lstm.input_size, generator=g),
                "h0": torch.randn(LD, n, H_out, generator=g), "c0": torch.randn(LD, n, H, generator=g)}

    names_in, names_out = ["input", "h0", "c0"], ["output", "hn", "cn"]
    axes = {"input": {0: "batch", 1: "time"}, "h0": {1: "batch"}, "c0": {1: "batch"},
            "output": {0: "batch", 1: "time"}, "hn": {1: "batch"}, "cn": {1: "batch"}}

    def write(tmp: Path) -> None:
        _torch_export(module, tuple(example(2, 7, 0).values()), tmp, input_names=names_in,
                      output_names=names_out, dynamic_axes=axes, opset=opset)
        _make_state_optional(tmp, {"h0": (LD, 1, H_out), "c0": (LD, 1, H)})
        _check_against_torch(tmp, module, [example(3, 11, 1), example(1, 4, 2)], names_out)

    return _write_onnx(Path(path), write)


# ---------------------------------------------------------------------------------- run directories
def _lengths_graph_module(model: "torch.nn.Module"):
    import torch

    class LengthsGraph(torch.nn.Module):
        """``model((x, lengths))`` with two positional inputs, as the exporter wants them."""

        def __init__(self, model: torch.nn.Module):
            super().__init__()
            self.model = model

        def forward(self, x, lengths):
            return self.model((x, lengths))

    return LengthsGraph(model).eval()  # a new Module starts in training mode: dropout would be live


def _lengths_examples(model_type: str, model, config: dict):
    """(input names, a function (n, t, lengths, seed) -> feed, how the input is described)."""
    import torch

    def lengths_of(values) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.int64)

    if model_type == "text_classifier":
        vocab = model.vocab_size

        def feed(n, t, lengths, seed):
            g = torch.Generator().manual_seed(seed)
            ids = torch.randint(1, max(vocab, 2), (n, t), generator=g)
            ids[torch.arange(t) >= lengths_of(lengths).unsqueeze(1)] = 0  # padding id, as the classifier pads
            return {"ids": ids, "lengths": lengths_of(lengths)}

        return "ids", feed, "(N, T) int64 token ids, 0 = <pad>, from data.vocabulary.tokens"
    if model.kind == "video":
        size = int((config.get("task") or {}).get("size") or 64)

        def feed(n, t, lengths, seed):
            g = torch.Generator().manual_seed(seed)
            return {"x": torch.randint(0, 256, (n, t, size, size, 3), generator=g).to(torch.uint8),
                    "lengths": lengths_of(lengths)}

        return "x", feed, f"(N, T, {size}, {size}, 3) uint8 RGB frames resized to {size}x{size}"

    def feed(n, t, lengths, seed):
        g = torch.Generator().manual_seed(seed)
        return {"x": torch.randn(n, t, model.input_size, generator=g), "lengths": lengths_of(lengths)}

    return "x", feed, (f"(N, T, {model.input_size}) float32 sensor channels, standardised with "
                       "data.mean/data.std (task.normalize 'channel') or per sequence ('sequence')")


def _seeded_randn(*shape: int):
    """A seeded standard-normal float32 tensor (a check batch that is the same on every export)."""
    import torch

    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def preprocessing_path(onnx_path: str | os.PathLike) -> Path:
    """Where the preprocessing of ``model.onnx`` is written: ``model.preprocessing.json`` beside it."""
    onnx_path = Path(onnx_path)
    return onnx_path.with_name(onnx_path.stem + ".preprocessing.json")


def quantize_onnx_int8(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Write ``source``'s graph with int8 weights to ``target`` (onnxruntime's dynamic quantisation).

    Weights are stored as int8 and activations quantised on the fly, per call: ONNX's ``LSTM`` becomes
    onnxruntime's ``DynamicQuantizeLSTM`` and ``MatMul``/``Gemm`` their integer forms. Why this and not
    PyTorch's ``quantize_dynamic``: torch marks that API deprecated and its successor (torchao)
    quantises Linear layers only, not LSTMs, while onnxruntime's is its maintained path for CPU
    inference. Measured (``benchmarks/bench_export.py``): faster than the float graph at every size
    tried, with outputs within a few hundredths; the result is not the float model's, so it is never
    the default.
    """
    import logging

    _require_onnx()
    if _onnxruntime() is None:
        raise MissingDependencyError("int8 quantisation needs onnxruntime: pip install 'lstmkit[onnx]'")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = Path(target)
    quiet = logging.getLogger()  # onnxruntime advises "pre-processing" on the root logger at every call
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return _write_onnx(target, lambda tmp: quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8))
    finally:
        quiet.setLevel(level)


def _deviation(float_path: Path, int8_path: Path, feed: dict) -> float:
    """Largest |output difference| of the int8 graph from the float one on ``feed``."""
    import numpy as np

    values = {name: t.numpy() for name, t in feed.items()}
    first, second = (_session(p).run(None, values)[0] for p in (float_path, int8_path))
    return float(np.abs(first - second).max())


def export_run_onnx(model_dir: str | os.PathLike, out_path: str | os.PathLike | None = None, *,
                    opset: int | None = None, quantize: str | None = None) -> Path:
    """Export the model of a run directory (``config.json`` + ``model.safetensors``) to ONNX.

    ``out_path`` defaults to ``<model_dir>/model.onnx``. Beside it, ``<name>.preprocessing.json``
    holds what another runtime needs to prepare inputs and read outputs: the graph's inputs and
    outputs, and config.json's ``task`` and ``data`` sections (channel means and scales, vocabulary,
    classes in logit order, frame size). Supported ``model_type``s: :data:`SUPPORTED_MODEL_TYPES`;
    any other is a :class:`~lstmkit.errors.UsageError`. ``quantize="int8"`` writes the graph with int8
    weights instead (:func:`quantize_onnx_int8`; default name ``model.int8.onnx``) and records in the
    JSON how far its outputs are from the float graph's on a check batch. Returns the ONNX path.
    """
    from lstmkit.files import atomic_write_text
    from lstmkit.train import load_model, read_config

    _require_onnx()
    directory = Path(model_dir)
    if not directory.is_dir():
        raise InputFileError(f"model directory {directory}: no such directory")
    config = read_config(directory)
    model_type = config.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
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
    staging = None
    if quantize:  # the float graph is written and checked first, then quantised into place
        import tempfile

        staging = tempfile.TemporaryDirectory(prefix="lstmkit-onnx-")
    out = Path(staging.name) / "float.onnx" if staging else final
    check_feed = None

    if model_type == "lstm":
        export_lstm_onnx(model, out, opset=opset)
        check_feed = {"input": _seeded_randn(3, 11, model.input_size)}
        inputs = {"input": f"(N, T, {model.input_size}) float32, batch first",
                  "h0": "(L*D, N, H_out) float32, optional (zeros)", "c0": "(L*D, N, H) float32, optional (zeros)"}
        outputs = {"output": "(N, T, D*H_out)", "hn": "(L*D, N, H_out)", "cn": "(L*D, N, H)"}
    else:
        input_name, feed, described = _lengths_examples(model_type, model, config)
        module = _lengths_graph_module(_native_eval_copy(model))
        names_in, names_out = [input_name, "lengths"], ["logits"]
        axes = {input_name: {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "logits": {0: "batch"}}

        def write(tmp: Path) -> None:
            # The example must hold a length shorter than T: the LSTM skips packing when none is, and
            # tracing would keep only that branch (see lstmkit.nn.layers _run).
            _torch_export(module, tuple(feed(2, 6, [6, 3], 0).values()), tmp, input_names=names_in,
                          output_names=names_out, dynamic_axes=axes, opset=opset)
            _check_against_torch(tmp, module, [feed(3, 9, [9, 2, 5], 1), feed(1, 4, [4], 2)], names_out)

        _write_onnx(out, write)
        check_feed = feed(3, 9, [9, 2, 5], 1)
        inputs = {input_name: described, "lengths": "(N,) int64, valid steps of each row, 1 <= length <= T"}
        outputs = {"logits": "(N, classes) float32, in the order of data.classes; softmax for probabilities"}

    description = {"model_type": model_type, "onnx": final.name, "inputs": inputs, "outputs": outputs,
                   "task": config.get("task"), "data": config.get("data")}
    if staging is not None:
        with staging:
            quantize_onnx_int8(out, final)
            description["quantization"] = {
                "weights": "int8, onnxruntime dynamic quantisation (activations quantised per call)",
                "max_abs_output_difference_from_float": _deviation(out, final, check_feed),
                "checked_on": {name: list(t.shape) for name, t in check_feed.items()},
            }
    atomic_write_text(preprocessing_path(final), json.dumps(description, indent=2, allow_nan=True) + "\n")
    return final
