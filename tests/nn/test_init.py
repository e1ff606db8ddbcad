"""Initialisers act per gate block; the forget-gate bias is what the docs say."""
import math

import pytest
import torch

import lstmkit.nn as lnn


def test_default_init_glorot_orthogonal_forget_bias_one():
    torch.manual_seed(0)
    H, I = 16, 8
    model = lnn.LSTM(I, H)
    b = model.bias_ih_l0 + model.bias_hh_l0  # the effective bias
    assert torch.equal(b[H:2 * H], torch.ones(H))
    assert torch.count_nonzero(b[:H]) == 0 and torch.count_nonzero(b[2 * H:]) == 0
    bound = math.sqrt(6 / (I + H))  # Glorot for one gate block (H x I), not for the (4H x I) stack
    assert model.weight_ih_l0.abs().max() <= bound
    assert model.weight_ih_l0.abs().max() > 0.8 * bound
    for block in model.weight_hh_l0.chunk(4):
        torch.testing.assert_close(block @ block.T, torch.eye(H), atol=1e-5, rtol=0)


def test_kaiming_and_torch_uniform():
    H, I = 8, 32
    model = lnn.LSTM(I, H, input_init="kaiming_uniform", recurrent_init="uniform", forget_bias=None)
    assert model.weight_ih_l0.abs().max() <= math.sqrt(6 / I)
    bound = 1 / math.sqrt(H)
    assert model.weight_hh_l0.abs().max() <= bound
    assert torch.count_nonzero(model.bias_ih_l0) == 0  # not uniform input init: biases start at zero
    torch_like = lnn.LSTM(I, H, input_init="uniform", recurrent_init="uniform", forget_bias=None)
    assert 0 < torch_like.bias_ih_l0.abs().max() <= bound


def test_forget_bias_value_and_cells():
    model = lnn.LSTM(3, 5, num_layers=2, bidirectional=True, forget_bias=2.5)
    for name in ("_l0", "_l1_reverse"):
        b = getattr(model, "bias_ih" + name) + getattr(model, "bias_hh" + name)
        assert torch.equal(b[5:10], torch.full((5,), 2.5))
    cell = lnn.LSTMCell(3, 5)
    assert torch.equal((cell.bias_ih + cell.bias_hh)[5:10], torch.ones(5))


def test_rnn_relu_defaults_to_he():
    assert lnn.RNN(3, 4, nonlinearity="relu").input_init == "kaiming_uniform"
    assert lnn.RNN(3, 4).input_init == "xavier_uniform"


@pytest.mark.parametrize("name", sorted(lnn.init.INITIALIZERS))
def test_every_initialiser_runs_and_is_finite(name):
    model = lnn.LSTM(3, 4, proj_size=2, input_init=name, recurrent_init=name)
    assert all(torch.isfinite(p).all() for p in model.parameters())
