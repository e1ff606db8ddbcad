"""Tokenisers, vocabulary, text-column checks (lstmkit.data.text) and the stratified split (lstmkit.data.splits)."""
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lstmkit.data import DataError, NotFittedError
from lstmkit.data.text import (
    EOS,
    SPECIALS,
    CharTokenizer,
    Vocabulary,
    WordTokenizer,
    check_texts,
    detokenize,
    tokenizer_from_dict,
)
from lstmkit.data.splits import stratified_split


# ------------------------------------------------------------------------------------------ tokenisers
@pytest.mark.parametrize("text,tokens", [
    ("To be, or not to be: that is the question.",
     ["to", "be", ",", "or", "not", "to", "be", ":", "that", "is", "the", "question", "."]),
    ("Don't stop -- 'tis 2 o'clock!", ["don't", "stop", "-", "-", "'", "tis", "2", "o'clock", "!"]),
    ("The king\u2019s crown", ["the", "king's", "crown"]),  # curly apostrophe -> '
    ("\uff28\uff45\uff4c\uff4c\uff4f", ["hello"]),  # full-width letters, NFKC
    ("caf\u00e9 na\u00efve \u00fcber", ["caf\u00e9", "na\u00efve", "\u00fcber"]),  # any script's letters
    ("snake_case and 3.14", ["snake_case", "and", "3", ".", "14"]),
    ("  \t\n ", []),
])
def test_word_tokenizer_rules(text, tokens):
    assert WordTokenizer()(text) == tokens


def test_word_tokenizer_options():
    assert WordTokenizer(lower=False)("Good NIGHT") == ["Good", "NIGHT"]
    assert WordTokenizer(punctuation=False)("Well, good night!") == ["well", "good", "night"]
    lines = WordTokenizer(lines=True)("To be.\n\n  \nOr not")
    assert lines == ["to", "be", ".", EOS, "or", "not", EOS]  # blank lines add nothing
    with pytest.raises(TypeError, match="expects a str, got int"):
        WordTokenizer()(3)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=60))
def test_word_tokens_cover_every_non_space_character(text):
    tok = WordTokenizer()
    tokens = tok(text)
    assert all(t and not any(ch.isspace() for ch in t) for t in tokens)
    assert "".join(tokens) == "".join(tok.normalize(text).split())


def test_char_tokenizer_and_detokenize():
    tok = CharTokenizer()
    assert tok("Hi!\n") == ["H", "i", "!", "\n"]
    assert CharTokenizer(lower=True)("AbC") == ["a", "b", "c"]
    assert tok.detokenize(tok("Hi there\n")) == "Hi there\n"
    words = WordTokenizer(lines=True)("Well, good night. (Exit) it's 100%\nAnd so")
    assert detokenize(words) == "well, good night. (exit) it's 100%\nand so\n"


def test_tokenizer_json_round_trip():
    for tok in (WordTokenizer(lower=False, punctuation=False, lines=True), CharTokenizer(lower=True)):
        again = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
        assert type(again) is type(tok) and again.to_dict() == tok.to_dict()
    with pytest.raises(ValueError, match="unknown tokenizer level 'byte'"):
        tokenizer_from_dict({"level": "byte"})


# ------------------------------------------------------------------------------------------ vocabulary
CORPUS = [["b", "a", "c", "a"], ["c", "a", "d", "b", "e"], ["<eos>", "a"]]  # a:4, b:2, c:2, d:1, e:1


def test_vocabulary_specials_order_and_unknowns():
    vocab = Vocabulary().fit(CORPUS)
    assert vocab.itos_[:4] == list(SPECIALS) == ["<pad>", "<unk>", "<bos>", "<eos>"]
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    # most frequent first; ties (b, c and d, e) in order of first appearance
    assert vocab.itos_[4:] == ["a", "b", "c", "d", "e"]
    assert vocab.counts_ == [0, 0, 0, 0, 4, 2, 2, 1, 1]
    assert vocab.encode(["a", "zebra", "e"]) == [4, 1, 8]  # unknown -> <unk>, never an error
    assert vocab["zebra"] == vocab.unk_id and "zebra" not in vocab and "a" in vocab
    assert vocab.encode(["a"], bos=True, eos=True) == [2, 4, 3]
    assert vocab.decode([2, 4, 1, 3], skip_specials=True) == ["a", "<unk>"]
    assert vocab.unknown(["a", "x", "y", "x"]) == ["x", "y"]
    with pytest.raises(ValueError, match="id 99 is outside the vocabulary"):
        vocab.decode([99])


