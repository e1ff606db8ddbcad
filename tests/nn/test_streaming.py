"""The streamer steps through a sequence and gives exactly the full-sequence output."""
import numpy as np
import pytest
import torch

import lstmkit.nn as lnn


@pytest.mark.parametrize("num_layers,proj_size", [(1, 0), (2, 0), (2, 3)])
def test_streamer_equals_full_sequence(num_layers, proj_size):
    model = lnn.LSTM(3, 8, num_layers=num_layers, proj_size=proj_size, dtype=torch.float64).eval()
    x = torch.randn(20, 4, 3, dtype=torch.float64)
    with torch.no_grad():
        expected, (h_n, c_n) = model(x)
    streamer = model.streamer(batch_size=4)
    got = torch.stack([streamer.step(x[t]) for t in range(20)])
    torch.testing.assert_close(got, expected, atol=1e-12, rtol=1e-12)
    h, c = streamer.state
    torch.testing.assert_close((h, c), (h_n, c_n), atol=1e-12, rtol=1e-12)
    # numpy in, numpy out; reset starts a new stream
    streamer.reset()
    first = streamer.step(x[0].numpy())
    assert isinstance(first, np.ndarray)
    np.testing.assert_allclose(first, expected[0].detach().numpy(), atol=1e-12)


def test_streamer_float32_torch_path_matches():
    model = lnn.LSTM(2, 16).eval()
    x = torch.randn(50, 1, 2)
    with torch.no_grad():
        expected, _ = model(x)
    streamer = model.streamer()
    got = torch.stack([streamer.step(x[t]) for t in range(50)])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    streamer._numpy = False  # the device path (used off CPU) runs the same equations
    streamer.reset()
    streamer._h = [torch.zeros(1, 16)]
    streamer._c = [torch.zeros(1, 16)]
    got = torch.stack([streamer.step(x[t]) for t in range(50)])
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def test_streamer_errors():
    with pytest.raises(ValueError, match="needs a unidirectional LSTM"):
        lnn.LSTM(2, 3, bidirectional=True).streamer()
    with pytest.raises(ValueError, match=r"x of shape \(batch_size, input_size\) = \(2, 2\), got \(1, 2\)"):
        lnn.LSTM(2, 3).streamer(batch_size=2).step(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        lnn.LSTM(2, 3).streamer(batch_size=0)


def test_forks_share_the_weights_and_keep_their_own_state():
    torch.manual_seed(0)
    lstm = lnn.LSTM(3, 8, num_layers=2, batch_first=True).double().eval()
    first = lstm.streamer(1)
    second = first.fork()
    assert all(np.shares_memory(a[0], b[0]) for a, b in zip(first._np_layers, second._np_layers))  # noqa: SLF001
    x = torch.randn(1, 12, 3, dtype=torch.float64)
    with torch.no_grad():
        whole = lstm(x)[0][0].numpy()
    for t in range(12):  # interleaved: the second stream is one step behind and fed other values
        np.testing.assert_allclose(first.step(x[:, t].numpy())[0], whole[t], atol=1e-12)
        second.step(np.zeros((1, 3)))
    fresh = lstm.streamer(1)
    for t in range(12):
        fresh.step(np.zeros((1, 3)))
    np.testing.assert_allclose(second.state[0].numpy(), fresh.state[0].numpy(), atol=1e-12)
