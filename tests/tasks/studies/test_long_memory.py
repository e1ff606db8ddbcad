"""The long-memory study: problem generators, parameter matching, gradient norms against autograd,
and ``lstmkit study long-memory --quick`` end to end."""
import json
import math

import pytest
import torch

from lstmkit.cli import main
from lstmkit.errors import ConfigError
from lstmkit.tasks.studies.long_memory import (
    PROBLEMS,
    LongMemoryConfig,
    LongMemoryNet,
    adding_problem,
    build_model,
    hidden_gradient_norms,
    matched_rnn_hidden_size,
    parameter_count,
    temporal_order_problem,
)
from lstmkit.train import load_model


# ------------------------------------------------------------------------------------ generators
@pytest.mark.parametrize("length", [2, 3, 10, 101])
def test_adding_problem_targets_are_the_exact_sums_of_the_marked_values(length):
    x, y = adding_problem(500, length, generator=torch.Generator().manual_seed(1))
    assert x.shape == (500, length, 2) and y.shape == (500, 1) and x.dtype == torch.float32
    values, marker = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(marker.unique().tolist()) <= {0.0, 1.0}
    assert (marker.sum(1) == 2).all()  # exactly two marks per sequence
    half = length // 2
    assert (marker[:, :half].sum(1) == 1).all() and (marker[:, half:].sum(1) == 1).all()
    torch.testing.assert_close(y[:, 0], (values * marker).sum(1), rtol=0, atol=0)


@pytest.mark.parametrize("length", [10, 57, 200])
def test_temporal_order_classes_are_the_order_of_the_two_marked_symbols(length):
    x, y = temporal_order_problem(800, length, generator=torch.Generator().manual_seed(2))
    assert x.shape == (800, length, 6) and y.shape == (800,) and y.dtype == torch.int64
    assert (x.sum(-1) == 1).all()  # one-hot
    symbols = x.argmax(-1)  # (N, T)
    for n in range(len(y)):
        positions = torch.nonzero(symbols[n] >= 4).flatten().tolist()
        assert len(positions) == 2
        t1, t2 = positions
        assert int(0.1 * length) <= t1 < int(0.2 * length) and int(0.5 * length) <= t2 < int(0.6 * length)
        first_is_y, second_is_y = int(symbols[n, t1] == 5), int(symbols[n, t2] == 5)
        assert int(y[n]) == 2 * first_is_y + second_is_y  # XX=0, XY=1, YX=2, YY=3
    counts = torch.bincount(y, minlength=4)
    assert (counts > 150).all()  # all four classes, roughly balanced


