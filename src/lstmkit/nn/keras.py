r"""Keras LSTM (and GRU) weights in and out: the same network, two layouts.

A Keras ``LSTM`` layer and :class:`lstmkit.nn.LSTM` (or ``torch.nn.LSTM``) compute the same thing
from the same numbers, stored differently. Keras' ``layer.get_weights()`` returns three arrays,
``[kernel, recurrent_kernel, bias]``; the torch layout has four tensors per layer and direction.
Side by side, with F input features and H units (``hidden_size``):

=========================  ==================  ============================================
Keras                      shape               torch / lstmkit
=========================  ==================  ============================================
``kernel``                 (F, 4H)             ``weight_ih_l{k}.T``   (``weight_ih`` is (4H, F))
``recurrent_kernel``       (H, 4H)             ``weight_hh_l{k}.T``   (``weight_hh`` is (4H, H))
``bias``                   (4H,)               ``bias_ih_l{k} + bias_hh_l{k}`` (two (4H,) vectors)
=========================  ==================  ============================================

The gate blocks come in the **same order** in both: Keras splits its 4H columns into
``i, f, c, o`` (input, forget, candidate, output), torch its 4H rows into ``i, f, g, o``, and
Keras' ``c`` *is* torch's ``g``. So the conversion is a transpose and a bias split, no reordering.
Per step, with :math:`x_t` a row vector (Keras) or a column vector (torch):

.. math::
    \text{Keras:}\quad [z_i\ z_f\ z_c\ z_o] &= x_t K + h_{t-1} R + b
        &&\text{(}K\text{ = kernel, }R\text{ = recurrent\_kernel)}\\
    \text{torch:}\quad [z_i; z_f; z_g; z_o] &= W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}
        &&\text{so } W_{ih} = K^\top,\ W_{hh} = R^\top,\ b_{ih} + b_{hh} = b\\
    i_t = \sigma(z_i),\ f_t &= \sigma(z_f),\ g_t = \tanh(z_{c|g}),\ o_t = \sigma(z_o), &&
    c_t = f_t \odot c_{t-1} + i_t \odot g_t,\quad h_t = o_t \odot \tanh(c_t).

Loading puts Keras' bias into ``bias_ih`` and zeros into ``bias_hh`` (only their sum ever acts);
:func:`lstm_to_keras` adds them. A Keras layer built with ``use_bias=False`` gives two arrays and
loads into an LSTM with ``bias=False``.

What the arrays do not say (check ``layer.get_config()``, or pass it to
:func:`check_keras_lstm_config`, which refuses what would not compute the same thing):

* ``activation`` must be ``"tanh"`` and ``recurrent_activation`` ``"sigmoid"``, the defaults of
  tf.keras 2.x and Keras 3. Standalone Keras 1.x/2.0-2.3 defaulted to ``"hard_sigmoid"``, which
  gives close but different numbers: such a model cannot be loaded exactly.
* ``unit_forget_bias`` only sets the initial forget bias; the trained bias is in ``bias``.
* ``dropout`` / ``recurrent_dropout`` act only while training; they are not carried over.
* a plain (not Bidirectional) layer with ``go_backwards=True`` reads its input back to front and
  returns its output sequence in that reversed order: flip the input (and the output) in time
  yourself.

**Bidirectional.** ``keras.layers.Bidirectional(LSTM(...)).get_weights()`` returns six arrays, the
forward layer's three, then the backward layer's three; they map to ``..._l{k}`` and
``..._l{k}_reverse``. Keras runs its backward layer with ``go_backwards=True`` (on the sequence read
from last step to first) and, with ``return_sequences=True``, flips that layer's outputs back so
that position t of both halves belongs to input step t; with ``merge_mode="concat"`` (the default)
it concatenates ``[forward, backward]`` on the feature axis. That is exactly torch's bidirectional
output (T, N, 2H), forward half first, so a stacked bidirectional layer k > 0 sees the same 2H
features in the same order (its kernel rows: forward units, then backward units). With
``return_sequences=False`` Keras returns each layer's last processed step, i.e. (with torch's
batch-first ``output``) ``[output[:, -1, :H], output[:, 0, H:]]`` (the backward direction ends at
step 0) = ``torch.cat([h_n[-2], h_n[-1]], -1)``; Keras' ``return_state`` states ``[h_fw, c_fw, h_bw, c_bw]``
are ``h_n[2k], c_n[2k], h_n[2k+1], c_n[2k+1]``. Other merge modes (``"sum"``, ``"mul"``, ``"ave"``,
``None``) combine the same two halves differently: apply them to ``output[..., :H]`` and
``output[..., H:]``. A stack is a list of layers, one entry per Keras layer; torch needs one
``hidden_size`` for all of them.

**Getting the arrays out of Keras** (the Keras side needs only NumPy)::

    import keras, numpy as np
    layers = [l for l in model.layers if isinstance(l, (keras.layers.LSTM, keras.layers.Bidirectional))]
    np.savez("lstm_weights.npz", **{f"layer{k}_{j}": a for k, l in enumerate(layers)
                                    for j, a in enumerate(l.get_weights())})

and into lstmkit (``bidirectional=True`` for Bidirectional layers)::

    from lstmkit.nn.keras import lstm_from_keras, read_keras_npz
    lstm = lstm_from_keras(read_keras_npz("lstm_weights.npz"))   # batch_first=True, like Keras
    output, (h_n, c_n) = lstm(x)                                 # x (N, T, F)

The way back: ``write_keras_npz("w.npz", lstm_to_keras(lstm))``, then in Keras
``f = np.load("w.npz")`` and ``layer.set_weights([f[f"layer{k}_{j}"] for j in range(len(layer.get_weights()))])``
for each layer k. The arrays keep the parameters' dtype (Keras casts on ``set_weights``).

**GRU.** :func:`load_keras_gru_weights` / :func:`gru_to_keras` do the same for ``torch.nn.GRU``
(lstmkit has no GRU of its own yet). Keras' GRU with ``reset_after=True`` (the tf.keras 2.x / Keras 3
default) has ``kernel`` (F, 3H), ``recurrent_kernel`` (H, 3H) and ``bias`` (2, 3H) = (input bias,
recurrent bias), gates in the order ``z, r, h``; torch has the blocks in the order ``r, z, n``, so
here the blocks are reordered as well as transposed: ``weight_ih = K.T`` with blocks (z, r, h) ->
(r, z, n), ``weight_hh = R.T`` likewise, ``bias_ih = bias[0]``, ``bias_hh = bias[1]`` likewise.
Both compute :math:`n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn}))` and
:math:`h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}`. ``reset_after=False`` (one (3H,) bias, reset
gate applied before the recurrent product) is a different equation torch has no layer for: refused.
"""
from __future__ import annotations

