"""Reading and checking Keras weight arrays: the layer/direction structure, shapes named in errors.

Shared by :mod:`lstmkit.nn.keras.lstm` and :mod:`lstmkit.nn.keras.gru`; the layout itself is described
in :mod:`lstmkit.nn.keras`.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from lstmkit.errors import ModelFileError
from lstmkit.nn.layers import LSTM

__all__ = ["Direction", "array_shape", "check_direction", "lstm_attrs", "parse_lstm", "split_directions",
           "torch_dtype", "weight_arrays"]


# One direction of one layer as Keras stores it: (kernel (F, G*H), recurrent_kernel (H, G*H), bias or None).
Direction = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


# --------------------------------------------------------------------------------------- parsing
def array_shape(a: np.ndarray) -> tuple[int, ...]:
    return tuple(int(n) for n in a.shape)


def weight_arrays(weights: Any, what: str) -> list[list[np.ndarray]]:
    """``weights`` as a list (layers) of lists of float arrays, or a one-line error saying what it was."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or isinstance(weights, (str, bytes)):
        raise ModelFileError(
            f"{what}: expected a list with one entry per Keras layer, each the list layer.get_weights() "
            f"returns, got {type(weights).__name__}"
        )
    if len(weights) == 0:
        raise ModelFileError(f"{what}: the list of layers is empty")
    layers = []
    for k, layer in enumerate(weights):
        if isinstance(layer, np.ndarray) or not isinstance(layer, Sequence):
            raise ModelFileError(
                f"{what}: layer {k} should be the list of arrays layer.get_weights() returns, got "
                f"{type(layer).__name__}" + (f" of shape {array_shape(layer)} (wrap the layer's arrays in a list, "
                                             "one list per layer)" if isinstance(layer, np.ndarray) else "")
            )
        arrays = []
        for a in layer:
            a = np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a)
            if a.dtype.kind not in "fiu":
                raise ModelFileError(f"{what}: layer {k} holds an array of dtype {a.dtype}, expected floats")
            arrays.append(a)
        layers.append(arrays)
    return layers


