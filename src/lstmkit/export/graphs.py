"""How a torch module becomes a checked ONNX file: the exporter call, the check against PyTorch in
onnxruntime, the atomic write, optional recurrent state, and int8 weights.

The choices behind these helpers (the TorchScript exporter, the warnings silenced, the C++ messages
held back) are explained in :mod:`lstmkit.export.onnx`'s docstring, where they were measured.
"""
from __future__ import annotations

import contextlib
import copy
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lstmkit.errors import MissingDependencyError

if TYPE_CHECKING:  # torch is imported when a function runs, not with the module
    import torch

__all__ = ["EXPORTABLE_CELLS", "INSTALL_HINT", "QUANTIZED_OPERATORS", "TOLERANCE", "check_against_torch",
           "declare_output_sizes", "deviation", "difference", "has_cell_state", "make_state_optional", "native_eval_copy",
           "not_exportable", "onnxruntime_or_none", "quantize_onnx_int8", "require_onnx", "seeded_randn", "session",
           "torch_export", "write_onnx"]

INSTALL_HINT = "pip install 'lstmkit[onnx]'"
TOLERANCE = 1e-4  # the self-check's bound; measured differences are ~1e-7 in float32
# The cells whose layers run on torch's own kernels (aten::lstm, aten::gru, aten::rnn_tanh/relu) at evaluation,
# which the exporter turns into ONNX's LSTM, GRU and RNN operators. The LSTM variants (peephole, cifg,
# layernorm) and zoneout run on lstmkit's fused backend instead: a Python loop over time, which would trace
# to a graph with the example's length frozen in, so they are refused.
EXPORTABLE_CELLS = ("lstm", "gru", "rnn")
# What quantize_onnx_int8 quantises: onnxruntime's dynamically quantisable operators (its IntegerOpsRegistry)
# but Conv, whose ConvInteger measured slower than the float Conv (see quantize_onnx_int8).
QUANTIZED_OPERATORS = ["MatMul", "Attention", "LSTM", "Gather", "Transpose", "EmbedLayerNormalization"]


def not_exportable(cell: str, zoneout: float = 0.0) -> str | None:
    """Why a recurrent layer of ``cell`` with ``zoneout`` cannot become an ONNX graph (one line), or None.

    Recurrent dropout never stands in the way: it is off at evaluation, so a layer trained with it
    runs on torch's kernel there and exports as the plain cell."""
    fused = "lstmkit runs it on its fused backend (a loop over time in Python), which does not trace to one graph"
    cells = f"{', '.join(EXPORTABLE_CELLS[:-1])} or {EXPORTABLE_CELLS[-1]}"
    if cell not in EXPORTABLE_CELLS:
        return (f"cannot export a model with the {cell} cell to ONNX: ONNX has no operator for it, and {fused}; "
                f"models with the {cells} cell export (also when trained with recurrent dropout, which is off at "
                "evaluation)")
    if zoneout:
        return (f"cannot export a model trained with zoneout ({zoneout:g}) to ONNX: zoneout mixes each step with the "
                f"previous one at evaluation too, and {fused}; models with the {cells} cell and no zoneout export")
    return None


def has_cell_state(layer) -> bool:
    """True for the LSTM family (state ``(h, c)``), False for the GRU and the RNN (state ``h``)."""
    from lstmkit.nn import LSTM

    return isinstance(layer, LSTM)


def require_onnx():
    """The ``onnx`` module (torch's exporter needs it), or a MissingDependencyError naming the extra."""
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError(f"exporting to ONNX needs the onnx package: {INSTALL_HINT}") from None
    return onnx


def onnxruntime_or_none():
    """The ``onnxruntime`` module, or None: without it the export is written but not checked."""
    try:
        import onnxruntime
    except ImportError:
        return None
    return onnxruntime