import os
import re
from typing import Any, Sequence

import numpy as np
import torch

from lstmkit.errors import InputFileError, ModelFileError
from lstmkit.nn.layers import LSTM

__all__ = [
    "check_keras_lstm_config", "gru_to_keras", "load_keras_gru_weights", "load_keras_lstm_weights",
    "lstm_from_keras", "lstm_to_keras", "read_keras_npz", "write_keras_npz",
]

# One direction of one layer as Keras stores it: (kernel (F, G*H), recurrent_kernel (H, G*H), bias or None).
_Direction = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]


# --------------------------------------------------------------------------------------- parsing
def _shape(a: np.ndarray) -> tuple[int, ...]:
    return tuple(int(n) for n in a.shape)


def _as_arrays(weights: Any, what: str) -> list[list[np.ndarray]]:
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
                f"{type(layer).__name__}" + (f" of shape {_shape(layer)} (wrap the layer's arrays in a list, "
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


def _split_directions(k: int, arrays: list[np.ndarray], bidirectional: bool, what: str,
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


def _check_direction(where: str, arrays: list[np.ndarray], gates: int, kind: str, in_features: int | None,
                     ) -> tuple[int, int]:
    """Check one direction's (kernel, recurrent_kernel[, bias]) for a layer with ``gates`` gate blocks.

    Returns (F, H). ``in_features`` is what the layer must take (None: anything, for layer 0).
    """
    kernel, recurrent = arrays[0], arrays[1]
    if recurrent.ndim != 2:
        raise ModelFileError(
            f"{where}: recurrent_kernel has shape {_shape(recurrent)}, expected 2-D (units, {gates}*units)"
        )
    H = _shape(recurrent)[0]
    cols = _shape(recurrent)[1]
    if H == 0:
        raise ModelFileError(f"{where}: recurrent_kernel has shape {_shape(recurrent)}: zero units")
    if cols != gates * H:
        other = {4 * H: "an LSTM's (gates i, f, c, o)", 3 * H: "a GRU's (gates z, r, h)",
                 H: "a SimpleRNN's (one block)"}.get(cols)
        raise ModelFileError(
            f"{where}: recurrent_kernel has shape {_shape(recurrent)}, expected ({H}, {gates * H}) = "
            f"(units, {gates}*units) for a Keras {kind}"
            + (f"; {cols} = {cols // H}*{H} columns is {other} layout: these are not {kind} weights"
               if other else "")
        )
    if kernel.ndim != 2 or _shape(kernel)[1] != gates * H:
        raise ModelFileError(
            f"{where}: kernel has shape {_shape(kernel)}, expected (input features, {gates * H}) = "
            f"(F, {gates}*units) to match recurrent_kernel {_shape(recurrent)}"
        )
    F = _shape(kernel)[0]
    if in_features is not None and F != in_features:
        raise ModelFileError(
            f"{where}: kernel has shape {_shape(kernel)}, expected ({in_features}, {gates * H}): the layer "
            f"below outputs {in_features} features"
        )
    if F == 0:
        raise ModelFileError(f"{where}: kernel has shape {_shape(kernel)}: zero input features")
    return F, H


def _parse_lstm(weights: Any, bidirectional: bool, what: str) -> tuple[list[list[_Direction]], int, int, bool]:
    """Check Keras LSTM weights of a whole stack. Returns (layers of directions, F, H, has_bias)."""
    layers = _as_arrays(weights, what)
    parsed: list[list[_Direction]] = []
    input_size = hidden_size = 0
    has_bias: bool | None = None
    in_features: int | None = None
    for k, arrays in enumerate(layers):
        directions, biased = _split_directions(k, arrays, bidirectional, what)
        if has_bias is None:
            has_bias = biased
        elif biased != has_bias:
            raise ModelFileError(
                f"{what}: layer {k} {'has' if biased else 'has no'} bias but layer 0 "
                f"{'has' if has_bias else 'has none'}; one LSTM needs all layers alike (use_bias)"
            )
        layer_dirs: list[_Direction] = []
        for d, arr in enumerate(directions):
            where = f"{what}, layer {k}" + (f" {('forward', 'backward')[d]}" if bidirectional else "")
            F, H = _check_direction(where, arr, 4, "LSTM", in_features)
            bias = None
            if biased:
                bias = arr[2]
                if _shape(bias) != (4 * H,):
                    gru = (" (a GRU's input and recurrent biases: these are not LSTM weights)"
                           if _shape(bias) == (2, 3 * H) else "")
                    raise ModelFileError(
                        f"{where}: bias has shape {_shape(bias)}, expected ({4 * H},) = (4*units,){gru}"
                    )
            if d == 1:
                fw = layer_dirs[0]
                if (_shape(fw[0]), _shape(fw[1])) != (_shape(arr[0]), _shape(arr[1])):
                    raise ModelFileError(
                        f"{where}: kernel/recurrent_kernel have shapes {_shape(arr[0])}/{_shape(arr[1])}, "
                        f"expected the forward layer's {_shape(fw[0])}/{_shape(fw[1])}"
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


def _torch_dtype(layers: list[list[_Direction]]) -> torch.dtype:
    arrays = [a for layer in layers for d in layer for a in d if a is not None]
    dtype = np.result_type(*arrays)
    if dtype.kind != "f":
        return torch.get_default_dtype()
    return torch.from_numpy(np.empty(0, dtype=dtype)).dtype


def _lstm_attrs(lstm: Any) -> tuple[int, int, int, bool, bool, int]:
    if not isinstance(lstm, (LSTM, torch.nn.LSTM)):
        raise TypeError(f"expected an lstmkit.nn.LSTM or torch.nn.LSTM, got {type(lstm).__name__}")
    return (lstm.input_size, lstm.hidden_size, lstm.num_layers, bool(lstm.bidirectional), bool(lstm.bias),
            int(getattr(lstm, "proj_size", 0)))


# ----------------------------------------------------------------------------------------- LSTM
def load_keras_lstm_weights(lstm: LSTM | torch.nn.LSTM, weights: Sequence[Sequence[np.ndarray]],
                            ) -> LSTM | torch.nn.LSTM:
    """Copy Keras LSTM weights into an existing ``lstm`` in place (and return it).

    ``weights``: one entry per Keras layer, each what ``layer.get_weights()`` returns (3 arrays; 6 for a
    Bidirectional layer, forward then backward; 2 or 4 with ``use_bias=False``). ``lstm`` is an
    :class:`lstmkit.nn.LSTM` or a ``torch.nn.LSTM`` (same parameter names) without projection, whose
    sizes, layer count and directions must match the arrays; every mismatch raises
    :class:`~lstmkit.errors.ModelFileError` naming the layer, the array, and both shapes. Weights
    without biases load into an LSTM with biases as zero biases (the same function). The arrays are
    converted to the parameters' dtype and device.
    """
    input_size, hidden_size, num_layers, bidirectional, bias, proj_size = _lstm_attrs(lstm)
    what = "Keras LSTM weights"
    if proj_size:
        raise ModelFileError(f"{what}: the LSTM has proj_size={proj_size}; Keras' LSTM has no projection")
    layers, F, H, has_bias = _parse_lstm(weights, bidirectional, what)
    found = {"num_layers": len(layers), "input_size": F, "hidden_size": H}
    for name, value in found.items():
        expected = {"num_layers": num_layers, "input_size": input_size, "hidden_size": hidden_size}[name]
        if value != expected:
            raise ModelFileError(f"{what}: give {name}={value}, the LSTM has {name}={expected}")
    if has_bias and not bias:
        raise ModelFileError(f"{what}: the Keras layers have biases, the LSTM was built with bias=False")
    with torch.no_grad():
        for k, layer in enumerate(layers):
            for d, (kernel, recurrent, b) in enumerate(layer):
                sfx = f"_l{k}" + ("_reverse" if d == 1 else "")
                w_ih, w_hh = getattr(lstm, f"weight_ih{sfx}"), getattr(lstm, f"weight_hh{sfx}")
                w_ih.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)).to(w_ih))
                w_hh.copy_(torch.from_numpy(np.ascontiguousarray(recurrent.T)).to(w_hh))
                if bias:
                    b_ih, b_hh = getattr(lstm, f"bias_ih{sfx}"), getattr(lstm, f"bias_hh{sfx}")
                    if b is None:
                        b_ih.zero_()
                    else:
                        b_ih.copy_(torch.from_numpy(np.ascontiguousarray(b)).to(b_ih))
                    b_hh.zero_()
    return lstm


