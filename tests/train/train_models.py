"""Small registered models and data for the lstmkit.train tests (built on torch.nn.LSTM only)."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import TensorDataset

from lstmkit.registry import register_model


@register_model("_test_train_seq")
class SeqModel(nn.Module):
    """Per-step regression, stateful protocol: ``model(x, state) -> (prediction (N, T, O), (h, c))``."""

    def __init__(self, input_size: int = 2, hidden_size: int = 5, output_size: int = 1, dropout: float = 0.0):
        super().__init__()
        self.input_size, self.hidden_size, self.output_size = input_size, hidden_size, output_size
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x, state=None):
        out, state = self.lstm(x, state)  # (N, T, H)
        return self.head(self.dropout(out)), state

    def get_config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "output_size": self.output_size,
                "dropout": self.dropout.p}

    @classmethod
    def from_config(cls, config: dict) -> "SeqModel":
        return cls(**config)


@register_model("_test_train_last")
class LastStepModel(nn.Module):
    """One prediction per sequence from the last hidden state: ``model(x) -> (N, O)``."""

    def __init__(self, input_size: int = 2, hidden_size: int = 6, output_size: int = 1, dropout: float = 0.0):
        super().__init__()
        self.config = {"input_size": input_size, "hidden_size": hidden_size, "output_size": output_size,
                       "dropout": dropout}
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(self.dropout(out[:, -1]))

    def get_config(self) -> dict:
        return dict(self.config)

    @classmethod
    def from_config(cls, config: dict) -> "LastStepModel":
        return cls(**config)


@register_model("_test_train_tied")
class TiedModel(nn.Module):
    """Language-model shape with the output layer tied to the embedding (Press & Wolf 2017)."""

    def __init__(self, vocab: int = 7, hidden_size: int = 4):
        super().__init__()
        self.vocab, self.hidden_size = vocab, hidden_size
        self.embed = nn.Embedding(vocab, hidden_size)
        self.lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab)
        self.out.weight = self.embed.weight

    def forward(self, tokens):
        out, _ = self.lstm(self.embed(tokens))
        return self.out(out)

    def get_config(self) -> dict:
        return {"vocab": self.vocab, "hidden_size": self.hidden_size}

    @classmethod
    def from_config(cls, config: dict) -> "TiedModel":
        return cls(**config)


def regression_data(n: int = 32, steps: int = 6, features: int = 2, seed: int = 0, per_step: bool = False,
                    dtype=torch.float32) -> TensorDataset:
    """y = a running mean of the first feature (per step) or its mean over the sequence (per sequence)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, steps, features, generator=g, dtype=dtype)
    running = torch.cumsum(x[..., :1], dim=1) / torch.arange(1, steps + 1, dtype=dtype).view(1, -1, 1)
    y = running if per_step else running[:, -1]
    return TensorDataset(x, y)


def mse(prediction, target):
    return torch.nn.functional.mse_loss(prediction, target)


def mae(prediction, target):
    return (prediction - target).abs().mean()


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs (max |diff| {(a[key] - b[key]).abs().max():.3g})"
