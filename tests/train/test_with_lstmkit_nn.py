"""The Trainer with the library's own layer."""
import torch
from torch import nn
from train_models import mse, regression_data

from lstmkit.registry import register_model
from lstmkit.train import TrainConfig, load_model, tbptt_backward
from lstmkit.train import fit as train_fit

import lstmkit.nn as kit


@register_model("_test_train_kit_lstm")
class KitSeqModel(nn.Module):
    def __init__(self, input_size: int = 2, hidden_size: int = 4):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.lstm = kit.LSTM(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x, state=None):
        out, state = self.lstm(x, state)
        return self.head(out), state

    def get_config(self):
        return {"input_size": self.input_size, "hidden_size": self.hidden_size}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def test_tbptt_with_k_equal_to_t_matches_full_bptt_on_lstmkit_lstm():
    model = KitSeqModel().double()
    x = torch.randn(2, 9, 2, dtype=torch.float64)
    y = torch.randn(2, 9, 1, dtype=torch.float64)
    mse(model(x)[0], y).backward()
    full = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    tbptt_backward(model, x, y, mse, 9)
    for expected, p in zip(full, model.parameters()):
        torch.testing.assert_close(p.grad, expected, rtol=0, atol=1e-12)


def test_train_save_load_with_lstmkit_lstm(tmp_path):
    data = regression_data(16, steps=8, per_step=True)
    config = TrainConfig(epochs=2, batch_size=8, tbptt_steps=4, progress=False)
    trainer = train_fit(KitSeqModel(), data, data, loss_fn=mse, config=config, run_dir=tmp_path)
    loaded = load_model(tmp_path)
    x = data.tensors[0]
    assert torch.equal(trainer.model.eval()(x)[0], loaded(x)[0])