def test_generators_are_reproducible_from_their_generator_and_check_lengths():
    a = adding_problem(4, 20, generator=torch.Generator().manual_seed(3))
    b = adding_problem(4, 20, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    with pytest.raises(ValueError, match="length must be an integer >= 10"):
        temporal_order_problem(4, 9)
    with pytest.raises(ValueError, match=">= 2"):
        adding_problem(4, 1)


def test_constant_baselines_give_the_documented_errors():
    g = torch.Generator().manual_seed(0)
    x, y = adding_problem(50_000, 20, generator=g)
    adding = PROBLEMS["adding"]
    assert adding.metrics(adding.baseline(y), y)["mse"] == pytest.approx(1 / 6, abs=0.005)
    x, y = temporal_order_problem(4000, 20, generator=g)
    order = PROBLEMS["temporal-order"]
    metrics = order.metrics(order.baseline(y), y)
    assert metrics["cross_entropy"] == pytest.approx(math.log(4))
    assert metrics["accuracy"] == pytest.approx(0.25, abs=0.03)
    assert adding.is_solved({"mse": 0.009}) and not adding.is_solved({"mse": float("nan")})


@pytest.mark.parametrize("task", list(PROBLEMS))
@pytest.mark.parametrize("hidden", [8, 32, 64])
def test_rnn_is_matched_to_the_lstm_in_parameters(task, hidden):
    problem = PROBLEMS[task]
    lstm, rnn = build_model("lstm", problem, hidden), build_model("rnn", problem, hidden)
    assert rnn.hidden_size == matched_rnn_hidden_size(problem, hidden) > hidden
    target = parameter_count(lstm)
    gap = abs(parameter_count(rnn) - target)
    for other in (rnn.hidden_size - 1, rnn.hidden_size + 1):  # no other unit count comes closer
        neighbour = LongMemoryNet("rnn", problem.input_size, other, problem.output_size)
        assert gap <= abs(parameter_count(neighbour) - target)
    assert gap / target < (0.05 if hidden == 8 else 0.01)


# --------------------------------------------------------------------------------- gradient flow
def _small_model(cell, seed=0):
    torch.manual_seed(seed)
    return LongMemoryNet(cell, 2, 5, 1).double()


def test_unrolled_forward_equals_the_layer_forward():
    x = torch.rand(3, 7, 2, dtype=torch.float64)
    for cell in ("rnn", "lstm"):
        model = _small_model(cell)
        prediction, hidden = model.unrolled(x)
        torch.testing.assert_close(prediction, model(x))
        out, _ = model.rnn(x)
        torch.testing.assert_close(torch.stack(hidden, 1), out)


def test_rnn_gradient_norms_agree_with_backprop_through_time_by_hand():
    model = _small_model("rnn")
    x, y = adding_problem(4, 9, generator=torch.Generator().manual_seed(0))
    x, y = x.double(), y.double()
    norms = hidden_gradient_norms(model, x, y, torch.nn.functional.mse_loss)
    # By hand: h_t = tanh(W_ih x_t + W_hh h_{t-1} + b), so dL/dh_{t-1} = (dL/dh_t * (1 - h_t^2)) W_hh.
    with torch.no_grad():
        h, _ = model.rnn(x)  # (N, T, H)
        g = 2 * (model(x) - y) @ model.head.weight  # dL/dh_T for the summed squared error, (N, H)
        expected = [None] * x.shape[1]
        for t in reversed(range(x.shape[1])):
            expected[t] = g.norm(dim=-1).mean()
            g = (g * (1 - h[:, t] ** 2)) @ model.rnn.weight_hh_l0
    torch.testing.assert_close(norms, torch.stack(expected), rtol=1e-10, atol=1e-14)


def test_lstm_gradient_norms_agree_with_autograd_on_torchs_own_cell():
    x, y = temporal_order_problem(3, 12, generator=torch.Generator().manual_seed(0))
    x = x.double()
    model = LongMemoryNet("lstm", 6, 5, 4).double()
    norms = hidden_gradient_norms(model, x, y, torch.nn.functional.cross_entropy)
    assert all(p.grad is None for p in model.parameters())  # norms only; no parameter gradients left behind
    # The same computation written independently: torch.nn.LSTMCell with the same weights, one step
    # per iteration, retain_grad on every h_t, one backward of the summed loss.
    cell = torch.nn.LSTMCell(6, 5).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(model.rnn, f"{name}_l0"))
    h = c = torch.zeros(3, 5, dtype=torch.float64)
    hidden = []
    for t in range(x.shape[1]):
        h, c = cell(x[:, t], (h, c))
        h.retain_grad()
        hidden.append(h)
    loss = torch.nn.functional.cross_entropy(model.head(h), y, reduction="sum")
    loss.backward()
    expected = torch.stack([v.grad.norm(dim=-1).mean() for v in hidden])
    torch.testing.assert_close(norms, expected, rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------------- config, CLI
def test_config_checks_its_values():
    with pytest.raises(ConfigError, match="unknown task"):
        LongMemoryConfig(tasks=["copying"])
    with pytest.raises(ConfigError, match="temporal-order problem needs 10"):
        LongMemoryConfig(lengths=[5])
    assert LongMemoryConfig(tasks=["adding"], lengths=[5, 3, 5]).lengths == [3, 5]
    with pytest.raises(ConfigError, match="steps must be a positive integer"):
        LongMemoryConfig(steps=0)


def test_cli_reports_bad_options_in_one_line(tmp_path, capsys):
    assert main(["study", "long-memory", "--lengths", "5", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lstmkit: error: sequence lengths must be") and err.count("\n") == 1


def test_cli_refuses_a_non_empty_output_directory_and_leaves_it_alone(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert main(["study", "long-memory", "--quick", "--tasks", "adding", "--out", str(out), "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lstmkit: error: ") and err.count("\n") == 1
    assert "exists and is not empty; choose another --out" in err and "--resume" not in err
    assert [p.name for p in out.iterdir()] == ["notes.txt"] and (out / "notes.txt").read_text() == "keep me"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "long-memory"
    assert main(["study", "long-memory", "--quick", "--out", str(out), "--threads", "1"]) == 0
    return out


def test_quick_study_writes_its_files(quick_run):
    out = quick_run
    for name in ("results.json", "results.md", "summary.png", "learning_curves.png", "gradient_flow.png",
                 "gates_adding.png", "gates_temporal-order.png", "samples/adding-T50.csv"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    assert len(results["runs"]) == 2 * 2 * 2  # tasks x lengths x models, one seed
    md = (out / "results.md").read_text()
    assert "| 50 | LSTM (32 units) |" in md and "always 1" in md and "uniform guess" in md
    run = results["runs"][0]
    assert len(run["gradient_init"]["norms"]) == run["length"]
    assert results["baselines"]["adding"]["50"]["mse"] == pytest.approx(1 / 6, abs=0.03)


def test_quick_study_lstm_beats_rnn_on_the_adding_problem_at_its_longest_length(quick_run):
    results = json.loads((quick_run / "results.json").read_text())
    rows = {r["model"]: r for r in results["summary"] if r["task"] == "adding" and r["length"] == 50}
    baseline = results["baselines"]["adding"]["50"]["mse"]
    assert rows["lstm"]["solved"] == 1 and rows["lstm"]["mse_mean"] < 0.01
    assert rows["rnn"]["mse_mean"] > 0.5 * baseline  # the RNN is still near the constant answer
    assert rows["lstm"]["mse_mean"] < rows["rnn"]["mse_mean"] / 10
    # ... and the trained LSTM passes far more of the gradient back to the first step than the RNN.
    assert rows["lstm"]["gradient_ratio_trained"] > 100 * rows["rnn"]["gradient_ratio_trained"]


def test_quick_study_models_load_and_predict_like_in_the_study(quick_run):
    model = load_model(quick_run / "models" / "adding-T50-lstm")
    assert isinstance(model, LongMemoryNet) and model.cell == "lstm"
    x, y = adding_problem(256, 50, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        mse = torch.nn.functional.mse_loss(model(x), y)
    assert mse < 0.02


# ------------------------------------------------------------------------------------------- other cells
def test_a_tiny_study_of_a_gru_against_the_lstm(tmp_path):
    from lstmkit.nn import GRU
    from lstmkit.tasks.studies.long_memory import run_study

    config = LongMemoryConfig(tasks=["adding"], models=["lstm", "gru"], lengths=[10], seeds=1, steps=50,
                              eval_every=50, val_size=50, test_size=50, gradient_batch=16)
    results = run_study(config, tmp_path / "study")
    assert [r["model"] for r in results["runs"]] == ["lstm", "gru"]
    assert results["runs"][1]["hidden_size"] == 37 and len(results["runs"][1]["gradient_init"]["norms"]) == 10
    assert (tmp_path / "study" / "results.md").read_text().startswith("# Long-memory study: GRU against LSTM")
    model = load_model(tmp_path / "study" / "models" / "adding-T10-gru")
    assert isinstance(model.rnn, GRU) and model.cell == "gru"
    x = torch.rand(4, 10, 2, dtype=torch.float64)
    model = model.double()
    prediction, hidden = model.unrolled(x)  # one step per call, the state (h alone) carried
    torch.testing.assert_close(prediction, model(x))
    assert len(hidden) == 10
