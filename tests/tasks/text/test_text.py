"""Text tasks end to end on tiny generated corpora: language model, n-gram baseline, classifier, CLI."""
import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.cli import main
from lstmkit.data import pad_sequences
from lstmkit.metrics.classification import classification_metrics
from lstmkit.tasks.text import (
    ClassifyConfig,
    KneserNeyLM,
    LanguageModel,
    LMConfig,
    LSTMTextClassifier,
    StreamBatches,
    TextClassifier,
)

VERSES = ["to be or not to be that is the question",
          "whether tis nobler in the mind to suffer",
          "the slings and arrows of outrageous fortune"]
CORPUS = "\n".join(VERSES * 60)  # 1,680 tokens: 20 distinct words and <eos>
HAVE_SKLEARN = importlib.util.find_spec("sklearn") is not None  # the TF-IDF baseline's only dependency
TINY_LM = dict(hidden_size=32, num_layers=1, bptt=10, batch_size=4, epochs=12, patience=12, dropout=0.0,
               min_freq=1, lr=1e-2)


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    return LanguageModel(LMConfig(**TINY_LM)).fit(CORPUS)


# ------------------------------------------------------------------------------------ n-gram baseline
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_distributions_sum_to_one(order):
    rng = np.random.default_rng(order)
    V = 12
    ids = rng.integers(0, V, 3000)
    ids[::3] = 5  # some structure, so higher orders see repeated histories
    kn = KneserNeyLM(order).fit(ids, V)
    for history in ([5, 2, 7], [3, 3, 3], [11, 0, 4]):
        h = np.tile(np.asarray(history[: order - 1], dtype=np.int64), (V, 1)).reshape(V, order - 1)
        assert kn.probabilities(h, np.arange(V)).sum() == pytest.approx(1.0, abs=1e-12)


def test_kneser_ney_uses_context_and_never_gives_zero():
    ids = np.tile([4, 5, 6, 7], 200)
    bigram, unigram = KneserNeyLM(2).fit(ids, 10), KneserNeyLM(1).fit(ids, 10)
    assert bigram.cross_entropy(ids, start_id=3) < 0.3 * unigram.cross_entropy(ids, start_id=3)
    assert np.all(np.isfinite(bigram.log_probs([9, 8, 9], start_id=3)))  # unseen ids: small, not zero
    with pytest.raises(ValueError, match="order must be an integer >= 1"):
        KneserNeyLM(0)


# ------------------------------------------------------------------------------------- language model
def test_stream_batches_continue_row_by_row():
    ids = torch.arange(43)
    ds = StreamBatches(ids, streams=3, bptt=5)  # rows of 14 tokens: [0..13], [14..27], [28..41]
    assert len(ds) == 3
    x0, y0 = ds[0]
    x1, _ = ds[1]
    assert x0[1].tolist() == [14, 15, 16, 17, 18] and torch.equal(y0, x0 + 1)
    assert x1[1, 0] == x0[1, -1] + 1  # block b + 1 continues block b in every row
    assert ds[2][0].shape == (3, 4)


def test_lm_learns_a_repetitive_corpus(lm):
    result = lm.evaluate(CORPUS)
    V = result["split"]["vocab_size"]
    assert V == 4 + 20
    assert result["model"]["test_perplexity"] < 1.5 < V / 10  # uniform guessing would give ~V
    assert set(result["baselines"]) == {"kneser_ney_2gram", "kneser_ney_3gram"}
    assert result["baselines"]["kneser_ney_2gram"]["test_perplexity"] > result["model"]["test_perplexity"]
    assert result["split"]["train"] == [0, 1344] and result["split"]["test"] == [1512, 1680]


