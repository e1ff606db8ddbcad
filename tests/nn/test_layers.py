"""lstmkit.nn.LSTM / RNN against torch.nn.LSTM / RNN with copied weights, and backend against backend."""
import itertools
import random

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstmkit.nn as lnn


def _grads(outputs, inputs):
    """Gradients of a fixed random projection of ``outputs`` w.r.t. ``inputs``."""
    g = torch.Generator().manual_seed(123)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outputs)
    return torch.autograd.grad(loss, inputs, allow_unused=False)


def _random_configs(n, seed):
    rng = random.Random(seed)
    configs = []
    for _ in range(n):
        hidden = rng.choice([1, 2, 3, 5, 8])
        configs.append(dict(
            input_size=rng.choice([1, 2, 4, 7]),
            hidden_size=hidden,
            num_layers=rng.choice([1, 2, 3]),
            bias=rng.random() < 0.8,
            batch_first=rng.random() < 0.5,
            bidirectional=rng.random() < 0.5,
            proj_size=rng.choice([0, 0, 1]) if hidden > 1 else 0,
        ))
    return configs


def _run(module, x, hx):
    out, state = module(x, hx)
    return (out, *state) if isinstance(state, tuple) else (out, state)


def _compare_with_torch(cls, torch_cls, config, dtype, backend, with_hx, tol):
    T, N = 5, 3
    ours = cls(**config, backend=backend, dtype=dtype)
    config_t = dict(config)
    if torch_cls is torch.nn.RNN:
        config_t.pop("proj_size", None)
    theirs = torch_cls(**config_t, dtype=dtype)
    theirs.load_state_dict(ours.state_dict())
    shape = (N, T, config["input_size"]) if config["batch_first"] else (T, N, config["input_size"])
    x = torch.randn(shape, dtype=dtype, requires_grad=True)
    hx = None
    if with_hx:
        LD = config["num_layers"] * (2 if config["bidirectional"] else 1)
        h_out = config.get("proj_size") or config["hidden_size"]
        h0 = torch.randn(LD, N, h_out, dtype=dtype, requires_grad=True)
        if cls is lnn.LSTM:
            c0 = torch.randn(LD, N, config["hidden_size"], dtype=dtype, requires_grad=True)
            hx = (h0, c0)
        else:
            hx = h0
    leaves = [x] + ([] if hx is None else list(hx) if isinstance(hx, tuple) else [hx])
    ours_out = _run(ours, x, hx)
    theirs_out = _run(theirs, x, hx)
    for a, b in zip(ours_out, theirs_out):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)
    g_ours = _grads(ours_out, leaves + list(ours.parameters()))
    g_theirs = _grads(theirs_out, leaves + list(theirs.parameters()))
    for a, b in zip(g_ours, g_theirs):
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)


@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
def test_lstm_matches_torch_random_configs(backend, dtype, tol):
    for i, config in enumerate(_random_configs(24, seed=1)):
        _compare_with_torch(lnn.LSTM, torch.nn.LSTM, config, dtype, backend, with_hx=i % 2 == 0, tol=tol)


@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_matches_torch_random_configs(backend, nonlinearity):
    for i, config in enumerate(_random_configs(16, seed=2)):
        config.pop("proj_size")
        config["nonlinearity"] = nonlinearity
        _compare_with_torch(lnn.RNN, torch.nn.RNN, config, torch.float64, backend, with_hx=i % 2 == 1, tol=1e-10)


def test_state_dict_round_trips_both_ways():
    theirs = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    ours = lnn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(6, 2, 3)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0])
    back = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    back.load_state_dict(lnn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2).state_dict())
    rnn_t, rnn_o = torch.nn.RNN(3, 4, 2), lnn.RNN(3, 4, 2)
    rnn_o.load_state_dict(rnn_t.state_dict())
    rnn_t.load_state_dict(rnn_o.state_dict())


def test_unbatched_input_matches_torch():
    ours = lnn.LSTM(3, 4, num_layers=2).double()
    theirs = torch.nn.LSTM(3, 4, num_layers=2).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(6, 3, dtype=torch.float64)
    hx = (torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64))
    for backend in ("native", "reference"):
        ours.backend = backend
        out, (h, c) = ours(x, hx)
        out_t, (h_t, c_t) = theirs(x, hx)
        assert out.shape == (6, 4) and h.shape == (2, 4)
        torch.testing.assert_close((out, h, c), (out_t, h_t, c_t))


