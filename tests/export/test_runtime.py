"""``--quantize int8``: a run's model as an int8 ONNX graph behind the PyTorch module's interface.

The int8 module must stay close to PyTorch (logits within 0.1, the same labels on a batch of mixed
lengths), the commands that take ``--quantize int8`` must run through it and write what they write
without it, the service must answer with it, and models it cannot stand in for are refused.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("onnxruntime", reason="pip install 'lstmkit[onnx]'")

from lstmkit.errors import UsageError  # noqa: E402
from lstmkit.export.runtime import OnnxModule, quantized_model  # noqa: E402
from tiny_runs import motion_table  # noqa: E402

TOL = 0.1  # int8 weights: measured differences are a few hundredths


# ------------------------------------------------------------------------------- tiny models
@pytest.fixture(scope="module")
def action_int8(action_dir):
    return quantized_model(action_dir)


@pytest.fixture(scope="module")
def text_int8(text_dir):
    return quantized_model(text_dir)


def compare(directory, int8: OnnxModule, x: torch.Tensor, lengths: torch.Tensor) -> None:
    """The int8 module's logits within TOL of PyTorch's, and the same label for every row."""
    from lstmkit.train import load_model

    model = load_model(directory).eval()
    with torch.no_grad():
        expected = model((x, lengths))
        got = int8.eval()((x, lengths))
    assert got.dtype == torch.float32 and got.shape == expected.shape
    assert float((got - expected).abs().max()) <= TOL
    assert torch.equal(got.argmax(-1), expected.argmax(-1))


# ------------------------------------------------------------------------------- the module
def test_action_int8_logits_stay_close_to_pytorch_on_mixed_lengths(action_dir, action_int8):
    torch.manual_seed(0)
    lengths = torch.tensor([17, 4, 11, 1, 9])
    x = torch.randn(5, 17, 2)
    x[torch.arange(17) >= lengths.unsqueeze(1)] = 0  # padded as pad_sequences pads
    compare(action_dir, action_int8, x, lengths)
    assert next(action_int8.parameters()).device == torch.device("cpu")  # the applications' device probe


def test_text_int8_logits_stay_close_to_pytorch_on_mixed_lengths(text_dir, text_int8):
    from lstmkit.train import load_model

    vocab = load_model(text_dir).vocab_size
    torch.manual_seed(0)
    lengths = torch.tensor([12, 3, 7, 1])
    ids = torch.randint(1, vocab, (4, 12))
    ids[torch.arange(12) >= lengths.unsqueeze(1)] = 0
    compare(text_dir, text_int8, ids, lengths)


def test_the_applications_run_through_the_int8_module(action_dir, action_int8, text_dir, text_int8):
    from lstmkit.tasks.action import ActionRecognizer
    from lstmkit.tasks.text import TextClassifier

    app = ActionRecognizer.load(action_dir)
    table = motion_table(6, seed=3).drop(columns="label")
    expected = app.predict(table)
    app.model = action_int8
    got = app.predict(table)
    assert list(got["label"]) == list(expected["label"])
    assert np.abs(got["probability"].to_numpy() - expected["probability"].to_numpy()).max() < TOL
    sequence = app.read_unlabelled(table).x[0]
    over_time = app.probabilities_over_time(sequence)  # a padded batch of every prefix
    assert over_time.shape == (len(sequence), len(app.classes)) and np.allclose(over_time.sum(1), 1)

    clf = TextClassifier.load(text_dir)
    texts = ["good film", "the plot was bad and the actors quite so", "good"]
    expected = clf.predict_proba(texts)
    clf.model = text_int8
    assert np.abs(clf.predict_proba(texts) - expected).max() < TOL


def test_other_model_types_are_refused(tmp_path):
    from lstmkit.tasks.text import LanguageModel, LMConfig

    directory = tmp_path / "lm"
    LanguageModel(LMConfig(hidden_size=8, num_layers=1, bptt=5, batch_size=2, epochs=1, min_freq=1)).fit(
        "to be or not to be\n" * 10).save(directory)
    with pytest.raises(UsageError, match="text_classifier"):
        quantized_model(directory)


# ------------------------------------------------------------------------------- the commands
def test_action_predict_and_evaluate_with_quantize_int8(action_dir, tmp_path, capsys):
    from lstmkit.cli import main

    data = tmp_path / "motions.csv"
    motion_table(6, seed=4).drop(columns="label").to_csv(data, index=False)
    out = tmp_path / "predictions.csv"
    assert main(["action", "predict", "--model", str(action_dir), str(data), "--out", str(out),
                 "--plot", str(tmp_path / "plots"), "--quantize", "int8"]) == 0
    frame = pd.read_csv(out)
    assert len(frame) == 6 and set(frame["label"]) <= {"fall", "peak", "rise"}
    assert len(list((tmp_path / "plots").glob("*.png"))) == 6
    labelled = tmp_path / "labelled.csv"
    motion_table().to_csv(labelled, index=False)
    assert main(["action", "evaluate", "--model", str(action_dir), str(labelled), "--quantize", "int8"]) == 0
    assert "confusion matrix" in capsys.readouterr().out


def test_text_classify_predict_with_quantize_int8(text_dir, tmp_path):
    from lstmkit.cli import main

    texts = tmp_path / "texts.txt"
    texts.write_text("good film\nthe plot was bad\n\nreally good actors\n")
    out = tmp_path / "predictions.csv"
    assert main(["text", "classify", "predict", "--model", str(text_dir), "--input", str(texts), "--out", str(out),
                 "--quantize", "int8"]) == 0
    frame = pd.read_csv(out)
    assert list(frame["text"]) == ["good film", "the plot was bad", "really good actors"]
    assert set(frame["label"]) <= {"neg", "pos"} and np.allclose(frame[["prob_neg", "prob_pos"]].sum(axis=1), 1)


def test_quantize_on_an_unsupported_model_is_one_line_and_exit_2(tmp_path, capsys):
    from lstmkit.cli import main
    from lstmkit.tasks.text import LanguageModel, LMConfig

    directory = tmp_path / "lm"
    LanguageModel(LMConfig(hidden_size=8, num_layers=1, bptt=5, batch_size=2, epochs=1, min_freq=1)).fit(
        "to be or not to be\n" * 10).save(directory)
    pytest.importorskip("starlette")
    pytest.importorskip("uvicorn")
    assert main(["serve", "--model", str(directory), "--quantize", "int8"]) == 2  # refused before listening
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--quantize int8" in err and "text_lm" in err


# ------------------------------------------------------------------------------- the service
def test_serve_with_quantize_answers_predict(action_dir, text_dir):
    pytest.importorskip("starlette", reason="pip install 'lstmkit[serve]'")
    pytest.importorskip("httpx", reason="pip install 'lstmkit[serve]'")
    from starlette.testclient import TestClient

    from lstmkit.serve.app import build_app

    app = build_app([action_dir, text_dir], quantize="int8")
    assert all(isinstance(m.app.model, OnnxModule) for m in app.state.models.values())
    rows = motion_table(3, seed=5).drop(columns="label").to_dict(orient="records")
    with TestClient(app) as client:
        answer = client.post(f"/models/{action_dir.name}/predict", json={"data": rows})
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["predictions"]) == 3
        answer = client.post(f"/models/{text_dir.name}/predict", json={"texts": ["good film", "bad plot"]})
        assert answer.status_code == 200, answer.text
        assert [p["text"] for p in answer.json()["predictions"]] == ["good film", "bad plot"]


# ------------------------------------------------------------------------------- other cells
def test_int8_runs_a_gru_and_refuses_a_fused_cell_in_one_line(tmp_path, capsys):
    from lstmkit.cli import main
    from tiny_runs import train_action, train_text

    gru = train_action(tmp_path / "gru", cell="gru", conv_channels=0)
    torch.manual_seed(0)
    lengths = torch.tensor([17, 4, 11])
    x = torch.randn(3, 17, 2)
    x[torch.arange(17) >= lengths.unsqueeze(1)] = 0
    compare(gru, quantized_model(gru), x, lengths)
    peephole = train_text(tmp_path / "peephole", cell="peephole")
    with pytest.raises(UsageError, match=r"--quantize int8 runs the model as an ONNX graph: cannot export a model "
                                         r"with the peephole cell to ONNX"):
        quantized_model(peephole)
    assert main(["text", "classify", "predict", "--model", str(peephole), "good film", "--quantize", "int8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "peephole cell" in err and "lstm, gru or rnn cell" in err, err
    pytest.importorskip("starlette", reason="pip install 'lstmkit[serve]'")
    from lstmkit.serve.app import build_app

    with pytest.raises(UsageError, match="peephole cell"):  # the service refuses it before it starts
        build_app([gru, peephole], quantize="int8")


# ------------------------------------------------------------------------------- forecasters and anomalies
def test_forecast_predict_with_quantize_int8_stays_within_the_recorded_deviation(forecast_run, tmp_path):
    """The int8 forecaster through `lstmkit forecast predict --quantize int8`: every value within the recorded
    deviation of the graph's (relative, scaled) output, carried back to the original scale; the test-part MASE
    barely moves."""
    from lstmkit.cli import main
    from lstmkit.tasks.forecast import Forecaster

    directory, table = forecast_run
    data = tmp_path / "sales.csv"
    table.to_csv(data, index=False)
    floating, int8 = tmp_path / "float.csv", tmp_path / "int8.csv"
    assert main(["forecast", "predict", str(data), "--model", str(directory), "--out", str(floating)]) == 0
    assert main(["forecast", "predict", str(data), "--model", str(directory), "--out", str(int8),
                 "--quantize", "int8"]) == 0
    a, b = pd.read_csv(floating), pd.read_csv(int8)
    assert list(a.columns) == list(b.columns) and list(a["time"]) == list(b["time"])
    forecaster = Forecaster.load(directory)
    module = quantized_model(directory)
    assert isinstance(module, OnnxModule) and 0 < module.deviation < 0.05
    # the graph's output is relative: value = exp(level + rel * scale) on the log scale, so a deviation d of rel
    # moves a value by a factor of at most exp(d * scale)
    bound = float(np.exp(module.deviation * max(forecaster.state.target_scale))) - 1
    for column in ("forecast", "q0.1", "q0.9"):
        assert np.all(np.abs(b[column] / a[column] - 1) <= bound + 1e-5), column  # + the CSV's 6 digits
    expected = forecaster.evaluate(table)["model"]["mase"]
    forecaster.model = module
    assert abs(forecaster.evaluate(table)["model"]["mase"] - expected) < 0.01  # measured: 0.587 -> 0.587


@pytest.mark.parametrize("method", ["prediction", "reconstruction"])
def test_anomaly_detect_with_quantize_int8_stays_close_and_flags_the_same(anomaly_runs, method, tmp_path):
    from lstmkit.cli import main
    from tiny_runs import sine_table

    directory = anomaly_runs[method]
    series = sine_table(400, seed=1)
    series.loc[350, "value"] += 3  # one clear anomaly
    data = tmp_path / "series.csv"
    series.to_csv(data, index=False)
    for name, extra in (("float", []), ("int8", ["--quantize", "int8"])):
        assert main(["anomaly", "detect", str(data), "--model", str(directory), "--out", str(tmp_path / name),
                     *extra]) == 0
    a, b = (pd.read_csv(tmp_path / name / "scores.csv") for name in ("float", "int8"))
    assert list(a["error"].isna()) == list(b["error"].isna())  # the same warm-up and unscored tail
    # An error is a mean of |x - output| in standardised units (up to ~4.5 here), so it moves by no more than the
    # outputs: within the deviation recorded on the export's check batch (measured: below 1e-3, recorded 0.002-0.04).
    recorded = quantized_model(directory).deviation
    assert np.nanmax(np.abs(a["error"] - b["error"])) <= recorded
    assert list(a["is_anomaly"]) == list(b["is_anomaly"])  # measured: no flag changed
    if method == "prediction":  # it flags the jump (10 points), so there are flags to compare
        assert a["is_anomaly"].iloc[350:360].any()


def test_anomaly_int8_scores_batches_and_keeps_the_float64_streams(anomaly_runs):
    from lstmkit.export.runtime import use_int8
    from lstmkit.tasks.anomaly import AnomalyDetector
    from tiny_runs import sine_table

    directory = anomaly_runs["prediction"]
    detector = AnomalyDetector.load(directory)
    values = sine_table(50, seed=2)["value"].tolist()
    stream = detector.stream()
    expected = [stream.update([v]) for v in values]
    module = use_int8(detector, directory)
    assert detector.batch_model is module and isinstance(module, OnnxModule)
    prediction, (hn, cn) = module(torch.zeros(2, 5, 1, dtype=torch.float64))  # the next-step model's interface
    assert prediction.shape == (2, 5, 1) and hn.shape == cn.shape == (1, 2, 8)
    stream = detector.stream()
    assert [stream.update([v]) for v in values] == expected
