"""1-NN DTW_D: the vectorised distance against a plain O(nm) loop, cases worked by hand, and the
published 1-NN DTW accuracies of the UEA & UCR archives on their fixed test splits."""
import math

import numpy as np
import pytest

from lstmkit.errors import DataError, MissingDependencyError
from lstmkit.metrics import dtw
from lstmkit.metrics.dtw import dtw_distances, nearest_neighbour


def _reference(x, y, window=None):
    """DTW_D by the textbook double loop, with the band rule documented in dtw_distances."""
    x, y = np.atleast_1d(x), np.atleast_1d(y)
    x, y = (x[:, None] if x.ndim == 1 else x), (y[:, None] if y.ndim == 1 else y)
    n, m = len(x), len(y)
    radius = None if window is None else math.floor(window * max(n, m) + 1e-9)
    cost = np.full((n + 1, m + 1), np.inf)
    cost[0, 0] = 0.0
    for i in range(n):
        for j in range(m):
            if radius is not None and not (-radius - max(0, m - n) <= i - j <= radius + max(0, n - m)):
                continue
            local = sum((x[i, k] - y[j, k]) ** 2 for k in range(x.shape[1]))
            cost[i + 1, j + 1] = local + min(cost[i, j + 1], cost[i + 1, j], cost[i, j])
    return cost[n, m]


def _random_sequences(rng, count, channels, low=1, high=14):
    return [rng.normal(size=(int(rng.integers(low, high)), channels)) for _ in range(count)]


@pytest.mark.parametrize("channels", [1, 2, 5])
@pytest.mark.parametrize("window", [None, 0.0, 0.1, 0.25, 0.5, 1.0])
def test_matches_the_plain_loop_on_unequal_lengths(channels, window):
    rng = np.random.default_rng(channels)
    queries, references = _random_sequences(rng, 6, channels), _random_sequences(rng, 5, channels)
    got = dtw_distances(queries, references, window=window)
    expected = np.array([[_reference(q, r, window) for r in references] for q in queries])
    assert got.shape == (6, 5) and np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)


def test_blocks_of_pairs_give_the_same_distances(monkeypatch):
    rng = np.random.default_rng(3)
    queries, references = _random_sequences(rng, 9, 3), _random_sequences(rng, 7, 3)
    whole = dtw_distances(queries, references, window=0.2)
    monkeypatch.setattr(dtw, "_BLOCK_BYTES", 1)  # one pair per block
    np.testing.assert_allclose(dtw_distances(queries, references, window=0.2), whole, rtol=0, atol=1e-12)


def test_symmetric():
    rng = np.random.default_rng(4)
    seqs = _random_sequences(rng, 6, 2)
    for window in (None, 0.1):
        d = dtw_distances(seqs, seqs, window=window)
        np.testing.assert_allclose(d, d.T, rtol=1e-12)
        np.testing.assert_array_equal(np.diag(d), 0.0)


def test_a_time_warped_copy_is_at_distance_zero():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 3))
    warped = np.repeat(x, rng.integers(1, 4, size=20), axis=0)  # each step held for 1 to 3 steps
    assert len(warped) > len(x)
    assert dtw_distances([x], [warped])[0, 0] == 0.0
    assert dtw_distances([warped], [x])[0, 0] == 0.0
    # ... while the Euclidean distance to a copy shifted by one step is not 0
    assert dtw_distances([x[1:]], [x[:-1]], window=0.0)[0, 0] > 0


def test_window_zero_on_equal_lengths_is_the_squared_euclidean_distance():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    assert dtw_distances([x], [y], window=0.0)[0, 0] == pytest.approx(((x - y) ** 2).sum(), rel=1e-12)
    assert dtw_distances([x], [y])[0, 0] <= ((x - y) ** 2).sum()  # a wider band can only lower it


def test_small_cases_by_hand():
    # [0, 1, 2] against [0, 0, 1, 2]: the first 0 matches both 0s, cost 0
    assert dtw_distances([np.array([0.0, 1, 2])], [np.array([0.0, 0, 1, 2])])[0, 0] == 0.0
    # [1, 2, 3] against [2]: every step matches the one value: 1 + 0 + 1
    assert dtw_distances([np.array([1.0, 2, 3])], [np.array([2.0])])[0, 0] == 2.0
    # two channels: the cost is the squared distance between the channel vectors: (1-0)^2 + (3-1)^2 = 5
    assert dtw_distances([np.array([[1.0, 3.0]])], [np.array([[0.0, 1.0]])])[0, 0] == 5.0
    # window 0 with unequal lengths: the band widens by the length difference, so a path exists
    d = dtw_distances([np.array([0.0, 1, 2])], [np.array([0.0, 1, 1, 1, 2])], window=0.0)[0, 0]
    assert d == 0.0


def test_empty_inputs_and_bad_ones():
    x = np.zeros((5, 2))
    assert dtw_distances([], [x]).shape == (0, 1)
    with pytest.raises(DataError, match=r"same number of channels, found \[2, 3\]"):
        dtw_distances([x], [np.zeros((5, 3))])
    with pytest.raises(DataError, match=r"references\[1\]: contains NaN"):
        dtw_distances([x], [x, np.full((4, 2), np.nan)])
    with pytest.raises(DataError, match=r"queries\[0\]: expected a non-empty"):
        dtw_distances([np.zeros((0, 2))], [x])
    with pytest.raises(DataError, match="window must be a fraction"):
        dtw_distances([x], [x], window=1.5)


def test_nearest_neighbour_labels_and_ties():
    a, b = np.zeros((6, 1)), np.ones((8, 1))
    assert list(nearest_neighbour([a, b], ["low", "high"], [a + 0.1, b - 0.1, a])) == ["low", "high", "low"]
    # identical references: the first one wins
    assert list(nearest_neighbour([a, a.copy()], ["first", "second"], [a + 0.3])) == ["first"]
    assert list(nearest_neighbour([a, b], np.array([3, 7]), [b])) == [7]  # class indices work too
    assert len(nearest_neighbour([a], ["x"], [])) == 0
    with pytest.raises(DataError, match="2 training sequences but 1 labels"):
        nearest_neighbour([a, b], ["x"], [a])


# ------------------------------------------------------------------------------ the archives' numbers
def _archive(name):
    from lstmkit.data import load_dataset
    from lstmkit.data.motion import sequences_from_frame

    try:
        frame = load_dataset(name)
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    channels = [c for c in frame.columns if c.startswith("dim_")]
    parts = []
    for split in ("train", "test"):
        x, y, _ = sequences_from_frame(frame[frame["split"] == split], id_column="sequence", label_column="label",
                                       channels=channels, step_column="step")
        parts += [x, np.asarray(y)]
    return parts


@pytest.mark.extra
@pytest.mark.parametrize(
    ("name", "window", "accuracy"),
    [
        ("gunpoint", None, 0.907),  # UCR archive 2018: DTW (full window) error 0.093
        ("gunpoint", 0.0, 0.913),  # UCR archive 2018: Euclidean distance error 0.087
        ("basic_motions", None, 0.975),  # UEA archive 2018 (Bagnall et al.), DTW_D
        ("japanese_vowels", None, 0.949),  # UEA archive 2018, DTW_D (DTW_I: 0.959)
    ],
)
def test_one_nn_dtw_reproduces_the_published_accuracy(name, window, accuracy):
    train_x, train_y, test_x, test_y = _archive(name)
    predicted = nearest_neighbour(train_x, train_y, test_x, window=window)
    assert round(float(np.mean(predicted == test_y)), 3) == accuracy
