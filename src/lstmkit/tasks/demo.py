"""A first look: an LSTM learns to continue a sine wave it has never seen the end of.

This stands in for ``make demo`` until the forecasting task lands; it uses only ``lstmkit.nn``.
"""
from __future__ import annotations

import math

import torch

from lstmkit.nn import LSTM
from lstmkit.runtime import seed_everything


def run_demo(seed: int = 0, epochs: int | None = None) -> dict:
    seed_everything(seed)
    t = torch.arange(0, 400, dtype=torch.float32)
    series = torch.sin(2 * math.pi * t / 25) + 0.05 * torch.randn(len(t))  # period 25 steps
    width = 50
    windows = series.unfold(0, width + 1, 1)  # (num_windows, width + 1)
    x, y = windows[:, :width, None], windows[:, width]  # (W, T, 1), (W,)
    split = int(0.8 * len(x))
    lstm, head = LSTM(1, 32, batch_first=True), torch.nn.Linear(32, 1)
    params = [*lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-2)

    def predict(inputs):
        out, _ = lstm(inputs)  # (N, T, 32)
        return head(out[:, -1]).squeeze(-1)  # (N,)

    for epoch in range(epochs or 30):
        for batch in torch.randperm(split).split(64):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(predict(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        test_rmse = torch.sqrt(torch.nn.functional.mse_loss(predict(x[split:]), y[split:])).item()
        naive_rmse = torch.sqrt(torch.nn.functional.mse_loss(x[split:, -1, 0], y[split:])).item()
    print(f"next-step forecast of a noisy sine (period 25), {len(x) - split} held-out windows:")
    print(f"  LSTM RMSE {test_rmse:.3f}   naive (repeat last value) RMSE {naive_rmse:.3f}")
    return {"lstm_rmse": test_rmse, "naive_rmse": naive_rmse}