def torch_export(module: "torch.nn.Module", args: tuple, path: Path, *, input_names: list[str],
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
        with hold_back_native_notices():
            torch.onnx.export(module, args, str(path), dynamo=False, input_names=input_names,
                              output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True,
                              **kwargs)


# What torch's C++ shape inference prints for every lengths model: said, checked and harmless.
_KNOWN_NATIVE_NOISE = ("The shape inference of prim::PackPadded", "The shape inference of prim::PadPacked")


@contextlib.contextmanager
def hold_back_native_notices():
    """Keep torch's C++ shape-inference notices ("The shape inference of prim::PadPacked type is
    missing") off standard error during an export: the graph is checked against PyTorch right after,
    so they say nothing a user can act on. Everything else written to file descriptor 2 meanwhile is
    passed on afterwards, all of it if the export fails. Where standard error is no file descriptor
    (a GUI process), nothing is redirected."""
    import sys
    import tempfile

    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    failed = False
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            shown = lines if failed else [line for line in lines
                                          if not any(noise in line for noise in _KNOWN_NATIVE_NOISE)]
            if shown and sys.stderr is not None:
                sys.stderr.write("".join(shown))


def session(path: Path):
    ort = onnxruntime_or_none()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the check below reports what matters
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def check_against_torch(path: Path, module: "torch.nn.Module", feeds: list[dict[str, "torch.Tensor"]],
                         output_names: list[str]) -> None:
    """Run the graph in onnxruntime on each feed and compare with ``module``; RuntimeError if they differ.

    A graph with a frozen axis (the dynamo exporter's failure) fails here, not in production. Outputs are
    compared by :func:`difference`: the same shape, infinities where PyTorch has them (a translator's banned
    tokens), equal booleans (a mask), finite values within :data:`TOLERANCE`.
    """
    import torch

    if onnxruntime_or_none() is None:
        return
    runtime = session(path)
    # An input the graph does not read was left out by the exporter (a translator's feed without input
    # feeding): the module still takes it, the graph is run without it.
    taken = {arg.name for arg in (*runtime.get_inputs(), *runtime.get_overridable_initializers())}
    for feed in feeds:
        with torch.no_grad():
            expected = module(*feed.values())
        expected = expected if isinstance(expected, tuple) else (expected,)
        shapes = {name: tuple(t.shape) for name, t in feed.items()}
        try:
            got = runtime.run(output_names, {name: t.numpy() for name, t in feed.items() if name in taken})
        except Exception as error:  # onnxruntime's own exception types vary by version
            raise RuntimeError(f"the exported graph {path} does not run on inputs of shapes {shapes}: "
                               f"{error}") from error
        for name, a, b in zip(output_names, got, expected):
            diff = difference(a, b.numpy()) if a.shape == tuple(b.shape) else float("nan")
            if not diff <= TOLERANCE:
                raise RuntimeError(f"the exported graph {path} differs from PyTorch on {name} for inputs of "
                                   f"shapes {shapes}: shape {a.shape} vs {tuple(b.shape)}, max |diff| {diff:.3g}")


def difference(a, b) -> float:
    """Largest |a - b| of two arrays of one shape over the entries where ``b`` is finite; infinite (or NaN)
    when they differ in where their infinities (or NaNs) are, or when booleans differ; 0 for empty arrays."""
    import numpy as np

    if a.size == 0:
        return 0.0
    if a.dtype == bool or b.dtype == bool:
        return 0.0 if np.array_equal(a, b) else float("inf")
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    finite = np.isfinite(b)
    if not np.array_equal(finite, np.isfinite(a)) or not np.array_equal(a[~finite], b[~finite], equal_nan=True):
        return float("inf")
    return float(np.abs(a[finite] - b[finite]).max()) if finite.any() else 0.0


def native_eval_copy(module: "torch.nn.Module") -> "torch.nn.Module":
    """A CPU copy in eval mode whose recurrent layers run torch's kernels (``_VF.lstm``, ``_VF.gru``,
    ``_VF.rnn_tanh``), which export as ONNX's LSTM, GRU and RNN operators.

    The reference backend would trace its Python loop over time and freeze T; both backends compute the
    same thing (tests/nn), so switching is safe. The caller's module is left untouched. A layer that
    torch's kernels cannot compute (an LSTM variant, zoneout: :func:`not_exportable`) is a
    :class:`~lstmkit.errors.UsageError` saying so.
    """
    from lstmkit.errors import UsageError
    from lstmkit.nn import GRU, LSTM, RNN
    from lstmkit.nn.variants import cell_name

    clone = copy.deepcopy(module).cpu().eval()
    for sub in clone.modules():
        if isinstance(sub, (LSTM, GRU, RNN)):
            why = not_exportable(cell_name(sub), max(sub.zoneout_rates))
            if why:
                raise UsageError(why)
            sub.backend = "native"
            try:
                sub.resolve_backend()
            except ValueError as error:  # what torch's kernel cannot compute, named by the layer
                raise UsageError(f"cannot export this model to ONNX: {error}") from None
    return clone


def write_onnx(path: Path, export) -> Path:
    """Run ``export(tmp_path)`` and move the file into place only once it was written and checked."""
    from lstmkit.files import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, export)


