"""The forecasting network (registered as ``"forecaster"``) and its training loss."""
from __future__ import annotations

from typing import Sequence

import torch

from lstmkit.nn import last_hidden, recurrent_layer
from lstmkit.registry import register_model


@register_model("forecaster")
class ForecastNet(torch.nn.Module):
    """Ensemble of LSTM + linear head; maps a relative window and a baseline to relative forecasts.

    ``cell`` names the recurrent cell of every member (:data:`lstmkit.nn.CELLS`; the LSTM by default),
    ``recurrent_dropout`` and ``zoneout`` its regularisers (:func:`lstmkit.nn.recurrent_layer`); the
    members keep the attribute name ``lstms`` whatever the cell.

    With ``residual`` the output is the baseline plus the head's correction; without, the head's output
    alone (the baseline is still one of its inputs).

    ``forward((x, base))``: x (N, W, F) window (targets relative to level, features scaled), base
    (N, K, T) relative baseline. Returns (N, K, T, Q) in eval mode (the members' mean) and
    (E, N, K, T, Q) in training mode (every member, for the loss). ``forward((x, base), member=k)``:
    member k's (N, K, T, Q) alone, in either mode; the members share no parameters, so the Trainer can
    backpropagate them one at a time (``TrainConfig.backward_by_member``).
    """

    def __init__(self, n_inputs: int, n_targets: int, horizon: int, quantiles: Sequence[float] = (0.5,),
                 hidden_size: int = 32, num_layers: int = 1, dropout: float = 0.0, members: int = 3,
                 residual: bool = True, cell: str = "lstm", recurrent_dropout: float = 0.0, zoneout: float = 0.0):
        super().__init__()
        self.residual = residual
        self.n_inputs, self.n_targets, self.horizon = n_inputs, n_targets, horizon
        self.quantiles = [float(q) for q in quantiles]
        self.hidden_size, self.num_layers, self.dropout, self.members = hidden_size, num_layers, dropout, members
        self.cell, self.recurrent_dropout, self.zoneout = cell, float(recurrent_dropout), float(zoneout)
        out = horizon * n_targets * len(self.quantiles)
        self.lstms = torch.nn.ModuleList(
            recurrent_layer(cell, n_inputs, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0, recurrent_dropout=self.recurrent_dropout,
                            zoneout=self.zoneout)
            for _ in range(members)
        )
        self.heads = torch.nn.ModuleList(torch.nn.Linear(hidden_size + horizon * n_targets, out)
                                         for _ in range(members))
        with torch.no_grad():  # start at the baseline: a zero correction
            for head in self.heads:
                head.weight.zero_()
                head.bias.zero_()

    def get_config(self) -> dict:
        return {"n_inputs": self.n_inputs, "n_targets": self.n_targets, "horizon": self.horizon,
                "quantiles": self.quantiles, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "dropout": self.dropout, "members": self.members, "residual": self.residual, "cell": self.cell,
                "recurrent_dropout": self.recurrent_dropout, "zoneout": self.zoneout}

    @classmethod
    def from_config(cls, config: dict) -> "ForecastNet":
        return cls(**config)

    def forward(self, inputs, member: int | None = None) -> torch.Tensor:
        x, base = inputs  # (N, W, F), (N, K, T)
        if member is not None:  # one member alone: the Trainer's backward_by_member
            return self._member(member, x, base)  # (N, K, T, Q)
        stacked = torch.stack([self._member(k, x, base) for k in range(self.members)])  # (E, N, K, T, Q)
        return stacked if self.training else stacked.mean(0)

    def _member(self, k: int, x: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """Member k's forecast (N, K, T, Q)."""
        _, state = self.lstms[k](x)
        h_n = last_hidden(state)  # (layers, N, H)
        shape = (x.shape[0], self.horizon, self.n_targets, len(self.quantiles))
        correction = self.heads[k](torch.cat([h_n[-1], base.flatten(1)], dim=1)).view(shape)
        return base.unsqueeze(-1) + correction if self.residual else correction


def pinball_loss(quantiles: Sequence[float]):
    r"""Mean pinball loss :math:`\max(q (y - \hat y), (q - 1)(y - \hat y))` over every quantile q."""
    q_values = torch.tensor(list(quantiles))

    def loss(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        q = q_values.to(pred.device, pred.dtype)
        diff = y.unsqueeze(-1) - pred  # broadcasts over the ensemble axis in training
        return torch.maximum(q * diff, (q - 1) * diff).mean()

    return loss
