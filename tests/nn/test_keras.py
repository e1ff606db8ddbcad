"""lstmkit.nn.keras: Keras-layout LSTM/GRU weights against Keras' equations written on those arrays.

The NumPy references below are Keras' LSTM/GRU cells and its Bidirectional wrapper transcribed
directly onto the Keras arrays (``x @ kernel + h @ recurrent_kernel + bias``, gate blocks in Keras'
order), so they check the layout conversion independently of torch. Real Keras is compared where it
is installed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lstmkit.errors import InputFileError, ModelFileError
from lstmkit.nn import LSTM
from lstmkit.nn.keras import (
    check_keras_lstm_config, gru_to_keras, load_keras_gru_weights, load_keras_lstm_weights, lstm_from_keras,
    lstm_to_keras, read_keras_npz, write_keras_npz,
)

TOL = dict(rtol=0, atol=1e-12)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


# ------------------------------------------------------------------ Keras, transcribed in NumPy
def keras_lstm(x, kernel, recurrent_kernel, bias=None, *, go_backwards=False):
    """keras.layers.LSTM(return_sequences=True, return_state=True) on x (N, T, F).

    Returns (outputs (N, T, H) in the order the layer processed the steps, h_T, c_T), as Keras
    does: with go_backwards=True the output sequence comes out reversed.
    """
    N, T, _ = x.shape
    H = recurrent_kernel.shape[0]
    xs = x[:, ::-1] if go_backwards else x
    h, c = np.zeros((N, H)), np.zeros((N, H))
    outputs = []
    for t in range(T):
        z = xs[:, t] @ kernel + h @ recurrent_kernel
        if bias is not None:
            z = z + bias
        z_i, z_f, z_c, z_o = np.split(z, 4, axis=1)  # Keras' gate order: i, f, c, o
        i, f, o = _sigmoid(z_i), _sigmoid(z_f), _sigmoid(z_o)
        c = f * c + i * np.tanh(z_c)
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1), h, c


def keras_gru(x, kernel, recurrent_kernel, bias=None, *, go_backwards=False):
    """keras.layers.GRU(reset_after=True, return_sequences=True, return_state=True) on x (N, T, F)."""
    N, T, _ = x.shape
    H = recurrent_kernel.shape[0]
    xs = x[:, ::-1] if go_backwards else x
    h = np.zeros((N, H))
    outputs = []
    for t in range(T):
        matrix_x = xs[:, t] @ kernel + (bias[0] if bias is not None else 0)
        matrix_inner = h @ recurrent_kernel + (bias[1] if bias is not None else 0)
        x_z, x_r, x_h = np.split(matrix_x, 3, axis=1)  # Keras' gate order: z, r, h
        rec_z, rec_r, rec_h = np.split(matrix_inner, 3, axis=1)
        z = _sigmoid(x_z + rec_z)
        r = _sigmoid(x_r + rec_r)
        hh = np.tanh(x_h + r * rec_h)
        h = z * h + (1 - z) * hh
        outputs.append(h)
    return np.stack(outputs, axis=1), h, (h,)


def keras_stack(x, weights, *, bidirectional, cell=keras_lstm):
    """Keras layers one after the other (all return_sequences=True), each maybe Bidirectional(concat).

    Returns (output (N, T, D*H), per-layer states [(fw states), (bw states)], last-step outputs of
    the top layer as Keras returns them with return_sequences=False).
    """
    states, last = [], None
    for arrays in weights:
        n = len(arrays) // 2 if bidirectional else len(arrays)
        y, h, rest = cell(x, *arrays[:n])
        per_layer = [(h, rest)]
        last = y[:, -1]
        if bidirectional:
            y_bw, h_bw, rest_bw = cell(x, *arrays[n:], go_backwards=True)
            per_layer.append((h_bw, rest_bw))
            last = np.concatenate([last, y_bw[:, -1]], axis=-1)
            # Bidirectional flips the backward layer's (reversed) sequence back, then concatenates.
            y = np.concatenate([y, y_bw[:, ::-1]], axis=-1)
        states.append(per_layer)
        x = y
    return x, states, last


def random_keras_lstm(F, H, num_layers, *, bidirectional, bias=True, seed=0, gates=4):
    rng = np.random.default_rng(seed)
    weights = []
    for k in range(num_layers):
        f_in = F if k == 0 else H * (2 if bidirectional else 1)
        arrays = []
        for _ in range(2 if bidirectional else 1):
            arrays += [rng.normal(0, 0.5, (f_in, gates * H)), rng.normal(0, 0.5, (H, gates * H))]
            if bias:
                arrays.append(rng.normal(0, 0.5, (gates * H,) if gates == 4 else (2, gates * H)))
        weights.append(arrays)
    return weights


def _x(N=3, T=6, F=4, seed=1):
    return np.random.default_rng(seed).normal(size=(N, T, F))


# --------------------------------------------------------------------------------- LSTM: loading
@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("num_layers,bidirectional,bias", [
    (1, False, True), (2, False, True), (1, True, True), (2, True, True), (2, False, False), (2, True, False),
])
def test_from_keras_matches_keras_equations(num_layers, bidirectional, bias, backend):
    F, H = 4, 5
    weights = random_keras_lstm(F, H, num_layers, bidirectional=bidirectional, bias=bias)
    x = _x(F=F)
    lstm = lstm_from_keras(weights, bidirectional=bidirectional)
    lstm.backend = backend
    assert (lstm.input_size, lstm.hidden_size, lstm.num_layers, lstm.bidirectional, lstm.bias) == (
        F, H, num_layers, bidirectional, bias)
    assert lstm.batch_first and lstm.weight_ih_l0.dtype == torch.float64

    expected, states, last = keras_stack(x, weights, bidirectional=bidirectional)
    with torch.no_grad():
        out, (h_n, c_n) = lstm(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), expected, **TOL)
    D = 2 if bidirectional else 1
    for k, per_layer in enumerate(states):
        for d, (h, c) in enumerate(per_layer):
            np.testing.assert_allclose(h_n[k * D + d].numpy(), h, **TOL)
            np.testing.assert_allclose(c_n[k * D + d].numpy(), c, **TOL)
    # Keras with return_sequences=False: forward's last step, backward's last processed step (= t 0).
    np.testing.assert_allclose(torch.cat(list(h_n[-D:]), dim=-1).numpy(), last, **TOL)
    if bidirectional:
        np.testing.assert_allclose(torch.cat([out[:, -1, :H], out[:, 0, H:]], -1).numpy(), last, **TOL)


def test_load_into_existing_torch_and_lstmkit_lstm_in_place():
    weights = random_keras_lstm(3, 4, 2, bidirectional=True)
    x = _x(F=3)
    expected, _, _ = keras_stack(x, weights, bidirectional=True)
    torch_lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64)
    ours = LSTM(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)  # time-major this time
    assert load_keras_lstm_weights(torch_lstm, weights) is torch_lstm
    load_keras_lstm_weights(ours, weights)
    with torch.no_grad():
        np.testing.assert_allclose(torch_lstm(torch.from_numpy(x))[0].numpy(), expected, **TOL)
        out = ours(torch.from_numpy(x).transpose(0, 1))[0].transpose(0, 1)
    np.testing.assert_allclose(out.numpy(), expected, **TOL)
    # Keras' single bias goes to bias_ih; bias_hh is zero.
    assert torch.equal(ours.bias_ih_l1_reverse, torch.from_numpy(weights[1][5]))
    assert not ours.bias_hh_l0.any()


def test_no_bias_weights_load_as_zero_biases():
    weights = random_keras_lstm(3, 2, 1, bidirectional=False, bias=False)
    lstm = LSTM(3, 2, batch_first=True, dtype=torch.float64)  # bias=True
    load_keras_lstm_weights(lstm, weights)
    assert not lstm.bias_ih_l0.any() and not lstm.bias_hh_l0.any()
    x = _x(F=3)
    with torch.no_grad():
        np.testing.assert_allclose(lstm(torch.from_numpy(x))[0].numpy(), keras_lstm(x, *weights[0])[0], **TOL)


def test_float32_keras_arrays_give_float32_lstm():
    weights = [[a.astype(np.float32) for a in layer] for layer in random_keras_lstm(2, 3, 1, bidirectional=False)]
    lstm = lstm_from_keras(weights, batch_first=False)
    assert lstm.weight_hh_l0.dtype == torch.float32 and not lstm.batch_first


# ------------------------------------------------------------------------------ LSTM: round trip
@pytest.mark.parametrize("num_layers,bidirectional,bias", [(1, False, True), (2, True, True), (2, True, False)])
def test_round_trip_torch_keras_torch(num_layers, bidirectional, bias):
    torch_lstm = torch.nn.LSTM(4, 3, num_layers=num_layers, bidirectional=bidirectional, bias=bias,
                               batch_first=True, dtype=torch.float64)
    keras_weights = lstm_to_keras(torch_lstm)
    D = 2 if bidirectional else 1
    assert [len(layer) for layer in keras_weights] == [D * (3 if bias else 2)] * num_layers
    assert keras_weights[0][0].shape == (4, 12) and keras_weights[0][1].shape == (3, 12)
    if bias:
        assert keras_weights[0][2].shape == (12,)
    back = lstm_from_keras(keras_weights, bidirectional=bidirectional)
    x = torch.from_numpy(_x())
    with torch.no_grad():
        out, (h, c) = torch_lstm(x)
        out2, (h2, c2) = back(x)
    for a, b in ((out, out2), (h, h2), (c, c2)):
        np.testing.assert_allclose(b.numpy(), a.numpy(), **TOL)
    # ... and the exported arrays, read as Keras reads them, give torch's outputs.
    np.testing.assert_allclose(keras_stack(x.numpy(), keras_weights, bidirectional=bidirectional)[0],
                               out.numpy(), **TOL)


def test_to_keras_sums_biases_and_keeps_dtype():
    lstm = LSTM(2, 3, dtype=torch.float32)
    (kernel, recurrent, bias), = lstm_to_keras(lstm)
    assert kernel.dtype == np.float32
    np.testing.assert_array_equal(kernel, lstm.weight_ih_l0.detach().numpy().T)
    np.testing.assert_array_equal(recurrent, lstm.weight_hh_l0.detach().numpy().T)
    np.testing.assert_array_equal(bias, (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy())


def test_npz_round_trip(tmp_path):
    weights = random_keras_lstm(3, 2, 2, bidirectional=True)
    path = tmp_path / "w.npz"
    # What the module docstring tells a Keras user to write, without lstmkit:
    np.savez(path, **{f"layer{k}_{j}": a for k, layer in enumerate(weights) for j, a in enumerate(layer)})
    back = read_keras_npz(path)
    assert [len(layer) for layer in back] == [6, 6]
    for layer, layer_back in zip(weights, back):
        for a, b in zip(layer, layer_back):
            np.testing.assert_array_equal(a, b)
    write_keras_npz(tmp_path / "again.npz", back)
    again = read_keras_npz(tmp_path / "again.npz")
    np.testing.assert_array_equal(again[1][5], weights[1][5])


def test_npz_errors(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_keras_npz(tmp_path / "missing.npz")
    np.savez(tmp_path / "bad.npz", kernel=np.zeros(2))
    with pytest.raises(ModelFileError, match="unexpected array name 'kernel'"):
        read_keras_npz(tmp_path / "bad.npz")
    np.savez(tmp_path / "gap.npz", layer0_0=np.zeros(2), layer0_2=np.zeros(2))
    with pytest.raises(ModelFileError, match=r"layer 0 has arrays \[0, 2\]"):
        read_keras_npz(tmp_path / "gap.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match="not a readable .npz"):
        read_keras_npz(tmp_path / "junk.npz")


# ------------------------------------------------------------------------------------ LSTM: errors
def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(ModelFileError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert isinstance(info.value, ValueError)
    return message


def test_gru_weights_given_to_lstm_loader_are_named():
    gru = random_keras_lstm(4, 5, 1, bidirectional=False, gates=3)
    message = _error(lstm_from_keras, gru)
    assert "recurrent_kernel has shape (5, 15), expected (5, 20)" in message
    assert "GRU" in message
    simple_rnn = [[np.zeros((4, 5)), np.zeros((5, 5)), np.zeros(5)]]
    assert "SimpleRNN" in _error(lstm_from_keras, simple_rnn)


def test_wrong_shapes_say_what_was_expected():
    w = random_keras_lstm(4, 5, 2, bidirectional=False)
    bad = [list(layer) for layer in w]
    bad[0][0] = bad[0][0][:, :19]
    assert "layer 0: kernel has shape (4, 19), expected (input features, 20)" in _error(lstm_from_keras, bad)
    bad = [list(layer) for layer in w]
    bad[1][0] = np.zeros((6, 20))
    assert "layer 1: kernel has shape (6, 20), expected (5, 20): the layer below outputs 5 features" in _error(
        lstm_from_keras, bad)
    bad = [list(layer) for layer in w]
    bad[0][2] = np.zeros(19)
    assert "bias has shape (19,), expected (20,)" in _error(lstm_from_keras, bad)
    bad = [list(layer) for layer in w]
    bad[0][1] = np.zeros(20)
    assert "recurrent_kernel has shape (20,), expected 2-D" in _error(lstm_from_keras, bad)
    assert "one entry per Keras layer" in _error(lstm_from_keras, w[0][0])
    assert "wrap the layer's arrays in a list" in _error(lstm_from_keras, w[0])
    assert "empty" in _error(lstm_from_keras, [])


def test_directions_and_layers_must_match():
    bi = random_keras_lstm(4, 5, 1, bidirectional=True)
    assert "pass bidirectional=True" in _error(lstm_from_keras, bi)
    uni = random_keras_lstm(4, 5, 1, bidirectional=False)
    assert "pass bidirectional=False" in _error(lstm_from_keras, uni, bidirectional=True)
    bad = [list(bi[0])]
    bad[0][4] = np.zeros((6, 20))
    assert "layer 0 backward" in _error(lstm_from_keras, bad, bidirectional=True)
    # Layers of different widths cannot share one LSTM.
    mixed = [random_keras_lstm(4, 5, 1, bidirectional=False)[0], random_keras_lstm(5, 3, 1, bidirectional=False)[0]]
    assert "layer 1 has 3 units, layer 0 has 5" in _error(lstm_from_keras, mixed)
    some_bias = [uni[0], random_keras_lstm(5, 5, 1, bidirectional=False, bias=False)[0]]
    assert "layer 1 has no bias but layer 0 has" in _error(lstm_from_keras, some_bias)


def test_load_into_mismatched_lstm():
    w = random_keras_lstm(4, 5, 2, bidirectional=False)
    assert "give num_layers=2, the LSTM has num_layers=1" in _error(load_keras_lstm_weights, LSTM(4, 5), w)
    assert "give input_size=4, the LSTM has input_size=3" in _error(
        load_keras_lstm_weights, LSTM(3, 5, num_layers=2), w)
    assert "give hidden_size=5" in _error(load_keras_lstm_weights, LSTM(4, 6, num_layers=2), w)
    assert "bias=False" in _error(load_keras_lstm_weights, LSTM(4, 5, num_layers=2, bias=False), w)
    assert "proj_size=2" in _error(load_keras_lstm_weights, LSTM(4, 5, num_layers=2, proj_size=2), w)
    assert "proj_size=2" in _error(lstm_to_keras, torch.nn.LSTM(4, 5, proj_size=2))
    with pytest.raises(TypeError, match="torch.nn.LSTM"):
        lstm_to_keras(torch.nn.GRU(4, 5))


def test_keras_config_check():
    check_keras_lstm_config({"name": "lstm", "activation": "tanh", "recurrent_activation": "sigmoid"})
    assert "hard_sigmoid" in _error(
        check_keras_lstm_config, {"name": "lstm_1", "activation": "tanh", "recurrent_activation": "hard_sigmoid"})
    assert "activation='relu'" in _error(check_keras_lstm_config, {"activation": "relu"})
    assert "go_backwards=True" in _error(check_keras_lstm_config, {"go_backwards": True})
    bidirectional = {"name": "bi", "merge_mode": "concat",
                     "layer": {"class_name": "LSTM", "config": {"recurrent_activation": "sigmoid"}},
                     "backward_layer": {"class_name": "LSTM", "config": {"go_backwards": True}}}
    check_keras_lstm_config(bidirectional)
    bidirectional["layer"]["config"]["recurrent_activation"] = "hard_sigmoid"
    assert "hard_sigmoid" in _error(check_keras_lstm_config, bidirectional)


# ---------------------------------------------------------------------------------------------- GRU
@pytest.mark.parametrize("num_layers,bidirectional,bias", [(1, False, True), (2, True, True), (2, False, False)])
def test_gru_from_keras_matches_keras_equations(num_layers, bidirectional, bias):
    F, H = 3, 4
    weights = random_keras_lstm(F, H, num_layers, bidirectional=bidirectional, bias=bias, gates=3)
    gru = torch.nn.GRU(F, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=True,
                       dtype=torch.float64)
    assert load_keras_gru_weights(gru, weights) is gru
    x = _x(F=F)
    expected, states, _ = keras_stack(x, weights, bidirectional=bidirectional, cell=keras_gru)
    with torch.no_grad():
        out, h_n = gru(torch.from_numpy(x))
    np.testing.assert_allclose(out.numpy(), expected, **TOL)
    D = 2 if bidirectional else 1
    for k, per_layer in enumerate(states):
        for d, (h, _) in enumerate(per_layer):
            np.testing.assert_allclose(h_n[k * D + d].numpy(), h, **TOL)
    # and back: gru_to_keras gives the arrays it was loaded from (a permutation, so exactly).
    back = gru_to_keras(gru)
    if not bias:
        back = [[a for j, a in enumerate(layer) if j % 3 != 2] for layer in back]  # zero biases dropped
    for layer, layer_back in zip(weights, back):
        for a, b in zip(layer, layer_back):
            np.testing.assert_array_equal(a, b)


def test_gru_errors():
    gru = torch.nn.GRU(3, 4, dtype=torch.float64)
    w = random_keras_lstm(3, 4, 1, bidirectional=False, gates=3)
    old = [[w[0][0], w[0][1], np.zeros(12)]]
    assert "reset_after=False" in _error(load_keras_gru_weights, gru, old)
    lstm_weights = random_keras_lstm(3, 4, 1, bidirectional=False)
    assert "an LSTM's" in _error(load_keras_gru_weights, gru, lstm_weights)
    assert "hidden_size=4" in _error(load_keras_gru_weights, gru, random_keras_lstm(3, 5, 1, bidirectional=False,
                                                                                   gates=3))


# ------------------------------------------------------------------------------------- real Keras
def test_against_real_keras():
    keras = pytest.importorskip("keras")
    F, H, T, N = 3, 4, 5, 2
    x = _x(N=N, T=T, F=F).astype(np.float32)
    model = keras.Sequential([
        keras.Input(shape=(T, F)),
        keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=True)),
        keras.layers.Bidirectional(keras.layers.LSTM(H, return_sequences=True)),
    ])
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.Bidirectional)]
    for layer in layers:
        check_keras_lstm_config(layer.get_config())
    # Non-zero biases everywhere, so the bias path is exercised.
    rng = np.random.default_rng(0)
    for layer in layers:
        layer.set_weights([a + rng.normal(0, 0.3, a.shape).astype(a.dtype) for a in layer.get_weights()])
    lstm = lstm_from_keras([layer.get_weights() for layer in layers], bidirectional=True)
    with torch.no_grad():
        ours = lstm(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(ours, model.predict(x, verbose=0), rtol=0, atol=1e-5)

    # The way back: a torch LSTM's weights set into the Keras model give torch's outputs.
    torch_lstm = torch.nn.LSTM(F, H, num_layers=2, bidirectional=True, batch_first=True)
    for layer, arrays in zip(layers, lstm_to_keras(torch_lstm)):
        layer.set_weights(arrays)
    with torch.no_grad():
        expected = torch_lstm(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=0, atol=1e-5)

    gru_model = keras.Sequential([keras.Input(shape=(T, F)), keras.layers.GRU(H, return_sequences=True)])
    gru_layer = gru_model.layers[-1]
    gru_layer.set_weights([a + rng.normal(0, 0.3, a.shape).astype(a.dtype) for a in gru_layer.get_weights()])
    gru = load_keras_gru_weights(torch.nn.GRU(F, H, batch_first=True), [gru_layer.get_weights()])
    with torch.no_grad():
        ours = gru(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(ours, gru_model.predict(x, verbose=0), rtol=0, atol=1e-5)


def test_against_outputs_that_real_keras_computed():
    """Weights and outputs written by Keras 3.15.1 itself (tests/nn/data/make_keras_fixture.py): two stacked
    Bidirectional LSTMs and a GRU with non-zero biases. Runs without Keras installed."""
    data = np.load(Path(__file__).parent / "data" / "keras_lstm_gru.npz")
    assert str(data["keras_version"]).startswith("3.")
    lstm_weights = [[data[f"lstm_layer{k}_{j}"] for j in range(6)] for k in range(2)]
    lstm = lstm_from_keras(lstm_weights, bidirectional=True)
    x = torch.from_numpy(data["x"])
    with torch.no_grad():
        np.testing.assert_allclose(lstm(x)[0].numpy(), data["lstm_output"], rtol=0, atol=1e-5)
        gru = load_keras_gru_weights(torch.nn.GRU(3, 4, batch_first=True), [[data[f"gru_layer0_{j}"] for j in range(3)]])
        np.testing.assert_allclose(gru(x)[0].numpy(), data["gru_output"], rtol=0, atol=1e-5)
    for ours, theirs in zip(lstm_to_keras(lstm), lstm_weights):  # and back to Keras' arrays
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
