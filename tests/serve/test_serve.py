"""``lstmkit serve`` through Starlette's TestClient (no sockets): each route against the Python API's own
numbers, streams kept apart, a bad-input sweep that must end in 4xx with one line each, several models."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("starlette", reason="pip install 'lstmkit[serve]'")
pytest.importorskip("httpx", reason="pip install 'lstmkit[serve]'")

from starlette.testclient import TestClient  # noqa: E402

from lstmkit.cli import build_parser  # noqa: E402
from lstmkit.errors import UserError  # noqa: E402
from lstmkit.files import write_json  # noqa: E402
from lstmkit.serve.app import build_app  # noqa: E402
from lstmkit.serve.tasks import jsonable, records  # noqa: E402
from lstmkit.tasks.action import ActionConfig, ActionRecognizer  # noqa: E402
from lstmkit.tasks.anomaly import AnomalyConfig, AnomalyDetector  # noqa: E402
from lstmkit.tasks.forecast import ForecastConfig, Forecaster  # noqa: E402
from lstmkit.tasks.text import ClassifyConfig, TextClassifier  # noqa: E402


# ------------------------------------------------------------------------------- tiny models
def monthly(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(n)
    sales = (100 + 0.8 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.02, n))
    return pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"),
                         "sales": sales})


def sine(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame({"value": np.sin(2 * np.pi * t / 25) + 0.1 * rng.normal(size=n)})


def reviews(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    filler = "the film was and it a plot story".split()
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = list(rng.choice(filler, 4)) + ["good" if label == "pos" else "bad"]
        rows.append((" ".join(words), label))
    return pd.DataFrame(rows, columns=["review", "sentiment"])


def motions(n: int = 24) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for s in range(n):
        label = ("rise", "fall")[s % 2]
        t = np.linspace(0, 1, 8)
        ax = (t if label == "rise" else 1 - t) + 0.1 * rng.standard_normal(8)
        rows += [{"sequence": f"s{s:02d}", "label": label, "step": k, "ax": ax[k], "ay": rng.standard_normal()}
                 for k in range(8)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    """Run directories of four tiny models (a few epochs: the tests compare numbers, not quality)."""
    root = tmp_path_factory.mktemp("serve")
    fc = Forecaster(ForecastConfig(targets=["sales"], time_column="month", epochs=2, ensemble=1)).fit(monthly())
    fc.save(root / "sales")
    det = AnomalyDetector(AnomalyConfig(columns=["value"], epochs=2, train_fraction=0.6)).fit(sine())
    det.save(root / "sensor")
    write_json(root / "sensor" / "metrics.json", det.evaluate())
    clf = TextClassifier(ClassifyConfig(text_column="review", label_column="sentiment", min_freq=1, embedding_dim=8,
                                        hidden_size=8, epochs=2, dropout=0.0)).fit(reviews())
    clf.save(root / "reviews")
    act = ActionRecognizer(ActionConfig(epochs=2, hidden_size=8, batch_size=8)).fit(motions())
    act.save(root / "motion")
    return root


@pytest.fixture(scope="module")
def client(dirs):
    names = ["sales", "sensor", "reviews", "motion"]
    with TestClient(build_app([dirs / n for n in names], max_body_bytes=20_000)) as c:
        yield c


def predict(client, name, body):
    return client.post(f"/models/{name}/predict", json=body)


# ------------------------------------------------------------------------------- happy paths
def test_health_lists_every_model(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert [(m["name"], m["task"], m["streams"]) for m in r.json()["models"]] == [
        ("sales", "forecast", False), ("sensor", "anomaly", True), ("reviews", "text_classify", False),
        ("motion", "action", False)]


def test_model_route_gives_config_and_metrics(client, dirs):
    info = client.get("/models/sensor").json()
    assert info["config"] == jsonable(json.loads((dirs / "sensor" / "config.json").read_text()))
    assert info["metrics"] == jsonable(json.loads((dirs / "sensor" / "metrics.json").read_text()))
    assert client.get("/models/sales").json()["metrics"] is None  # no metrics.json there


def test_forecast_equals_forecaster_predict(client, dirs):
    df = monthly()
    r = predict(client, "sales", {"data": df.to_dict(orient="records")})
    assert r.status_code == 200, r.text
    expected = Forecaster.load(dirs / "sales").predict(df)
    assert r.json()["forecast"] == records(expected)  # exactly: floats survive JSON unchanged
    assert r.json()["forecast"][0]["time"] == "2006-09-01T00:00:00"


def test_anomaly_detect_equals_detector(client, dirs):
    df = sine(120, seed=3)
    r = predict(client, "sensor", {"data": df.to_dict(orient="records")})
    assert r.status_code == 200, r.text
    result = AnomalyDetector.load(dirs / "sensor").detect(df)
    assert r.json()["scores"] == records(result["scores"])
    assert r.json()["anomalies"] == records(result["anomalies"])


def test_classify_equals_text_classifier(client, dirs):
    texts = ["the film was good", "a bad plot", "it was"]
    expected = records(TextClassifier.load(dirs / "reviews").predict(texts))
    assert predict(client, "reviews", {"texts": texts}).json()["predictions"] == expected
    assert predict(client, "reviews", {"text": texts[0]}).json()["predictions"] == expected[:1]


def test_action_equals_recognizer(client, dirs):
    table = motions(6).drop(columns=["label"])
    r = predict(client, "motion", {"data": table.to_dict(orient="records")})
    assert r.status_code == 200, r.text
    assert r.json()["predictions"] == records(ActionRecognizer.load(dirs / "motion").predict(table))


def test_interleaved_streams_equal_separate_anomaly_streams(client, dirs):
    a, b = sine(60, seed=1)["value"].tolist(), sine(60, seed=2)["value"].tolist()
    got = {"a": [], "b": []}
    for i in range(0, 60, 10):  # a: one step per request; b: ten steps per request, interleaved
        for v in a[i:i + 10]:
            got["a"] += client.post("/models/sensor/stream/a", json={"values": [v]}).json()["scores"]
        got["b"] += client.post("/models/sensor/stream/b", json={"rows": [[v] for v in b[i:i + 10]]}).json()["scores"]
    detector = AnomalyDetector.load(dirs / "sensor")
    for name, series in (("a", a), ("b", b)):
        alone = detector.stream()
        assert got[name] == [alone.update([v]) for v in series]
    assert client.get("/models/sensor/stream/a").json()["steps"] == 60
    assert client.delete("/models/sensor/stream/a").status_code == 200
    assert client.get("/models/sensor/stream/a").status_code == 404
    restarted = client.post("/models/sensor/stream/a", json={"values": [a[0]]}).json()["scores"]
    assert restarted == [detector.stream().update([a[0]])]  # state zero again
    client.delete("/models/sensor/stream/a"), client.delete("/models/sensor/stream/b")


def test_short_routes_with_one_model(dirs):
    with TestClient(build_app([dirs / "sensor"])) as c:
        assert c.get("/model").json()["name"] == "sensor"
        assert c.post("/predict", json={"data": [{"value": 0.5}] * 40}).status_code == 200
        assert c.post("/stream/x", json={"values": [0.5]}).json()["scores"][0]["step"] == 0
    with TestClient(build_app([dirs / "sensor", dirs / "sales"])) as c:
        assert c.get("/model").status_code == 404  # which one? not guessed


def test_start_up_refusals(dirs, tmp_path):
    with pytest.raises(UserError, match="two models are named 'sensor'"):
        build_app([dirs / "sensor", dirs / "sensor"])
    with pytest.raises(UserError, match="no such directory"):
        build_app([tmp_path / "missing"])
    with pytest.raises(UserError, match="not an lstmkit model directory"):
        build_app([tmp_path])


def test_cli_parser_takes_several_models():
    args = build_parser_with_serve().parse_args(["serve", "--model", "a", "--model", "b", "--port", "9000"])
    assert (args.model, args.host, args.port, args.max_body_bytes) == (["a", "b"], "127.0.0.1", 9000, 1_000_000)


def build_parser_with_serve():
    from lstmkit import cli

    if "lstmkit.serve.cli" in cli.COMMAND_MODULES:
        return build_parser()
    import argparse

    from lstmkit.serve.cli import add_parser

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    return parser


# ------------------------------------------------------------------------------- bad input
BAD = [  # (method, path, raw body or None, status, words the one-line error holds)
    ("POST", "/models/sales/predict", b"{not json", 400, "malformed JSON"),
    ("POST", "/models/sales/predict", b"", 400, "empty"),
    ("POST", "/models/sales/predict", b"[1, 2]", 400, "JSON object"),
    ("POST", "/models/sales/predict", b"\xff\xfe", 400, "not UTF-8"),
    ("POST", "/models/sales/predict", b'{"data": [{"month": "2000-01-01", "sales": NaN}]}', 400, "NaN"),
    ("POST", "/models/sales/predict", b'{"data": [{"month": "2000-01-01", "sales": Infinity}]}', 400, "Infinity"),
    ("POST", "/models/sales/predict", b'{"data": [{"month": "2000-01-01", "sales": 1e999}]}', 400, "out of range"),
    ("POST", "/models/sales/predict", b'{"rows": []}', 400, "unknown key"),
    ("POST", "/models/sales/predict", b'{"data": []}', 400, "empty"),
    ("POST", "/models/sales/predict", b'{"data": {"sales": 1}}', 400, "array of rows"),
    ("POST", "/models/sales/predict", b'{"data": [1, 2]}', 400, "row 0"),
    ("POST", "/models/sales/predict", b'{"data": [{"month": "2000-01-01", "sales": 1}, {"sales": 2}]}', 400,
     "same columns"),
    ("POST", "/models/sales/predict", b'{"data": [{"month": "2000-01-01", "price": 1}]}', 400, "'sales' not found"),
    ("POST", "/models/sales/predict", b'{"data": [{"month": "2000-01-01", "sales": 1}]}', 400, "at least"),
    ("POST", "/models/sales/predict", b'{"data": [{"month": "2000-01-01", "sales": null}]}', 400, "missing"),
    ("POST", "/models/sales/predict", b'{"data": [{"month": "2000-01-01", "sales": [1]}]}', 400, "not a value"),
    ("POST", "/models/sales/predict", b"[" * 5000 + b"]" * 5000, 400, "nested too deeply"),
    ("POST", "/models/sales/predict", b'{"data": "' + b"x" * 30_000 + b'"}', 413, "limit"),
    ("POST", "/models/reviews/predict", b'{"texts": []}', 400, "empty"),
    ("POST", "/models/reviews/predict", b'{"texts": [3]}', 400, "not a string"),
    ("POST", "/models/reviews/predict", b'{"texts": ["   "]}', 400, "empty text"),
    ("POST", "/models/reviews/predict", b'{"text": "a", "texts": ["b"]}', 400, "either"),
    ("POST", "/models/reviews/predict", b'{"text": "' + b"a" * 30_000 + b'"}', 413, "limit"),
    ("POST", "/models/nope/predict", b'{"texts": ["a"]}', 404, "no model 'nope'"),
    ("GET", "/models/nope", None, 404, "no model"),
    ("GET", "/models/sales/predict", None, 405, "not allowed"),
    ("GET", "/nowhere", None, 404, "no route"),
    ("POST", "/models/sales/stream/s1", b'{"values": [1]}', 400, "no streaming"),
    ("POST", "/models/sensor/stream/s1", b'{"values": [1, 2]}', 400, "expected 1 value(s) (value), got 2"),
    ("POST", "/models/sensor/stream/s1", b'{"values": ["1"]}', 400, "not a number"),
    ("POST", "/models/sensor/stream/s1", b'{"values": [true]}', 400, "not a number"),
    ("POST", "/models/sensor/stream/s1", b'{"values": [NaN]}', 400, "NaN"),
    ("POST", "/models/sensor/stream/s1", b'{"rows": [[1], [2], []]}', 400, "row 2"),
    ("POST", "/models/sensor/stream/s1", b'{"rows": []}', 400, "empty"),
    ("POST", "/models/sensor/stream/s1", b'{"value": [1]}', 400, "unknown key"),
    ("POST", "/models/sensor/stream/" + "x" * 200, b'{"values": [1]}', 400, "stream id"),
    ("GET", "/models/sensor/stream/never-seen", None, 404, "no stream"),
    ("DELETE", "/models/sensor/stream/never-seen", None, 404, "no stream"),
    ("POST", "/models/nope/stream/s1", b'{"values": [1]}', 404, "no model"),
    ("POST", "/models/sensor/stream/s1", b'{"values": [' + b"9" * 400 + b']}', 400, "out of range"),
    ("POST", "/models/sales/predict", b'{"data": [{"month": "2000-01-01", "sales": ' + b"9" * 400 + b'}]}', 400,
     "out of range"),
]


def test_bad_input_sweep_answers_4xx_and_leaves_streams_alone(client, dirs):
    detector = AnomalyDetector.load(dirs / "sensor")
    alone = detector.stream()
    values = sine(40, seed=5)["value"].tolist()
    half = len(values) // 2
    before = [client.post("/models/sensor/stream/kept", json={"values": [v]}).json()["scores"][0]
              for v in values[:half]]
    for method, path, raw, status, words in BAD:
        r = client.request(method, path, content=raw, headers={"content-type": "application/json"})
        assert r.status_code == status, (path, raw[:60] if raw else None, r.text)
        error = r.json()["error"]
        assert words in error and "\n" not in error, (path, error)
        assert client.get("/health").status_code == 200
    assert client.get("/models/sensor/stream/s1").status_code == 404  # no bad request opened a stream
    after = [client.post("/models/sensor/stream/kept", json={"values": [v]}).json()["scores"][0]
             for v in values[half:]]
    assert before + after == [alone.update([v]) for v in values]  # untouched by the sweep


def test_body_limit_is_checked_while_reading_a_body_without_length(client):
    def chunks():
        for _ in range(30):
            yield b" " * 1000  # 30 kB of a chunked body, over the 20 kB limit

    r = client.post("/models/reviews/predict", content=chunks())
    assert r.status_code == 413 and "limit" in r.json()["error"]


def test_a_bug_is_a_500_with_a_generic_line(client, monkeypatch):
    from lstmkit.serve import tasks

    def broken(app, body):
        raise RuntimeError("boom")

    monkeypatch.setitem(tasks.TASKS, "text_classify", tasks.Task(tasks.TASKS["text_classify"].load, broken))
    r = predict(client, "reviews", {"text": "good"})
    assert r.status_code == 500 and "boom" not in r.text and "bug" in r.json()["error"]
    assert client.get("/health").status_code == 200


# ------------------------------------------------------------------------------- text lm, translate
def test_language_model_and_translator_answer_as_their_python_api(tmp_path):
    pytest.importorskip("num2words", reason="pip install 'lstmkit[translate]'")
    pytest.importorskip("sacrebleu", reason="pip install 'lstmkit[translate]'")
    from lstmkit.tasks.text import LanguageModel, LMConfig
    from lstmkit.tasks.translate import TranslateConfig, Translator, number_pairs

    corpus = "\n".join(["to be or not to be that is the question", "whether tis nobler in the mind to suffer"] * 30)
    lm = LanguageModel(LMConfig(hidden_size=16, num_layers=1, bptt=10, batch_size=4, epochs=1, dropout=0.0,
                                min_freq=1)).fit(corpus)
    lm.save(tmp_path / "lm")
    pairs = number_pairs(120, high=999, source="en", seed=0)
    tr = Translator(TranslateConfig(tokenizer="word", min_freq=1, embedding_dim=8, hidden_size=16, epochs=1,
                                    batch_size=32, beam=2)).fit(pairs)
    tr.save(tmp_path / "numbers")
    with TestClient(build_app([tmp_path / "lm", tmp_path / "numbers"])) as c:
        lm = LanguageModel.load(tmp_path / "lm")
        r = c.post("/models/lm/predict", json={"prompt": "to be or", "length": 5, "seed": 3, "top": 3})
        assert r.status_code == 200, r.text
        assert r.json()["next"] == [{"token": t, "probability": p} for t, p in lm.next_words("to be or", 3)]
        assert r.json()["continuation"] == lm.generate("to be or", 5, seed=3)
        assert c.post("/models/lm/predict", json={"prompt": " "}).status_code == 400
        assert c.post("/models/lm/predict", json={"prompt": "to", "length": "5"}).status_code == 400
        for bad_request, words in [({"length": 10**6}, "'length' must be between 1 and 2000"),
                                   ({"length": 3, "seed": -1}, "'seed' must be 0 or more"),
                                   ({"length": 3, "temperature": 1e-320}, "'temperature' must be 0")]:
            r = c.post("/models/lm/predict", json={"prompt": "to be", **bad_request})
            assert r.status_code == 400 and words in r.json()["error"], r.text
        tr = Translator.load(tmp_path / "numbers")
        sentences = ["twenty-one", "three hundred and four"]
        r = c.post("/models/numbers/predict", json={"texts": sentences})
        assert r.status_code == 200, r.text
        assert r.json()["translations"] == tr.translate(sentences)
        bad = c.post("/models/numbers/predict", json={"texts": ["one"], "method": "telepathy"})
        assert bad.status_code == 400 and "method must be one of" in bad.json()["error"]
        assert c.post("/models/numbers/predict", json={"texts": [""]}).status_code == 400
        huge = c.post("/models/numbers/predict", json={"texts": ["one"], "beam": 10**6})
        assert huge.status_code == 400 and "'beam' must be between 1 and 32" in huge.json()["error"]


def test_streams_past_the_limit_get_429_and_deleting_one_makes_room(dirs):
    with TestClient(build_app([dirs / "sensor"], max_streams=2)) as c:
        for name in ("a", "b"):
            assert c.post(f"/models/sensor/stream/{name}", json={"values": [1.0]}).status_code == 200
        full = c.post("/models/sensor/stream/c", json={"values": [1.0]})
        assert full.status_code == 429 and "2 streams are open" in full.json()["error"]
        assert c.post("/models/sensor/stream/a", json={"values": [2.0]}).status_code == 200  # open ones go on
        assert c.delete("/models/sensor/stream/a").status_code == 200
        assert c.post("/models/sensor/stream/c", json={"values": [1.0]}).status_code == 200
        many = c.post("/models/sensor/stream/c", json={"rows": [[1.0]] * 10_001})
        assert many.status_code == 400 and "send at most 10000" in many.json()["error"]
        assert c.get("/models/sensor/stream/c").json()["steps"] == 1  # the refused rows took no step


def test_a_stream_being_made_never_blocks_the_other_streams(dirs):
    """While a new stream waits for its model (a long predict holds the model's lock), streams that
    exist go on: the streams table is never held across that wait."""
    import threading

    from lstmkit.serve.app import Streams, load_models

    model = load_models([dirs / "sensor"])["sensor"]
    streams = Streams(limit=10)
    streams.get(model, "open", create=True)
    model.lock.acquire()  # a predict on this model is running
    try:
        making = threading.Thread(target=streams.get, args=(model, "new",), kwargs={"create": True}, daemon=True)
        making.start()
        making.join(0.2)
        assert making.is_alive()  # the new stream waits for the model...
        found = []
        other = threading.Thread(target=lambda: found.append(streams.get(model, "open", create=False)), daemon=True)
        other.start()
        other.join(5)
        assert not other.is_alive() and found[0] is not None  # ...but the open one is not held up
    finally:
        model.lock.release()
    making.join(5)
    assert not making.is_alive() and streams.get(model, "new", create=False) is not None


def test_streams_unused_for_the_idle_time_are_forgotten_when_a_new_one_is_made(dirs):
    from lstmkit.serve.app import Streams, load_models

    model = load_models([dirs / "sensor"])["sensor"]
    now = [0.0]
    streams = Streams(limit=2, idle_seconds=10, clock=lambda: now[0])
    streams.get(model, "quiet", create=True)
    streams.get(model, "busy", create=True)
    now[0] = 8.0
    streams.get(model, "busy", create=False)  # asked for: its clock restarts
    now[0] = 12.0
    streams.get(model, "new", create=True)  # the table was full; "quiet" has been idle 12 s > 10 s
    assert streams.get(model, "quiet", create=False) is None
    assert streams.get(model, "busy", create=False) is not None and len(streams) == 2
    with pytest.raises(Exception, match="2 streams are open"):
        streams.get(model, "another", create=True)  # "busy" (4 s) and "new" (0 s) are not idle yet


# ------------------------------------------------------------------------------- other cells
def test_streams_and_predictions_of_models_with_a_state_of_h_alone(tmp_path):
    from lstmkit.nn import GRU
    from lstmkit.tasks.text import LanguageModel, LMConfig

    AnomalyDetector(AnomalyConfig(columns=["value"], epochs=1, train_fraction=0.6, cell="gru")).fit(sine()).save(
        tmp_path / "gru-sensor")
    corpus = "\n".join(["to be or not to be that is the question", "whether tis nobler in the mind to suffer"] * 30)
    LanguageModel(LMConfig(hidden_size=16, num_layers=1, bptt=10, batch_size=4, epochs=1, dropout=0.0, min_freq=1,
                           cell="rnn")).fit(corpus).save(tmp_path / "rnn-lm")
    with TestClient(build_app([tmp_path / "gru-sensor", tmp_path / "rnn-lm"])) as c:
        assert c.get("/models/gru-sensor").json()["config"]["task"]["cell"] == "gru"
        values = sine(40, seed=4)["value"].tolist()
        got = []
        for v in values[:20]:
            got += c.post("/models/gru-sensor/stream/a", json={"values": [v]}).json()["scores"]
        got += c.post("/models/gru-sensor/stream/a", json={"rows": [[v] for v in values[20:]]}).json()["scores"]
        detector = AnomalyDetector.load(tmp_path / "gru-sensor")
        assert type(detector.model.lstm) is GRU
        alone = detector.stream()
        assert got == [alone.update([v]) for v in values]
        lm = LanguageModel.load(tmp_path / "rnn-lm")
        r = c.post("/models/rnn-lm/predict", json={"prompt": "to be or", "length": 5, "seed": 3, "top": 3})
        assert r.status_code == 200, r.text
        assert r.json()["next"] == [{"token": t, "probability": p} for t, p in lm.next_words("to be or", 3)]
        assert r.json()["continuation"] == lm.generate("to be or", 5, seed=3)


# ------------------------------------------------------------------------------- --quantize int8
def test_quantized_forecaster_and_anomaly_predict_stay_close_and_streams_stay_exact(dirs):
    """--quantize int8: /predict of a forecaster and of an anomaly model run their int8 graphs (values within
    a few hundredths of the float model's, the same flags here); /stream keeps the float64 NumPy streamer,
    so its scores are exactly the float detector's."""
    pytest.importorskip("onnxruntime", reason="pip install 'lstmkit[onnx]'")
    from lstmkit.export.runtime import OnnxModule

    app = build_app([dirs / "sales", dirs / "sensor", dirs / "reviews"], quantize="int8")
    assert isinstance(app.state.models["sales"].app.model, OnnxModule)
    detector_int8 = app.state.models["sensor"].app
    assert isinstance(detector_int8.batch_model, OnnxModule) and not isinstance(detector_int8.model, OnnxModule)
    with TestClient(app) as c:
        df = monthly()
        r = predict(c, "sales", {"data": df.to_dict(orient="records")})
        assert r.status_code == 200, r.text
        got = pd.DataFrame(r.json()["forecast"])
        expected = Forecaster.load(dirs / "sales").predict(df)
        assert list(got["time"]) == [row["time"] for row in records(expected)] and got.shape == expected.shape
        # sales ~ 160: int8 moves the forecast by a few hundredths of a percent
        np.testing.assert_allclose(got["forecast"], expected["forecast"], rtol=2e-3)

        series = sine(120, seed=3)
        series.loc[100, "value"] += 4  # one clear anomaly, so that flags are compared too
        r = predict(c, "sensor", {"data": series.to_dict(orient="records")})
        assert r.status_code == 200, r.text
        scores = pd.DataFrame(r.json()["scores"])
        expected = AnomalyDetector.load(dirs / "sensor").detect(series)["scores"]
        np.testing.assert_allclose(scores["error"].astype(float), expected["error"], atol=0.05, equal_nan=True)
        assert list(scores["is_anomaly"]) == list(expected["is_anomaly"]) and expected["is_anomaly"].any()

        values = sine(30, seed=5)["value"].tolist()
        streamed = c.post("/models/sensor/stream/q", json={"rows": [[v] for v in values]}).json()["scores"]
        alone = AnomalyDetector.load(dirs / "sensor").stream()
        assert streamed == [alone.update([v]) for v in values]
