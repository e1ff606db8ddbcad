"""Speech error rates (lstmkit.metrics.speech) against jiwer, a plain-Python edit distance and hand cases."""
import numpy as np
import pytest

from lstmkit.errors import ConfigError, DataError
from lstmkit.metrics.speech import ErrorCounts, cer, edit_distance, error_counts, wer


def python_distance(a, b):
    """Textbook Levenshtein, one cell at a time (the reference for the vectorised rows)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j - 1] + (a[i - 1] != b[j - 1]), d[i - 1][j] + 1, d[i][j - 1] + 1)
    return d[-1][-1]


def random_text(rng, alphabet, low, high):
    return "".join(rng.choice(list(alphabet), rng.integers(low, high)))


def test_hand_cases():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3 and edit_distance("", "") == 0
    assert edit_distance("the cat sat".split(), "the bat sat down".split()) == 2
    assert edit_distance([3, 1, 2], [1, 2]) == 1
    assert error_counts("the cat sat", "the cat sat down") == ErrorCounts(0, 0, 1, 3)
    assert error_counts("a b c", "a c") == ErrorCounts(0, 1, 0, 2)
    assert error_counts("a b c", "a x c") == ErrorCounts(1, 0, 0, 2)
    assert wer("the cat sat", "the cat sat down") == pytest.approx(1 / 3)
    # corpus level: 1 edit over 5 reference words, not the mean of 0 and 1
    assert wer(["a b c d", "e"], ["a b c d", "x"]) == pytest.approx(1 / 5)
    # CER strips the ends and keeps inner spaces; a rate can exceed 1
    assert cer(" ab  c ", "abc") == pytest.approx(2 / 5)
    assert cer("ab", "abxyz") == pytest.approx(3 / 2)
    assert wer([""], [""]) == 0.0 and wer([""], ["hello"]) == float("inf")
    counts = error_counts([[1, 2, 3], [4]], [[1, 3], [4, 4]], unit="token")
    assert counts == ErrorCounts(0, 1, 1, 3) and counts.rate == pytest.approx(2 / 4)


def test_vectorised_rows_match_the_textbook_recurrence():
    rng = np.random.default_rng(0)
    for _ in range(300):
        a, b = random_text(rng, "abc", 0, 15), random_text(rng, "abcd", 0, 15)
        assert edit_distance(a, b) == python_distance(a, b)


def test_against_jiwer_on_random_corpora():
    jiwer = pytest.importorskip("jiwer")
    rng = np.random.default_rng(1)
    for _ in range(150):
        alphabet = "ab " if rng.random() < 0.5 else "abcde  "
        refs = [random_text(rng, alphabet, 1, 30) for _ in range(rng.integers(1, 5))]
        refs = [r if r.strip() else "a" for r in refs]  # jiwer's transforms would drop an all-space text
        hyps = [random_text(rng, alphabet, 0, 30) for _ in refs]
        assert wer(refs, hyps) == pytest.approx(jiwer.wer(refs, hyps), abs=1e-12)
        assert cer(refs, hyps) == pytest.approx(jiwer.cer(refs, hyps), abs=1e-12)
        # the same split of the edits into S, D, I (jiwer's alignment choice among equal ones)
        for unit, process in (("word", jiwer.process_words), ("char", jiwer.process_characters)):
            out = process(refs, hyps)
            assert error_counts(refs, hyps, unit=unit) == ErrorCounts(out.substitutions, out.deletions,
                                                                     out.insertions, out.hits)


def test_bad_input():
    with pytest.raises(DataError, match="refs has 2 utterances but hyps has 1"):
        wer(["a", "b"], ["a"])
    with pytest.raises(DataError, match="both be texts or both be lists"):
        cer("abc", ["abc"])
    with pytest.raises(DataError, match="hypothesis 0 must be text"):
        wer(["a"], [None])
    with pytest.raises(ConfigError, match="unit must be one of"):
        error_counts("a", "b", unit="phone")
