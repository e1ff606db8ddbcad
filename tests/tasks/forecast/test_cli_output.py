"""What `lstmkit forecast` tells a person: the choices it made and why, coverage, readable forecasts, flags."""
import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli import build_parser, main

QUICK = ["--epochs", "2", "--ensemble", "1", "--hidden-size", "8", "--threads", "1"]


@pytest.fixture(scope="module")
def monthly_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    t = np.arange(150)
    sales = (100 + 0.8 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.02, 150))
    path = tmp_path_factory.mktemp("data") / "sales.csv"
    pd.DataFrame({"month": pd.date_range("2000-01-01", periods=150, freq="MS").strftime("%Y-%m-%d"),
                  "sales": sales, "price": rng.normal(10, 1, 150)}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(monthly_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "sales"
    argv = ["forecast", "train", str(monthly_csv), "--target", "sales", "--quantiles", "0.1", "0.9",
            "--out", str(out), *QUICK]
    return argv, out


def test_train_names_the_season_horizon_and_width_it_used_and_why(trained, capsys):
    argv, out = trained
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "season 12: monthly data ('MS'): yearly season 12" in printed
    assert "horizon 12: one season" in printed
    assert "input width 35: a third of the 105-row training part (shorter than three seasons)" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"]["why"]["season"] == "monthly data ('MS'): yearly season 12"
    # The interval's coverage is printed, not only stored.
    coverage = metrics["model"]["coverage_0.1_0.9"]
    assert f"80% interval (quantiles 0.1-0.9): {coverage:.1%} of the test values fell inside it" in printed


def test_predict_prints_dates_and_six_significant_digits(trained, monthly_csv, capsys):
    argv, out = trained
    if not (out / "model.safetensors").exists():
        assert main(argv) == 0
    capsys.readouterr()
    assert main(["forecast", "predict", "--model", str(out), str(monthly_csv), "--threads", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "time,step,target,forecast,q0.1,q0.9"
    time, step, target, *values = lines[1].split(",")
    assert (time, step, target) == ("2012-07-01", "1", "sales")  # a date, not 2012-07-01T00:00:00
    for value in values:
        digits = value.replace(".", "").replace("-", "").lstrip("0")
        assert len(digits) <= 6, value


def test_predict_takes_fill_and_sort_as_its_errors_suggest(trained, monthly_csv, tmp_path, capsys):
    argv, out = trained
    if not (out / "model.safetensors").exists():
        assert main(argv) == 0
    shuffled = pd.read_csv(monthly_csv).iloc[::-1]
    path = tmp_path / "reversed.csv"
    shuffled.to_csv(path, index=False)
    capsys.readouterr()
    assert main(["forecast", "predict", "--model", str(out), str(path)]) == 2
    assert "--sort" in capsys.readouterr().err
    assert main(["forecast", "predict", "--model", str(out), str(path), "--sort"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("2012-07-01,1,sales,")


def test_no_season_is_said_and_stored_never_silent(tmp_path, capsys):
    # No time column: there is no frequency to read a season from. The run says so and names --season.
    rng = np.random.default_rng(1)
    path = tmp_path / "plain.csv"
    pd.DataFrame({"y": np.cumsum(rng.normal(size=120))}).to_csv(path, index=False)
    assert main(["forecast", "train", str(path), "--target", "y", "--out", str(tmp_path / "run"), *QUICK]) == 0
    printed = capsys.readouterr().out
    line = next(line for line in printed.splitlines() if line.startswith("season "))
    assert line.startswith("season 1: no regular frequency") and "--season" in line
    why = json.loads((tmp_path / "run" / "metrics.json").read_text())["split"]["why"]["season"]
    assert why == line.split(": ", 1)[1]


@pytest.mark.parametrize("targets", [["--target", "a", "b"], ["--target", "a", "--target", "b"]])
def test_several_targets_in_either_form(targets):
    args = build_parser().parse_args(["forecast", "train", "x.csv", *targets])
    assert args.target == ["a", "b"]


def test_every_forecast_option_has_help():
    parser = build_parser()
    for verb in ("train", "backtest", "predict"):
        sub = parser._subparsers._group_actions[0].choices["forecast"]  # noqa: SLF001 (argparse's own tree)
        verb_parser = sub._subparsers._group_actions[0].choices[verb]
        for action in verb_parser._actions:
            if action.option_strings and action.dest not in ("help",):
                assert action.help, f"forecast {verb} {action.option_strings[0]} has no help"
