"""``lstmkit inspect``: gate pictures and statistics for forecasting runs and saved LSTMs, and its errors."""
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.cli import main
from lstmkit.nn import LSTM, RNN, GateTrace, record_gates
from lstmkit.tasks.forecast import ForecastConfig, Forecaster, train_run
from lstmkit.tasks.inspect import gate_statistics, inspect_model, summarize_statistics
from lstmkit.train import save_model


def monthly_sales(n=120, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    sales = (100 + 0.5 * t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.02, n))
    price = 10 + rng.normal(0, 1, n)
    return pd.DataFrame({"month": pd.date_range("2001-01-01", periods=n, freq="MS"), "sales": sales, "price": price})


@pytest.fixture(scope="module")
def forecast_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("inspect")
    df = monthly_sales()
    csv = root / "sales.csv"
    df.to_csv(csv, index=False)
    run = root / "run"
    train_run(Forecaster(ForecastConfig(targets=["sales"], time_column="month", features=["price"], epochs=3,
                                        ensemble=1, hidden_size=8)), df, run)
    return run, csv


def test_inspect_a_forecasting_run_directory(forecast_run, tmp_path, capsys):
    run, csv = forecast_run
    out = tmp_path / "look"
    assert main(["inspect", "--model", str(run), str(csv), "--out", str(out), "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "layer 0: mean gates input" in printed and "mostly keeping" in printed
    assert (out / "gates.png").stat().st_size > 10_000
    stats = json.loads((out / "gate_stats.json").read_text())
    assert stats["kind"] == "forecast" and stats["inputs"] == ["sales (rel.)", "price (scaled)"]
    assert stats["shown"]["sequence"] == stats["sequences"] - 1  # the latest window by default
    assert stats["steps"] == stats["input_width"] and len(stats["units"]) == 8
    table = pd.read_csv(out / "gate_stats.csv")
    assert list(table["unit"]) == list(range(8))
    for column in ("mean_forget_gate", "saturated_forget_gate", "saturated_input_gate", "forget_above_high"):
        assert table[column].between(0, 1).all()


def test_inspect_reports_wrong_columns_and_foreign_directories_in_one_line(forecast_run, tmp_path, capsys):
    run, csv = forecast_run
    pd.read_csv(csv).drop(columns=["price"]).to_csv(tmp_path / "no_price.csv", index=False)
    cases = [
        (["--model", str(run), str(tmp_path / "no_price.csv")], "column 'price' not found"),
        (["--model", str(tmp_path / "missing"), str(csv)], "model directory .* does not exist"),
        (["--model", str(tmp_path), str(csv)], "no config.json in .*: not an lstmkit model directory"),
        (["--model", str(run), str(csv), "--member", "3"], "--member 3 out of range"),
        (["--model", str(run), str(csv), "--layer", "1"], "--layer 1 out of range: the LSTM has 1 layer"),
        (["--model", str(run), str(csv), "--direction", "1"], "--direction 1 out of range"),
        (["--model", str(run), str(csv), "--sequence", "100000"], "--sequence 100000 out of range"),
        (["--model", str(run), str(csv), "--columns", "price"], "--columns applies to plain LSTM models"),
    ]
    for args, message in cases:
        assert main(["inspect", *args, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("lstmkit: error: "), err
        assert re.search(message, err), err


def test_inspect_refuses_a_non_empty_output_directory_and_leaves_it_untouched(forecast_run, tmp_path, capsys):
    run, csv = forecast_run
    out = tmp_path / "look"
    out.mkdir()
    (out / "gates.png").write_bytes(b"mine")
    (out / "notes.txt").write_text("keep me")
    assert main(["inspect", "--model", str(run), str(csv), "--out", str(out), "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lstmkit: error: "), err
    assert "exists and is not empty; choose another --out" in err and "--resume" not in err
    assert sorted(p.name for p in out.iterdir()) == ["gates.png", "notes.txt"]
    assert (out / "gates.png").read_bytes() == b"mine" and (out / "notes.txt").read_text() == "keep me"


def _saved_lstm(directory, **kwargs):
    torch.manual_seed(0)
    lstm = LSTM(2, 6, **kwargs)
    save_model(lstm, directory)
    return lstm


def test_inspect_a_bare_saved_lstm_with_a_csv_of_its_inputs(tmp_path):
    lstm = _saved_lstm(tmp_path / "lstm", num_layers=2, bidirectional=True)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"day": pd.date_range("2020-01-01", periods=30), "a": rng.normal(size=30),
                          "b": rng.normal(size=30)})
    frame.to_csv(tmp_path / "in.csv", index=False)
    result = inspect_model(tmp_path / "lstm", tmp_path / "in.csv", tmp_path / "out", layer=0, direction=1)
    assert result["kind"] == "lstm" and result["inputs"] == ["a", "b"] and result["steps"] == 30
    assert len(result["units"]) == 2 * 2 * 6 and len(result["summary"]) == 4
    assert (tmp_path / "out" / "gates.png").is_file()
    # The statistics are those of the model's own gates on that input.
    trace = record_gates(lstm, torch.tensor(frame[["a", "b"]].to_numpy(np.float32)).unsqueeze(1))
    row = trace.index(1, 0)
    expected = trace.forget_gate[row, 0].double().mean(0)
    got = [u["mean_forget_gate"] for u in result["units"] if (u["layer"], u["direction"]) == (1, 0)]
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-6)
    # --columns picks and orders the inputs; a wrong count is refused
    result = inspect_model(tmp_path / "lstm", tmp_path / "in.csv", tmp_path / "out2", columns=["b", "a"])
    assert result["inputs"] == ["b", "a"]
    frame.assign(c=1.0).to_csv(tmp_path / "three.csv", index=False)
    with pytest.raises(ValueError, match="reads 2 input column.* has 3 numeric column.*--columns"):
        inspect_model(tmp_path / "lstm", tmp_path / "three.csv", tmp_path / "out3")


def test_inspect_refuses_a_model_without_gates(tmp_path):
    save_model(RNN(2, 4), tmp_path / "rnn")
    pd.DataFrame({"a": [1.0, 2.0], "b": [0.0, 1.0]}).to_csv(tmp_path / "in.csv", index=False)
    with pytest.raises(ValueError, match="vanilla RNN: it has no gates"):
        inspect_model(tmp_path / "rnn", tmp_path / "in.csv", tmp_path / "out")


def test_gate_statistics_on_hand_made_gates():
    H = 2
    forget = torch.tensor([[[0.01, 0.5], [0.99, 0.5], [0.7, 0.99], [0.0, 0.0]]])  # (N=1, T=4, H), step 3 padding
    ones = torch.full_like(forget, 0.5)
    trace = GateTrace(input_gate=ones[None], forget_gate=forget[None], candidate=ones[None], output_gate=ones[None],
                      cell=torch.full((1, 1, 4, H), -2.0), hidden=ones[None], lengths=torch.tensor([3]),
                      num_layers=1, num_directions=1)
    rows = gate_statistics(trace)
    assert rows[0]["mean_forget_gate"] == pytest.approx((0.01 + 0.99 + 0.7) / 3)
    assert rows[0]["saturated_forget_gate"] == pytest.approx(2 / 3)
    assert rows[0]["forget_below_low"] == pytest.approx(1 / 3) and rows[0]["forget_above_high"] == pytest.approx(1 / 3)
    assert rows[1]["saturated_forget_gate"] == pytest.approx(1 / 3) and rows[1]["mean_abs_cell"] == 2.0
    assert rows[0]["saturated_input_gate"] == 0.0
    summary = summarize_statistics(rows)
    assert summary[0]["units"] == 2 and summary[0]["units_mostly_keeping"] == 0


# ------------------------------------------------------------------------------------------- other cells
def test_inspect_draws_and_counts_a_grus_gates_and_refuses_an_rnn_in_one_line(tmp_path, capsys):
    df = monthly_sales()
    csv = tmp_path / "sales.csv"
    df.to_csv(csv, index=False)
    for cell in ("gru", "rnn"):
        train_run(Forecaster(ForecastConfig(targets=["sales"], time_column="month", epochs=1, ensemble=1,
                                            hidden_size=8, cell=cell)), df, tmp_path / cell)
    out = tmp_path / "look"
    assert main(["inspect", "--model", str(tmp_path / "gru"), str(csv), "--out", str(out), "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "through the GRU of" in printed and "mean gates reset" in printed and ", update " in printed
    assert "units mostly keeping their state" in printed
    assert (out / "gates.png").stat().st_size > 10_000
    stats = json.loads((out / "gate_stats.json").read_text())
    assert stats["cell"] == "gru" and len(stats["units"]) == 8
    table = pd.read_csv(out / "gate_stats.csv")
    for column in ("mean_reset_gate", "mean_update_gate", "saturated_update_gate", "update_above_high"):
        assert table[column].between(0, 1).all()
    assert (table["mean_abs_hidden"] <= 1).all()  # a GRU's state stays in (-1, 1)
    assert main(["inspect", "--model", str(tmp_path / "rnn"), str(csv), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lstmkit: error: "), err
    assert "cell rnn, a vanilla RNN: it has no gates to show" in err and not (tmp_path / "o").exists()
