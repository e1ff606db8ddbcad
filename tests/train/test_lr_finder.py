import pytest
import torch
from torch.utils.data import DataLoader
from train_models import LastStepModel, assert_same_weights, mse, regression_data, weights

from lstmkit.train import lr_find
from lstmkit.train.lr_finder import suggest_lr


def test_lr_finder_restores_model_and_optimizer_and_suggests_a_rate_in_the_sweep(tmp_path):
    model = LastStepModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model(torch.randn(4, 6, 2)).sum().backward()
    optimizer.step()  # give the optimiser some state to restore
    before, optimizer_before = weights(model), optimizer.state_dict()
    exp_avg = optimizer_before["state"][0]["exp_avg"].clone()
    rng = torch.get_rng_state()

    loader = DataLoader(regression_data(64, seed=0), batch_size=8, shuffle=True)
    result = lr_find(model, loader, mse, optimizer=optimizer, start_lr=1e-5, end_lr=10.0, num_steps=60,
                     run_dir=tmp_path)

    assert_same_weights(weights(model), before)
    assert optimizer.param_groups[0]["lr"] == 3e-3
    assert torch.equal(optimizer.state_dict()["state"][0]["exp_avg"], exp_avg)
    assert torch.equal(torch.get_rng_state(), rng)
    assert 1e-5 <= result.lrs[0] < result.lrs[-1] <= 10.0
    assert result.lrs[0] <= result.suggested_lr <= result.lrs[-1]
    assert result.method == "steepest" and result.suggested_lr == result.steepest_lr
    assert (tmp_path / "lr_finder.png").stat().st_size > 1000
    assert (tmp_path / "lr_finder.csv").read_text().startswith("lr,loss,smoothed_loss\n")


def test_lr_finder_stops_when_the_loss_diverges():
    result = lr_find(LastStepModel(), DataLoader(regression_data(32), batch_size=8), mse, optimizer="sgd",
                     start_lr=1e-3, end_lr=1e4, num_steps=100, suggest="min/10")
    assert len(result.lrs) < 100
    assert result.suggested_lr == result.min_lr_div10


def test_suggestion_rules():
    lrs = [10.0 ** e for e in range(-6, 1)]
    smoothed = [1.0, 0.99, 0.98, 0.5, 0.45, 0.44, 3.0]  # steepest (central difference) at 1e-3, min at 1e-1
    steepest, min_div10 = suggest_lr(lrs, smoothed, skip_start=0.0)
    assert steepest == pytest.approx(1e-3)
    assert min_div10 == pytest.approx(1e-2)
