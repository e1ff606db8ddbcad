"""Competition metrics: M3's sMAPE, MASE, the Naive2 benchmark and its seasonality test, OWA, and the
collection scorer, against values worked out by hand (the comments show the working). The published-number
checks on the real M3 and Tourism data are in tests/data/test_competitions.py."""
import types

import numpy as np
import pytest

from lstmkit.metrics.forecast import (
    forecast_metrics,
    mase,
    mase_scale,
    naive2_forecast,
    owa,
    score_collection,
    seasonality_test,
    smape_m3,
)


# ------------------------------------------------------------------------------------------ sMAPE
def test_smape_m3_by_hand():
    # 200*10/210 = 9.5238095, 200*20/380 = 10.5263158; mean 10.0250627
    assert smape_m3([100, 200], [110, 180]) == pytest.approx(10.0250627, abs=1e-6)
    assert smape_m3([0, 100], [0, 100]) == 0.0  # 0/0 counts as 0
    assert smape_m3([0, 50], [0, 150]) == pytest.approx(50.0)  # (0 + 200*100/200) / 2
    assert smape_m3([5], [0]) == 200.0  # the largest possible error
    assert smape_m3([-100], [-110]) == pytest.approx(200 * 10 / 210)  # |y| + |f|: negative values too


def test_smape_m3_agrees_with_forecast_metrics():
    rng = np.random.default_rng(0)
    y, f = rng.uniform(1, 10, (1, 6, 1)), rng.uniform(1, 10, (1, 6, 1))
    assert smape_m3(y, f) == pytest.approx(forecast_metrics(y, f, np.ones(1))["smape"])