def lstm_from_keras(weights: Sequence[Sequence[np.ndarray]], *, bidirectional: bool = False,
                    batch_first: bool = True) -> LSTM:
    """A new :class:`lstmkit.nn.LSTM` holding Keras LSTM weights.

    ``weights``: one entry per Keras layer, each the list ``layer.get_weights()`` returns (see
    :func:`load_keras_lstm_weights`); ``bidirectional=True`` when they come from
    ``keras.layers.Bidirectional`` layers. input_size, hidden_size, num_layers and bias are read off
    the arrays' shapes (every shape is checked); the parameters take the arrays' float dtype
    (Keras' float32, or float64 for hand-built arrays). ``batch_first`` defaults to True because
    Keras takes (batch, time, features). The result is in training mode like any new module: call
    ``.eval()`` before predicting (it has no dropout, so the outputs are the same either way).
    """
    layers, F, H, has_bias = _parse_lstm(weights, bidirectional, "Keras LSTM weights")
    lstm = LSTM(F, H, num_layers=len(layers), bias=has_bias, batch_first=batch_first,
                bidirectional=bidirectional, dtype=_torch_dtype(layers))
    return load_keras_lstm_weights(lstm, weights)


def lstm_to_keras(lstm: LSTM | torch.nn.LSTM) -> list[list[np.ndarray]]:
    """The inverse of :func:`lstm_from_keras`: one list of arrays per layer, as Keras' ``set_weights`` takes.

    Per layer and direction ``[weight_ih.T, weight_hh.T, bias_ih + bias_hh]`` ((F, 4H), (H, 4H), (4H,));
    a bidirectional layer gives six arrays (forward, then reverse: a ``keras.layers.Bidirectional``'s
    order), an LSTM with ``bias=False`` two per direction (``use_bias=False`` in Keras). The arrays keep
    the parameters' dtype. An LSTM with ``proj_size > 0`` has no Keras equivalent and is refused.
    """
    _, _, num_layers, bidirectional, bias, proj_size = _lstm_attrs(lstm)
    if proj_size:
        raise ModelFileError(f"the LSTM has proj_size={proj_size}; Keras' LSTM has no projection layer")
    out: list[list[np.ndarray]] = []
    with torch.no_grad():
        for k in range(num_layers):
            arrays: list[np.ndarray] = []
            for d in range(2 if bidirectional else 1):
                sfx = f"_l{k}" + ("_reverse" if d == 1 else "")
                arrays.append(getattr(lstm, f"weight_ih{sfx}").detach().cpu().T.numpy().copy())
                arrays.append(getattr(lstm, f"weight_hh{sfx}").detach().cpu().T.numpy().copy())
                if bias:
                    b = getattr(lstm, f"bias_ih{sfx}") + getattr(lstm, f"bias_hh{sfx}")
                    arrays.append(b.detach().cpu().numpy().copy())
            out.append(arrays)
    return out


