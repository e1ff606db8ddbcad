"""``lstmkit.plots.gates``: gate heat maps from a model or from a recorded trace."""
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

from lstmkit.nn import LSTM, RNN, record_gates
from lstmkit.plots import gates

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path):
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC and path.stat().st_size > 5_000


def test_gates_draws_a_model_on_its_input(tmp_path):
    lstm = LSTM(3, 8)  # torch's default layout: (T, N, F)
    x = torch.randn(40, 2, 3)
    path = gates(lstm, x, path=tmp_path / "model.png", sequence=1, input_labels=["a", "b", "c"],
                 times=[f"t{i}" for i in range(40)], title="two sequences, the second drawn")
    assert path == tmp_path / "model.png" and _is_png(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.png"]  # no temporary file left behind


def test_gates_draws_a_recorded_trace_any_layer_and_direction(tmp_path):
    lstm = LSTM(2, 5, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.randn(3, 25, 2)
    trace = record_gates(lstm, x, lengths=[25, 10, 17])
    assert _is_png(gates(trace, x, path=tmp_path / "top.png"))
    assert _is_png(gates(trace, x, path=tmp_path / "bottom_reverse.png", layer=0, direction=1, sequence=-2))
    assert _is_png(gates(trace, path=tmp_path / "no_input.png", sequence=2))  # no input panel


def test_gates_accepts_an_unbatched_or_packed_input(tmp_path):
    lstm = LSTM(1, 4)
    assert _is_png(gates(lstm, torch.randn(30, 1), path=tmp_path / "unbatched.png"))
    x = torch.randn(30, 2, 1)
    packed = pack_padded_sequence(x, torch.tensor([30, 12]), enforce_sorted=False)
    assert _is_png(gates(lstm, packed, path=tmp_path / "packed.png", sequence=1))


def test_gates_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(TypeError, match=r"expects an lstmkit.nn.LSTM \(or a variant\), a GRU, or their "
                                        "GateTrace/GRUGateTrace, got RNN"):
        gates(RNN(2, 3), torch.randn(5, 1, 2), path=tmp_path / "x.png")
    lstm = LSTM(2, 3)
    with pytest.raises(ValueError, match="needs the input"):
        gates(lstm, path=tmp_path / "x.png")
    with pytest.raises(IndexError, match="sequence 4 out of range for a batch of 2"):
        gates(lstm, torch.randn(5, 2, 2), path=tmp_path / "x.png", sequence=4)
    with pytest.raises(IndexError, match="layer 1 out of range"):
        gates(lstm, torch.randn(5, 2, 2), path=tmp_path / "x.png", layer=1)
    assert not list(tmp_path.iterdir())


def test_gates_draws_a_grus_reset_and_update_gates(tmp_path):
    from lstmkit.nn import GRU, GRUGateTrace

    gru = GRU(2, 5, num_layers=2, batch_first=True)
    x = torch.randn(2, 20, 2)
    trace = record_gates(gru, x, lengths=[20, 9])
    assert isinstance(trace, GRUGateTrace)
    assert _is_png(gates(trace, x, path=tmp_path / "trace.png", layer=0, sequence=1))
    with pytest.raises(ValueError, match="needs the input"):  # a GRU itself is drawn as an LSTM is
        gates(gru, path=tmp_path / "x.png")
