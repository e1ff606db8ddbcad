import csv
import math

import pytest
import torch
from torch.utils.data import DataLoader
from train_models import LastStepModel, assert_same_weights, mae, mse, regression_data, weights

from lstmkit.runtime import seed_everything
from lstmkit.train import (
    NonFiniteLossError,
    TrainConfig,
    Trainer,
    fit,
    load_model,
    load_trainer_state,
    predict,
    read_config,
)


def _run(config, run_dir=None, callbacks=(), model=None, train=None, val=None):
    seed_everything(0)
    model = model or LastStepModel(dropout=0.2)
    train = train if train is not None else regression_data(32, seed=0)
    val = val if val is not None else regression_data(16, seed=1)
    return fit(model, train, val, loss_fn=mse, config=config, metrics={"mae": mae}, callbacks=callbacks,
               run_dir=run_dir)


def test_same_seed_gives_bit_identical_weights():
    config = TrainConfig(epochs=2, batch_size=8, lr=1e-2, seed=5, progress=False)
    first, second = _run(config), _run(config)
    assert_same_weights(weights(first.model), weights(second.model))
    assert first.history[-1]["val_loss"] == second.history[-1]["val_loss"]
    third = _run(TrainConfig(epochs=2, batch_size=8, lr=1e-2, seed=6, progress=False))
    assert not torch.equal(weights(first.model)["head.weight"], weights(third.model)["head.weight"])


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop", "sgd"])
@pytest.mark.parametrize("schedule", [None, "plateau", "cosine", "onecycle"])
def test_every_optimizer_and_schedule_trains(optimizer, schedule):
    config = TrainConfig(epochs=2, batch_size=16, optimizer=optimizer, schedule=schedule, lr=1e-2,
                         weight_decay=1e-4, plateau_patience=0, progress=False)
    trainer = _run(config)
    assert [row["epoch"] for row in trainer.history] == [1, 2]
    assert all(math.isfinite(row["train_loss"]) for row in trainer.history)
    lrs = [row["lr"] for row in trainer.history]
    if schedule in ("cosine", "onecycle"):
        assert lrs[0] != lrs[1]