def test_vocabulary_min_freq_and_max_size():
    assert Vocabulary(min_freq=2).fit(CORPUS).itos_[4:] == ["a", "b", "c"]
    assert Vocabulary(max_size=6).fit(CORPUS).itos_ == [*SPECIALS, "a", "b"]  # specials count toward the size
    assert len(Vocabulary(min_freq=5).fit(CORPUS)) == 4  # only the specials
    with pytest.raises(ValueError, match="min_freq must be an integer >= 1"):
        Vocabulary(min_freq=0)
    with pytest.raises(ValueError, match=r"max_size must be an integer > 4"):
        Vocabulary(max_size=4)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        Vocabulary().encode(["a"])
    with pytest.raises(TypeError, match="expects token lists"):
        Vocabulary().fit(["a b c"])


def test_vocabulary_json_round_trip(tmp_path):
    vocab = Vocabulary(min_freq=1, max_size=7).fit(CORPUS + [["\u00e9t\u00e9", "\u00e9t\u00e9"]])
    again = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again.itos_ == vocab.itos_ and again.counts_ == vocab.counts_ and again.max_size == 7
    path = vocab.save(tmp_path / "vocab.json")
    plain = tmp_path / "plain.txt"
    plain.write_text("")
    assert path.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777  # a plain open()'s mode, not 0600
    loaded = Vocabulary.load(path)
    assert loaded.stoi_ == vocab.stoi_
    assert loaded.encode(["\u00e9t\u00e9", "nope"]) == vocab.encode(["\u00e9t\u00e9", "nope"])
    with pytest.raises(DataError, match="must start with the specials"):
        Vocabulary.from_dict({"tokens": ["a", "b"], "counts": [1, 1]})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="cannot read a vocabulary"):
        Vocabulary.load(tmp_path / "bad.json")


# --------------------------------------------------------------------------------------- text columns
def test_check_texts_accepts_text_and_pins_bad_values():
    assert check_texts(pd.Series(["a", "b c"])) == ["a", "b c"]
    with pytest.raises(DataError, match=r"column 'review' holds numbers, not text \(row 0 is 3.5\)"):
        check_texts(pd.Series([3.5, 1.0]), name="review")
    with pytest.raises(DataError, match=r"column 'review': row 1 holds a non-text value 7 \(int\)"):
        check_texts(pd.Series(["fine", 7], dtype=object), name="review")
    with pytest.raises(DataError, match=r"column 'review' has 2 empty text\(s\) \(row 1, 3\)"):
        check_texts(pd.Series(["fine", "  ", "ok", None]), name="review")
    with pytest.raises(DataError, match="column 'review' has no rows"):
        check_texts([], name="review")


# ------------------------------------------------------------------------------------- stratified split
def test_stratified_split_is_seeded_disjoint_and_keeps_proportions():
    labels = ["a"] * 70 + ["b"] * 20 + ["c"] * 10
    train, val, test = stratified_split(labels, val=0.1, test=0.2, seed=3)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    counts = {part: pd.Series(np.asarray(labels)[rows]).value_counts().to_dict()
              for part, rows in (("val", val), ("test", test))}
    assert counts["test"] == {"a": 14, "b": 4, "c": 2} and counts["val"] == {"a": 7, "b": 2, "c": 1}
    again = stratified_split(labels, val=0.1, test=0.2, seed=3)
    assert all(np.array_equal(x, y) for x, y in zip(again, (train, val, test)))
    other = stratified_split(labels, val=0.1, test=0.2, seed=4)
    assert not np.array_equal(other[2], test)
    with pytest.raises(DataError, match="class 'z' has 2 example"):
        stratified_split(labels + ["z", "z"], val=0.1, test=0.2)