_ACTIVATIONS = {"activation": "tanh", "recurrent_activation": "sigmoid"}


def check_keras_lstm_config(config: dict) -> None:
    """Refuse a Keras LSTM (or Bidirectional LSTM) config whose layer computes something else.

    ``config`` is ``layer.get_config()``. Raises :class:`~lstmkit.errors.ModelFileError` when
    ``activation`` is not ``"tanh"`` or ``recurrent_activation`` not ``"sigmoid"`` (older Keras'
    ``"hard_sigmoid"`` default in particular), or a plain layer has ``go_backwards=True``. Returns
    None when the weights alone determine the function.
    """
    if not isinstance(config, dict):
        raise TypeError(f"expected the dict layer.get_config() returns, got {type(config).__name__}")
    if isinstance(config.get("layer"), dict):  # Bidirectional: {"layer": {"class_name", "config"}, ...}
        for key in ("layer", "backward_layer"):
            inner = config.get(key)
            if isinstance(inner, dict):
                inner_config = dict(inner.get("config", inner))
                inner_config.pop("go_backwards", None)  # the wrapper sets it on its backward layer
                check_keras_lstm_config(inner_config)
        return
    name = config.get("name", "the layer")
    for key, expected in _ACTIVATIONS.items():
        value = config.get(key, expected)
        if isinstance(value, dict):  # a serialised activation object; its "config" is a dict or a name
            inner = value.get("config")
            value = inner if isinstance(inner, str) else (inner or {}).get("name", value.get("class_name"))
        if value != expected:
            extra = (" (the default of standalone Keras <= 2.3: close to but not the same as sigmoid)"
                     if value == "hard_sigmoid" else "")
            raise ModelFileError(
                f"Keras layer {name!r}: {key}={value!r}{extra}; lstmkit's LSTM computes {key}={expected!r}, "
                "so these weights would not give the same outputs"
            )
    if config.get("go_backwards"):
        raise ModelFileError(
            f"Keras layer {name!r}: go_backwards=True reads the input back to front and returns the "
            "outputs reversed; flip the input and output in time yourself, or use Bidirectional"
        )


