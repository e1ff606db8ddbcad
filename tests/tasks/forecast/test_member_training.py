"""The forecaster trains its ensemble one member at a time (TrainConfig.backward_by_member) and its
windows are gathered a batch at a time: the fitted model must be bit for bit the one of the plain path."""
import copy

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.tasks.forecast import ForecastConfig, Forecaster
from lstmkit.tasks.forecast.model import ForecastNet
from lstmkit.train import TrainConfig, Trainer


def monthly_series(n=120, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = (100 + 0.8 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.02, n))
    return pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS"), "sales": values})


@pytest.mark.parametrize("residual", [True, False])
def test_member_k_is_entry_k_of_the_ensemble(residual):
    torch.manual_seed(0)
    net = ForecastNet(2, 2, 4, quantiles=(0.1, 0.5, 0.9), hidden_size=8, members=3, residual=residual)
    with torch.no_grad():  # the heads start at zero; give them something to say
        for head in net.heads:
            head.weight.normal_()
    inputs = (torch.randn(5, 7, 2), torch.randn(5, 4, 2))
    stacked = net.train()(inputs)  # (E, N, K, T, Q)
    assert stacked.shape == (3, 5, 4, 2, 3)
    for k in range(3):
        assert torch.equal(net(inputs, member=k), stacked[k])
    assert torch.equal(net.eval()(inputs), stacked.mean(0))


def test_fit_is_bit_for_bit_the_plain_backward(monkeypatch):
    """The forecaster's training, replayed by a Trainer that backpropagates the whole ensemble at once
    from the same initial weights and data, ends on the same bits (dropout included: same masks)."""
    captured = {}
    train_model = Forecaster.train_model

    def capture(self, model, loss, train_config, train_data, val_data=None, **kwargs):
        captured.update(model=copy.deepcopy(model), loss=loss, config=train_config, data=(train_data, val_data))
        return train_model(self, model, loss, train_config, train_data, val_data, **kwargs)

    monkeypatch.setattr(Forecaster, "train_model", capture)
    config = ForecastConfig(targets=["sales"], time_column="month", epochs=6, patience=40, ensemble=3,
                            quantiles=[0.1, 0.5, 0.9], dropout=0.1, num_layers=2)
    fast = Forecaster(config).fit(monthly_series())
    assert captured["config"].backward_by_member
    plain = Trainer(captured["model"], captured["loss"],
                    TrainConfig.from_dict({**captured["config"].to_dict(), "backward_by_member": False}))
    plain.fit(*captured["data"])
    a, b = fast.model.state_dict(), plain.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [{**row, "seconds": 0} for row in fast.history] == [{**row, "seconds": 0} for row in plain.history]
