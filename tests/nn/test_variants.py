"""LSTM variants, the GRU and the recurrent regularisers: backend against backend (same seed, same
masks), against torch and against independent hand-written loops, gradcheck, streaming, gates."""
import pytest
import torch
from torch.autograd import gradcheck

import lstmkit.nn as lnn

F64 = torch.float64

VARIANTS = {
    "peephole": lambda **kw: lnn.PeepholeLSTM(**kw),
    "cifg": lambda **kw: lnn.LSTM(coupled=True, **kw),
    "peephole_cifg": lambda **kw: lnn.PeepholeLSTM(coupled=True, **kw),
    "layernorm": lambda **kw: lnn.LayerNormLSTM(**kw),
    "layernorm_peephole": lambda **kw: lnn.LayerNormLSTM(peephole=True, **kw),
    "lstm_regularised": lambda **kw: lnn.LSTM(**kw),
    "gru": lambda **kw: lnn.GRU(**kw),
}
REGULARISERS = dict(recurrent_dropout=0.3, zoneout=0.2, weight_drop=0.25)


def _outputs(module, x, lengths, hx=None):
    out, state = module(x, hx, lengths=lengths)
    return [out, *state] if isinstance(state, tuple) else [out, state]


def _loss(outputs):
    g = torch.Generator().manual_seed(7)
    return sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outputs)


@pytest.mark.parametrize("name", sorted(VARIANTS))
@pytest.mark.parametrize("training", [True, False])
def test_fused_equals_reference_to_1e10(name, training):
    """Two layers, both directions, padding, initial state, every regulariser: outputs and all
    gradients of the fused backend equal the step-by-step reference under the same seed."""
    kw = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True, dtype=F64,
              dropout=0.0, **REGULARISERS)
    torch.manual_seed(0)
    fused = VARIANTS[name](backend="fused", **kw)
    reference = VARIANTS[name](backend="reference", **kw)
    reference.load_state_dict(fused.state_dict())
    for p in fused.parameters():  # peepholes and gains off their initial values
        p.data.add_(0.1 * torch.randn_like(p))
    reference.load_state_dict(fused.state_dict())
    fused.train(training), reference.train(training)
    x = torch.randn(3, 6, 3, dtype=F64, requires_grad=True)
    lengths = torch.tensor([6, 1, 4])
    results = []
    for module in (fused, reference):
        torch.manual_seed(42)  # the same masks, drawn in the same order by both backends
        outputs = _outputs(module, x, lengths)
        grads = torch.autograd.grad(_loss(outputs), [x, *module.parameters()])
        results.append((outputs, grads))
    (out_f, grad_f), (out_r, grad_r) = results
    for a, b in zip(out_f + list(grad_f), out_r + list(grad_r)):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
    assert out_f[0][1, 1:].abs().max() == 0  # padding outputs zero


@pytest.mark.parametrize("name", ["peephole_cifg", "layernorm_peephole", "gru"])
def test_gradcheck_fused(name):
    module = VARIANTS[name](input_size=2, hidden_size=3, bidirectional=True, backend="fused", dtype=F64,
                            **REGULARISERS).train()
    names = [n for n, _ in module.named_parameters()]
    x = torch.randn(4, 2, 2, dtype=F64, requires_grad=True)

    def fn(x, *weights):
        torch.manual_seed(3)  # fixed masks: a deterministic function of its inputs
        out, state = torch.func.functional_call(module, dict(zip(names, weights)), (x,), {"lengths": [4, 2]})
        return (out, *state) if isinstance(state, tuple) else (out, state)

    assert gradcheck(fn, (x, *module.parameters()))


def _lstm_cell_loop(x, cell, *, mask=None, zoneout=0.0):
    """An independent reference built on torch.nn.LSTMCell: recurrent dropout mask m on h inside the
    cell's product only, zoneout's evaluation form mixing old and new states with rate z."""
    h = c = torch.zeros(x.shape[1], cell.hidden_size, dtype=x.dtype)
    outs = []
    for x_t in x:
        h_new, c_new = cell(x_t, (h if mask is None else h * mask, c))
        h, c = zoneout * h + (1 - zoneout) * h_new, zoneout * c + (1 - zoneout) * c_new
        outs.append(h)
    return torch.stack(outs)


