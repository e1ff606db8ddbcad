"""ONNX export: graphs that keep batch and time dynamic across several exports in one process, carry
the recurrent state, and match PyTorch; run directories with their preprocessing; clear user errors."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime", reason="pip install 'lstmkit[onnx]'")

from lstmkit.errors import InputFileError, UsageError, UserError  # noqa: E402
from lstmkit.export import export_lstm_onnx, export_run_onnx  # noqa: E402
from lstmkit.nn import GRU, LSTM, RNN  # noqa: E402
from tiny_runs import sine_table  # noqa: E402

TOL = 1e-5


def session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the "initializer in graph inputs" notice is by design (optional state)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess, **feeds):
    return sess.run(None, {name: value.numpy() for name, value in feeds.items()})


def close(a, b) -> bool:
    return a.shape == tuple(b.shape) and float(np.abs(a - b.numpy()).max()) <= TOL


# ------------------------------------------------------------------------------ two LSTMs, one process
@pytest.fixture(scope="module")
def two_lstms(tmp_path_factory):
    """Two different LSTMs exported one after the other in this process (the dynamo exporter's trap)."""
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("lstms")
    small = LSTM(3, 8, num_layers=2, batch_first=True).eval()  # unidirectional: chunks carry exactly
    stacked = LSTM(5, 6, num_layers=2, bidirectional=True, dropout=0.3).eval()  # time first, dropout off in eval
    return [(lstm, session(export_lstm_onnx(lstm, out / f"lstm{k}.onnx"))) for k, lstm in enumerate([small, stacked])]


def torch_run(lstm, x, state=None):
    """The PyTorch module on batch-first x, results batch first like the graph's."""
    with torch.no_grad():
        out, (h, c) = lstm(x if lstm.batch_first else x.transpose(0, 1), state)
    return (out if lstm.batch_first else out.transpose(0, 1)), h, c


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("length", [5, 17])
def test_both_exports_match_pytorch_at_every_batch_size_and_length(two_lstms, batch, length):
    for lstm, sess in two_lstms:
        LD = lstm.num_layers * lstm.num_directions
        x = torch.randn(batch, length, lstm.input_size)
        h0, c0 = torch.randn(LD, batch, lstm.hidden_size), torch.randn(LD, batch, lstm.hidden_size)
        output, hn, cn = run(sess, input=x, h0=h0, c0=c0)
        expected = torch_run(lstm, x, (h0, c0))
        assert all(close(a, b) for a, b in zip((output, hn, cn), expected))
        # h0/c0 left out: zeros, as in PyTorch
        assert all(close(a, b) for a, b in zip(run(sess, input=x), torch_run(lstm, x)))


def test_the_graphs_declare_batch_and_time_dynamic(two_lstms):
    for lstm, sess in two_lstms:
        # the optional states are initializers a run may override, listed apart from the required input
        args = [*sess.get_inputs(), *sess.get_overridable_initializers(), *sess.get_outputs()]
        shapes = {arg.name: arg.shape for arg in args}
        assert shapes["input"][:2] == ["batch", "time"] and shapes["output"][:2] == ["batch", "time"]
        assert all(shapes[name][1] == "batch" for name in ("h0", "c0", "hn", "cn"))


def test_carried_state_over_chunks_equals_one_call_on_the_whole_sequence(two_lstms):
    for lstm, sess in two_lstms:
        x = torch.randn(3, 17, lstm.input_size)
        whole_out, whole_h, whole_c = torch_run(lstm, x)
        if lstm.bidirectional:
            # The reverse direction reads the future, so chunks cannot equal the whole; the forward
            # state still carries (checked on the forward halves of the states) and each chunk matches
            # PyTorch on that chunk with that state.
            out1, h1, c1 = run(sess, input=x[:, :7])
            out2, h2, c2 = run(sess, input=x[:, 7:], h0=torch.from_numpy(h1), c0=torch.from_numpy(c1))
            expected = torch_run(lstm, x[:, 7:], (torch.from_numpy(h1), torch.from_numpy(c1)))
            assert all(close(a, b) for a, b in zip((out2, h2, c2), expected))
            continue
        out1, h1, c1 = run(sess, input=x[:, :7])
        out2, h2, c2 = run(sess, input=x[:, 7:], h0=torch.from_numpy(h1), c0=torch.from_numpy(c1))
        assert close(np.concatenate([out1, out2], axis=1), whole_out)
        assert close(h2, whole_h) and close(c2, whole_c)


# ---------------------------------------------------------------------------------- run directories
def check_logits(directory, out, make_input):
    from lstmkit.train import load_model

    model = load_model(directory)
    sess = session(out)
    for batch, length, lengths in [(1, 5, [5]), (3, 17, [17, 4, 11])]:
        x, lengths = make_input(batch, length), torch.tensor(lengths)
        with torch.no_grad():
            expected = model((x, lengths))
        (logits,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy(), "lengths": lengths.numpy()})
        assert close(logits, expected)