# ------------------------------------------------------------------------------------------ GRU
_GRU_KERAS_TO_TORCH = (1, 0, 2)  # torch block j (r, z, n) is Keras block ... of (z, r, h)


def _reorder_blocks(a: np.ndarray, axis: int, H: int) -> np.ndarray:
    """Blocks (z, r, h) -> (r, z, n) along ``axis``; the permutation is its own inverse."""
    blocks = [np.take(a, range(j * H, (j + 1) * H), axis=axis) for j in range(3)]
    return np.concatenate([blocks[j] for j in _GRU_KERAS_TO_TORCH], axis=axis)


def load_keras_gru_weights(gru: torch.nn.GRU, weights: Sequence[Sequence[np.ndarray]]) -> torch.nn.GRU:
    """Copy Keras GRU weights (``reset_after=True``) into a ``torch.nn.GRU`` in place (and return it).

    ``weights`` as for :func:`load_keras_lstm_weights`: per layer ``[kernel (F, 3H), recurrent_kernel
    (H, 3H), bias (2, 3H)]`` (six arrays for a Bidirectional layer, forward first; two per direction
    with ``use_bias=False``). The gate blocks are reordered from Keras' (z, r, h) to torch's (r, z, n).
    A (3H,) bias means ``reset_after=False``, which torch cannot compute: refused.
    """
    if not isinstance(gru, torch.nn.GRU):
        raise TypeError(f"expected a torch.nn.GRU, got {type(gru).__name__}")
    what = "Keras GRU weights"
    layers = _as_arrays(weights, what)
    if len(layers) != gru.num_layers:
        raise ModelFileError(f"{what}: give num_layers={len(layers)}, the GRU has num_layers={gru.num_layers}")
    parsed: list[list[_Direction]] = []
    in_features: int | None = gru.input_size
    for k, arrays in enumerate(layers):
        directions, biased = _split_directions(k, arrays, bool(gru.bidirectional), what)
        if biased and not gru.bias:
            raise ModelFileError(f"{what}: layer {k} has biases, the GRU was built with bias=False")
        layer_dirs: list[_Direction] = []
        for d, arr in enumerate(directions):
            where = f"{what}, layer {k}" + (f" {('forward', 'backward')[d]}" if gru.bidirectional else "")
            _, H = _check_direction(where, arr, 3, "GRU", in_features)
            if H != gru.hidden_size:
                raise ModelFileError(f"{where}: {H} units, the GRU has hidden_size={gru.hidden_size}")
            bias = None
            if biased:
                bias = arr[2]
                if _shape(bias) == (3 * H,):
                    raise ModelFileError(
                        f"{where}: bias has shape {_shape(bias)}, a GRU built with reset_after=False (reset "
                        "gate before the recurrent product), which torch.nn.GRU cannot compute; expected "
                        f"({2}, {3 * H}) from reset_after=True"
                    )
                if _shape(bias) != (2, 3 * H):
                    raise ModelFileError(
                        f"{where}: bias has shape {_shape(bias)}, expected (2, {3 * H}) = (2, 3*units)"
                    )
            layer_dirs.append((arr[0], arr[1], bias))
        in_features = gru.hidden_size * len(directions)
        parsed.append(layer_dirs)
    H = gru.hidden_size
    with torch.no_grad():
        for k, layer in enumerate(parsed):
            for d, (kernel, recurrent, b) in enumerate(layer):
                sfx = f"_l{k}" + ("_reverse" if d == 1 else "")
                w_ih, w_hh = getattr(gru, f"weight_ih{sfx}"), getattr(gru, f"weight_hh{sfx}")
                w_ih.copy_(torch.from_numpy(np.ascontiguousarray(_reorder_blocks(kernel, 1, H).T)).to(w_ih))
                w_hh.copy_(torch.from_numpy(np.ascontiguousarray(_reorder_blocks(recurrent, 1, H).T)).to(w_hh))
                if gru.bias:
                    b_ih, b_hh = getattr(gru, f"bias_ih{sfx}"), getattr(gru, f"bias_hh{sfx}")
                    if b is None:
                        b_ih.zero_()
                        b_hh.zero_()
                    else:
                        b_ih.copy_(torch.from_numpy(_reorder_blocks(b[0], 0, H)).to(b_ih))
                        b_hh.copy_(torch.from_numpy(_reorder_blocks(b[1], 0, H)).to(b_hh))
    return gru


