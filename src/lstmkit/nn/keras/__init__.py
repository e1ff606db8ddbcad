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

from lstmkit.nn.keras.gru import gru_to_keras, load_keras_gru_weights
from lstmkit.nn.keras.lstm import check_keras_lstm_config, load_keras_lstm_weights, lstm_from_keras, lstm_to_keras
from lstmkit.nn.keras.npz import read_keras_npz, write_keras_npz

__all__ = [
    "check_keras_lstm_config", "gru_to_keras", "load_keras_gru_weights", "load_keras_lstm_weights",
    "lstm_from_keras", "lstm_to_keras", "read_keras_npz", "write_keras_npz",
]
