"""record_gates: the trace satisfies the LSTM's equations and ends where the model does."""
import pytest
import torch

import lstmkit.nn as lnn


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("proj_size", [0, 2])
def test_trace_satisfies_the_equations(bidirectional, proj_size):
    model = lnn.LSTM(3, 4, num_layers=2, bidirectional=bidirectional, proj_size=proj_size,
                     batch_first=True, dtype=torch.float64)
    x = torch.randn(3, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    trace = lnn.record_gates(model, x, lengths=lengths)
    LD, H = 2 * model.num_directions, 4
    assert trace.input_gate.shape == (LD, 3, 6, H)
    assert trace.hidden.shape == (LD, 3, 6, model.output_size)
    _, (h_n, c_n) = model(x, lengths=lengths)
    for row in range(LD):
        direction = row % model.num_directions
        w_hr = getattr(model, f"weight_hr_l{row // model.num_directions}" + ("_reverse" if direction else ""), None)
        for n, length in enumerate(lengths.tolist()):
            i, f, g, o = (trace.input_gate[row, n], trace.forget_gate[row, n],
                          trace.candidate[row, n], trace.output_gate[row, n])
            cell, hidden = trace.cell[row, n], trace.hidden[row, n]
            order = range(length) if direction == 0 else range(length - 1, -1, -1)
            c_prev = torch.zeros(H, dtype=torch.float64)
            for t in order:
                torch.testing.assert_close(cell[t], f[t] * c_prev + i[t] * g[t])
                h = o[t] * torch.tanh(cell[t])
                torch.testing.assert_close(hidden[t], h if w_hr is None else w_hr @ h)
                c_prev = cell[t]
            last = length - 1 if direction == 0 else 0
            torch.testing.assert_close(hidden[last], h_n[row, n])
            torch.testing.assert_close(cell[last], c_n[row, n])
            assert torch.count_nonzero(cell[length:]) == 0
            assert ((i[:length] > 0) & (i[:length] < 1)).all() and (g[:length].abs() < 1).all()


def test_trace_index_and_type_errors():
    model = lnn.LSTM(2, 3, num_layers=2)
    trace = lnn.record_gates(model, torch.randn(4, 1, 2))
    assert trace.index(-1) == 1 and trace.index(0) == 0
    with pytest.raises(IndexError, match="layer 2 out of range"):
        trace.index(2)
    with pytest.raises(TypeError, match="expects an lstmkit.nn.LSTM .*GRU, got RNN"):
        lnn.record_gates(lnn.RNN(2, 3), torch.randn(4, 1, 2))
