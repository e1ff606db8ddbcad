r"""The global forecaster's network when it reads covariates (registered as ``"forecaster_global"``).

:class:`~lstmkit.tasks.forecast.model.ForecastNet` (an ensemble of LSTMs and linear heads correcting a
seasonal baseline) with two additions, in the spirit of MQ-RNN's decoder (Wen et al. 2017, "A
Multi-Horizon Quantile Recurrent Forecaster"): the series' static features enter the head as
embeddings, and a small decoder, shared by the K steps of the horizon, reads each step's known
covariates. For each member:

.. math::
    h &= \mathrm{LSTM}(x)_{W}                                   && \text{last hidden state, } x \text{ (N, W, F)} \\
    g &= [h,\ \mathrm{vec}(b),\ E_1(s_1), \dots, E_S(s_S)]      && \text{state, baseline, static embeddings} \\
    c &= \tanh(C g)                                              && \text{context for the decoder (N, D)} \\
    d_k &= V\,\mathrm{relu}(U [c,\ u_k,\ u^b_k,\ b_k] + a)       && \text{the same MLP at every step } k \\
    \hat y_k &= b_k + (A g)_k + d_k                              && \text{(N, Q) per step}

:math:`b_k` is the relative seasonal baseline, :math:`u_k` the standardised known covariates of horizon
step k and :math:`u^b_k` those of the rows the baseline copies (a promotion a season ago lifted the
baseline; the decoder sees it and can take it out). A and V start at zero: the untrained network
forecasts the baseline. Without known covariates the decoder is left out and, without static features,
the network is ForecastNet's.
"""
from __future__ import annotations

from typing import Sequence

import torch

from lstmkit.nn import last_hidden, recurrent_layer
from lstmkit.registry import register_model


def embedding_size(categories: int) -> int:
    """Width of a static feature's embedding: the number of categories, at most 4 (a handful of numbers
    tells categories apart; more only memorises the training series)."""
    return max(1, min(4, categories))


@register_model("forecaster_global")
class GlobalForecastNet(torch.nn.Module):
    """Ensemble of LSTM + head + step decoder (see the module's equations).

    ``forward((x, base, known, known_base, static))``: x (N, W, F) input window, base (N, K, 1) relative
    baseline, known and known_base (N, K, C) the horizon's covariates and those of the rows the baseline
    copies, static (N, S) category codes (0: unseen). Returns (N, K, 1, Q) in eval mode (the members'
    mean) and (E, N, K, 1, Q) in training mode, as ForecastNet; ``member=k``: member k's (N, K, 1, Q).
    """

    def __init__(self, n_inputs: int, horizon: int, n_known: int = 0, static_sizes: Sequence[int] = (),
                 quantiles: Sequence[float] = (0.5,), hidden_size: int = 32, num_layers: int = 1,
                 dropout: float = 0.0, members: int = 3, residual: bool = True, cell: str = "lstm",
                 recurrent_dropout: float = 0.0, zoneout: float = 0.0, decoder_size: int = 16):
        super().__init__()
        self.n_inputs, self.horizon, self.n_known = n_inputs, horizon, n_known
        self.static_sizes = [int(n) for n in static_sizes]
        self.quantiles = [float(q) for q in quantiles]
        self.hidden_size, self.num_layers, self.dropout, self.members = hidden_size, num_layers, dropout, members
        self.residual, self.cell = residual, cell
        self.recurrent_dropout, self.zoneout, self.decoder_size = float(recurrent_dropout), float(zoneout), decoder_size
        Q = len(self.quantiles)
        self.lstms = torch.nn.ModuleList(
            recurrent_layer(cell, n_inputs, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0, recurrent_dropout=self.recurrent_dropout,
                            zoneout=self.zoneout)
            for _ in range(members))
        # code 0 is a category first seen at forecast time
        self.embeddings = torch.nn.ModuleList(
            torch.nn.ModuleList(torch.nn.Embedding(n + 1, embedding_size(n)) for n in self.static_sizes)
            for _ in range(members))
        g_size = hidden_size + horizon + sum(embedding_size(n) for n in self.static_sizes)
        self.heads = torch.nn.ModuleList(torch.nn.Linear(g_size, horizon * Q) for _ in range(members))
        if n_known:
            self.contexts = torch.nn.ModuleList(torch.nn.Linear(g_size, decoder_size) for _ in range(members))
            self.decoders = torch.nn.ModuleList(
                torch.nn.Sequential(torch.nn.Linear(decoder_size + 2 * n_known + 1, decoder_size), torch.nn.ReLU(),
                                    torch.nn.Linear(decoder_size, Q))
                for _ in range(members))
        with torch.no_grad():  # start at the baseline: a zero correction
            for head in self.heads:
                head.weight.zero_()
                head.bias.zero_()
            for decoder in getattr(self, "decoders", []):
                decoder[-1].weight.zero_()
                decoder[-1].bias.zero_()

    def get_config(self) -> dict:
        return {"n_inputs": self.n_inputs, "horizon": self.horizon, "n_known": self.n_known,
                "static_sizes": self.static_sizes, "quantiles": self.quantiles, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "dropout": self.dropout, "members": self.members,
                "residual": self.residual, "cell": self.cell, "recurrent_dropout": self.recurrent_dropout,
                "zoneout": self.zoneout, "decoder_size": self.decoder_size}

    @classmethod
    def from_config(cls, config: dict) -> "GlobalForecastNet":
        return cls(**config)

    def forward(self, inputs, member: int | None = None) -> torch.Tensor:
        if member is not None:  # one member alone (the members share no parameters): (N, K, 1, Q)
            return self._member(member, *inputs)
        stacked = torch.stack([self._member(e, *inputs) for e in range(self.members)])  # (E, N, K, 1, Q)
        return stacked if self.training else stacked.mean(0)

    def _member(self, e: int, x, base, known, known_base, static) -> torch.Tensor:
        """Member e's forecast (N, K, 1, Q) from x (N, W, F), base (N, K, 1), known and known_base
        (N, K, C), static (N, S)."""
        N, K, Q = x.shape[0], self.horizon, len(self.quantiles)
        _, state = self.lstms[e](x)
        h = last_hidden(state)[-1]  # (N, H)
        embedded = [table(static[:, j]) for j, table in enumerate(self.embeddings[e])]
        g = torch.cat([h, base.flatten(1), *embedded], dim=1)  # (N, G)
        correction = self.heads[e](g).view(N, K, Q)
        if self.n_known:
            context = torch.tanh(self.contexts[e](g))  # (N, D)
            steps = torch.cat([context.unsqueeze(1).expand(N, K, -1), known, known_base, base], dim=2)  # (N, K, D+2C+1)
            correction = correction + self.decoders[e](steps)  # (N, K, Q)
        correction = correction.unsqueeze(2)  # (N, K, 1, Q)
        return base.unsqueeze(-1) + correction if self.residual else correction