def gru_to_keras(gru: torch.nn.GRU) -> list[list[np.ndarray]]:
    """The inverse of :func:`load_keras_gru_weights`: per layer ``[kernel, recurrent_kernel, bias (2, 3H)]``
    (for a Keras GRU with ``reset_after=True``), six arrays for a bidirectional layer."""
    if not isinstance(gru, torch.nn.GRU):
        raise TypeError(f"expected a torch.nn.GRU, got {type(gru).__name__}")
    H = gru.hidden_size
    out: list[list[np.ndarray]] = []
    with torch.no_grad():
        for k in range(gru.num_layers):
            arrays: list[np.ndarray] = []
            for d in range(2 if gru.bidirectional else 1):
                sfx = f"_l{k}" + ("_reverse" if d == 1 else "")
                w_ih = getattr(gru, f"weight_ih{sfx}").detach().cpu().numpy()
                w_hh = getattr(gru, f"weight_hh{sfx}").detach().cpu().numpy()
                arrays.append(_reorder_blocks(w_ih.T, 1, H))
                arrays.append(_reorder_blocks(w_hh.T, 1, H))
                if gru.bias:
                    b_ih = getattr(gru, f"bias_ih{sfx}").detach().cpu().numpy()
                    b_hh = getattr(gru, f"bias_hh{sfx}").detach().cpu().numpy()
                    arrays.append(np.stack([_reorder_blocks(b_ih, 0, H), _reorder_blocks(b_hh, 0, H)]))
            out.append(arrays)
    return out


