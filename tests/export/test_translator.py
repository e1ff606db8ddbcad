"""A translator out of Python: an encoder graph and a decoder-step graph that decode, in onnxruntime alone, to
exactly the tokens ``lstmkit translate run`` writes; int8 weights for both; what cannot export is refused."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime", reason="pip install 'lstmkit[onnx]'")
pytest.importorskip("num2words", reason="pip install 'lstmkit[translate]'")

from lstmkit.errors import UsageError  # noqa: E402
from lstmkit.export import export_run_onnx  # noqa: E402
from lstmkit.export.onnx import preprocessing_path, translator_paths  # noqa: E402
from lstmkit.export.runtime import OnnxTranslator, quantized_model  # noqa: E402
from tiny_runs import number_sentences  # noqa: E402


def session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def exported(translator_dir, tmp_path_factory):
    """The float graphs of the tiny translator, written outside its run directory."""
    return export_run_onnx(translator_dir, tmp_path_factory.mktemp("graphs") / "mt.onnx")


def tokens_of(found):
    return [[hyp.tokens for hyp in hyps] for hyps in found]


def test_two_graphs_with_rows_and_source_length_dynamic_and_their_preprocessing(translator_dir, exported):
    from lstmkit.train import load_model

    encoder, decoder = translator_paths(exported)
    assert exported == encoder and encoder.name == "mt.encoder.onnx" and decoder.name == "mt.decoder.onnx"
    pre = json.loads(preprocessing_path(exported).read_text())
    assert preprocessing_path(decoder) == preprocessing_path(encoder) == encoder.with_name("mt.preprocessing.json")
    assert pre["model_type"] == "translator" and pre["onnx"] == {"encoder": encoder.name, "decoder": decoder.name}
    assert set(pre["encoder"]["inputs"]) == {"src", "src_lengths"}
    assert list(pre["encoder"]["outputs"]) == ["h", "c", "feed", "memory", "keys", "mask"]
    assert list(pre["decoder"]["outputs"]) == ["log_probs", "h_next", "c_next", "feed_next", "attention"]
    decoding = pre["decoding"]
    assert (decoding["bos_id"], decoding["eos_id"], decoding["max_len_a"], decoding["max_len_b"]) == (2, 3, 1.5, 10)
    assert pre["data"]["target"]["kind"] == "word" and "vocabulary" in pre["data"]["source"]
    enc, dec = session(encoder), session(decoder)
    shapes = {arg.name: arg.shape for arg in [*enc.get_inputs(), *enc.get_outputs()]}
    assert shapes["src"] == ["batch", "source"] and shapes["memory"][:2] == ["batch", "source"]
    assert shapes["feed"] == ["batch", 16]
    shapes = {arg.name: arg.shape for arg in [*dec.get_inputs(), *dec.get_outputs()]}
    assert shapes["tokens"] == ["rows"] and shapes["mask"] == ["rows", "source"] and shapes["log_probs"][0] == "rows"

    model = load_model(translator_dir).eval()  # a batch and a source length the export's check did not use
    src = torch.tensor([[5, 9, 7, 4, 6, 8, 11, 12, 5, 6, 7], [6, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                        [8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    lengths = torch.tensor([11, 2, 4, 1])
    with torch.no_grad():
        expected = model.initial_state(src, lengths)
        state = enc.run(None, {"src": src.numpy(), "src_lengths": lengths.numpy()})
        for got, want in zip(state, expected):
            np.testing.assert_allclose(got.astype(float), want.numpy().astype(float), atol=1e-5)
        tokens = torch.tensor([2, 17, 3, 9])
        log_probs, _, attention = model.step(tokens, expected)
        got = dec.run(None, {"tokens": tokens.numpy(), **dict(zip(pre["encoder"]["outputs"], state))})
    assert np.array_equal(np.isinf(got[0]), torch.isinf(log_probs).numpy())  # <pad>, <bos>: -inf in both
    finite = torch.isfinite(log_probs).numpy()
    np.testing.assert_allclose(got[0][finite], log_probs.numpy()[finite], atol=1e-5)
    np.testing.assert_allclose(got[-1], attention.numpy(), atol=1e-6)


def test_greedy_in_numpy_from_the_graphs_and_the_json_alone_writes_what_translate_run_writes(
        translator_dir, exported, tmp_path, capsys):
    """What another runtime does: tokenise with the JSON's vocabulary, run the encoder once and the step graph
    token by token, take the argmax; equal, word for word, to `lstmkit translate run --beam 1`."""
    from lstmkit.cli import main
    from lstmkit.tasks.translate.tokenize import tokenizer_from_dict

    pre = json.loads(preprocessing_path(exported).read_text())
    source, target = (tokenizer_from_dict(pre["data"][side]) for side in ("source", "target"))
    enc, dec = session(translator_paths(exported)[0]), session(translator_paths(exported)[1])
    state_names, step_inputs = list(pre["encoder"]["outputs"]), [arg.name for arg in dec.get_inputs()]
    decoding = pre["decoding"]
    sentences = number_sentences()
    written = []
    for sentence in sentences:
        ids = source.encode(source.tokenize(sentence)) or [decoding["unk_id"]]
        state = dict(zip(state_names, enc.run(None, {"src": np.array([ids]), "src_lengths": np.array([len(ids)])})))
        limit = max(1, int(np.floor(decoding["max_len_a"] * len(ids) + decoding["max_len_b"])))
        out, token = [], decoding["bos_id"]
        while len(out) < limit:
            log_probs, *carried, _ = dec.run(None, {"tokens": np.array([token]),
                                                    **{k: state[k] for k in step_inputs if k != "tokens"}})
            state.update({name: value for name, value in zip(["h", "c", "feed"], carried)})
            token = int(np.argmax(log_probs[0]))
            if token == decoding["eos_id"]:
                break
            out.append(token)
        written.append(target.detokenize(target.decode(out)))
    assert sum(len(text.split()) for text in written) > 5 * len(sentences)  # long outputs: many steps compared

    assert main(["translate", "run", "--model", str(translator_dir), "--beam", "1", "--no-replace-unk",
                 *sentences]) == 0
    assert capsys.readouterr().out.splitlines() == written


@pytest.mark.parametrize("method,options", [("greedy", {}), ("beam", {"beam": 3, "n_best": 2}),
                                            ("beam", {"beam": 4, "length_penalty": 1.0, "coverage_penalty": 0.2})])
def test_the_decoding_searches_drive_the_graphs_to_the_same_hypotheses(translator_dir, exported, method, options):
    from lstmkit.tasks.translate import Translator

    translator = Translator.load(translator_dir)
    onnx = copy.copy(translator)
    onnx.model = OnnxTranslator.from_files(exported)
    expected = translator.search(number_sentences(), method=method, **options)
    found = onnx.search(number_sentences(), method=method, **options)
    assert tokens_of(found) == tokens_of(expected)
    for hyps, want in zip(found, expected):
        for a, b in zip(hyps, want):
            assert abs(a.score - b.score) < 1e-4 and a.finished == b.finished
            np.testing.assert_allclose(a.attention, b.attention, atol=1e-5)


@pytest.mark.parametrize("options", [dict(cell="gru"), dict(attention="bahdanau", num_layers=2, bridge="dense"),
                                     dict(input_feed=False, bidirectional=False, cell="rnn")],
                         ids=["gru", "bahdanau-2-layers", "rnn-no-input-feed"])
def test_other_cells_and_attentions_export_and_decode_exactly(options, tmp_path):
    from lstmkit.decoding.search import beam_search, greedy_search
    from lstmkit.tasks.translate import Seq2SeqAttention
    from lstmkit.train import save_model

    model = Seq2SeqAttention(20, 15, embedding_dim=6, hidden_size=8, dropout=0.0, **options).eval()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in model.parameters():  # large random weights: long outputs rather than an early <eos>
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    save_model(model, tmp_path / "run")
    out = export_run_onnx(tmp_path / "run")
    pre = json.loads(preprocessing_path(out).read_text())
    assert ("c" in pre["encoder"]["outputs"]) == (options.get("cell", "lstm") == "lstm")
    reads_feed = options.get("attention", "luong") == "luong" and options.get("input_feed", True)
    assert ("feed" in pre["decoder"]["inputs"]) == reads_feed  # the exporter drops an input the step never reads
    onnx = OnnxTranslator.from_files(out)
    src = torch.tensor([[5, 6, 7, 8, 9], [10, 4, 0, 0, 0], [11, 12, 13, 0, 0]])
    lengths = torch.tensor([5, 2, 3])
    common = dict(bos=2, eos=3, max_len=12, src_lengths=lengths)
    with torch.no_grad():
        for search, extra in ((greedy_search, {}), (beam_search, {"beam": 3})):
            want = search(model.step, model.initial_state(src, lengths), **common, **extra)
            got = search(onnx.step, onnx.initial_state(src, lengths), **common, **extra)
            if search is greedy_search:  # one hypothesis per sentence; beam search gives lists
                want, got = [[h] for h in want], [[h] for h in got]
            assert tokens_of(got) == tokens_of(want)
            assert sum(len(h[0].tokens) for h in want) > 10


def test_int8_quantises_both_graphs_and_translate_run_takes_it(translator_dir, tmp_path, capsys):
    """int8 weights: both graphs, their deviations recorded; translations through the int8 graphs differ from
    PyTorch's in a few sentences of this random-weight model (counted, not required to be equal)."""
    import onnx

    from lstmkit.cli import main
    from lstmkit.tasks.translate import Translator

    out = export_run_onnx(translator_dir, tmp_path / "mt.onnx", quantize="int8")
    recorded = json.loads(preprocessing_path(out).read_text())["quantization"]
    for part, path in zip(("encoder", "decoder"), translator_paths(out)):
        assert 0 < recorded[part]["max_abs_output_difference_from_float"] < 0.2
        assert {"DynamicQuantizeLSTM", "MatMulInteger"} & {node.op_type for node in onnx.load(str(path)).graph.node}
    int8 = quantized_model(translator_dir)
    assert isinstance(int8, OnnxTranslator) and int8.deviation == recorded["max_abs_output_difference_from_float"]
    translator = Translator.load(translator_dir)
    expected = [hyps[0].tokens for hyps in translator.search(number_sentences(), method="greedy")]
    translator.model = int8
    changed = sum(a != b for a, b in zip([h[0].tokens for h in translator.search(number_sentences(), method="greedy")],
                                         expected))
    assert changed <= len(expected) // 2  # measured: 2 of 8 on these random weights

    assert main(["translate", "run", "--model", str(translator_dir), "--quantize", "int8", "--beam", "2",
                 *number_sentences()[:3]]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_a_translator_whose_cell_cannot_export_is_refused_in_one_line(tmp_path, capsys):
    from lstmkit.cli import main
    from lstmkit.tasks.translate import Seq2SeqAttention
    from lstmkit.train import save_model

    save_model(Seq2SeqAttention(20, 15, embedding_dim=6, hidden_size=8, cell="peephole"), tmp_path / "run")
    with pytest.raises(UsageError, match="cannot export a model with the peephole cell to ONNX"):
        export_run_onnx(tmp_path / "run")
    assert main(["export", "onnx", "--model", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lstm, gru or rnn cell" in err
    assert not list((tmp_path / "run").glob("*.onnx"))


def test_serve_with_quantize_translates_through_the_int8_graphs(translator_dir):
    pytest.importorskip("starlette", reason="pip install 'lstmkit[serve]'")
    pytest.importorskip("httpx", reason="pip install 'lstmkit[serve]'")
    from starlette.testclient import TestClient

    from lstmkit.serve.app import build_app
    from lstmkit.tasks.translate import Translator

    app = build_app([translator_dir], quantize="int8")
    served = app.state.models[translator_dir.name].app
    assert isinstance(served.model, OnnxTranslator)
    with TestClient(app) as client:
        answer = client.post("/predict", json={"texts": number_sentences()[:3], "method": "greedy"})
    assert answer.status_code == 200, answer.text
    translator = Translator.load(translator_dir)
    translator.model = served.model
    assert answer.json()["translations"] == translator.translate(number_sentences()[:3], method="greedy")