def split_directions(k: int, arrays: list[np.ndarray], bidirectional: bool, what: str,
                      ) -> tuple[list[list[np.ndarray]], bool]:
    """One layer's arrays cut into its directions (forward first); also whether it has biases."""
    n = len(arrays)
    if bidirectional:
        if n in (6, 4):
            return [arrays[: n // 2], arrays[n // 2:]], n == 6
        hint = " (one direction only: pass bidirectional=False)" if n in (3, 2) else ""
        raise ModelFileError(
            f"{what}: layer {k} has {n} arrays, expected 6 for a Bidirectional layer (forward kernel, "
            f"recurrent_kernel, bias, then the backward layer's three; 4 without biases){hint}"
        )
    if n in (3, 2):
        return [arrays], n == 3
    hint = " (a Bidirectional layer's forward and backward weights: pass bidirectional=True)" if n in (6, 4) else ""
    raise ModelFileError(
        f"{what}: layer {k} has {n} arrays, expected 3 (kernel, recurrent_kernel, bias; 2 with "
        f"use_bias=False){hint}"
    )


def check_direction(where: str, arrays: list[np.ndarray], gates: int, kind: str, in_features: int | None,
                     ) -> tuple[int, int]:
    """Check one direction's (kernel, recurrent_kernel[, bias]) for a layer with ``gates`` gate blocks.

    Returns (F, H). ``in_features`` is what the layer must take (None: anything, for layer 0).
    """
    kernel, recurrent = arrays[0], arrays[1]
    if recurrent.ndim != 2:
        raise ModelFileError(
            f"{where}: recurrent_kernel has shape {array_shape(recurrent)}, expected 2-D (units, {gates}*units)"
        )
    H = array_shape(recurrent)[0]
    cols = array_shape(recurrent)[1]
    if H == 0:
        raise ModelFileError(f"{where}: recurrent_kernel has shape {array_shape(recurrent)}: zero units")
    if cols != gates * H:
        other = {4 * H: "an LSTM's (gates i, f, c, o)", 3 * H: "a GRU's (gates z, r, h)",
                 H: "a SimpleRNN's (one block)"}.get(cols)
        raise ModelFileError(
            f"{where}: recurrent_kernel has shape {array_shape(recurrent)}, expected ({H}, {gates * H}) = "
            f"(units, {gates}*units) for a Keras {kind}"
            + (f"; {cols} = {cols // H}*{H} columns is {other} layout: these are not {kind} weights"
               if other else "")
        )
    if kernel.ndim != 2 or array_shape(kernel)[1] != gates * H:
        raise ModelFileError(
            f"{where}: kernel has shape {array_shape(kernel)}, expected (input features, {gates * H}) = "
            f"(F, {gates}*units) to match recurrent_kernel {array_shape(recurrent)}"
        )
    F = array_shape(kernel)[0]
    if in_features is not None and F != in_features:
        raise ModelFileError(
            f"{where}: kernel has shape {array_shape(kernel)}, expected ({in_features}, {gates * H}): the layer "
            f"below outputs {in_features} features"
        )
    if F == 0:
        raise ModelFileError(f"{where}: kernel has shape {array_shape(kernel)}: zero input features")
    return F, H


def parse_lstm(weights: Any, bidirectional: bool, what: str) -> tuple[list[list[Direction]], int, int, bool]:
    """Check Keras LSTM weights of a whole stack. Returns (layers of directions, F, H, has_bias)."""
    layers = weight_arrays(weights, what)
    parsed: list[list[Direction]] = []
    input_size = hidden_size = 0
    has_bias: bool | None = None
    in_features: int | None = None
    for k, arrays in enumerate(layers):
        directions, biased = split_directions(k, arrays, bidirectional, what)
        if has_bias is None:
            has_bias = biased
        elif biased != has_bias:
            raise ModelFileError(
                f"{what}: layer {k} {'has' if biased else 'has no'} bias but layer 0 "
                f"{'has' if has_bias else 'has none'}; one LSTM needs all layers alike (use_bias)"
            )
        layer_dirs: list[Direction] = []
        for d, arr in enumerate(directions):
            where = f"{what}, layer {k}" + (f" {('forward', 'backward')[d]}" if bidirectional else "")
            F, H = check_direction(where, arr, 4, "LSTM", in_features)
            bias = None
            if biased:
                bias = arr[2]
                if array_shape(bias) != (4 * H,):
                    gru = (" (a GRU's input and recurrent biases: these are not LSTM weights)"
                           if array_shape(bias) == (2, 3 * H) else "")
                    raise ModelFileError(
                        f"{where}: bias has shape {array_shape(bias)}, expected ({4 * H},) = (4*units,){gru}"
                    )
            if d == 1:
                fw = layer_dirs[0]
                if (array_shape(fw[0]), array_shape(fw[1])) != (array_shape(arr[0]), array_shape(arr[1])):
                    raise ModelFileError(
                        f"{where}: kernel/recurrent_kernel have shapes {array_shape(arr[0])}/{array_shape(arr[1])}, "
                        f"expected the forward layer's {array_shape(fw[0])}/{array_shape(fw[1])}"
                    )
            layer_dirs.append((arr[0], arr[1], bias))
        if k == 0:
            input_size, hidden_size = F, H
        elif H != hidden_size:
            raise ModelFileError(
                f"{what}: layer {k} has {H} units, layer 0 has {hidden_size}; one lstmkit/torch LSTM needs "
                f"the same hidden_size in every layer (load each layer into its own LSTM)"
            )
        in_features = H * len(directions)
        parsed.append(layer_dirs)
    return parsed, input_size, hidden_size, bool(has_bias)


def torch_dtype(layers: list[list[Direction]]) -> torch.dtype:
    arrays = [a for layer in layers for d in layer for a in d if a is not None]
    dtype = np.result_type(*arrays)
    if dtype.kind != "f":
        return torch.get_default_dtype()
    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


def lstm_attrs(lstm: Any) -> tuple[int, int, int, bool, bool, int]:
    if not isinstance(lstm, (LSTM, torch.nn.LSTM)):
        raise TypeError(f"expected an lstmkit.nn.LSTM or torch.nn.LSTM, got {type(lstm).__name__}")
    return (lstm.input_size, lstm.hidden_size, lstm.num_layers, bool(lstm.bidirectional), bool(lstm.bias),
            int(getattr(lstm, "proj_size", 0)))