def test_recurrent_dropout_is_one_mask_per_sequence_on_the_recurrent_product_only():
    torch.manual_seed(0)
    lstm = lnn.LSTM(3, 5, recurrent_dropout=0.4, dtype=F64).train()
    cell = torch.nn.LSTMCell(3, 5, dtype=F64)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in lstm.state_dict().items()})
    x = torch.randn(8, 2, 3, dtype=F64)
    torch.manual_seed(5)
    out, _ = lstm(x)
    torch.manual_seed(5)
    mask = torch.empty(2, 5, dtype=F64).bernoulli_(0.6) / 0.6  # the layer's draw: (N, H), once
    assert 0 < int((mask == 0).sum()) < 10
    torch.testing.assert_close(out, _lstm_cell_loop(x, cell, mask=mask), atol=1e-12, rtol=1e-12)
    lstm.eval()
    assert lstm.resolve_backend() == "native"  # no dropout at evaluation: torch's kernel again
    torch.testing.assert_close(lstm(x)[0], _lstm_cell_loop(x, cell), atol=1e-12, rtol=1e-12)


def test_zoneout_at_evaluation_is_the_expectation():
    torch.manual_seed(0)
    lstm = lnn.LSTM(3, 5, zoneout=0.3, dtype=F64).eval()
    cell = torch.nn.LSTMCell(3, 5, dtype=F64)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in lstm.state_dict().items()})
    x = torch.randn(8, 2, 3, dtype=F64)
    assert lstm.resolve_backend() == "fused"
    torch.testing.assert_close(lstm(x)[0], _lstm_cell_loop(x, cell, zoneout=0.3), atol=1e-12, rtol=1e-12)


def test_zoneout_while_training_keeps_units_exactly():
    """A unit that zones out at step t keeps h_{t-1} bit for bit; the others take the new value."""
    torch.manual_seed(0)
    lstm = lnn.LSTM(2, 64, zoneout=(0.5, 0.0), dtype=F64).train()
    x = torch.randn(5, 3, 2, dtype=F64)
    out, _ = lstm(x)
    same = out[1:] == out[:-1]
    assert 0.4 < same.double().mean() < 0.6


def test_weight_drop_stays_on_the_native_kernel_and_matches_the_reference():
    kw = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, weight_drop=0.5, dtype=F64)
    native, reference = lnn.LSTM(**kw), lnn.LSTM(backend="reference", **kw)
    reference.load_state_dict(native.state_dict())
    assert native.train().resolve_backend() == "native"
    x = torch.randn(5, 2, 3, dtype=F64)
    torch.manual_seed(1)
    a = native(x)[0]
    torch.manual_seed(1)
    b = reference.train()(x)[0]
    torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)
    torch.manual_seed(2)
    assert (native(x)[0] - a).abs().max() > 1e-3  # a new mask per call


def test_peephole_with_zero_peepholes_is_the_standard_lstm():
    torch.manual_seed(0)
    ours = lnn.PeepholeLSTM(3, 4, num_layers=2, dtype=F64)
    with torch.no_grad():
        for name, p in ours.named_parameters():
            if name.startswith("peephole"):
                p.zero_()
    theirs = torch.nn.LSTM(3, 4, num_layers=2, dtype=F64)
    theirs.load_state_dict({k: v for k, v in ours.state_dict().items() if not k.startswith("peephole")})
    x = torch.randn(6, 2, 3, dtype=F64)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0], atol=1e-12, rtol=1e-12)


