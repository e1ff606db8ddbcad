"""The AR(p) baseline: least squares with a constant, order by AIC, forecasts iterated from each origin."""
import numpy as np
import pytest

from lstmkit.tasks.forecast import baselines as fb


def _ar2(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    z = np.zeros(n)
    for t in range(2, n):
        z[t] = 0.5 + 1.2 * z[t - 1] - 0.5 * z[t - 2] + rng.normal()
    return z


def test_aic_picks_the_true_order_and_least_squares_recovers_the_coefficients():
    z = _ar2()
    p, coef = fb.ar_fit(z, max_lag=12)
    assert p == 2
    np.testing.assert_allclose(coef, [0.5, 1.2, -0.5], atol=0.08)


def test_coefficients_equal_statsmodels_autoreg():
    AutoReg = pytest.importorskip("statsmodels.tsa.ar_model").AutoReg
    z = _ar2(500, seed=1)
    p, coef = fb.ar_fit(z, max_lag=6)
    reference = AutoReg(z, lags=p, trend="c").fit().params  # [const, phi_1, ..., phi_p]
    np.testing.assert_allclose(coef, reference, rtol=1e-8, atol=1e-10)


def test_forecasts_are_iterated_from_observed_values_only():
    z = _ar2(400, seed=2)[:, None]
    origins = np.array([300, 350])
    out, orders = fb.ar_forecast(z, origins, horizon=3, season=1, fit_end=300)
    p, coef = fb.ar_fit(z[:300, 0], fb.ar_max_lag(1, 300))
    assert orders == [p]
    for i, origin in enumerate(origins):
        history = list(z[:origin, 0])  # everything observed before the origin, nothing after it
        for h in range(3):
            step = coef[0] + sum(coef[j] * history[-j] for j in range(1, p + 1))
            assert out[i, h, 0] == pytest.approx(step, rel=1e-12)
            history.append(step)
    # the future never leaks in: changing values at and after an origin leaves its forecast alone
    changed = z.copy()
    changed[350:] += 100.0
    again, _ = fb.ar_forecast(changed, origins[1:], 3, 1, fit_end=300)
    np.testing.assert_allclose(again[0], out[1])
