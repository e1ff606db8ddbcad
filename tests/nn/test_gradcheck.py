"""torch.autograd.gradcheck (finite differences, float64) on the reference backend."""
import torch
from torch.autograd import gradcheck

import lstmkit.nn as lnn
from lstmkit.nn import functional as F_


def test_gradcheck_lstm_step():
    args = [torch.randn(s, dtype=torch.float64, requires_grad=True)
            for s in [(2, 3), (2, 4), (2, 4), (16, 3), (16, 4), (16,), (16,)]]

    def fn(*a):
        h, c, _ = F_.lstm_step(*a)
        return h, c

    assert gradcheck(fn, args)


def test_gradcheck_reference_lstm_with_lengths_projection_bidirectional():
    model = lnn.LSTM(2, 3, num_layers=2, bidirectional=True, proj_size=2, backend="reference",
                     dtype=torch.float64)
    params = list(model.parameters())
    x = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(4, 3, 3, dtype=torch.float64, requires_grad=True)

    def fn(x, h0, c0, *weights):
        state = dict(zip([n for n, _ in model.named_parameters()], weights))
        out, (h, c) = torch.func.functional_call(model, state, (x, (h0, c0)), {"lengths": [4, 2, 1]})
        return out, h, c

    assert gradcheck(fn, (x, h0, c0, *params))


def test_gradcheck_reference_rnn():
    model = lnn.RNN(2, 3, num_layers=2, backend="reference", dtype=torch.float64)
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)

    def fn(x, *weights):
        state = dict(zip([n for n, _ in model.named_parameters()], weights))
        return torch.func.functional_call(model, state, (x,))[0]

    assert gradcheck(fn, (x, *model.parameters()))