def test_peephole_and_layer_norm_equations_by_hand():
    """One step written out with explicit means and variances, against the fused layer."""
    torch.manual_seed(0)
    m = lnn.LayerNormLSTM(3, 4, peephole=True, dtype=F64)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    w = m.layer_weights(0, 0)
    x = torch.randn(2, 3, dtype=F64)
    h = torch.randn(2, 4, dtype=F64)
    c = torch.randn(2, 4, dtype=F64)

    def ln(v, gain, bias=0.0):
        mu = v.mean(-1, keepdim=True)
        var = ((v - mu) ** 2).mean(-1, keepdim=True)
        return gain * (v - mu) / torch.sqrt(var + 1e-5) + bias

    pre = ln(x @ w["weight_ih"].T, w["layer_norm_ih"]) + ln(h @ w["weight_hh"].T, w["layer_norm_hh"])
    pre = pre + w["bias_ih"] + w["bias_hh"]
    p_i, p_f, p_o = w["peephole"]
    i = torch.sigmoid(pre[:, :4] + p_i * c)
    f = torch.sigmoid(pre[:, 4:8] + p_f * c)
    g = torch.tanh(pre[:, 8:12])
    c_new = f * c + i * g
    o = torch.sigmoid(pre[:, 12:] + p_o * c_new)
    h_new = o * torch.tanh(ln(c_new, w["layer_norm_cell_weight"], w["layer_norm_cell_bias"]))
    out, (h_n, c_n) = m(x.unsqueeze(0), (h.unsqueeze(0), c.unsqueeze(0)))
    torch.testing.assert_close(out[0], h_new, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(c_n[0], c_new, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("backend", ["native", "fused", "reference"])
def test_gru_matches_torch_with_copied_weights(backend):
    torch.manual_seed(0)
    ours = lnn.GRU(3, 5, num_layers=2, bidirectional=True, batch_first=True, backend=backend, dtype=F64)
    theirs = torch.nn.GRU(3, 5, num_layers=2, bidirectional=True, batch_first=True, dtype=F64)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 7, 3, dtype=F64, requires_grad=True)
    h0 = torch.randn(4, 2, 5, dtype=F64)
    a, b = _outputs(ours, x, None, h0), list(theirs(x, h0))
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, atol=1e-10, rtol=1e-10)
    ga = torch.autograd.grad(_loss(a), [x, *ours.parameters()])
    gb = torch.autograd.grad(_loss(b), [x, *theirs.parameters()])
    for u, v in zip(ga, gb):
        torch.testing.assert_close(u, v, atol=1e-10, rtol=1e-10)


def test_gru_lengths_equal_each_sequence_run_alone():
    torch.manual_seed(0)
    gru = lnn.GRU(2, 3, bidirectional=True, zoneout=0.1, dtype=F64).eval()
    x = torch.randn(6, 2, 2, dtype=F64)
    out, h_n = gru(x, lengths=[6, 3])
    alone, h_alone = gru(x[:3, 1:2])
    torch.testing.assert_close(out[:3, 1:2], alone)
    torch.testing.assert_close(h_n[:, 1:2], h_alone)


@pytest.mark.parametrize("name", ["peephole_cifg", "layernorm", "gru", "lstm_regularised"])
def test_streamer_equals_the_full_sequence(name):
    torch.manual_seed(0)
    module = VARIANTS[name](input_size=3, hidden_size=6, num_layers=2, dtype=F64, **REGULARISERS).eval()
    x = torch.randn(12, 2, 3, dtype=F64)
    with torch.no_grad():
        expected, state = module(x)
    streamer = module.streamer(batch_size=2)
    assert type(streamer).__name__ == "RecurrentStreamer"
    got = torch.stack([streamer.step(x[t]) for t in range(12)])
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=1e-12)
    final = state if isinstance(state, tuple) else (state,)
    torch.testing.assert_close(streamer.state, final, atol=1e-12, rtol=1e-12)
    twin = streamer.fork()
    torch.testing.assert_close(twin.step(x[0].numpy()), expected[0].numpy())


