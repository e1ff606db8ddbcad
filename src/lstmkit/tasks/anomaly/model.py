"""The two registered anomaly models and the training loss of the prediction detector."""
from __future__ import annotations

import torch

from lstmkit.nn import recurrent_layer
from lstmkit.nn.encoder_decoder import EncoderDecoder
from lstmkit.registry import register_model

__all__ = ["NextStepNet", "SequenceAutoencoder", "masked_mse"]


@register_model("anomaly_next_step")
class NextStepNet(torch.nn.Module):
    """Stateful next-step predictor: ``forward(x, state) -> (prediction, state)``.

    x (N, T, F); prediction (N, T, F), row t forecasting x at t + 1 from the hidden state after t:
    :math:`\\hat x_{t+1} = [x_t] + W h_t + b` (the skip term when ``residual``). The head starts at
    zero, so training starts from "no change" (residual) or "the mean" (not residual).

    ``cell``, ``recurrent_dropout``, ``zoneout``: the recurrent layer (:func:`lstmkit.nn.recurrent_layer`,
    the LSTM by default, kept as the attribute ``lstm`` whatever the cell); ``state`` is ``(h, c)`` for
    the LSTM family and ``h`` for the GRU and the RNN.
    """

    def __init__(self, n_features: int, hidden_size: int = 32, num_layers: int = 1, residual: bool = True,
                 cell: str = "lstm", recurrent_dropout: float = 0.0, zoneout: float = 0.0):
        super().__init__()
        self.n_features, self.hidden_size, self.num_layers = n_features, hidden_size, num_layers
        self.residual = residual
        self.cell, self.recurrent_dropout, self.zoneout = cell, float(recurrent_dropout), float(zoneout)
        self.lstm = recurrent_layer(cell, n_features, hidden_size, num_layers, batch_first=True,
                                    recurrent_dropout=self.recurrent_dropout, zoneout=self.zoneout)
        self.head = torch.nn.Linear(hidden_size, n_features)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.bias.zero_()

    def get_config(self) -> dict:
        return {"n_features": self.n_features, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "residual": self.residual, "cell": self.cell, "recurrent_dropout": self.recurrent_dropout,
                "zoneout": self.zoneout}

    @classmethod
    def from_config(cls, config: dict) -> "NextStepNet":
        return cls(**config)

    def forward(self, x: torch.Tensor, state=None):
        out, state = self.lstm(x, state)  # (N, T, H)
        pred = self.head(out)  # (N, T, F)
        return (pred + x if self.residual else pred), state


@register_model("anomaly_autoencoder")
class SequenceAutoencoder(EncoderDecoder):
    """LSTM encoder-decoder over windows: ``forward(x) -> reconstruction``, both (N, W, F).

    The encoder's last hidden state goes through a linear bottleneck of ``latent_size`` (so the
    model cannot simply copy its input); the decoder LSTM reads the code at every step and emits the
    window back to front (Malhotra et al. 2016), flipped into time order on return. The network is
    :class:`lstmkit.nn.encoder_decoder.EncoderDecoder` (attributes ``encoder``, ``to_code``,
    ``decoder``, ``head``); this class adds the window width and the saved config's names.

    ``cell``, ``recurrent_dropout``, ``zoneout``: the encoder's and the decoder's recurrent layers
    (:func:`lstmkit.nn.recurrent_layer`, the LSTM by default).
    """

    def __init__(self, n_features: int, window: int, hidden_size: int = 32, num_layers: int = 1,
                 latent_size: int = 8, cell: str = "lstm", recurrent_dropout: float = 0.0, zoneout: float = 0.0):
        super().__init__(n_features, hidden_size, num_layers, code_size=latent_size, cell=cell,
                         recurrent_dropout=float(recurrent_dropout), zoneout=float(zoneout))
        self.n_features, self.window, self.latent_size = n_features, window, latent_size
        self.recurrent_dropout, self.zoneout = float(recurrent_dropout), float(zoneout)

    def get_config(self) -> dict:
        return {"n_features": self.n_features, "window": self.window, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "latent_size": self.latent_size, "cell": self.cell,
                "recurrent_dropout": self.recurrent_dropout, "zoneout": self.zoneout}

    @classmethod
    def from_config(cls, config: dict) -> "SequenceAutoencoder":
        return cls(**config)


def masked_mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the finite targets (NaN marks targets outside the part scored)."""
    mask = torch.isfinite(y)
    diff = torch.where(mask, pred - torch.nan_to_num(y), torch.zeros_like(pred))
    return (diff * diff).sum() / mask.sum().clamp(min=1)
