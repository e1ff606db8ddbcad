import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lstmkit.data import (
    DataError,
    MinMaxScaler,
    NotFittedError,
    StandardScaler,
    scaler_from_dict,
)

FAST = settings(max_examples=40, deadline=None)

SCALERS = [StandardScaler, lambda: MinMaxScaler(feature_range=(-1.0, 2.0))]


@st.composite
def tables(draw):
    rows = draw(st.integers(1, 20))
    features = draw(st.integers(1, 4))
    x = draw(arrays(np.float64, (rows, features), elements=st.floats(-1e6, 1e6, allow_subnormal=False)))
    if draw(st.booleans()):  # a constant column must not divide by zero
        x[:, draw(st.integers(0, features - 1))] = draw(st.floats(-1e3, 1e3))
    return x


@FAST
@given(x=tables(), make=st.sampled_from(SCALERS))
def test_inverse_transform_undoes_transform(x, make):
    scaler = make().fit(x)
    z = scaler.transform(x)
    assert np.all(np.isfinite(z))
    back = scaler.inverse_transform(z)
    np.testing.assert_allclose(back, x, rtol=1e-9, atol=1e-9 * (1 + np.abs(x).max()))


@FAST
@given(x=tables(), make=st.sampled_from(SCALERS))
def test_json_round_trip_gives_identical_results(x, make):
    scaler = make().fit(x)
    restored = scaler_from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert type(restored) is type(scaler)
    assert restored == scaler
    np.testing.assert_array_equal(restored.transform(x), scaler.transform(x))
    np.testing.assert_array_equal(restored.inverse_transform(x), scaler.inverse_transform(x))


# scikit-learn's test for a constant feature differs from ours only for ranges near round-off
# (it uses an absolute 10 eps for MinMaxScaler); values with 3 decimals keep clear of that.
rounded_tables = tables().map(lambda x: np.round(x, 3))


@FAST
@given(x=rounded_tables)
def test_standard_scaler_matches_scikit_learn(x):
    sklearn = pytest.importorskip("sklearn.preprocessing")
    ours = StandardScaler().fit(x)
    theirs = sklearn.StandardScaler().fit(x)
    np.testing.assert_allclose(ours.mean_, theirs.mean_, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(ours.transform(x), theirs.transform(x), rtol=1e-9, atol=1e-9)


@FAST
@given(x=rounded_tables)
def test_min_max_scaler_matches_scikit_learn(x):
    sklearn = pytest.importorskip("sklearn.preprocessing")
    ours = MinMaxScaler((-1.0, 2.0)).fit(x)
    theirs = sklearn.MinMaxScaler(feature_range=(-1.0, 2.0)).fit(x)
    np.testing.assert_allclose(ours.transform(x), theirs.transform(x), rtol=1e-9, atol=1e-9)


def test_standard_scaler_golden_values():
    x = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 10.0]])
    scaler = StandardScaler()
    assert scaler.fit(x) is scaler
    np.testing.assert_allclose(scaler.mean_, [2.0, 10.0])
    np.testing.assert_allclose(scaler.scale_, [np.sqrt(2 / 3), 1.0])  # constant column: scale 1
    np.testing.assert_allclose(scaler.transform(x), [[-1.2247448713915890, 0], [0, 0], [1.2247448713915890, 0]])
    assert scaler.n_features_in_ == 2 and scaler.n_samples_seen_ == 3


def test_min_max_scaler_golden_values():
    x = np.array([[0.0, 5.0], [5.0, 5.0], [10.0, 5.0]])
    scaler = MinMaxScaler((-1, 1)).fit(x)
    np.testing.assert_allclose(scaler.transform(x), [[-1, -1], [0, -1], [1, -1]])
    # round-off in a constant column is not blown up to the full range
    nearly = MinMaxScaler().fit(np.array([[0.1 + 0.2], [0.3]]))
    np.testing.assert_allclose(nearly.transform(np.array([[0.1 + 0.2], [0.3]])), [[0.0], [0.0]], atol=1e-15)
    # Values outside the training range are not clipped.
    np.testing.assert_allclose(scaler.transform(np.array([[20.0, 6.0]])), [[3.0, 1.0]])  # constant column: range taken as 1