def test_record_gates_for_the_coupled_cell_and_the_gru():
    torch.manual_seed(0)
    cifg = lnn.PeepholeLSTM(2, 3, coupled=True, dtype=F64)
    x = torch.randn(5, 1, 2, dtype=F64)
    trace = lnn.record_gates(cifg, x)
    torch.testing.assert_close(trace.input_gate, 1 - trace.forget_gate)
    c_prev = torch.zeros(3, dtype=F64)
    for t in range(5):
        torch.testing.assert_close(trace.cell[0, 0, t], trace.forget_gate[0, 0, t] * c_prev
                                   + trace.input_gate[0, 0, t] * trace.candidate[0, 0, t])
        c_prev = trace.cell[0, 0, t]
    gru = lnn.GRU(2, 3, dtype=F64)
    tr = lnn.record_gates(gru, x)
    h_prev = torch.zeros(3, dtype=F64)
    for t in range(5):
        z, n = tr.update_gate[0, 0, t], tr.candidate[0, 0, t]
        torch.testing.assert_close(tr.hidden[0, 0, t], (1 - z) * n + z * h_prev)
        h_prev = tr.hidden[0, 0, t]
    torch.testing.assert_close(tr.hidden[0, 0], gru(x)[0][:, 0])


def test_backend_resolution_and_clear_errors():
    assert lnn.LSTM(2, 3).resolve_backend() == "native"
    assert lnn.GRU(2, 3).resolve_backend() == "fused"  # trains faster than torch's CPU kernel
    assert lnn.GRU(2, 3).eval().resolve_backend() == "native"
    assert lnn.PeepholeLSTM(2, 3).resolve_backend() == "fused"
    assert lnn.LSTM(2, 3, recurrent_dropout=0.1).train().resolve_backend() == "fused"
    assert lnn.GRU(2, 3, zoneout=0.1).resolve_backend() == "fused"
    assert lnn.LayerNormLSTM(2, 3, proj_size=2).resolve_backend() == "reference"  # fused has no projection
    assert lnn.RNN(2, 3, zoneout=0.1).resolve_backend() == "reference"
    with pytest.raises(ValueError, match="backend='native'.*peephole connections"):
        lnn.PeepholeLSTM(2, 3, backend="native")
    with pytest.raises(ValueError, match="no projection"):
        lnn.LSTM(2, 4, proj_size=2, backend="fused")
    with pytest.raises(ValueError, match="zoneout must be a number in \\[0, 1\\)"):
        lnn.LSTM(2, 3, zoneout=1.0)
    with pytest.raises(ValueError, match="no cell state"):
        lnn.GRU(2, 3, zoneout=(0.1, 0.2))


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_config_round_trip_and_float32(name):
    module = VARIANTS[name](input_size=3, hidden_size=4, num_layers=2, **REGULARISERS)
    rebuilt = type(module).from_config(module.get_config())
    rebuilt.load_state_dict(module.state_dict())
    x = torch.randn(5, 2, 3)
    module.eval(), rebuilt.eval()
    torch.testing.assert_close(module(x)[0], rebuilt(x)[0])
    double = VARIANTS[name](input_size=3, hidden_size=4, num_layers=2, dtype=F64, **REGULARISERS).eval()
    double.load_state_dict({k: v.double() for k, v in module.state_dict().items()})
    torch.testing.assert_close(module(x)[0].double(), double(x.double())[0], atol=1e-5, rtol=1e-5)


def test_fused_standard_lstm_equals_torch_in_float32():
    """The standard cell on the fused backend (what the benchmark compares) against torch.nn.LSTM."""
    torch.manual_seed(0)
    ours = lnn.LSTM(8, 16, num_layers=2, bidirectional=True, backend="fused")
    theirs = torch.nn.LSTM(8, 16, num_layers=2, bidirectional=True)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(30, 4, 8, requires_grad=True)
    a, b = _outputs(ours, x, None), [theirs(x)[0], *theirs(x)[1]]
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, atol=2e-5, rtol=2e-5)
    for u, v in zip(torch.autograd.grad(_loss(a), [x, *ours.parameters()]),
                    torch.autograd.grad(_loss(b), [x, *theirs.parameters()])):
        torch.testing.assert_close(u, v, atol=1e-4, rtol=1e-4)
