"""Keras GRU weights (``reset_after=True``) into a ``torch.nn.GRU`` and back (layout: :mod:`lstmkit.nn.keras`)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from lstmkit.errors import ModelFileError
from lstmkit.nn.keras.layout import Direction, array_shape, check_direction, split_directions, weight_arrays

__all__ = ["gru_to_keras", "load_keras_gru_weights"]


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
    layers = weight_arrays(weights, what)
    if len(layers) != gru.num_layers:
        raise ModelFileError(f"{what}: give num_layers={len(layers)}, the GRU has num_layers={gru.num_layers}")
    parsed: list[list[Direction]] = []
    in_features: int | None = gru.input_size
    for k, arrays in enumerate(layers):
        directions, biased = split_directions(k, arrays, bool(gru.bidirectional), what)
        if biased and not gru.bias:
            raise ModelFileError(f"{what}: layer {k} has biases, the GRU was built with bias=False")
        layer_dirs: list[Direction] = []
        for d, arr in enumerate(directions):
            where = f"{what}, layer {k}" + (f" {('forward', 'backward')[d]}" if gru.bidirectional else "")
            _, H = check_direction(where, arr, 3, "GRU", in_features)
            if H != gru.hidden_size:
                raise ModelFileError(f"{where}: {H} units, the GRU has hidden_size={gru.hidden_size}")
            bias = None
            if biased:
                bias = arr[2]
                if array_shape(bias) == (3 * H,):
                    raise ModelFileError(
                        f"{where}: bias has shape {array_shape(bias)}, a GRU built with reset_after=False (reset "
                        "gate before the recurrent product), which torch.nn.GRU cannot compute; expected "
                        f"({2}, {3 * H}) from reset_after=True"
                    )
                if array_shape(bias) != (2, 3 * H):
                    raise ModelFileError(
                        f"{where}: bias has shape {array_shape(bias)}, expected (2, {3 * H}) = (2, 3*units)"
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
