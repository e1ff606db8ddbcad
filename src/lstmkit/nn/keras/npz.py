"""Keras weights as an ``.npz`` file (keys ``layer{k}_{j}``): how they travel from a Keras process."""
from __future__ import annotations

import os
import re
from typing import Sequence

import numpy as np

from lstmkit.errors import InputFileError, ModelFileError

__all__ = ["read_keras_npz", "write_keras_npz"]


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
