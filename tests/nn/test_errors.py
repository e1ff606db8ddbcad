"""Every bad argument and input gets a message that says what was expected and what was given."""
import pytest
import torch

import lstmkit.nn as lnn


@pytest.mark.parametrize("kwargs,match", [
    (dict(input_size=0, hidden_size=3), r"input_size must be an integer >= 1, got 0"),
    (dict(input_size=2, hidden_size=2.5), r"hidden_size must be an integer >= 1, got 2.5"),
    (dict(input_size=2, hidden_size=3, num_layers=0), r"num_layers must be an integer >= 1"),
    (dict(input_size=2, hidden_size=3, proj_size=3), r"proj_size must be smaller than hidden_size"),
    (dict(input_size=2, hidden_size=3, dropout=1.5), r"dropout must be a number in \[0, 1\], got 1.5"),
    (dict(input_size=2, hidden_size=3, backend="cudnn"), r"unknown backend 'cudnn'; expected one of"),
    (dict(input_size=2, hidden_size=3, input_init="glorot"), r"unknown input_init 'glorot'"),
    (dict(input_size=2, hidden_size=3, recurrent_init="eye"), r"unknown recurrent_init 'eye'"),
    (dict(input_size=2, hidden_size=3, forget_bias=float("nan")), r"forget_bias must be a finite number"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lnn.LSTM(**kwargs)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="does nothing with num_layers=1"):
        lnn.LSTM(2, 3, dropout=0.2)


def test_rnn_and_cell_arguments():
    with pytest.raises(ValueError, match="unknown nonlinearity 'sigmoid'"):
        lnn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="unknown backend 'fast'"):
        lnn.LSTMCell(2, 3, backend="fast")
    with pytest.raises(ValueError, match=r"expected 2 input features \(input_size\), got 5"):
        lnn.LSTMCell(2, 3)(torch.randn(4, 5))
    with pytest.raises(ValueError, match=r"expected state of shape \(4, 3\) \(N, H\), got \(4, 2\)"):
        lnn.RNNCell(2, 3)(torch.randn(4, 2), torch.randn(4, 2))


@pytest.mark.parametrize("batch_first,layout", [(False, r"\(T, N, H_in\)"), (True, r"\(N, T, H_in\)")])
def test_wrong_rank(batch_first, layout):
    with pytest.raises(ValueError, match=rf"expected input of rank 3 {layout} or rank 2 .* got rank 4"):
        lnn.LSTM(2, 3, batch_first=batch_first)(torch.randn(1, 2, 3, 2))


def test_wrong_feature_size_and_dtype_and_type():
    model = lnn.LSTM(4, 3)
    with pytest.raises(ValueError, match=r"expected input with 4 features \(input_size\).* got 5"):
        model(torch.randn(6, 2, 5))
    with pytest.raises(TypeError, match=r"input dtype torch.float64 does not match the parameters' dtype torch.float32"):
        model(torch.randn(6, 2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="input must be a torch.Tensor or PackedSequence, got list"):
        model([[1.0] * 4])
    with pytest.raises(ValueError, match="the input sequence is empty"):
        model(torch.randn(0, 2, 4))


@pytest.mark.parametrize("lengths,error,match", [
    ([3, 9], ValueError, r"lengths\[1\] = 9 is longer than the sequence \(6 time steps\)"),
    ([3, 0], ValueError, r"every length must be >= 1, got lengths\[1\] = 0"),
    ([3, -1], ValueError, r"every length must be >= 1, got lengths\[1\] = -1"),
    ([3], ValueError, r"one entry per sequence \(2\), got shape \(1,\)"),
    (torch.tensor([[3, 4]]), ValueError, r"one entry per sequence \(2\), got shape \(1, 2\)"),
    (torch.tensor([3.0, 4.0]), TypeError, r"lengths must hold integers, got dtype torch.float32"),
    ([3, 2.5], TypeError, r"lengths must hold integers"),
])
def test_bad_lengths(lengths, error, match):
    with pytest.raises(error, match=match):
        lnn.LSTM(2, 3)(torch.randn(6, 2, 2), lengths=lengths)


def test_lengths_with_packed_input():
    from torch.nn.utils.rnn import pack_padded_sequence

    packed = pack_padded_sequence(torch.randn(4, 2, 2), [4, 2])
    with pytest.raises(ValueError, match="either a PackedSequence or lengths="):
        lnn.LSTM(2, 3)(packed, lengths=[4, 2])


def test_bad_hx():
    model = lnn.LSTM(2, 3, num_layers=2, proj_size=1)
    x = torch.randn(5, 4, 2)
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(2, 4, 1\) \(num_layers \* num_directions, N, H_out\), got \(2, 4, 3\)"):
        model(x, (torch.zeros(2, 4, 3), torch.zeros(2, 4, 3)))
    with pytest.raises(ValueError, match=r"expected c_0 of shape \(2, 4, 3\)"):
        model(x, (torch.zeros(2, 4, 1), torch.zeros(1, 4, 3)))
    with pytest.raises(ValueError, match=r"hx must be \(h_0, c_0\), got 1 tensor"):
        model(x, torch.zeros(2, 4, 1))
    with pytest.raises(ValueError, match=r"for an unbatched input h_0 must have shape \(2, 1\)"):
        model(torch.randn(5, 2), (torch.zeros(2, 4, 1), torch.zeros(2, 4, 3)))
    with pytest.raises(ValueError, match=r"expected h_0 of shape \(1, 4, 3\)"):
        lnn.RNN(2, 3)(x, torch.zeros(2, 4, 3))
