"""LSTMCell / RNNCell against torch's cells with copied weights."""
import pytest
import torch

import lstmkit.nn as lnn


@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("sizes", [(1, 1), (3, 5), (7, 2)])
def test_lstm_cell_matches_torch(backend, bias, sizes):
    ours = lnn.LSTMCell(*sizes, bias=bias, backend=backend, dtype=torch.float64)
    theirs = torch.nn.LSTMCell(*sizes, bias=bias, dtype=torch.float64)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(4, sizes[0], dtype=torch.float64, requires_grad=True)
    h = torch.randn(4, sizes[1], dtype=torch.float64, requires_grad=True)
    c = torch.randn(4, sizes[1], dtype=torch.float64, requires_grad=True)
    a, b = ours(x, (h, c)), theirs(x, (h, c))
    torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)
    inputs = [x, h, c]
    ga = torch.autograd.grad(a[0].sum() + 2 * a[1].sum(), inputs + list(ours.parameters()))
    gb = torch.autograd.grad(b[0].sum() + 2 * b[1].sum(), inputs + list(theirs.parameters()))
    torch.testing.assert_close(ga, gb, atol=1e-12, rtol=1e-12)
    # missing state means zeros; unbatched input works as torch's
    torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(ours(x[0]), theirs(x[0]))


@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_cell_matches_torch(backend, nonlinearity):
    ours = lnn.RNNCell(3, 4, nonlinearity=nonlinearity, backend=backend, dtype=torch.float64)
    theirs = torch.nn.RNNCell(3, 4, nonlinearity=nonlinearity, dtype=torch.float64)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    a, b = ours(x, h), theirs(x, h)
    torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)
    ga = torch.autograd.grad(a.sum(), [x, h, *ours.parameters()])
    gb = torch.autograd.grad(b.sum(), [x, h, *theirs.parameters()])
    torch.testing.assert_close(ga, gb, atol=1e-12, rtol=1e-12)


def test_cell_unrolled_equals_layer():
    """Looping the cell by hand gives the single-layer LSTM's output: one set of equations."""
    layer = lnn.LSTM(3, 4, dtype=torch.float64)
    cell = lnn.LSTMCell(3, 4, dtype=torch.float64)
    cell.load_state_dict({k.replace("_l0", ""): v for k, v in layer.state_dict().items()})
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    out, (h_n, c_n) = layer(x)
    h = c = None
    for t in range(5):
        h, c = cell(x[t], None if h is None else (h, c))
        torch.testing.assert_close(h, out[t])
    torch.testing.assert_close((h, c), (h_n[0], c_n[0]))