def test_next_word_and_seeded_generation(lm):
    (word, p), *_ = lm.next_words("to be or not to", 3)
    assert word == "be" and p > 0.5
    assert lm.next_words("the slings and arrows of", 1)[0][0] == "outrageous"
    a = lm.generate("to be", 20, temperature=1.5, seed=7)
    assert a == lm.generate("to be", 20, temperature=1.5, seed=7)
    assert len(a.split()) >= 15 and "<unk>" not in a
    assert lm.generate("whether tis", 4, temperature=0) == "nobler in the mind"


def test_streamed_next_distribution_equals_the_full_forward(lm):
    prompt_ids = lm._prompt_ids("the slings and arrows")
    with torch.no_grad():
        logits, _ = lm.model(torch.tensor([prompt_ids]))
    full = torch.softmax(logits[0, -1].double(), -1).numpy()
    np.testing.assert_allclose(lm.next_distribution("the slings and arrows"), full, atol=1e-6)


def test_lm_save_load_round_trip(lm, tmp_path):
    lm.save(tmp_path / "lm")
    loaded = LanguageModel.load(tmp_path / "lm")
    assert loaded.model.decoder.weight is loaded.model.embedding.weight  # tying survives the file
    np.testing.assert_array_equal(loaded.next_distribution("to be"), lm.next_distribution("to be"))
    assert loaded.generate("to be", 15, seed=1) == lm.generate("to be", 15, seed=1)
    saved = json.loads((tmp_path / "lm" / "config.json").read_text())
    assert saved["data"]["vocabulary"]["tokens"][:4] == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert saved["data"]["tokenizer"] == {"level": "word", "lower": True, "punctuation": True, "lines": True}


def test_prompt_of_only_unknown_words_is_refused(lm):
    message = r"none of the prompt's words is in the model's vocabulary \('xyzzy', 'plugh'\)"
    with pytest.raises(ValueError, match=message):
        lm.next_words("Xyzzy plugh")
    assert lm.next_words("to be xyzzy", 1)  # some known words: the unknown one is read as <unk>


def test_char_level_reports_bits_per_char():
    text = "abcabd\n" * 120
    lm = LanguageModel(LMConfig(level="char", hidden_size=16, num_layers=1, bptt=20, batch_size=4, epochs=3,
                                dropout=0.0, lr=1e-2)).fit(text)
    result = lm.evaluate(text)
    assert result["model"]["test_bits_per_char"] == pytest.approx(np.log2(result["model"]["test_perplexity"]))
    assert set(result["baselines"]) == {"kneser_ney_3gram", "kneser_ney_5gram"}
    assert len(lm.generate("ab", 10, seed=0)) == 10


# ----------------------------------------------------------------------------------------- classifier
def sentiment_frame(n=240, seed=0):
    """Trivially separable: one sentiment word in filler of random length (2-14 words)."""
    rng = np.random.default_rng(seed)
    pos, neg = ["good", "great", "superb", "lovely"], ["bad", "awful", "dull", "boring"]
    filler = "the film was and it a plot story actors quite really so".split()
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = list(rng.choice(filler, rng.integers(2, 15))) + [rng.choice(pos if label == "pos" else neg)]
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return pd.DataFrame(rows, columns=["review", "sentiment"])


TINY_CLF = dict(text_column="review", label_column="sentiment", min_freq=1, embedding_dim=16, hidden_size=16,
                epochs=12, patience=4, lr=1e-2, dropout=0.0, monitor="loss")


@pytest.fixture(scope="module")
def classifier():
    df = sentiment_frame()
    return TextClassifier(ClassifyConfig(**TINY_CLF)).fit(df), df


def test_classifier_learns_a_separable_csv(classifier):
    clf, df = classifier
    result = clf.evaluate(df)
    assert result["model"]["accuracy"] >= 0.95 and result["model"]["macro_f1"] >= 0.95
    assert result["split"]["test"] == 48 and result["split"]["test_class_counts"] == {"neg": 24, "pos": 24}
    cm = np.asarray(result["model"]["confusion_matrix"])
    assert cm.shape == (2, 2) and cm.sum() == 48
    if HAVE_SKLEARN:
        assert result["baselines"]["tfidf_logreg"]["accuracy"] >= 0.9  # same split, same metric names
    out = clf.predict(["a superb story", "the plot was boring"])
    assert out["label"].tolist() == ["pos", "neg"] and (out["probability"] > 0.5).all()


