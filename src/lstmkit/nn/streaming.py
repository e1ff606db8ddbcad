r"""Streaming inference: step an LSTM one time step per call, carrying (h, c) between calls.

Calling ``torch.nn.LSTM`` on a length-1 sequence costs 100+ microseconds on a 2-core CPU (docs/performance.md), roughly
100x the arithmetic of a small step, because every call pays dispatcher, autograd and kernel set-up
overhead. A live feed (one sensor reading at a time) needs the arithmetic alone, so on CPU the
streamer keeps a snapshot of the weights as contiguous NumPy arrays, ``[W_ih | W_hh]`` stacked and
pre-transposed, the two biases summed, and runs each step as one small matrix product and a few
in-place ufuncs into preallocated buffers (about ten NumPy calls per layer). On other devices it runs the same equations with torch ops.

Per layer and step (:func:`lstmkit.nn.functional.lstm_step`)::

    z = x W_ih^T + h W_hh^T + (b_ih + b_hh)          # (B, 4H), gate order i|f|g|o
    i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_g)
    c = f * c + i * g;  h = o * tanh(c)  (then h = h W_hr^T with a projection)

sigmoid(x) is computed as 0.5 * tanh(x / 2) + 0.5: exact, stable for any x, and it lets one tanh call
cover all four gates (the halving is folded into the weights' sigmoid rows).
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import Tensor

from lstmkit.nn import functional as F_

__all__ = ["LSTMStreamer", "RecurrentStreamer"]


class LSTMStreamer:
    """Step a unidirectional :class:`lstmkit.nn.LSTM` through a stream, ``batch_size`` streams at once.

    ``step(x)`` takes x shaped (batch_size, input_size) (NumPy or torch) and returns the top layer's
    hidden output (batch_size, H_out) of the same kind; the outputs equal those of running the full
    sequence through ``lstm`` (eval mode, no dropout). ``reset()`` zeros the state. The weights are a
    snapshot taken at construction: build a new streamer after training further.
    """

    def __init__(self, lstm, batch_size: int = 1) -> None:
        if lstm.bidirectional:
            raise ValueError(
                "streaming needs a unidirectional LSTM: a bidirectional one reads the future, "
                "which a stream does not have yet"
            )
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        self.input_size = lstm.input_size
        self.hidden_size = lstm.hidden_size
        self.output_size = lstm.output_size
        self.num_layers = lstm.num_layers
        first = lstm.weight_ih_l0
        self.device = first.device
        self._numpy = first.device.type == "cpu"
        layers = []
        with torch.no_grad():
            for k in range(lstm.num_layers):
                w = lstm.layer_weights(k, 0)
                bias = None
                if w["bias_ih"] is not None:
                    bias = (w["bias_ih"] + w["bias_hh"]).detach().clone()
                w_hr = None if w["weight_hr"] is None else w["weight_hr"].detach().clone()
                layers.append((w["weight_ih"].detach().clone(), w["weight_hh"].detach().clone(), bias, w_hr))
        if self._numpy:
            self._dtype = torch.empty((), dtype=first.dtype).numpy().dtype
            H = self.hidden_size
            # Columns reordered i|f|o|g so the three sigmoid gates are one contiguous block.
            order = torch.cat([torch.arange(0, 2 * H), torch.arange(3 * H, 4 * H), torch.arange(2 * H, 3 * H)])
            self._np_layers = []
            for w_ih, w_hh, b, w_hr in layers:
                w = torch.cat([w_ih, w_hh], dim=1)[order]  # (4H, in + H_out): one product for x and h
                b = torch.zeros(4 * H, dtype=w.dtype) if b is None else b[order]
                # sigmoid(z) = 0.5 * tanh(z / 2) + 0.5: halve the sigmoid rows once, here.
                w[: 3 * H] *= 0.5
                b = b.clone()
                b[: 3 * H] *= 0.5
                self._np_layers.append((
                    np.ascontiguousarray(w.numpy().T),  # (in + H_out, 4H)
                    b.numpy().copy(),
                    None if w_hr is None else np.ascontiguousarray(w_hr.numpy().T),  # (H, H_out)
                    w_ih.shape[1],
                ))
        self._torch_layers = layers
        self.reset()

    def fork(self) -> "LSTMStreamer":
        """A new streamer over the same weights with its own state, at zero: many streams of one model
        (a service's) share one copy of the weights instead of one each. The weights are read, never
        written, by :meth:`step`."""
        twin = copy.copy(self)
        twin.reset()  # new state and scratch arrays; the weight arrays stay shared
        return twin

    def reset(self) -> None:
        """Forget the stream: every layer's h and c back to zero."""
        B, L, H = self.batch_size, self.num_layers, self.hidden_size
        if self._numpy:
            # Per layer: xh = [x_t | h_{t-1}] (B, in + H_out), the layer's whole matrix-product input;
            # h_{t-1} lives in its right part, so writing h_t there readies the next step.
            self._xh = [np.zeros((B, layer[0].shape[0]), dtype=self._dtype) for layer in self._np_layers]
            self._c = [np.zeros((B, H), dtype=self._dtype) for _ in range(L)]
            self._z = np.empty((B, 4 * H), dtype=self._dtype)  # gate pre-activations, reused every step
            self._ig = np.empty((B, H), dtype=self._dtype)
            self._tc = np.empty((B, H), dtype=self._dtype)
        else:
            dtype = self._torch_layers[0][0].dtype
            self._h = [torch.zeros(B, self.output_size, device=self.device, dtype=dtype) for _ in range(L)]
            self._c = [torch.zeros(B, H, device=self.device, dtype=dtype) for _ in range(L)]

    @property
    def state(self) -> tuple[Tensor, Tensor]:
        """(h, c) as torch tensors shaped (num_layers, batch_size, H_out) and (num_layers, batch_size, H)."""
        if self._numpy:
            h = [xh[:, n_in:] for xh, (_, _, _, n_in) in zip(self._xh, self._np_layers)]
            return torch.from_numpy(np.stack(h)), torch.from_numpy(np.stack(self._c))
        return torch.stack(self._h), torch.stack(self._c)

    def step(self, x):
        """Advance every stream by one time step; returns the top layer's h_t, (batch_size, H_out)."""
        is_tensor = isinstance(x, Tensor)
        shape = tuple(x.shape)
        if shape != (self.batch_size, self.input_size):
            raise ValueError(
                f"step expects x of shape (batch_size, input_size) = {(self.batch_size, self.input_size)}, "
                f"got {shape}"
            )
        if not self._numpy:
            return self._step_torch(x if is_tensor else torch.as_tensor(x, device=self.device))
        if is_tensor:
            x = x.detach().cpu().numpy()
        h = self._step_numpy(np.asarray(x, dtype=self._dtype))
        return torch.from_numpy(h.copy()) if is_tensor else h.copy()

    def _step_numpy(self, x: np.ndarray) -> np.ndarray:
        H = self.hidden_size
        z, ig, tc = self._z, self._ig, self._tc
        for k, (w, b, w_hr, n_in) in enumerate(self._np_layers):
            xh, c = self._xh[k], self._c[k]
            xh[:, :n_in] = x
            np.dot(xh, w, out=z)  # (B, 4H) = [x | h] W^T, sigmoid rows pre-halved
            z += b
            np.tanh(z, out=z)  # g = tanh(z_g); for i, f, o: tanh(z/2)
            sig = z[:, : 3 * H]
            sig *= 0.5
            sig += 0.5  # i, f, o = sigmoid(z)
            i, f, o, g = z[:, :H], z[:, H : 2 * H], z[:, 2 * H : 3 * H], z[:, 3 * H :]
            c *= f
            np.multiply(i, g, out=ig)
            c += ig  # c_t = f * c_{t-1} + i * g
            np.tanh(c, out=tc)
            h = xh[:, n_in:]
            if w_hr is None:
                np.multiply(o, tc, out=h)  # h_t = o * tanh(c_t), written where the next step reads it
            else:
                np.multiply(o, tc, out=tc)
                h[...] = tc @ w_hr  # h_t = W_hr (o * tanh(c_t))
            x = h
        return x

    @torch.no_grad()
    def _step_torch(self, x: Tensor) -> Tensor:
        for k, (w_ih, w_hh, b, w_hr) in enumerate(self._torch_layers):
            h, c, _ = F_.lstm_step(x, self._h[k], self._c[k], w_ih, w_hh, b, None, w_hr)
            self._h[k], self._c[k] = h, c
            x = h
        return x


class RecurrentStreamer:
    """Step any unidirectional recurrent layer of :mod:`lstmkit.nn` (every LSTM variant, the GRU, the
    RNN) one time step per call, carrying its state; the torch counterpart of :class:`LSTMStreamer`.

    Each step runs the layer's own reference step function (the equations in
    :mod:`lstmkit.nn.functional`) at evaluation: no dropout, zoneout as its expectation. So the
    outputs equal those of running the whole sequence through the layer in eval mode. The weights are
    a snapshot taken at construction, as for :class:`LSTMStreamer`; :meth:`fork` shares them.
    """

    def __init__(self, layer, batch_size: int = 1) -> None:
        if layer.bidirectional:
            raise ValueError(
                "streaming needs a unidirectional layer: a bidirectional one reads the future, "
                "which a stream does not have yet"
            )
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size
        self.input_size = layer.input_size
        self.hidden_size = layer.hidden_size
        self.output_size = layer.output_size
        self.num_layers = layer.num_layers
        snapshot = copy.deepcopy(layer).eval().requires_grad_(False)
        self._layer = snapshot
        self._steps = [snapshot.step_function(k, 0, batch_size=batch_size) for k in range(snapshot.num_layers)]
        first = snapshot.weight_ih_l0
        self.device, self._dtype = first.device, first.dtype
        self.reset()

    def fork(self) -> "RecurrentStreamer":
        """A new streamer over the same weights with its own state, at zero."""
        twin = copy.copy(self)
        twin.reset()
        return twin

    def reset(self) -> None:
        """Forget the stream: every layer's state back to zero."""
        self._states = [
            tuple(torch.zeros(self.batch_size, shape[-1], device=self.device, dtype=self._dtype)
                  for _, shape in self._layer.state_shapes(self.batch_size))
            for _ in range(self.num_layers)
        ]

    @property
    def state(self) -> tuple[Tensor, ...]:
        """The layer's states (h, and c for the LSTM family), each (num_layers, batch_size, size)."""
        return tuple(torch.stack([s[k] for s in self._states]) for k in range(len(self._states[0])))

    @torch.no_grad()
    def step(self, x):
        """Advance every stream by one time step; returns the top layer's h_t, (batch_size, H_out),
        NumPy in for NumPy out."""
        is_numpy = isinstance(x, np.ndarray)
        shape = tuple(x.shape)
        if shape != (self.batch_size, self.input_size):
            raise ValueError(
                f"step expects x of shape (batch_size, input_size) = {(self.batch_size, self.input_size)}, "
                f"got {shape}"
            )
        x = torch.as_tensor(x, device=self.device, dtype=self._dtype)
        for k, step in enumerate(self._steps):
            x, self._states[k] = step(0, x, self._states[k])
        return x.cpu().numpy().copy() if is_numpy else x.clone()
