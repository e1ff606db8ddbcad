"""Evaluation and prediction loops, and the batch conventions the Trainer shares with them.

A batch is an ``(x, y)`` pair (tensors or nested tuples/lists/dicts of tensors, moved to the device
as a whole); ``x`` is passed to the model as one argument.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

from lstmkit.train import distributed

LossFn = Callable[[Any, Any], torch.Tensor]
MetricFn = Callable[[Any, Any], "float | torch.Tensor"]


def to_device(obj, device: torch.device):
    """Move a tensor or a nested tuple/list/dict of tensors to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, tuple):
        return tuple(to_device(o, device) for o in obj)
    if isinstance(obj, list):
        return [to_device(o, device) for o in obj]
    if isinstance(obj, dict):
        return {key: to_device(value, device) for key, value in obj.items()}
    return obj


def split_batch(batch) -> tuple[Any, Any]:
    """``(x, y)`` of a batch, or a TypeError naming what came instead."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    raise TypeError(
        f"training batches must be (x, y) pairs, got {type(batch).__name__}"
        + (f" of length {len(batch)}" if isinstance(batch, (tuple, list)) else "")
    )


def forward_model(model, x, state, uses_state: bool):
    """``(prediction, new_state)``: ``model(x), None`` or, with ``uses_state``, ``model(x, state)``
    checked to follow the stateful protocol."""
    if not uses_state:
        return model(x), None
    out = model(x, state)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(
            "with tbptt_steps or carry_state the model must follow model(x, state) -> (prediction, new_state); "
            f"{type(model).__name__} returned {type(out).__name__}"
        )
    return out


def batch_size(y) -> int:
    """Samples in a batch, read from dim 0 of the (first) target tensor: the batch dimension, as
    DataLoader's default collate puts it."""
    while isinstance(y, (tuple, list)):
        y = y[0]
    if isinstance(y, dict):
        y = next(iter(y.values()))
    return int(y.shape[0]) if isinstance(y, torch.Tensor) and y.dim() > 0 else 1


def model_device(model: torch.nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    loader: Iterable,
    loss_fn: LossFn,
    metrics: dict[str, MetricFn] | None = None,
    *,
    device: torch.device | str | None = None,
    uses_state: bool = False,
    carry_state: bool = False,
) -> dict[str, float]:
    """``{"loss": ..., <metric>: ...}`` over ``loader`` in eval mode.

    Each value is the batch-size-weighted mean of the per-batch values,
    :math:`\\bar m = \\sum_b n_b m_b / \\sum_b n_b`, which equals the metric on the whole set for metrics
    that are means over samples (MAE, MSE, accuracy); take the square root of an MSE metric for RMSE.
    Under DDP the sums are added over processes (the DistributedSampler may repeat up to W-1 samples
    to even out the shards).
    """
    device = torch.device(device) if device is not None else model_device(model)
    metrics = metrics or {}
    was_training = model.training
    model.eval()
    names = ["loss", *metrics]
    sums = [0.0] * len(names)
    count = 0
    state = None
    for batch in loader:
        x, y = split_batch(to_device(batch, device))
        prediction, new_state = forward_model(model, x, state, uses_state)
        state = new_state if carry_state else None
        size = batch_size(y)
        values = [loss_fn(prediction, y), *(fn(prediction, y) for fn in metrics.values())]
        for i, value in enumerate(values):
            sums[i] += float(value) * size
        count += size
    model.train(was_training)
    *sums, count = distributed.all_reduce_sum([*sums, float(count)], device)
    if count == 0:
        raise ValueError("evaluate(): the loader yielded no samples")
    return {name: total / count for name, total in zip(names, sums)}


@torch.no_grad()
def predict(
    model: torch.nn.Module,
    loader: Iterable,
    *,
    device: torch.device | str | None = None,
    uses_state: bool = False,
    carry_state: bool = False,
) -> torch.Tensor:
    """Predictions for every batch of ``loader``, concatenated along dim 0, on the CPU.

    A batch is ``x`` or a tuple/list whose first element is ``x`` (targets are ignored). With
    ``uses_state`` the model is called as ``model(x, state)`` and the prediction is its first output;
    ``carry_state`` passes each batch's final state to the next (a continuous stream).
    """
    device = torch.device(device) if device is not None else model_device(model)
    was_training = model.training
    model.eval()
    outputs, state = [], None
    for batch in loader:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        prediction, new_state = forward_model(model, to_device(x, device), state, uses_state)
        state = new_state if carry_state else None
        outputs.append(prediction.detach().cpu())
    model.train(was_training)
    return torch.cat(outputs) if outputs else torch.empty(0)