def test_classifier_save_load_gives_identical_predictions(classifier, tmp_path):
    clf, df = classifier
    clf.save(tmp_path / "clf")
    loaded = TextClassifier.load(tmp_path / "clf")
    texts = df["review"].tolist()[:50] + ["words never seen zzz"]
    np.testing.assert_array_equal(loaded.predict_proba(texts), clf.predict_proba(texts))
    assert loaded.classes == ["neg", "pos"]


def test_metrics_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    accuracy_score, confusion_matrix, f1_score = metrics.accuracy_score, metrics.confusion_matrix, metrics.f1_score

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 50), rng.integers(0, 3, 50)
    p[p == 2] = 1  # class 2 never predicted: precision 0, not NaN
    m = classification_metrics(y, p, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert m["macro_f1"] == pytest.approx(f1_score(y, p, average="macro", zero_division=0))
    assert m["confusion_matrix"] == confusion_matrix(y, p).tolist()


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", ["max", "mean", "last"])
@pytest.mark.parametrize("dtype,atol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_a_texts_logits_do_not_depend_on_its_batch(bidirectional, pooling, dtype, atol):
    torch.manual_seed(0)
    model = LSTMTextClassifier(50, 3, embedding_dim=8, hidden_size=8, num_layers=2, bidirectional=bidirectional,
                               pooling=pooling).to(dtype).eval()
    short = torch.tensor([5, 9, 2])
    others = [torch.randint(4, 50, (n,)) for n in (11, 7, 20)]
    alone = model(pad_sequences([short]))
    x, lengths = pad_sequences([others[0], short, *others[1:]])  # padded to 20 steps
    batched = model((x, lengths))
    assert x.shape == (4, 20)
    torch.testing.assert_close(batched[1], alone[0], atol=atol, rtol=0)


# -------------------------------------------------------------------------------------------- command line
def _csv(tmp_path, frame, name="data.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


CLF_ARGS = ["--text-column", "review", "--label-column", "sentiment", "--epochs", "8", "--min-freq", "1",
            "--hidden-size", "16", "--embedding-dim", "16", "--lr", "0.01", "--dropout", "0"]


def test_cli_classify_train_and_predict(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["text", "classify", "train", _csv(tmp_path, sentiment_frame()), *CLF_ARGS, "--bidirectional",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "LSTM (lstmkit)" in printed and ("tfidf_logreg" in printed or not HAVE_SKLEARN)
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"accuracy", "macro_f1", "confusion_matrix"} <= set(metrics["model"])
    if HAVE_SKLEARN:
        assert set(metrics["model"]) <= set(metrics["baselines"]["tfidf_logreg"])
    for name in ("config.json", "model.safetensors", "history.csv", "predictions.csv"):
        assert (out / name).is_file(), name
    assert main(["text", "classify", "predict", "--model", str(out), "a great plot"]) == 0
    label, probability, text = capsys.readouterr().out.strip().split("\t")
    assert (label, text) == ("pos", "a great plot") and 0.5 < float(probability) <= 1
    texts = tmp_path / "texts.txt"
    texts.write_text("so dull\n\nreally lovely\n")
    assert main(["text", "classify", "predict", "--model", str(out), "--input", str(texts),
                 "--out", str(tmp_path / "p.csv")]) == 0
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert predicted["label"].tolist() == ["neg", "pos"] and {"prob_neg", "prob_pos"} <= set(predicted)


def test_cli_lm_train_next_generate(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS)
    out = tmp_path / "lm"
    args = ["text", "lm", "train", str(corpus), "--hidden-size", "32", "--layers", "1", "--bptt", "10",
            "--batch-size", "4", "--epochs", "12", "--dropout", "0", "--min-freq", "1", "--lr", "0.01",
            "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "kneser_ney_3gram" in printed and "test_perplexity" in printed
    assert (out / "sample.txt").read_text().startswith("to be or")
    assert main(["text", "lm", "next", "--model", str(out), "to be or not to"]) == 0
    first = capsys.readouterr().out.splitlines()[0].split("\t")
    assert first[0] == "be" and float(first[1]) > 0.5
    gen = ["text", "lm", "generate", "--model", str(out), "--prompt", "to be", "--length", "12", "--seed", "3"]
    assert main(gen) == 0
    text = capsys.readouterr().out
    assert main(gen) == 0 and capsys.readouterr().out == text and text.startswith("to be ")


def _bad_csv(tmp_path, kind):
    df = sentiment_frame(30)
    if kind == "empty text":
        df.loc[4, "review"] = "   "
    elif kind == "one class":
        df["sentiment"] = "pos"
    elif kind == "numbers":
        df["review"] = np.arange(len(df)) * 0.5
    elif kind == "missing label":
        df.loc[7, "sentiment"] = None
    elif kind == "tiny class":
        df.loc[:1, "sentiment"] = "meh"
        df.loc[2:, "sentiment"] = ["pos", "neg"] * 14
    return _csv(tmp_path, df)


@pytest.mark.parametrize("kind,message", [
    ("empty text", "column 'review' has 1 empty text(s) (row 4); remove or fill those rows"),
    ("one class", "label column 'sentiment' has only one class ('pos'): a classifier needs at least two"),
    ("numbers", "column 'review' holds numbers, not text (row 0 is 0.0); name the column that holds the texts"),
    ("missing label", "label column 'sentiment' has a missing label at row 7"),
    ("tiny class", "class 'meh' has 2 example(s); each class needs at least 3"),
])
def test_cli_classify_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, kind, message):
    out = tmp_path / "run"
    assert main(["text", "classify", "train", _bad_csv(tmp_path, kind), *CLF_ARGS, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and "Traceback" not in err
    assert not out.exists()


def test_cli_other_bad_inputs(tmp_path, capsys, monkeypatch, lm):
    monkeypatch.chdir(tmp_path)  # the default --out, runs/<task>-<timestamp>, is relative to the working directory

    def fails(args, message):
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and err.count("\n") == 0, err

    data = _csv(tmp_path, sentiment_frame(30))
    fails(["text", "classify", "train", data, "--text-column", "body", "--label-column", "sentiment"],
          "column 'body' not found; columns are: review, sentiment")
    fails(["text", "classify", "train", str(tmp_path / "nope.csv"), *CLF_ARGS], "nope.csv: no such file")
    (tmp_path / "empty.csv").write_text("")
    fails(["text", "classify", "train", str(tmp_path / "empty.csv"), *CLF_ARGS], "the file is empty")
    (tmp_path / "blank.txt").write_text("\n  \n")
    fails(["text", "lm", "train", str(tmp_path / "blank.txt")], "the corpus is empty")
    (tmp_path / "short.txt").write_text("to be or not to be")
    fails(["text", "lm", "train", str(tmp_path / "short.txt")], "too few to split")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    fails(["text", "lm", "train", str(tmp_path / "latin1.txt")], "is not UTF-8 text")
    lm.save(tmp_path / "lm")
    fails(["text", "lm", "next", "--model", str(tmp_path / "lm"), "xyzzy plugh"],
          "none of the prompt's words is in the model's vocabulary ('xyzzy', 'plugh')")
    fails(["text", "lm", "generate", "--model", str(tmp_path / "lm"), "--prompt", "xyzzy"],
          "none of the prompt's words is in the model's vocabulary ('xyzzy')")
    fails(["text", "lm", "next", "--model", str(tmp_path / "lm"), "  "], "the prompt is empty")
    fails(["text", "classify", "predict", "--model", str(tmp_path / "lm"), "some text"],
          "does not hold a text classifier")
    fails(["text", "lm", "next", "--model", str(tmp_path / "missing"), "to be"], "no such directory")
    assert not (tmp_path / "runs").exists()


def test_cli_resume_with_nothing_to_resume_exits_2(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS)
    for args in (["text", "lm", "train", str(corpus)], ["text", "classify", "train", _csv(tmp_path, sentiment_frame(30)),
                                                         *CLF_ARGS]):
        out = tmp_path / "run"
        assert main([*args, "--out", str(out), "--resume"]) == 2
        err = capsys.readouterr().err.strip()
        assert f"--resume: {out} holds no interrupted run" in err and err.count("\n") == 0, err
        assert not out.exists()


# ------------------------------------------------------------------------------------------- other cells
def test_cli_classify_train_with_a_layernorm_lstm_and_recurrent_dropout(tmp_path, capsys):
    from lstmkit.nn import LayerNormLSTM

    df = sentiment_frame(120)
    out = tmp_path / "run"
    assert main(["text", "classify", "train", _csv(tmp_path, df), *CLF_ARGS, "--epochs", "2", "--bidirectional",
                 "--cell", "layernorm", "--recurrent-dropout", "0.2", "--out", str(out)]) == 0
    capsys.readouterr()
    saved = json.loads((out / "config.json").read_text())
    assert (saved["task"]["cell"], saved["task"]["recurrent_dropout"]) == ("layernorm", 0.2)
    assert (saved["model"]["cell"], saved["model"]["recurrent_dropout"]) == ("layernorm", 0.2)
    loaded = TextClassifier.load(out)
    assert type(loaded.model.lstm) is LayerNormLSTM and loaded.model.lstm.recurrent_dropout == 0.2
    # the same run through the Python API: identical probabilities before and after reloading
    clf = TextClassifier(loaded.config).fit(df)
    texts = df["review"].tolist()[:20] + ["words never seen zzz"]
    np.testing.assert_array_equal(clf.predict_proba(texts), loaded.predict_proba(texts))
    assert main(["text", "classify", "predict", "--model", str(out), "a great plot"]) == 0
    assert capsys.readouterr().out.endswith("\ta great plot\n")


def test_lm_with_a_gru_trains_generates_and_reloads(tmp_path):
    from lstmkit.nn import GRU, RecurrentStreamer

    lm = LanguageModel(LMConfig(**{**TINY_LM, "epochs": 2}, cell="gru", zoneout=0.05)).fit(CORPUS)
    assert type(lm.model.lstm) is GRU and lm.model.get_config()["zoneout"] == 0.05
    assert isinstance(lm.model.lstm.streamer(1), RecurrentStreamer)
    # the state is h alone: the streamed distribution is the full forward's
    prompt_ids = lm._prompt_ids("the slings and arrows")
    with torch.no_grad():
        logits, state = lm.model(torch.tensor([prompt_ids]))
    assert isinstance(state, torch.Tensor) and state.shape == (1, 1, 32)
    full = torch.softmax(logits[0, -1].double(), -1).numpy()
    np.testing.assert_allclose(lm.next_distribution("the slings and arrows"), full, atol=1e-6)
    text = lm.generate("to be", 12, temperature=1.0, seed=4)
    assert len(text.split()) >= 8
    lm.save(tmp_path / "lm")
    saved = json.loads((tmp_path / "lm" / "config.json").read_text())
    assert saved["task"]["cell"] == saved["model"]["cell"] == "gru"
    loaded = LanguageModel.load(tmp_path / "lm")
    assert type(loaded.model.lstm) is GRU
    assert loaded.generate("to be", 12, temperature=1.0, seed=4) == text
    np.testing.assert_array_equal(loaded.next_distribution("to be"), lm.next_distribution("to be"))
    assert loaded.evaluate(CORPUS)["model"] == lm.evaluate(CORPUS)["model"]