# ------------------------------------------------------------------------------------ .npz files
_NPZ_KEY = re.compile(r"layer(\d+)_(\d+)")


def write_keras_npz(path: str | os.PathLike, weights: Sequence[Sequence[np.ndarray]]) -> None:
    """Save per-layer weight lists as ``.npz`` with keys ``layer{k}_{j}`` (array j of layer k)."""
    np.savez(path, **{f"layer{k}_{j}": np.asarray(a) for k, layer in enumerate(weights) for j, a in enumerate(layer)})


def read_keras_npz(path: str | os.PathLike) -> list[list[np.ndarray]]:
    """Read an ``.npz`` written as in the module docstring (keys ``layer{k}_{j}``) back into per-layer lists."""
    if not os.path.isfile(path):
        raise InputFileError(f"Keras weights file {os.fspath(path)!r} does not exist or is not a file")
    try:
        with np.load(path, allow_pickle=False) as f:
            found: dict[int, dict[int, np.ndarray]] = {}
            for key in f.files:
                m = _NPZ_KEY.fullmatch(key)
                if m is None:
                    raise ModelFileError(
                        f"Keras weights file {os.fspath(path)!r}: unexpected array name {key!r}, expected "
                        "layer{k}_{j} (array j of layer k)"
                    )
                found.setdefault(int(m[1]), {})[int(m[2])] = f[key]
    except (OSError, ValueError) as e:
        if isinstance(e, ModelFileError):
            raise
        raise ModelFileError(f"Keras weights file {os.fspath(path)!r} is not a readable .npz file ({e})") from None
    if not found:
        raise ModelFileError(f"Keras weights file {os.fspath(path)!r} holds no arrays")
    layers = []
    for k in range(max(found) + 1):
        arrays = found.get(k, {})
        if not arrays or sorted(arrays) != list(range(len(arrays))):
            raise ModelFileError(
                f"Keras weights file {os.fspath(path)!r}: layer {k} has arrays {sorted(arrays)}, expected "
                "0, 1, 2, ... with no gaps"
            )
        layers.append([arrays[j] for j in range(len(arrays))])
    return layers
