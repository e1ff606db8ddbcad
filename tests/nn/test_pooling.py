"""Masked pooling over time (lstmkit.nn.pooling): pads never count, "last" is each direction's final state."""
import pytest
import torch

from lstmkit.nn import LSTM
from lstmkit.nn.pooling import MaskedPooling, masked_pool

LENGTHS = torch.tensor([3, 1, 5])


def padded(junk: float):
    torch.manual_seed(0)
    x = torch.randn(3, 5, 4, dtype=torch.float64)
    for i, n in enumerate(LENGTHS.tolist()):
        x[i, n:] = junk
    return x


@pytest.mark.parametrize("mode", ["max", "mean", "last"])
@pytest.mark.parametrize("directions", [1, 2])
def test_pooling_reads_only_each_rows_valid_steps(mode, directions):
    x = padded(0.0)
    pooled = masked_pool(x, LENGTHS, mode, directions=directions)
    torch.testing.assert_close(masked_pool(padded(1e6), LENGTHS, mode, directions=directions), pooled, rtol=0, atol=0)
    for i, n in enumerate(LENGTHS.tolist()):
        valid = x[i, :n]
        expected = {"max": valid.amax(0), "mean": valid.mean(0),
                    "last": torch.cat([valid[-1, :2], valid[0, 2:]]) if directions == 2 else valid[-1]}[mode]
        torch.testing.assert_close(pooled[i], expected, rtol=0, atol=1e-15)


def test_last_is_the_top_layers_final_state_of_each_direction():
    torch.manual_seed(0)
    lstm = LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True).double()
    x = torch.randn(3, 5, 3, dtype=torch.float64)
    out, (h_n, _) = lstm(x, lengths=LENGTHS)
    torch.testing.assert_close(masked_pool(out, LENGTHS, "last", directions=2), torch.cat(list(h_n[-2:]), -1),
                               rtol=0, atol=0)
    assert torch.equal(MaskedPooling("last", directions=2)(out, LENGTHS), masked_pool(out, LENGTHS, "last", directions=2))
    with pytest.raises(ValueError, match="pooling must be one of max, mean, last"):
        masked_pool(out, LENGTHS, "sum")
