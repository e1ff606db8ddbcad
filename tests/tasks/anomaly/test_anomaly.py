"""Anomaly detection: train -> detect, detect == watch, save/load, resume, the command line, bad input.

Thresholding is tested in test_anomaly_thresholds.py, event scoring in tests/metrics/test_events.py."""
import io
import json
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from lstmkit.cli import main
from lstmkit.nn.encoder_decoder import EncoderDecoder
from lstmkit.tasks.anomaly import AnomalyConfig, AnomalyDetector, SequenceAutoencoder, detect_run, train_run, watch
from crashes import Crash, CrashAfterEpoch

SPIKE = 450


def sine_series(n=600, seed=0, spike=SPIKE):
    """A noisy periodic signal with one labelled spike in the part not trained on."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    value = np.sin(2 * np.pi * t / 25) + 0.1 * rng.normal(size=n)
    label = np.zeros(n, dtype=int)
    if spike is not None:
        value[spike] += 3.0
        label[spike] = 1
    return pd.DataFrame({"value": value, "label": label})


FAST = dict(epochs=20, patience=5, train_fraction=0.6)


@pytest.fixture(scope="module")
def fitted():
    df = sine_series()
    return AnomalyDetector(AnomalyConfig(columns=["value"], **FAST)).fit(df), df


@pytest.fixture(scope="module")
def run_dir(fitted, tmp_path_factory):
    detector, df = fitted
    out = tmp_path_factory.mktemp("anomaly") / "model"
    detector.save(out)
    csv = out.parent / "series.csv"
    df.to_csv(csv, index=False)
    return out, csv


# ------------------------------------------------------------------------------------ models
def test_the_anomaly_autoencoder_is_this_network_with_the_same_parameters():
    torch.manual_seed(1)
    generic = EncoderDecoder(2, hidden_size=8, num_layers=1, code_size=4)
    torch.manual_seed(1)
    anomaly = SequenceAutoencoder(2, window=16, hidden_size=8, num_layers=1, latent_size=4)
    assert list(anomaly.state_dict()) == ["encoder.weight_ih_l0", "encoder.weight_hh_l0", "encoder.bias_ih_l0",
                                          "encoder.bias_hh_l0", "to_code.weight", "to_code.bias",
                                          "decoder.weight_ih_l0", "decoder.weight_hh_l0", "decoder.bias_ih_l0",
                                          "decoder.bias_hh_l0", "head.weight", "head.bias"]
    assert all(torch.equal(a, b) for a, b in zip(generic.state_dict().values(), anomaly.state_dict().values()))
    x = torch.randn(3, 16, 2)
    assert torch.equal(generic(x), anomaly(x))
    assert anomaly.get_config() == {"n_features": 2, "window": 16, "hidden_size": 8, "num_layers": 1,
                                    "latent_size": 4, "cell": "lstm", "recurrent_dropout": 0.0, "zoneout": 0.0}


# --------------------------------------------------------------------------------- detectors
def test_train_then_detect_finds_the_spike(fitted):
    detector, df = fitted
    result = detector.detect(df, labels="label", eval_from=360)
    anomalies = result["anomalies"]
    assert len(anomalies) >= 1
    first = anomalies.iloc[0]
    assert first["start"] <= SPIKE <= first["end"]
    m = result["metrics"]["model"]
    assert (m["found"], m["events"], m["false_positives"]) == (1, 1, 0)
    assert set(result["metrics"]["baselines"]) == {"rolling_zscore", "rolling_zscore_3sigma"}
    scores = result["scores"]
    assert list(scores.columns) == ["time", "value", "error", "score", "is_anomaly"]
    assert scores["score"].iloc[: detector.config.warmup].isna().all()
    assert scores["score"].iloc[SPIKE] > detector.calibration.trigger
    split = detector.state.split
    assert split["fit"] == [0, 252] and split["calibration"] == [252, 360]


def test_detect_and_watch_give_identical_scores(fitted):
    detector, df = fitted
    batch = detector.score(df)
    out = io.StringIO()
    counts = watch(detector, (f"{v!r}\n" for v in df["value"]), out, io.StringIO())
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert counts["scored"] == len(df) == len(records)
    streamed = np.array([np.nan if r["score"] is None else r["score"] for r in records])
    np.testing.assert_allclose(streamed, batch["score"].to_numpy(), rtol=1e-12, atol=1e-12, equal_nan=True)
    assert [r["is_anomaly"] for r in records] == batch["is_anomaly"].tolist()
    assert [r["step"] for r in records] == list(range(len(df)))


def test_reconstruction_detector_streams_its_points_late_but_identically():
    df = sine_series()
    detector = AnomalyDetector(AnomalyConfig(columns=["value"], method="reconstruction", window=16, epochs=4,
                                             **{k: v for k, v in FAST.items() if k != "epochs"})).fit(df)
    batch = detector.score(df)
    stream = detector.stream()
    records = [stream.update([v]) for v in df["value"]]
    assert all(r["step"] is None for r in records[:15]) and records[15]["step"] == 0  # W - 1 lines late
    done = [r for r in records if r["step"] is not None]
    steps = [r["step"] for r in done]
    assert steps == list(range(len(df) - 15))
    streamed = np.array([np.nan if r["score"] is None else r["score"] for r in done])
    np.testing.assert_allclose(streamed, batch["score"].to_numpy()[steps], rtol=1e-10, atol=1e-12, equal_nan=True)
    assert [r["is_anomaly"] for r in done] == batch["is_anomaly"].to_numpy()[steps].tolist()
    assert batch["score"].iloc[-15:].isna().all()  # not yet seen in all its windows


def test_multivariate_with_differencing():
    rng = np.random.default_rng(2)
    n = 400
    t = np.arange(n)
    df = pd.DataFrame({"a": 0.05 * t + np.sin(t / 4) + 0.05 * rng.normal(size=n),
                       "b": np.cos(t / 4) + 0.05 * rng.normal(size=n)})
    detector = AnomalyDetector(AnomalyConfig(columns=["a", "b"], transform="diff", epochs=5, patience=5,
                                             train_until=250)).fit(df)
    scores = detector.score(df)
    assert len(scores) == n and list(scores.columns[:3]) == ["time", "a", "b"]
    stream = detector.stream()
    streamed = [stream.update(row)["score"] for row in df[["a", "b"]].to_numpy()]
    np.testing.assert_allclose(np.array(streamed, dtype=float), scores["score"], rtol=1e-12, equal_nan=True)


def test_save_load_round_trip(fitted, run_dir):
    detector, df = fitted
    directory, _ = run_dir
    loaded = AnomalyDetector.load(directory)
    assert loaded.config == detector.config and loaded.state == detector.state
    pd.testing.assert_frame_equal(loaded.score(df), detector.score(df))


# ------------------------------------------------------------------------------------- CLI
def test_cli_train_detect_and_watch(tmp_path, capsys, monkeypatch):
    df = sine_series().assign(date=pd.date_range("2020-01-01", periods=600, freq="h"))
    csv = tmp_path / "series.csv"
    df.to_csv(csv, index=False)
    model = tmp_path / "model"
    code = main(["anomaly", "train", str(csv), "--columns", "value", "--time-column", "date",
                 "--train-until", "2020-01-16 00:00", "--epochs", "15", "--out", str(model)])
    assert code == 0
    assert {"config.json", "model.safetensors", "history.csv"} <= {p.name for p in model.iterdir()}
    config = json.loads((model / "config.json").read_text())
    assert config["data"]["split"]["calibration"][1] == 360 and config["task"]["name"] == "anomaly"
    assert "epsilon" in config["data"]["threshold"] and "trigger" in config["data"]["threshold"]
    # metrics.json: what train prints, the calibrated thresholds of the model and of the baseline
    metrics = json.loads((model / "metrics.json").read_text())
    threshold = {k: v for k, v in config["data"]["threshold"].items() if k != "calibration_runs"}
    baseline = {k: v for k, v in config["data"]["baseline_threshold"].items() if k != "calibration_runs"}
    assert metrics["model"] == threshold and metrics["baselines"] == {"rolling_zscore": baseline}
    assert metrics["split"] == config["data"]["split"] and metrics["epochs"] == 15
    printed = capsys.readouterr().out.splitlines()
    assert printed == [
        f"trained on rows 0-251, calibrated on rows 252-359 ({metrics['epochs']} epochs)",
        f"threshold: epsilon {threshold['epsilon']:.4g} (mean + {threshold['z']:g} sd), trigger "
        f"{threshold['trigger']:.4g}",
        f"run directory: {model}  (config.json, model.safetensors, history.csv)",
    ]
    out = tmp_path / "detect"
    assert main(["anomaly", "detect", "--model", str(model), str(csv), "--labels", "label",
                 "--eval-from", "360", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "rolling_zscore" in printed and "precision" in printed
    assert {p.name for p in out.iterdir()} == {"scores.csv", "anomalies.csv", "anomalies.png", "metrics.json"}
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns) == ["time", "value", "error", "score", "is_anomaly", "label"]
    assert scores["time"].iloc[0] == "2020-01-01T00:00:00"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"]["evaluated_rows"] == [360, 600] and metrics["model"]["found"] == 1
    assert list(pd.read_csv(out / "anomalies.csv").columns) == ["start", "end", "peak_score", "peak_time", "points"]
    # watch: same scores as detect's scores.csv, a malformed line reported and skipped
    lines = [f"{v!r}" for v in df["value"]]
    lines.insert(100, "1.0,2.0")
    lines.insert(200, "oops")
    lines.insert(300, "")
    lines.insert(301, "nan")
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["anomaly", "watch", "--model", str(model)]) == 0
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.splitlines()]
    assert len(records) == 600
    streamed = np.array([np.nan if r["score"] is None else r["score"] for r in records])
    np.testing.assert_allclose(streamed, scores["score"], rtol=1e-9, equal_nan=True)
    assert [r["is_anomaly"] for r in records] == scores["is_anomaly"].tolist()
    errors = captured.err.strip().splitlines()
    assert errors == ["lstmkit: line 101 skipped: expected 1 comma-separated value(s), got 2",
                      "lstmkit: line 201 skipped: not a number: oops",
                      "lstmkit: line 302 skipped: values must be finite numbers"]


def test_watch_on_an_empty_input_ends_cleanly(run_dir, capsys, monkeypatch):
    model, _ = run_dir
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["anomaly", "watch", "--model", str(model)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == ["lstmkit: no values were read (the input was empty); nothing was scored"]


def test_watch_help_explains_the_null_scores_of_the_warm_up(capsys):
    with pytest.raises(SystemExit):
        main(["anomaly", "watch", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert 'The first steps print "score": null: that is the warm-up (10 steps by default).' in text
    assert "needs a few steps to settle" in text


def test_a_resumed_train_run_equals_an_uninterrupted_one(tmp_path, caplog):
    df = sine_series()
    config = AnomalyConfig(columns=["value"], epochs=4, patience=5, train_fraction=0.6)
    whole = train_run(AnomalyDetector(config), df, tmp_path / "whole")

    killed = AnomalyDetector(config)
    killed.callbacks.append(CrashAfterEpoch(2))  # the run is killed after epoch 2
    with pytest.raises(Crash):
        train_run(killed, df, tmp_path / "killed")
    assert not (tmp_path / "killed" / "metrics.json").exists()
    with pytest.raises(ValueError, match="was not calibrated"):  # an interrupted run is no detector yet
        AnomalyDetector.load(tmp_path / "killed")
    with caplog.at_level("INFO", logger="lstmkit.train"):
        resumed = train_run(AnomalyDetector(AnomalyConfig(columns=["other"])), df, tmp_path / "killed", resume=True)
    assert "after epoch 2" in caplog.text  # it did continue, with the saved config (columns ["value"])
    assert resumed == whole  # the run directory's config, thresholds, split and epochs
    assert (tmp_path / "killed" / "metrics.json").read_bytes() == (tmp_path / "whole" / "metrics.json").read_bytes()
    weights = [load_file(tmp_path / d / "model.safetensors") for d in ("whole", "killed")]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    history = [pd.read_csv(tmp_path / d / "history.csv").drop(columns="seconds") for d in ("whole", "killed")]
    pd.testing.assert_frame_equal(*history)


def test_resume_with_nothing_to_resume_exits_2(tmp_path, capsys):
    csv = tmp_path / "series.csv"
    sine_series().to_csv(csv, index=False)
    out = tmp_path / "empty"
    out.mkdir()
    assert main(["anomaly", "train", str(csv), "--columns", "value", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"lstmkit: error: --resume: {out} holds no interrupted run (no trainer_state.pt); "
                           "start a new run without --resume")
    assert main(["anomaly", "train", str(csv), "--columns", "value", "--resume"]) == 2
    assert "--resume needs --out DIR" in capsys.readouterr().err
    assert list(out.iterdir()) == []


# ------------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("args, message", [
    (["--columns", "missing"], "column 'missing' not found; columns are: value, label"),
    (["--columns", "value", "--train-until", "5000"], "train_until 5000: the table has rows 0-599"),
    (["--columns", "value", "--train-until", "2020-01-01"], "the table has no time column; give a row number"),
    (["--columns", "value", "--train-fraction", "0.02"], "too few rows: the training part has 12 rows"),
    (["--columns", "value", "--train-fraction", "1.5"], "train_fraction must lie strictly between 0 and 1"),
    (["--columns", "value", "--method", "reconstruction", "--window", "300"], "too few rows"),
])
def test_bad_train_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    csv = tmp_path / "series.csv"
    sine_series().to_csv(csv, index=False)
    out = tmp_path / "out"
    assert main(["anomaly", "train", str(csv), "--out", str(out), "--epochs", "1", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lstmkit: error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_bad_values_and_files(tmp_path, capsys, run_dir):
    model, csv = run_dir
    bad = tmp_path / "bad.csv"
    frame = sine_series()
    frame["value"] = frame["value"].astype(object)
    frame.loc[7, "value"] = "n/a?"
    frame.to_csv(bad, index=False)
    assert main(["anomaly", "train", str(bad), "--columns", "value", "--out", str(tmp_path / "o1")]) == 2
    assert "line 9" in capsys.readouterr().err
    assert main(["anomaly", "train", str(tmp_path / "nope.csv"), "--columns", "value"]) == 2
    assert "nope.csv: no such file" in capsys.readouterr().err
    short = tmp_path / "short.csv"
    short.write_text("value\n1\n2\n")
    assert main(["anomaly", "train", str(short), "--columns", "value", "--out", str(tmp_path / "o5")]) == 2
    assert "too few rows: the training part has 1 rows" in capsys.readouterr().err
    assert main(["anomaly", "train", str(csv), "--columns", "value", "--transform", "logdiff",
                 "--out", str(tmp_path / "o6")]) == 2
    assert "transform 'logdiff' needs positive values, but column 'value' has" in capsys.readouterr().err
    assert not (tmp_path / "o5").exists() and not (tmp_path / "o6").exists()
    # detect: a missing model directory, a directory of another task, labels that are not 0/1
    assert main(["anomaly", "detect", "--model", str(tmp_path / "none"), str(csv), "--out", str(tmp_path / "o2")]) == 2
    assert "no such directory" in capsys.readouterr().err
    labels = tmp_path / "labels.csv"
    sine_series().assign(label=2).to_csv(labels, index=False)
    out = tmp_path / "o3"
    assert main(["anomaly", "detect", "--model", str(model), str(labels), "--labels", "label", "--out", str(out)]) == 2
    assert "labels column 'label' must hold 0 (normal) or 1 (anomalous), got 2 at row 0" in capsys.readouterr().err
    assert not out.exists()  # validated before anything is written
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("x")
    assert main(["anomaly", "detect", "--model", str(model), str(csv), "--out", str(taken)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    with pytest.raises(ValueError, match="method must be one of"):
        AnomalyConfig(columns=["value"], method="magic")
    with pytest.raises(ValueError, match="expected 1 value"):
        AnomalyDetector.load(model).stream().update([1.0, 2.0])
    (tmp_path / "forecast").mkdir()
    (tmp_path / "forecast" / "config.json").write_text('{"task": {"name": "forecast"}, "data": {}}')
    with pytest.raises(ValueError, match="does not hold an anomaly detector"):
        detect_run(tmp_path / "forecast", csv, tmp_path / "o4")


def test_train_run_refuses_a_non_empty_out(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "x").write_text("")
    with pytest.raises(FileExistsError, match="not empty"):
        train_run(AnomalyDetector(AnomalyConfig(columns=["value"])), sine_series(), out)


# ------------------------------------------------------------------------------------------- other cells
def test_cli_train_with_a_peephole_lstm_detects_and_watches_the_same_scores(tmp_path, capsys, monkeypatch):
    from lstmkit.nn import PeepholeLSTM, RecurrentStreamer

    df = sine_series()
    csv = tmp_path / "series.csv"
    df.to_csv(csv, index=False)
    model = tmp_path / "model"
    assert main(["anomaly", "train", str(csv), "--columns", "value", "--train-fraction", "0.6", "--epochs", "3",
                 "--cell", "peephole", "--out", str(model)]) == 0
    capsys.readouterr()
    saved = json.loads((model / "config.json").read_text())
    assert saved["task"]["cell"] == "peephole" and saved["model"]["cell"] == "peephole"
    loaded = AnomalyDetector.load(model)
    assert type(loaded.model.lstm) is PeepholeLSTM and isinstance(loaded.streamer(), RecurrentStreamer)
    # the Python API's run with that config: the same scores before and after reloading
    detector = AnomalyDetector(loaded.config).fit(df)
    pd.testing.assert_frame_equal(detector.score(df), loaded.score(df))
    batch = loaded.score(df)
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(f"{v!r}" for v in df["value"]) + "\n"))
    assert main(["anomaly", "watch", "--model", str(model)]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    streamed = np.array([np.nan if r["score"] is None else r["score"] for r in records])
    np.testing.assert_allclose(streamed, batch["score"], rtol=1e-12, atol=1e-12, equal_nan=True)
    assert [r["is_anomaly"] for r in records] == batch["is_anomaly"].tolist()


@pytest.mark.parametrize("method,cell,options", [("prediction", "gru", {"zoneout": 0.1}),
                                                 ("prediction", "rnn", {"recurrent_dropout": 0.2}),
                                                 ("reconstruction", "gru", {}),
                                                 ("reconstruction", "cifg", {"zoneout": 0.1})])
def test_a_detector_with_a_state_of_h_alone_or_another_lstm_streams_its_batch_scores(method, cell, options):
    df = sine_series(300, spike=None)
    detector = AnomalyDetector(AnomalyConfig(columns=["value"], method=method, window=8, epochs=1,
                                             train_fraction=0.6, cell=cell, **options)).fit(df)
    layer = detector.model.lstm if method == "prediction" else detector.model.encoder
    assert layer.get_config()["recurrent_dropout"] == options.get("recurrent_dropout", 0.0)
    assert detector.model.get_config()["cell"] == cell
    batch = detector.score(df)
    stream = detector.stream()
    done = [r for r in (stream.update([v]) for v in df["value"]) if r["step"] is not None]
    steps = [r["step"] for r in done]
    streamed = np.array([np.nan if r["score"] is None else r["score"] for r in done])
    np.testing.assert_allclose(streamed, batch["score"].to_numpy()[steps], rtol=1e-10, atol=1e-12, equal_nan=True)
