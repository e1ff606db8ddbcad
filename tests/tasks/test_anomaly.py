"""Anomaly detection: thresholding, event scoring, train -> detect, detect == watch, save/load, bad input."""
import io
import json
import sys

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli import main
from lstmkit.tasks import anomaly_eval as ae
from lstmkit.tasks.anomaly import AnomalyConfig, AnomalyDetector, detect_run, train_run, watch

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


# ------------------------------------------------------------------------------- thresholding
def test_dynamic_threshold_isolates_the_anomaly_and_pruning_drops_the_weak_one():
    rng = np.random.default_rng(0)
    e_s = 1.0 + 0.05 * np.abs(rng.normal(size=1000))
    normal_max = e_s.max()
    e_s[300:306] = 2.0  # the injected anomaly
    e_s[700:704] = normal_max * 1.05  # a weak bump: 5% above the normal errors' tail
    epsilon, z = ae.dynamic_threshold(e_s)
    assert normal_max * 1.05 < epsilon < 2.0 and 2.5 <= z <= 12
    assert ae.runs(e_s > epsilon) == [(300, 306)]
    # A lower threshold also catches the weak bump: pruning (p = 0.13) drops it, keeps the anomaly.
    spans = ae.runs(e_s > normal_max * 1.01)
    assert spans == [(300, 306), (700, 704)]
    assert ae.prune_runs(e_s, spans, 0.13) == [True, False]
    # Two strong peaks 3% apart are both kept: the big drop below the lower one keeps everything above.
    two = e_s.copy()
    two[500:503] = 1.94
    spans = ae.runs(two > 1.5)
    assert ae.prune_runs(two, spans, 0.13) == [True, True]
    # The score the threshold maximises, by hand, at the chosen z
    above = e_s > epsilon
    mu, sd = e_s.mean(), e_s.std()
    score = ((mu - e_s[~above].mean()) / mu + (sd - e_s[~above].std()) / sd) / (above.sum() + 1)
    assert score > 0


def test_calibration_and_the_online_hysteresis():
    rng = np.random.default_rng(1)
    e_s = 1.0 + 0.05 * np.abs(rng.normal(size=500))
    cal = ae.calibrate(e_s, span=1.0, min_decrease=0.13)
    assert cal.reference == pytest.approx(e_s.max())  # the calibration part counts as normal
    assert cal.trigger == pytest.approx(max(cal.epsilon, e_s.max() / 0.87))
    level = cal.trigger
    errors = np.array([np.nan, 1.0, cal.epsilon * 1.01, level * 1.1, cal.epsilon * 1.01, 1.0, cal.epsilon * 1.01])
    scores, flags = ae.OnlineThreshold(cal).apply(errors)
    # above epsilon alone is not enough; once the run reaches the trigger it is flagged until it drops
    assert flags.tolist() == [False, False, False, True, True, False, False]
    assert np.isnan(scores[0]) and scores[1] == 1.0
    smoothed = ae.ewma([1.0, np.nan, 4.0], span=3)  # alpha = 0.5; NaN skipped
    assert smoothed[0] == 1.0 and np.isnan(smoothed[1]) and smoothed[2] == 2.5


# ---------------------------------------------------------------------------------- event metrics
def test_event_metrics_on_hand_made_labels():
    labels = np.zeros(40, dtype=int)
    labels[5:10] = 1  # event A
    labels[20:22] = 1  # event B
    labels[30] = 1  # event C
    flags = np.zeros(40, dtype=bool)
    flags[8:12] = True  # inside A, running past it: A found, not a false positive
    flags[15:17] = True  # outside every event: one false positive
    flags[25] = True  # a second false positive
    m = ae.event_metrics(labels, flags)
    assert (m["events"], m["found"], m["false_positives"], m["flagged_intervals"]) == (3, 1, 2, 3)
    assert m["precision"] == pytest.approx(1 / 3) and m["recall"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(1 / 3)
    perfect = ae.event_metrics(labels, labels.astype(bool))
    assert perfect["precision"] == perfect["recall"] == perfect["f1"] == 1.0
    silent = ae.event_metrics(labels, np.zeros(40, dtype=bool))
    assert (silent["precision"], silent["recall"], silent["f1"]) == (0.0, 0.0, 0.0)
    assert ae.event_metrics(np.zeros(5), np.zeros(5))["f1"] is None  # nothing to find, nothing flagged
    with pytest.raises(ValueError, match="differ in length"):
        ae.event_metrics(labels, flags[:-1])


def test_a_random_flagger_does_not_look_good():
    rng = np.random.default_rng(0)
    labels = np.zeros(2000, dtype=int)
    for start in (300, 900, 1500):
        labels[start:start + 100] = 1  # three long events
    flags = rng.random(2000) < 0.05
    event = ae.event_metrics(labels, flags)
    assert event["recall"] == 1.0 and event["f1"] < 0.2  # every event "found", but ~80 false alarms
    # Point-adjusted F1 (not in lstmkit, for contrast): one lucky point credits the whole event.
    adjusted = flags.copy()
    for a, b in ae.runs(labels):
        if flags[a:b].any():
            adjusted[a:b] = True
    tp = (adjusted & (labels == 1)).sum()
    precision, recall = tp / adjusted.sum(), tp / labels.sum()
    assert 2 * precision * recall / (precision + recall) > 0.75


def test_injected_anomalies_stay_in_their_rows():
    base = np.sin(np.arange(1000) / 10)
    values, labels = ae.inject_anomalies(base, 500, 1000, per_kind=2, length=20, seed=3)
    assert labels[:500].sum() == 0 and np.array_equal(values[:500], base[:500])
    events = ae.runs(labels)
    assert len(events) == 8 and sorted(b - a for a, b in events) == [1, 1] + [20] * 6
    assert not np.array_equal(values, base)
    again, _ = ae.inject_anomalies(base, 500, 1000, per_kind=2, length=20, seed=3)
    assert np.array_equal(values, again)  # fixed seed, same anomalies


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
    split = detector.state["split"]
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
    assert "row 7" in capsys.readouterr().err
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
        train_run(AnomalyConfig(columns=["value"]), sine_series(), out)
