import pytest
import torch
from torch.utils.data import DataLoader
from train_models import SeqModel, mse, regression_data

from lstmkit.train import TrainConfig, Trainer, detach_state, tbptt_backward


def _model_and_batch():
    torch.manual_seed(0)
    model = SeqModel(input_size=2, hidden_size=3).double()
    x = torch.randn(3, 12, 2, dtype=torch.float64, requires_grad=True)  # (N, T, F)
    y = torch.randn(3, 12, 1, dtype=torch.float64)
    return model, x, y


def _grads(model, x):
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    grads["x"] = x.grad.clone()
    model.zero_grad(set_to_none=True)
    x.grad = None
    return grads


def test_k_equal_to_sequence_length_is_full_bptt():
    model, x, y = _model_and_batch()
    mse(model(x)[0], y).backward()
    full = _grads(model, x)
    for k in (12, 50):  # k >= T: one segment
        loss, _ = tbptt_backward(model, x, y, mse, k)
        truncated = _grads(model, x)
        for name in full:
            torch.testing.assert_close(truncated[name], full[name], rtol=0, atol=1e-12)


def test_k_below_sequence_length_stops_gradients_at_segment_boundaries():
    model, x, y = _model_and_batch()
    k, steps = 4, 12
    tbptt_backward(model, x, y, mse, k)
    truncated = _grads(model, x)

    # Reference for segment 1 alone: its own (weighted) loss, nothing from later segments.
    (mse(model(x[:, :k])[0], y[:, :k]) * (k / steps)).backward()
    segment_one = _grads(model, x)
    torch.testing.assert_close(truncated["x"][:, :k], segment_one["x"][:, :k], rtol=0, atol=1e-12)

    # Full BPTT differs there: the losses of segments 2 and 3 reach back into segment 1's inputs.
    mse(model(x)[0], y).backward()
    full = _grads(model, x)
    assert (full["x"][:, :k] - truncated["x"][:, :k]).abs().max() > 1e-4
    assert (full["lstm.weight_hh_l0"] - truncated["lstm.weight_hh_l0"]).abs().max() > 1e-6
    # The last segment's inputs get the same gradient either way: nothing comes after it.
    torch.testing.assert_close(truncated["x"][:, 8:], full["x"][:, 8:], rtol=0, atol=1e-12)


def test_detach_state_keeps_structure_and_values():
    h = torch.ones(2, requires_grad=True) * 2
    state = {"a": (h, [h, None])}
    detached = detach_state(state)
    assert not detached["a"][0].requires_grad and detached["a"][1][1] is None
    assert torch.equal(detached["a"][1][0], h)


class Recorder(torch.nn.Module):
    """Wraps a stateful model and records whether each call got a state."""

    def __init__(self, model):
        super().__init__()
        self.model, self.got_state = model, []

    def forward(self, x, state):
        self.got_state.append(state is not None)
        return self.model(x, state)


@pytest.mark.parametrize("carry_state", [False, True])
def test_trainer_tbptt_segments_carry_state(carry_state):
    data = regression_data(8, steps=12, per_step=True)
    model = Recorder(SeqModel())
    config = TrainConfig(epochs=1, tbptt_steps=5, carry_state=carry_state, shuffle=False, drop_last=True,
                         clip_grad_norm=None, progress=False)
    trainer = Trainer(model, mse, config)
    trainer.fit(DataLoader(data, batch_size=4))
    # 2 batches x 3 segments (5 + 5 + 2 steps), one optimiser step per segment.
    assert trainer.step == 6
    first_of_batch = [False, True, True]
    assert model.got_state == first_of_batch + ([True] * 3 if carry_state else first_of_batch)


def test_trainer_tbptt_batch_update_is_one_step_per_batch():
    data = regression_data(8, steps=12, per_step=True)
    trainer = Trainer(SeqModel(), mse, TrainConfig(epochs=1, batch_size=4, tbptt_steps=5, tbptt_update="batch",
                                                   progress=False))
    trainer.fit(data)
    assert trainer.step == 2


def test_tbptt_needs_per_step_targets():
    data = regression_data(8, steps=12, per_step=False)
    trainer = Trainer(SeqModel(), mse, TrainConfig(epochs=1, batch_size=4, tbptt_steps=5, progress=False))
    with pytest.raises(ValueError, match="truncated BPTT needs one target per time step"):
        trainer.fit(data)


class PredictionOnly(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.model = SeqModel()

    def forward(self, x, state=None):
        return self.model(x, state)[0]


def test_stateful_model_must_return_prediction_and_state():
    data = regression_data(8, steps=12, per_step=True)
    trainer = Trainer(PredictionOnly(), mse, TrainConfig(epochs=1, batch_size=4, tbptt_steps=5, progress=False))
    with pytest.raises(TypeError, match=r"model\(x, state\) -> \(prediction, new_state\); PredictionOnly returned Tensor"):
        trainer.fit(data)