def test_run_dir_layout_history_and_metrics(tmp_path):
    trainer = _run(TrainConfig(epochs=3, batch_size=8, progress=False), run_dir=tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {
        "config.json", "model.safetensors", "trainer_state.pt", "history.csv", "steps.csv"}
    config = read_config(tmp_path)
    assert config["model_type"] == "_test_train_last" and config["format_version"] == 1
    assert config["train"]["epochs"] == 3 and config["model"]["hidden_size"] == 6
    with open(tmp_path / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"train_loss", "val_loss", "val_mae", "lr", "grad_norm_mean", "grad_norm_max", "skipped_steps",
            "seconds"} <= set(rows[0])
    with open(tmp_path / "steps.csv") as handle:
        assert len(list(csv.DictReader(handle))) == trainer.step == 12
    state = load_trainer_state(tmp_path / "trainer_state.pt")
    assert state["finished"] and state["epoch"] == 3 and state["step"] == 12


def test_predict_matches_the_model_and_saved_model(tmp_path):
    trainer = _run(TrainConfig(epochs=1, batch_size=8, progress=False), run_dir=tmp_path)
    data = regression_data(10, seed=3)
    loader = DataLoader(data, batch_size=4)
    predictions = predict(trainer.model, loader)
    assert predictions.shape == (10, 1)
    with torch.no_grad():  # same batches as the loader: bit-equal (other batch sizes differ in the last bit)
        expected = torch.cat([trainer.model.eval()(x) for x in data.tensors[0].split(4)])
    assert torch.equal(predictions, expected)
    assert torch.equal(predict(load_model(tmp_path), loader), predictions)


def test_early_stopping_restores_the_best_weights():
    snapshots = {}

    class Snapshot:
        def on_epoch_end(self, trainer, row):
            snapshots[row["epoch"]] = weights(trainer.model)

    # min_delta larger than any change: epoch 1 is the best, epoch 2 does not improve, patience 1 stops.
    config = TrainConfig(epochs=5, batch_size=8, lr=1e-2, patience=1, min_delta=1e9, progress=False)
    trainer = _run(config, callbacks=[Snapshot()])
    assert [row["epoch"] for row in trainer.history] == [1, 2]
    assert trainer.early_stopping.stopped and trainer.early_stopping.best_epoch == 1
    assert_same_weights(weights(trainer.model), snapshots[1])
    assert not torch.equal(snapshots[1]["head.weight"], snapshots[2]["head.weight"])


def test_restore_best_picks_the_epoch_with_the_lowest_monitored_value():
    snapshots = {}

    class Snapshot:
        def on_epoch_end(self, trainer, row):
            snapshots[row["epoch"]] = weights(trainer.model)

    config = TrainConfig(epochs=6, batch_size=8, lr=0.05, monitor="val_mae", progress=False)
    trainer = _run(config, callbacks=[Snapshot()])
    best = min(trainer.history, key=lambda row: row["val_mae"])["epoch"]
    assert_same_weights(weights(trainer.model), snapshots[best])


def test_clipping_bounds_the_norm_and_logs_the_pre_clip_norm():
    data = regression_data(16, seed=0)
    data.tensors[1].mul_(1000)  # huge targets: exploding gradients
    seed_everything(0)
    model = LastStepModel()
    reference = LastStepModel()
    reference.load_state_dict(model.state_dict())
    post_clip = []

    class PostClip:
        def on_step_end(self, trainer, info):
            post_clip.append(float(torch.nn.utils.get_total_norm([p.grad for p in trainer.model.parameters()])))

    # lr = 0 keeps the weights fixed, so the reference gradient of each batch can be recomputed.
    config = TrainConfig(epochs=1, optimizer="sgd", lr=0.0, momentum=0.0, clip_grad_norm=0.5, progress=False)
    trainer = Trainer(model, mse, config, callbacks=[PostClip()])
    trainer.fit(DataLoader(data, batch_size=4))
    for info, (x, y), after in zip(trainer.step_log, DataLoader(data, batch_size=4), post_clip, strict=True):
        reference.zero_grad()
        mse(reference(x), y).backward()
        expected = torch.nn.utils.get_total_norm([p.grad for p in reference.parameters()])
        assert info["grad_norm"] == pytest.approx(float(expected), rel=1e-6)
        assert info["grad_norm"] > 100  # visible in the log
        assert after <= 0.5 * (1 + 1e-5)


def test_clipping_by_value():
    data = regression_data(16, seed=0)
    data.tensors[1].mul_(1000)
    largest = []

    class MaxGrad:
        def on_step_end(self, trainer, info):
            largest.append(max(float(p.grad.abs().max()) for p in trainer.model.parameters()))

    config = TrainConfig(epochs=1, batch_size=4, clip_grad_norm=None, clip_grad_value=0.01, progress=False)
    _run(config, callbacks=[MaxGrad()], train=data)
    assert len(largest) == 4 and max(largest) <= 0.01


class NaNLossAt:
    """A loss that returns NaN on given calls (training calls only: counted while grad is enabled)."""

    def __init__(self, *calls):
        self.calls, self.count = set(calls), 0

    def __call__(self, prediction, target):
        loss = mse(prediction, target)
        if torch.is_grad_enabled():
            self.count += 1
            if self.count in self.calls:
                return loss * float("nan")
        return loss


def test_nan_loss_skip_drops_the_update_and_counts_it():
    snapshots = []

    class Snapshot:
        def on_step_end(self, trainer, info):
            snapshots.append((info, weights(trainer.model)))

    seed_everything(0)
    config = TrainConfig(epochs=1, batch_size=8, on_nan="skip", progress=False)
    trainer = fit(LastStepModel(), regression_data(32), loss_fn=NaNLossAt(2), config=config, callbacks=[Snapshot()])
    assert trainer.skipped_steps == 1 and trainer.history[0]["skipped_steps"] == 1
    assert [info["skipped"] for info, _ in snapshots] == [False, True, False, False]
    assert_same_weights(snapshots[0][1], snapshots[1][1])  # step 2 changed nothing
    assert math.isfinite(trainer.history[0]["train_loss"])


def test_nan_gradient_with_finite_loss_is_caught():
    seed_everything(0)
    model = LastStepModel()
    calls = []

    def poison(grad):
        calls.append(1)
        return grad * float("nan") if len(calls) == 3 else grad

    model.head.bias.register_hook(poison)
    config = TrainConfig(epochs=1, batch_size=8, on_nan="stop", progress=False)
    with pytest.raises(NonFiniteLossError, match=r"non-finite gradient at epoch 1, step 3 \(loss=[0-9.]+, pre-clip grad norm=nan\)"):
        fit(model, regression_data(32), loss_fn=mse, config=config)


def test_nan_stop_raises_with_epoch_and_step_and_keeps_the_saved_checkpoint(tmp_path):
    seed_everything(0)
    config = TrainConfig(epochs=3, batch_size=8, on_nan="stop", progress=False)
    saved = {}

    class Record:
        def on_epoch_end(self, trainer, row):
            saved.update({p.name: p.read_bytes() for p in tmp_path.iterdir()})

    with pytest.raises(NonFiniteLossError, match="non-finite loss at epoch 2, step 6") as error:
        fit(LastStepModel(), regression_data(32), loss_fn=NaNLossAt(6), config=config, run_dir=tmp_path,
            callbacks=[Record()])
    assert (error.value.epoch, error.value.step) == (2, 6)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == saved  # epoch 1's files, untouched
    assert load_trainer_state(tmp_path / "trainer_state.pt")["epoch"] == 1


def test_an_epoch_of_only_skipped_steps_stops():
    seed_everything(0)
    config = TrainConfig(epochs=2, batch_size=16, on_nan="skip", progress=False)
    with pytest.raises(NonFiniteLossError, match="every step of epoch 1 had a non-finite loss or gradient"):
        fit(LastStepModel(), regression_data(32), loss_fn=NaNLossAt(1, 2), config=config)


def test_diverged_weights_never_overwrite_a_checkpoint(tmp_path):
    class Diverge:
        def on_step_end(self, trainer, info):
            if info["epoch"] == 2:
                with torch.no_grad():
                    trainer.model.head.bias.fill_(float("inf"))

    seed_everything(0)
    config = TrainConfig(epochs=3, batch_size=16, on_nan="skip", progress=False)
    with pytest.raises(NonFiniteLossError, match="refusing to overwrite the checkpoint in .* with non-finite weights"):
        fit(LastStepModel(), regression_data(32), loss_fn=mse, config=config, run_dir=tmp_path,
            callbacks=[Diverge()])
    assert torch.isfinite(load_model(tmp_path).head.bias).all()


def test_monitor_must_exist_for_early_stopping():
    with pytest.raises(ValueError, match="monitor 'val_loss' is not computed .*pass val_data or set monitor='train_loss'"):
        fit(LastStepModel(), regression_data(16), loss_fn=mse, config=TrainConfig(epochs=1, patience=2, progress=False))


@pytest.mark.parametrize("change, message", [
    ({"optimizer": "lbfgs"}, "optimizer must be one of"),
    ({"schedule": "step"}, "schedule must be one of"),
    ({"on_nan": "ignore"}, "on_nan must be one of"),
    ({"carry_state": True}, "carry_state=True .* set shuffle=False"),
    ({"clip_grad_norm": 0}, "clip_grad_norm must be > 0 or None"),
    ({"epochs": 0}, "epochs must be an integer >= 1"),
])
def test_config_errors_say_what_to_do(change, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**change)


def test_progress_bar_when_asked(capsys):
    _run(TrainConfig(epochs=1, batch_size=16, progress=True))
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "val_mae=" in err