@pytest.mark.parametrize("cls", [lnn.LSTM, lnn.RNN])
@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("bidirectional,batch_first", list(itertools.product([False, True], [False, True])))
def test_padding_never_changes_a_result(cls, backend, bidirectional, batch_first):
    """Each sequence of a padded batch gives exactly what it gives when run alone."""
    kwargs = dict(num_layers=2, bidirectional=bidirectional, batch_first=batch_first, backend=backend)
    if cls is lnn.LSTM:
        kwargs["proj_size"] = 2
    model = cls(3, 4, **kwargs).double()
    lengths = [5, 2, 7, 1]
    T = 7
    seqs = [torch.randn(n, 3, dtype=torch.float64) for n in lengths]
    padded = torch.zeros(len(seqs), T, 3, dtype=torch.float64)
    for i, s in enumerate(seqs):
        padded[i, : len(s)] = s
        padded[i, len(s):] = 1e3  # garbage in the pads must not matter
    x = padded if batch_first else padded.transpose(0, 1)
    out, state = model(x, lengths=torch.tensor(lengths))
    h_n = state[0] if isinstance(state, tuple) else state
    out = out if batch_first else out.transpose(0, 1)  # (N, T, D*H_out)
    for i, s in enumerate(seqs):
        alone = s.unsqueeze(0) if batch_first else s.unsqueeze(1)
        out_i, state_i = model(alone)
        h_i = state_i[0] if isinstance(state_i, tuple) else state_i
        out_i = out_i[0] if batch_first else out_i[:, 0]
        torch.testing.assert_close(out[i, : len(s)], out_i, atol=1e-12, rtol=1e-12)
        assert torch.count_nonzero(out[i, len(s):]) == 0
        torch.testing.assert_close(h_n[:, i], h_i[:, 0], atol=1e-12, rtol=1e-12)
        if isinstance(state, tuple):
            torch.testing.assert_close(state[1][:, i], state_i[1][:, 0], atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_backends_agree_with_lengths_including_gradients(bidirectional):
    model = lnn.LSTM(3, 5, num_layers=2, bidirectional=bidirectional, proj_size=3).double()
    x = torch.randn(6, 4, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2 * model.num_directions, 4, 3, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(2 * model.num_directions, 4, 5, dtype=torch.float64, requires_grad=True)
    lengths = [6, 1, 4, 3]
    results = {}
    for backend in ("native", "reference"):
        model.backend = backend
        out, (h, c) = model(x, (h0, c0), lengths=lengths)
        results[backend] = (out, h, c, *_grads((out, h, c), [x, h0, c0, *model.parameters()]))
    for a, b in zip(results["native"], results["reference"]):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


def test_packed_sequence_matches_torch():
    ours = lnn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    theirs = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(4, 6, 3, dtype=torch.float64)
    packed = pack_padded_sequence(x, [3, 6, 1, 4], batch_first=True, enforce_sorted=False)
    for backend in ("native", "reference"):
        ours.backend = backend
        out, (h, c) = ours(packed)
        out_t, (h_t, c_t) = theirs(packed)
        torch.testing.assert_close(out.data, out_t.data)
        assert torch.equal(out.batch_sizes, out_t.batch_sizes)
        assert torch.equal(out.sorted_indices, out_t.sorted_indices)
        torch.testing.assert_close((h, c), (h_t, c_t))
        padded, lens = pad_packed_sequence(out, batch_first=True)
        assert lens.tolist() == [3, 6, 1, 4]


def test_dropout_between_layers_only_in_training():
    model = lnn.LSTM(3, 8, num_layers=3, dropout=0.5)
    x = torch.randn(5, 2, 3)
    model.eval()
    a, b = model(x)[0], model(x)[0]
    assert torch.equal(a, b)
    model.train()
    torch.manual_seed(1)
    c = model(x)[0]
    torch.manual_seed(2)
    d = model(x)[0]
    assert not torch.allclose(c, d)
    for backend in ("native", "reference"):  # both backends drop out in training
        model.backend = backend
        assert not torch.allclose(model(x)[0], a)


def test_config_round_trip_rebuilds_the_same_module():
    import json

    model = lnn.LSTM(3, 6, num_layers=2, batch_first=True, bidirectional=True, proj_size=2, dropout=0.1,
                     input_init="kaiming_normal", forget_bias=2.0)
    config = json.loads(json.dumps(model.get_config()))
    clone = lnn.LSTM.from_config(config)
    assert clone.get_config() == model.get_config()
    clone.load_state_dict(model.state_dict())
    rnn = lnn.RNN(2, 3, nonlinearity="relu", num_layers=2)
    assert lnn.RNN.from_config(json.loads(json.dumps(rnn.get_config()))).get_config() == rnn.get_config()


def test_repr_shows_non_defaults():
    assert repr(lnn.LSTM(3, 4)) == "LSTM(3, 4)"
    assert "bidirectional=True" in repr(lnn.LSTM(3, 4, bidirectional=True))
    assert "nonlinearity='relu'" in repr(lnn.RNN(3, 4, nonlinearity="relu"))


def test_auto_backend_resolves_to_native():
    assert lnn.LSTM(2, 3).resolve_backend() == "native"
    assert lnn.LSTM(2, 3, backend="reference").resolve_backend() == "reference"


def test_mixed_precision_dtypes_run():
    for dtype in (torch.bfloat16, torch.float16):
        model = lnn.LSTM(3, 4, dtype=dtype)
        out, _ = model(torch.randn(5, 2, 3, dtype=dtype))
        assert out.dtype == dtype and torch.isfinite(out).all()
