"""Keras LSTM weights into an lstmkit/PyTorch LSTM and back (layout: :mod:`lstmkit.nn.keras`)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from lstmkit.errors import ModelFileError
from lstmkit.nn.keras.layout import lstm_attrs, parse_lstm, torch_dtype
from lstmkit.nn.layers import LSTM

__all__ = ["check_keras_lstm_config", "load_keras_lstm_weights", "lstm_from_keras", "lstm_to_keras"]


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
    input_size, hidden_size, num_layers, bidirectional, bias, proj_size = lstm_attrs(lstm)
    what = "Keras LSTM weights"
    if proj_size:
        raise ModelFileError(f"{what}: the LSTM has proj_size={proj_size}; Keras' LSTM has no projection")
    layers, F, H, has_bias = parse_lstm(weights, bidirectional, what)
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
    layers, F, H, has_bias = parse_lstm(weights, bidirectional, "Keras LSTM weights")
    lstm = LSTM(F, H, num_layers=len(layers), bias=has_bias, batch_first=batch_first,
                bidirectional=bidirectional, dtype=torch_dtype(layers))
    return load_keras_lstm_weights(lstm, weights)


def lstm_to_keras(lstm: LSTM | torch.nn.LSTM) -> list[list[np.ndarray]]:
    """The inverse of :func:`lstm_from_keras`: one list of arrays per layer, as Keras' ``set_weights`` takes.

    Per layer and direction ``[weight_ih.T, weight_hh.T, bias_ih + bias_hh]`` ((F, 4H), (H, 4H), (4H,));
    a bidirectional layer gives six arrays (forward, then reverse: a ``keras.layers.Bidirectional``'s
    order), an LSTM with ``bias=False`` two per direction (``use_bias=False`` in Keras). The arrays keep
    the parameters' dtype. An LSTM with ``proj_size > 0`` has no Keras equivalent and is refused.
    """
    _, _, num_layers, bidirectional, bias, proj_size = lstm_attrs(lstm)
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