def test_action_sensor_run_exports_with_its_preprocessing(action_dir, tmp_path):
    out = export_run_onnx(action_dir, tmp_path / "action.onnx")
    check_logits(action_dir, out, lambda n, t: torch.randn(n, t, 2))
    pre = json.loads((tmp_path / "action.preprocessing.json").read_text())
    assert pre["data"]["classes"] == ["fall", "peak", "rise"] and pre["data"]["channels"] == ["ax", "ay"]
    assert len(pre["data"]["mean"]) == 2 and pre["task"]["normalize"] == "channel"
    assert set(pre["inputs"]) == {"x", "lengths"} and set(pre["outputs"]) == {"logits"}


def test_int8_weights_stay_close_to_the_float_graph_and_say_how_close(action_dir, tmp_path):
    import onnx

    floating = export_run_onnx(action_dir, tmp_path / "float.onnx")
    int8 = export_run_onnx(action_dir, quantize="int8")
    assert int8 == action_dir / "model.int8.onnx"
    assert "DynamicQuantizeLSTM" in {node.op_type for node in onnx.load(str(int8)).graph.node}
    torch.manual_seed(1)
    x, lengths = torch.randn(4, 13, 2), torch.tensor([13, 5, 9, 1])
    feeds = {"x": x.numpy(), "lengths": lengths.numpy()}
    (a,), (b,) = session(floating).run(None, feeds), session(int8).run(None, feeds)
    difference = float(np.abs(a - b).max())
    assert 0 < difference < 0.05  # int8 is not the float model, but close to it
    recorded = json.loads((action_dir / "model.int8.preprocessing.json").read_text())["quantization"]
    assert 0 < recorded["max_abs_output_difference_from_float"] < 0.05
    with pytest.raises(UsageError, match="only quantisation offered is int8"):
        export_run_onnx(action_dir, tmp_path / "x.onnx", quantize="int4")


def test_text_classifier_run_exports_with_its_vocabulary(text_dir):
    out = export_run_onnx(text_dir)  # default: beside the weights
    assert out == text_dir / "model.onnx"
    pre = json.loads((text_dir / "model.preprocessing.json").read_text())
    vocab = len(pre["data"]["vocabulary"]["tokens"])
    assert pre["data"]["classes"] == ["neg", "pos"] and pre["data"]["vocabulary"]["tokens"][0] == "<pad>"

    def ids(n, t):
        return torch.randint(1, vocab, (n, t))

    check_logits(text_dir, out, ids)


VERSES = ["to be or not to be that is the question",
          "whether tis nobler in the mind to suffer",
          "the slings and arrows of outrageous fortune"]


@pytest.fixture(scope="module")
def lm_dir(tmp_path_factory):
    """A tiny word-level language model (tied weights), trained one epoch and saved."""
    from lstmkit.tasks.text import LanguageModel, LMConfig

    torch.manual_seed(0)
    directory = tmp_path_factory.mktemp("lm") / "run"
    config = LMConfig(hidden_size=16, num_layers=1, bptt=10, batch_size=4, epochs=1, dropout=0.0, min_freq=1)
    LanguageModel(config).fit("\n".join(VERSES * 20)).save(directory)
    return directory