def test_scaler_state_is_float64_and_fitted_only_on_what_it_is_given():
    train, test = np.arange(10.0)[:, None], 1000 + np.arange(5.0)[:, None]
    scaler = StandardScaler().fit(train)
    assert scaler.mean_.dtype == np.float64 and scaler.mean_[0] == 4.5
    assert scaler.transform(test).min() > 10  # the test rows were never seen


@pytest.mark.parametrize("make", SCALERS)
def test_keeps_kind_shape_dtype(make):
    x64 = np.random.default_rng(0).normal(size=(6, 3))
    scaler = make().fit(x64)
    t32 = torch.from_numpy(x64).float()
    out = scaler.transform(t32)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32 and out.shape == (6, 3)
    torch.testing.assert_close(out, torch.from_numpy(scaler.transform(x64)).float())
    assert scaler.transform(x64.astype(np.float32)).dtype == np.float32
    windows = np.stack([x64, x64])  # (N, T, F): leading axes are rows
    np.testing.assert_allclose(scaler.transform(windows)[1], scaler.transform(x64))

    one = make().fit(np.arange(5.0))  # 1-D is one feature, and stays 1-D
    assert one.n_features_in_ == 1
    assert one.transform(np.arange(3.0)).shape == (3,)
    assert isinstance(one.fit(torch.arange(5.0)).transform(torch.arange(3.0)), torch.Tensor)


@pytest.mark.parametrize("kind", ["NaN", "inf"])
def test_fit_rejects_non_finite_naming_column_and_row(kind):
    x = np.zeros((8, 3))
    x[5, 2] = np.nan if kind == "NaN" else np.inf
    x[6, 0] = np.nan
    with pytest.raises(DataError, match=f"column 2 has {kind} at row 5 \\(2 non-finite values in all\\)"):
        StandardScaler().fit(x)
    with pytest.raises(DataError, match=f"column 2 has {kind} at row 5"):
        MinMaxScaler().fit(torch.from_numpy(x))


def test_scaler_errors():
    with pytest.raises(NotFittedError, match="not fitted yet; call fit"):
        StandardScaler().transform(np.zeros((2, 1)))
    scaler = MinMaxScaler().fit(np.zeros((4, 3)))
    with pytest.raises(DataError, match=r"input has 2 feature\(s\).*fitted on 3"):
        scaler.transform(np.zeros((4, 2)))
    with pytest.raises(TypeError, match="needs a floating-point array, got int64"):
        scaler.transform(np.zeros((4, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="needs a floating-point tensor"):
        scaler.transform(torch.zeros(4, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        scaler.transform([[0.0, 0.0, 0.0]])
    with pytest.raises(DataError, match="got 0 rows"):
        StandardScaler().fit(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="min < max"):
        MinMaxScaler((1, 1))
    with pytest.raises(DataError, match="unknown scaler type 'RobustScaler'; known types: MinMaxScaler, StandardScaler"):
        scaler_from_dict({"type": "RobustScaler", "params": {}, "state": None})
    with pytest.raises(DataError, match="needs a dict with a 'type' key"):
        scaler_from_dict({"params": {}})
    with pytest.raises(DataError, match="state lacks"):
        scaler_from_dict({"type": "StandardScaler", "params": {}, "state": {"mean_": [0.0]}})


def test_unfitted_scaler_round_trips_and_fits_from_integers():
    restored = scaler_from_dict(json.loads(json.dumps(MinMaxScaler((2, 3)).to_dict())))
    assert restored.to_dict() == {"type": "MinMaxScaler", "params": {"feature_range": [2.0, 3.0]}, "state": None}
    assert not restored.is_fitted()
    restored.fit(np.array([[1], [3]]))  # fit accepts integers; statistics are float64
    np.testing.assert_allclose(restored.transform(np.array([[2.0]])), [[2.5]])
    assert repr(restored) == "MinMaxScaler(feature_range=[2.0, 3.0])"