def make_state_optional(path: Path, states: dict[str, tuple[int, ...]]) -> None:
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


def declare_output_sizes(path: Path, sizes: dict[str, dict[int, int]]) -> None:
    """Declare fixed sizes of outputs whose shape inference gave up (a name like "Slicereconstruction_dim_1").

    Only the declaration changes: the computed shape is what it was, and the check after the export
    compares it with PyTorch's.
    """
    import onnx

    model = onnx.load(str(path))
    for output in model.graph.output:
        for axis, size in sizes.get(output.name, {}).items():
            output.type.tensor_type.shape.dim[axis].dim_value = size  # replaces the symbolic dim_param
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def seeded_randn(*shape: int):
    """A seeded standard-normal float32 tensor (a check batch that is the same on every export)."""
    import torch

    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def quantize_onnx_int8(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Write ``source``'s graph with int8 weights to ``target`` (onnxruntime's dynamic quantisation).

    Weights are stored as int8 and activations quantised on the fly, per call: ONNX's ``LSTM`` becomes
    onnxruntime's ``DynamicQuantizeLSTM`` and ``MatMul``/``Gemm`` their integer forms. Why this and not
    PyTorch's ``quantize_dynamic``: torch marks that API deprecated and its successor (torchao)
    quantises Linear layers only, not LSTMs, while onnxruntime's is its maintained path for CPU
    inference. Measured (``benchmarks/bench_export.py``): faster than the float graph at every size
    tried, with outputs within a few hundredths; the result is not the float model's, so it is never
    the default.

    Convolutions stay float (every other operator onnxruntime quantises dynamically is quantised): its
    ``ConvInteger`` made a video model's frame CNN 5x slower than its float ``Conv`` (5.5 ms against
    1.05 ms for 16 frames of 64 x 64, one thread) for no gain in accuracy, and a sensor model's 1-D
    convolutions no faster. The GRU and the RNN have no dynamically quantised operator in onnxruntime:
    their recurrences stay float, their input embeddings and output layers go int8.
    """
    from lstmkit.runtime import quiet_loggers

    require_onnx()
    if onnxruntime_or_none() is None:
        raise MissingDependencyError("int8 quantisation needs onnxruntime: pip install 'lstmkit[onnx]'")
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = Path(target)
    with quiet_loggers(""):  # onnxruntime advises "pre-processing" on the root logger at every call
        return write_onnx(target, lambda tmp: quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8,
                                                               op_types_to_quantize=QUANTIZED_OPERATORS))


def deviation(float_path: Path, int8_path: Path, feed: dict) -> float:
    """Largest |output difference| of the int8 graph from the float one on ``feed``, over every output
    (:func:`difference`: finite entries; booleans must be equal); a RuntimeError if the int8 graph gives a
    value that is not finite where the float graph's is finite (the -inf of a translator's banned tokens is
    the float graph's too)."""
    runs = []
    for path in (float_path, int8_path):
        runtime = session(path)
        taken = {arg.name for arg in (*runtime.get_inputs(), *runtime.get_overridable_initializers())}
        runs.append(runtime.run(None, {name: t.numpy() for name, t in feed.items() if name in taken}))
    first, second = runs
    differences = [difference(b, a) for a, b in zip(first, second)]
    if not all(d < float("inf") for d in differences):
        raise RuntimeError(f"the int8 graph {int8_path} gives values that are not finite on a check batch")
    return max(differences)