def test_language_model_exports_with_its_state_optional_and_carried(lm_dir):
    from lstmkit.train import load_model

    sess = session(export_run_onnx(lm_dir))
    model = load_model(lm_dir).eval()
    pre = json.loads((lm_dir / "model.preprocessing.json").read_text())
    assert pre["model_type"] == "text_lm" and set(pre["inputs"]) == {"ids", "h0", "c0"}
    assert set(pre["outputs"]) == {"logits", "hn", "cn"}
    assert "data.tokenizer" in pre["inputs"]["ids"] and "data.vocabulary.tokens" in pre["inputs"]["ids"]
    assert pre["data"]["tokenizer"]["level"] == "word"
    vocab = len(pre["data"]["vocabulary"]["tokens"])
    assert vocab == model.vocab_size and pre["data"]["vocabulary"]["tokens"][:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert [arg.name for arg in sess.get_inputs()] == ["ids"]  # h0, c0 may be left out
    shapes = {arg.name: arg.shape for arg in [*sess.get_inputs(), *sess.get_outputs()]}
    assert shapes["ids"] == ["batch", "time"] and shapes["logits"] == ["batch", "time", vocab]
    L, H = model.num_layers, model.hidden_size
    for batch, length in [(1, 5), (4, 23)]:
        ids = torch.randint(0, vocab, (batch, length))
        h0, c0 = torch.randn(L, batch, H), torch.randn(L, batch, H)
        with torch.no_grad():
            logits, (hn, cn) = model(ids, (h0, c0))
            logits_zero, (hn_zero, cn_zero) = model(ids)
        assert all(close(a, b) for a, b in zip(run(sess, ids=ids, h0=h0, c0=c0), (logits, hn, cn)))
        assert all(close(a, b) for a, b in zip(run(sess, ids=ids), (logits_zero, hn_zero, cn_zero)))
        assert float(logits_zero.std()) > 1e-3  # the logits are not all alike: the comparison means something
    # a generator's stream: chunks (one of a single token) with the state carried equal one call on the whole
    ids = torch.randint(0, vocab, (3, 30))
    whole, h_whole, c_whole = run(sess, ids=ids)
    chunks, state = [], {}
    for part in (ids[:, :12], ids[:, 12:13], ids[:, 13:]):
        logits, h, c = run(sess, ids=part, **state)
        chunks.append(logits)
        state = {"h0": torch.from_numpy(h), "c0": torch.from_numpy(c)}
    assert np.abs(np.concatenate(chunks, axis=1) - whole).max() <= TOL
    assert np.abs(h - h_whole).max() <= TOL and np.abs(c - c_whole).max() <= TOL
    with torch.no_grad():
        expected, (h_expected, c_expected) = model(ids)
    assert close(whole, expected) and close(h_whole, h_expected) and close(c_whole, c_expected)


def test_language_model_graph_fed_token_by_token_gives_the_next_word_distribution(lm_dir):
    """What a generator in another runtime does: the prompt's ids (start token, then the tokens numbered
    by the JSON's vocabulary) fed one at a time, the state carried; the last softmax equals the model's."""
    from lstmkit.tasks.text import LanguageModel

    out = export_run_onnx(lm_dir, lm_dir / "again.onnx")
    sess = session(out)
    tokens = json.loads((lm_dir / "again.preprocessing.json").read_text())["data"]["vocabulary"]["tokens"]
    ids = [3] + [tokens.index(word) for word in "the slings and".split()]  # <eos> starts a fresh context
    state = {}
    for token_id in ids:
        logits, h, c = run(sess, ids=torch.tensor([[token_id]]), **state)
        state = {"h0": torch.from_numpy(h), "c0": torch.from_numpy(c)}
    z = logits[0, -1].astype(np.float64)
    probs = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(probs, LanguageModel.load(lm_dir).next_distribution("the slings and"), atol=1e-5)


def test_a_bare_lstm_run_exports(tmp_path):
    from lstmkit.train import save_model

    # (4, 5, 2) would hit a bug of lstmkit.train.model_io: its 640-byte safetensors header starts with
    # 0x80 0x02, which load_model takes for a pickle file; reported separately.
    lstm = LSTM(4, 16, num_layers=2, batch_first=True)
    save_model(lstm, tmp_path / "run")
    sess = session(export_run_onnx(tmp_path / "run"))
    x = torch.randn(2, 9, 4)
    assert all(close(a, b) for a, b in zip(run(sess, input=x), torch_run(lstm.eval(), x)))


# ------------------------------------------------------------------------- forecasting and anomalies
def test_forecaster_exports_with_batch_dynamic_and_time_fixed(forecast_run):
    from lstmkit.train import load_model

    directory, _ = forecast_run
    sess = session(export_run_onnx(directory))
    pre = json.loads((directory / "model.preprocessing.json").read_text())
    model = load_model(directory).eval()
    W, K, F = pre["data"]["input_width"], pre["data"]["horizon"], 2
    assert pre["model_type"] == "forecaster" and set(pre["inputs"]) == {"x", "base"}
    assert set(pre["outputs"]) == {"forecast"}
    shapes = {arg.name: arg.shape for arg in [*sess.get_inputs(), *sess.get_outputs()]}
    assert shapes == {"x": ["batch", W, F], "base": ["batch", K, 1], "forecast": ["batch", K, 1, 3]}
    for batch in (1, 5):
        x, base = torch.randn(batch, W, F), torch.randn(batch, K, 1)
        with torch.no_grad():
            expected = model((x, base))
        (forecast,) = run(sess, x=x, base=base)
        assert close(forecast, expected)
        # the comparison means something: the trained heads correct the baseline
        assert float(np.abs(forecast - base.numpy()[..., None]).max()) > 1e-3


def test_forecaster_predict_is_rebuilt_from_the_graph_and_the_preprocessing_json(forecast_run):
    """What another runtime does: the last window of a table turned into x and base with nothing but the
    JSON's state, the graph run, and its output turned back into values; equal to Forecaster.predict."""
    from lstmkit.tasks.forecast import Forecaster

    directory, table = forecast_run
    out = export_run_onnx(directory, directory / "again.onnx")
    pre = json.loads((directory / "again.preprocessing.json").read_text())
    data, task = pre["data"], pre["task"]
    W, K, m, J, lag = (data[k] for k in ("input_width", "horizon", "season", "seasons_averaged", "lag"))
    scale = np.asarray(data["target_scale"])
    values = table[task["targets"]].to_numpy(dtype=float)
    z = np.where(data["log_targets"], np.log(values), values)
    scaler = data["feature_scaler"]["state"]
    features = (table[task["features"]].to_numpy(dtype=float) - scaler["mean_"]) / scaler["scale_"]
    origin = len(table)  # the first step after the table: what predict forecasts

    def level(o):
        return z[o - (min(W, m) if m > 1 else 1):o].mean(axis=0)

    x = np.concatenate([(z[origin - W:origin] - level(origin)) / scale, features[origin - W:origin]], axis=1)
    base = np.zeros((K, len(scale)))
    if m > 1:
        base = sum(z[o:o + K] - level(o) for o in (origin - j * lag for j in range(1, J + 1))) / J
    base = base / scale
    (rel,) = session(out).run(None, {"x": x[None].astype(np.float32), "base": base[None].astype(np.float32)})
    rel = np.sort(rel[0], axis=-1)  # (K, T, Q), quantiles in task.quantiles order
    forecast = level(origin)[None, :, None] + rel * scale[None, :, None]
    forecast = np.where(np.asarray(data["log_targets"])[None, :, None], np.exp(forecast), forecast)

    expected = Forecaster.load(directory).predict(table)
    median = task["quantiles"].index(0.5)
    np.testing.assert_allclose(forecast[:, 0, median], expected["forecast"], rtol=1e-5)
    np.testing.assert_allclose(forecast[:, 0, 0], expected["q0.1"], rtol=1e-5)
    np.testing.assert_allclose(forecast[:, 0, 2], expected["q0.9"], rtol=1e-5)


def test_next_step_model_exports_with_its_state_optional_and_carried(anomaly_runs):
    from lstmkit.train import load_model

    directory = anomaly_runs["prediction"]
    sess = session(export_run_onnx(directory))
    model = load_model(directory).eval()
    pre = json.loads((directory / "model.preprocessing.json").read_text())
    assert pre["model_type"] == "anomaly_next_step" and set(pre["inputs"]) == {"x", "h0", "c0"}
    assert set(pre["outputs"]) == {"prediction", "hn", "cn"} and "scaler" in pre["data"]
    assert [arg.name for arg in sess.get_inputs()] == ["x"]  # h0, c0 may be left out
    L, H = model.num_layers, model.hidden_size
    for batch, length in [(1, 5), (4, 23)]:
        x = torch.randn(batch, length, 1)
        h0, c0 = torch.randn(L, batch, H), torch.randn(L, batch, H)
        with torch.no_grad():
            pred, (hn, cn) = model(x, (h0, c0))
            pred_zero, (hn_zero, cn_zero) = model(x)
        assert all(close(a, b) for a, b in zip(run(sess, x=x, h0=h0, c0=c0), (pred, hn, cn)))
        assert all(close(a, b) for a, b in zip(run(sess, x=x), (pred_zero, hn_zero, cn_zero)))
        assert float((pred - x).abs().max()) > 1e-3  # the trained head predicts something other than x
    # a stream: chunks (one of a single step) with the state carried equal one call on the whole
    x = torch.randn(3, 30, 1)
    whole, h_whole, c_whole = run(sess, x=x)
    chunks, state = [], {}
    for part in (x[:, :12], x[:, 12:13], x[:, 13:]):
        prediction, h, c = run(sess, x=part, **state)
        chunks.append(prediction)
        state = {"h0": torch.from_numpy(h), "c0": torch.from_numpy(c)}
    assert np.abs(np.concatenate(chunks, axis=1) - whole).max() <= TOL
    assert np.abs(h - h_whole).max() <= TOL and np.abs(c - c_whole).max() <= TOL
    with torch.no_grad():
        expected, _ = model(x)
    assert close(whole, expected)


def test_autoencoder_exports_its_fixed_window(anomaly_runs):
    from lstmkit.train import load_model

    directory = anomaly_runs["reconstruction"]
    sess = session(export_run_onnx(directory))
    model = load_model(directory).eval()
    pre = json.loads((directory / "model.preprocessing.json").read_text())
    assert pre["model_type"] == "anomaly_autoencoder" and pre["task"]["window"] == 16
    assert set(pre["inputs"]) == {"x"} and set(pre["outputs"]) == {"reconstruction"}
    shapes = {arg.name: arg.shape for arg in [*sess.get_inputs(), *sess.get_outputs()]}
    assert shapes == {"x": ["batch", 16, 1], "reconstruction": ["batch", 16, 1]}
    for batch in (1, 6):
        x = torch.randn(batch, 16, 1)
        with torch.no_grad():
            expected = model(x)
        (reconstruction,) = run(sess, x=x)
        assert close(reconstruction, expected)


# ------------------------------------------------------------------------------------------- errors
def test_an_unsupported_model_type_names_the_supported_ones(tmp_path):
    from lstmkit.train import save_model

    from lstmkit.tasks.studies.long_memory import LongMemoryNet

    save_model(LongMemoryNet("lstm", 2, 4, 1), tmp_path / "study")
    supported = ("action_net, anomaly_autoencoder, anomaly_next_step, forecaster, gru, lstm, rnn, text_classifier, "
                 "text_lm")
    with pytest.raises(UsageError, match=f"cannot export model_type 'long_memory_net'.*{supported}") as info:
        export_run_onnx(tmp_path / "study")
    assert "\n" not in str(info.value)


def test_a_missing_directory_is_a_user_error(tmp_path):
    with pytest.raises(InputFileError, match="no such directory") as info:
        export_run_onnx(tmp_path / "nowhere")
    assert isinstance(info.value, UserError) and "\n" not in str(info.value)


# ------------------------------------------------------------------------------------- command line
def test_the_command_writes_the_graph_and_reports_errors_in_one_line(action_dir, tmp_path, capsys):
    import lstmkit.cli as cli

    assert "lstmkit.export.cli" in cli.COMMAND_MODULES
    out = tmp_path / "m.onnx"
    assert cli.main(["export", "onnx", "--model", str(action_dir), "--out", str(out)]) == 0
    assert out.is_file() and (tmp_path / "m.preprocessing.json").is_file()
    assert cli.main(["export", "onnx", "--model", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"lstmkit: error: --model {tmp_path / 'nowhere'}: no such directory"


def test_building_the_parser_imports_neither_torch_nor_onnx():
    code = ("import argparse, sys\nfrom lstmkit.export import cli\n"
            "cli.add_parser(argparse.ArgumentParser().add_subparsers())\n"
            "print('torch' in sys.modules, 'onnx' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_the_parser_takes_model_and_out():
    from lstmkit.export.cli import add_parser, run_export_onnx

    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["export", "onnx", "--model", "runs/x", "--out", "y.onnx"])
    assert (args.model, args.out, args.run) == ("runs/x", "y.onnx", run_export_onnx)


def test_torch_native_notices_are_held_back_and_everything_else_passed_on(capfd):
    import os

    from lstmkit.export.graphs import hold_back_native_notices

    with hold_back_native_notices():
        os.write(2, b"[W] The shape inference of prim::PadPacked type is missing\n")
        os.write(2, b"something else went to stderr\n")
    err = capfd.readouterr().err
    assert "something else went to stderr" in err and "PadPacked" not in err
    with pytest.raises(RuntimeError), hold_back_native_notices():
        os.write(2, b"[W] The shape inference of prim::PackPadded type is missing\n")
        raise RuntimeError("export failed")
    assert "PackPadded" in capfd.readouterr().err  # a failed export shows everything it held


# ------------------------------------------------------------------------------------------- other cells
def op_types(path) -> set[str]:
    import onnx

    return {node.op_type for node in onnx.load(str(path)).graph.node}


@pytest.mark.parametrize("cell,operator", [("gru", "GRU"), ("rnn", "RNN")])
def test_a_gru_or_rnn_text_classifier_exports_and_matches_pytorch(cell, operator, tmp_path):
    from tiny_runs import train_text

    directory = train_text(tmp_path / "run", cell=cell)
    out = export_run_onnx(directory)
    assert operator in op_types(out) and "LSTM" not in op_types(out)
    vocab = len(json.loads((directory / "model.preprocessing.json").read_text())["data"]["vocabulary"]["tokens"])
    check_logits(directory, out, lambda n, t: torch.randint(1, vocab, (n, t)))  # bidirectional, packed lengths


@pytest.mark.parametrize("layer", [lambda: GRU(3, 6, num_layers=2),
                                   lambda: RNN(3, 6, bidirectional=True, batch_first=True)], ids=["gru", "rnn"])
def test_a_bare_gru_or_rnn_exports_with_h0_alone(layer, tmp_path):
    from lstmkit.train import save_model

    module = layer().eval()
    save_model(module, tmp_path / "run")
    sess = session(export_run_onnx(tmp_path / "run"))
    pre = json.loads((tmp_path / "run" / "model.preprocessing.json").read_text())
    assert set(pre["inputs"]) == {"input", "h0"} and set(pre["outputs"]) == {"output", "hn"}
    LD = module.num_layers * module.num_directions
    for batch, length in [(1, 4), (3, 13)]:
        x, h0 = torch.randn(batch, length, 3), torch.randn(LD, batch, 6)
        with torch.no_grad():
            out, hn = module(x if module.batch_first else x.transpose(0, 1), h0)
            out_zero, hn_zero = module(x if module.batch_first else x.transpose(0, 1))
        if not module.batch_first:
            out, out_zero = out.transpose(0, 1), out_zero.transpose(0, 1)
        assert all(close(a, b) for a, b in zip(run(sess, input=x, h0=h0), (out, hn)))
        assert all(close(a, b) for a, b in zip(run(sess, input=x), (out_zero, hn_zero)))


def test_a_gru_language_model_and_next_step_predictor_carry_h_alone(tmp_path):
    from lstmkit.tasks.anomaly import AnomalyConfig, AnomalyDetector
    from lstmkit.tasks.text import LanguageModel, LMConfig
    from lstmkit.train import load_model

    LanguageModel(LMConfig(hidden_size=8, num_layers=2, bptt=10, batch_size=4, epochs=1, dropout=0.0, min_freq=1,
                           cell="gru")).fit("\n".join(VERSES * 20)).save(tmp_path / "lm")
    AnomalyDetector(AnomalyConfig(columns=["value"], hidden_size=8, epochs=1, train_fraction=0.6, cell="gru",
                                  recurrent_dropout=0.2)).fit(sine_table()).save(tmp_path / "next")
    for name, first in (("lm", "ids"), ("next", "x")):
        directory = tmp_path / name
        sess = session(export_run_onnx(directory))
        assert "GRU" in op_types(directory / "model.onnx")
        pre = json.loads((directory / "model.preprocessing.json").read_text())
        assert set(pre["inputs"]) == {first, "h0"} and set(pre["outputs"]) - {"hn"} in ({"logits"}, {"prediction"})
        model = load_model(directory).eval()
        L, H = model.num_layers, model.hidden_size
        x = torch.randint(0, model.vocab_size, (3, 20)) if name == "lm" else torch.randn(3, 20, 1)
        with torch.no_grad():
            expected, h_expected = model(x)
            expected_h0, h_expected_h0 = model(x, torch.ones(L, 3, H))
        assert all(close(a, b) for a, b in zip(run(sess, **{first: x}), (expected, h_expected)))
        assert all(close(a, b) for a, b in zip(run(sess, **{first: x, "h0": torch.ones(L, 3, H)}),
                                               (expected_h0, h_expected_h0)))
        chunks, state = [], {}  # a stream: the state carried over chunks
        for part in (x[:, :7], x[:, 7:8], x[:, 8:]):
            y, h = run(sess, **{first: part}, **state)
            chunks.append(y)
            state = {"h0": torch.from_numpy(h)}
        assert close(np.concatenate(chunks, axis=1), expected) and close(h, h_expected)


def test_recurrent_dropout_exports_as_the_plain_cell(tmp_path):
    from tiny_runs import train_action

    directory = train_action(tmp_path / "run", recurrent_dropout=0.3, conv_channels=0)
    out = export_run_onnx(directory)
    assert "LSTM" in op_types(out)
    check_logits(directory, out, lambda n, t: torch.randn(n, t, 2))


@pytest.mark.parametrize("options,message", [
    ({"cell": "layernorm"}, "cannot export a model with the layernorm cell to ONNX: ONNX has no operator for it, "
                            "and lstmkit runs it on its fused backend"),
    ({"cell": "gru", "zoneout": 0.1}, "cannot export a model trained with zoneout (0.1) to ONNX"),
])
def test_a_fused_cell_or_zoneout_is_refused_in_one_line_saying_what_exports(options, message, tmp_path, capsys):
    import lstmkit.cli as cli
    from tiny_runs import train_text

    directory = train_text(tmp_path / "run", **options)
    with pytest.raises(UsageError) as info:
        export_run_onnx(directory)
    assert message in str(info.value) and "models with the lstm, gru or rnn cell" in str(info.value)
    assert cli.main(["export", "onnx", "--model", str(directory)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lstmkit: error: cannot export a model"), err
    assert not list(directory.glob("*.onnx")) and not list(directory.glob("*.preprocessing.json"))
    from lstmkit.nn import PeepholeLSTM
    from lstmkit.train import save_model

    save_model(PeepholeLSTM(3, 4), tmp_path / "bare")  # a bare variant: the same reason, not "unsupported"
    with pytest.raises(UsageError, match="the peephole cell to ONNX"):
        export_run_onnx(tmp_path / "bare")