def test_smape_m3_refuses_mismatched_or_empty_input():
    with pytest.raises(ValueError, match=r"truth \(2,\) and forecast \(3,\) differ in shape"):
        smape_m3([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="sMAPE of no values"):
        smape_m3([], [])


# ------------------------------------------------------------------------------------------- MASE
def test_mase_by_hand():
    # m = 1: |2-1|, |4-2|, |7-4| -> scale 2; errors |8-9|, |10-9| -> MAE 1; MASE 0.5
    assert mase([8, 10], [9, 9], [1, 2, 4, 7], 1) == pytest.approx(0.5)
    # m = 2: |2-1|, |5-3|, |4-2|, |8-5| -> scale 2; errors 1, 2 -> MAE 1.5; MASE 0.75
    assert mase([5, 9], [6, 7], [1, 3, 2, 5, 4, 8], 2) == pytest.approx(0.75)
    # the scale is mase_scale's: m = 1 when the training part is no longer than the season
    assert mase([5], [6], [1, 3, 2], 4) == pytest.approx(1 / float(mase_scale(np.array([1.0, 3, 2]), 4)))
    assert mase([5], [6], [1, 3, 2], 4) == pytest.approx(1 / 1.5)  # |3-1|, |2-3| -> 1.5
    assert mase([5], [7], [3, 3, 3], 1) == pytest.approx(2.0)  # a constant training part: scale 1


def test_mase_refuses_a_training_part_of_one_value():
    with pytest.raises(ValueError, match="at least 2 training values"):
        mase([1], [1], [5], 1)


def test_owa_by_hand():
    assert owa(12, 0.9, 15, 1.2) == pytest.approx(0.775)  # 0.5 * (12/15 + 0.9/1.2) = 0.5 * (0.8 + 0.75)
    assert owa(15, 1.2, 15, 1.2) == 1.0


# ------------------------------------------------------------------------ Naive2 and its seasonality test
SEASON = [10.0, 20.0, 30.0, 20.0]  # one year of a quarterly pattern: mean 20, deviations -10, 0, 10, 0


def test_seasonality_test_by_hand():
    # 4 years (n = 16): sum of squared deviations 4 * 200 = 800.
    #   r1 = 0 (every product has a 0 deviation), r3 = 0 (likewise),
    #   r2 = 7 * (-100) / 800 = -0.875, r4 = 12 pairs, 6 of them 100 / 800 = 0.75;
    #   limit = 1.645 * sqrt((1 + 2 * 0.875^2) / 16) = 0.41125 * 1.59099 = 0.65430 < 0.75: seasonal
    assert seasonality_test(SEASON * 4, 4)
    # 3 years (n = 12): r2 = 5 * (-100) / 600 = -0.8333, r4 = 4 * 100 / 600 = 0.6667;
    #   limit = 1.645 * sqrt((1 + 2 * 0.6944) / 12) = 0.47487 * 1.54560 = 0.73397 > 0.6667: not seasonal
    assert not seasonality_test(SEASON * 3, 4)
    assert not seasonality_test(SEASON * 2, 4)  # n = 8 < 3m: never seasonal
    assert not seasonality_test(SEASON * 4, 1)  # m = 1
    assert not seasonality_test([5.0] * 16, 4)  # constant


def test_naive2_seasonal_branch_by_hand():
    # 4 years of the pattern: the centred 2x4 moving average is (0.5*a + b + c + d + 0.5*a) / 4 = 80 / 4 = 20
    # wherever it is defined, so the ratios (and the indices, whose mean is already 1) are 0.5, 1, 1.5, 1.
    # The last value (20, position 15, index 1) adjusts to 20; reseasonalised from position 16 = 0 mod 4:
    np.testing.assert_allclose(naive2_forecast(SEASON * 4, 6, 4), [10, 20, 30, 20, 10, 20])
    # starting one value later in the cycle (18 values, the last at position 17 = 1 mod 4, value 20): the
    # forecast continues the cycle where the data stop, at position 18 = 2 mod 4
    series = (SEASON * 5)[:18]
    assert seasonality_test(series, 4)
    np.testing.assert_allclose(naive2_forecast(series, 4, 4), [30, 20, 10, 20])


def test_naive2_seasonal_branch_is_multiplicative():
    # Ratios 0.75, 1.25, 1.25, 0.75 around a moving average of 40; the series doubled has the same indices
    # (the decomposition is multiplicative) and twice the forecast.
    pattern = [30.0, 50.0, 50.0, 30.0]
    np.testing.assert_allclose(naive2_forecast(pattern * 4, 4, 4), [30, 50, 50, 30])
    np.testing.assert_allclose(naive2_forecast([2 * v for v in pattern * 4], 4, 4), [60, 100, 100, 60])


@pytest.mark.parametrize(("n", "m"), [(50, 12), (45, 12), (23, 4), (31, 7)])
def test_naive2_uses_the_classical_decomposition_of_statsmodels(n, m):
    """The seasonal indices are those of statsmodels' (and R's) classical multiplicative decomposition."""
    seasonal_decompose = pytest.importorskip("statsmodels.tsa.seasonal").seasonal_decompose
    rng = np.random.default_rng(n)
    t = np.arange(n)
    x = (100 + 0.5 * t) * (1 + 0.3 * np.sin(2 * np.pi * t / m)) * rng.uniform(0.95, 1.05, n)
    assert seasonality_test(x, m)
    seasonal = seasonal_decompose(x, model="multiplicative", period=m).seasonal  # index of every position
    expected = x[-1] / seasonal[-1] * seasonal[n - m + np.arange(2 * m) % m]
    np.testing.assert_allclose(naive2_forecast(x, 2 * m, m), expected, rtol=1e-12)


def test_naive2_non_seasonal_branch():
    assert naive2_forecast([1.0, 2.0, 3.0], 2, 1).tolist() == [3.0, 3.0]  # m = 1: the naive forecast
    assert naive2_forecast(SEASON * 3, 3, 4).tolist() == [20.0] * 3  # the test says not seasonal (above)
    assert naive2_forecast(SEASON * 2, 3, 4).tolist() == [20.0] * 3  # too short to test
    with_zero = [0.0] + (SEASON * 4)[1:]  # seasonal, but multiplicative adjustment needs positive values
    assert seasonality_test(with_zero, 4) and naive2_forecast(with_zero, 2, 4).tolist() == [20.0, 20.0]


def test_naive2_refuses_nothing_to_forecast():
    with pytest.raises(ValueError, match="at least one training value"):
        naive2_forecast([], 2, 1)
    with pytest.raises(ValueError, match="horizon h must be at least 1"):
        naive2_forecast([1.0], 0, 1)


# ---------------------------------------------------------------------------------- a whole collection
def _series(id_, train, test, season):
    return types.SimpleNamespace(id=id_, train=np.array(train, float), test=np.array(test, float), season=season)


COLLECTION = [
    _series("a", [1, 2, 4, 7], [8, 10], 1),  # Naive2 = naive = 7, 7
    _series("b", [10, 10, 10, 10], [10, 10, 10, 10], 1),  # Naive2 exact; constant training part: scale 1
]


def test_score_collection_by_hand():
    table, summary = score_collection(COLLECTION, {"a": [9, 9], "b": [11, 9, 10, 10]})
    assert list(table.columns) == ["series", "h", "smape", "mase", "smape_naive2", "mase_naive2"]
    assert table["series"].tolist() == ["a", "b"] and table["h"].tolist() == [2, 4]
    # a: sMAPE (200/17 + 200/19) / 2 = 11.1455; MAE 1, scale 2 -> MASE 0.5;
    #    Naive2 (7, 7): sMAPE (200/15 + 600/17) / 2 = 24.3137; MAE 2 -> MASE 1
    # b: sMAPE (200/21 + 200/19) / 4 = 5.0125; MAE 0.5, scale 1 -> MASE 0.5; Naive2 exact: 0 and 0
    np.testing.assert_allclose(table["smape"], [11.1455, 5.0125], atol=1e-4)
    np.testing.assert_allclose(table["mase"], [0.5, 0.5])
    np.testing.assert_allclose(table["smape_naive2"], [24.3137, 0], atol=1e-4)
    np.testing.assert_allclose(table["mase_naive2"], [1, 0])
    assert summary["series"] == 2
    assert summary["smape"] == pytest.approx((11.14551 + 5.01253) / 2, abs=1e-4)
    assert summary["smape_points"] == pytest.approx((2 * 11.14551 + 4 * 5.01253) / 6, abs=1e-4)  # h-weighted
    assert summary["mase"] == pytest.approx(0.5) and summary["mase_naive2"] == pytest.approx(0.5)
    assert summary["smape_naive2"] == pytest.approx(24.31373 / 2, abs=1e-4)
    assert summary["owa"] == pytest.approx(0.5 * (8.07902 / 12.15686 + 1.0), abs=1e-4)
    # forecasts in the order of the series give the same; without Naive2, no Naive2 columns
    same, _ = score_collection(COLLECTION, [[9, 9], [11, 9, 10, 10]])
    assert same.equals(table)
    plain, brief = score_collection(COLLECTION, [[9, 9], [11, 9, 10, 10]], naive2=False)
    assert list(plain.columns) == ["series", "h", "smape", "mase"] and "owa" not in brief


@pytest.mark.parametrize(
    ("forecasts", "message"),
    [
        ({"a": [9, 9]}, r"no forecast for 1 series, the first 'b'"),
        ([[9, 9]], r"1 forecasts for 2 series"),
        ({"a": [9, 9, 9], "b": [1, 1, 1, 1]}, r"series 'a': 3 forecast values for a test part of 2"),
        ({"a": [9, 9], "b": [1, np.nan, 1, 1]}, r"series 'b': the forecast holds a missing or infinite value"),
    ],
)
def test_score_collection_names_the_bad_forecast(forecasts, message):
    with pytest.raises(ValueError, match=message):
        score_collection(COLLECTION, forecasts)
