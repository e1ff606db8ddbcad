r"""Truncated backpropagation through time (TBPTT) and carried recurrent state.

Protocol. A model trained with ``tbptt_steps`` or ``carry_state`` is called as

.. code-block:: python

    prediction, new_state = model(x_segment, state)

where ``state`` is ``None`` (start from zeros) or whatever the model returned last: a tensor or a
(nested) tuple/list/dict of tensors, e.g. ``(h, c)`` of ``torch.nn.LSTM``. ``x_segment`` and the
prediction keep the time axis (``time_dim``), and targets are per time step, so the loss of a segment
is ``loss_fn(prediction, y_segment)``.

Truncation. A batch of length :math:`T` is cut into segments :math:`s = 1..S` of :math:`k` steps
(the last may be shorter). The state leaving segment :math:`s` enters segment :math:`s+1` *detached*:
its value flows forward, its gradient does not flow back. So for a parameter :math:`\theta`

.. math::
    \nabla^{TBPTT}_\theta = \sum_s w_s \, \frac{\partial L_s}{\partial \theta}\Big|_{h_{s-1}\ \text{fixed}},
    \qquad w_s = T_s / T \ \ (\text{update}=\text{"batch"}),

i.e. full BPTT minus every term in which the loss of a later segment reaches back through
:math:`h_{s-1}` into an earlier one. With :math:`k = T` there is one segment and the two are equal.
"""
from __future__ import annotations

from typing import Any, Iterator

import torch

State = Any  # None | Tensor | tuple/list/dict of State


def detach_state(state: State) -> State:
    """The same nested structure with every tensor detached from its graph (values unchanged)."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple):
        return tuple(detach_state(s) for s in state)
    if isinstance(state, list):
        return [detach_state(s) for s in state]
    if isinstance(state, dict):
        return {key: detach_state(value) for key, value in state.items()}
    raise TypeError(
        f"recurrent state must be None, a tensor or a tuple/list/dict of tensors, got {type(state).__name__}"
    )


def split_time(
    x: torch.Tensor, y: torch.Tensor, k: int, time_dim: int = 1
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(x_s, y_s)`` segments of ``k`` steps along ``time_dim`` (the last one may be shorter)."""
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError("truncated BPTT needs x and y to be tensors with a time axis")
    steps = x.shape[time_dim]
    if y.dim() <= time_dim or y.shape[time_dim] != steps:
        raise ValueError(
            f"truncated BPTT needs one target per time step: x has T={steps} along time_dim={time_dim} but "
            f"y has shape {tuple(y.shape)}; for one target per sequence train with tbptt_steps=None"
        )
    yield from zip(torch.split(x, k, dim=time_dim), torch.split(y, k, dim=time_dim))


def tbptt_backward(
    model,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn,
    k: int,
    *,
    state: State = None,
    time_dim: int = 1,
) -> tuple[torch.Tensor, State]:
    r"""Accumulate TBPTT gradients of one batch into ``.grad`` (the ``"batch"`` update, no optimiser).

    Returns the weighted total loss :math:`\sum_s (T_s/T) L_s` (detached) and the final detached
    state. With ``k >= T`` the gradients equal those of ``loss_fn(model(x, state)[0], y).backward()``.
    This is the same computation the Trainer runs; it is public so the truncation can be inspected.
    """
    total_steps = x.shape[time_dim]
    total = torch.zeros((), dtype=torch.float64)
    for x_s, y_s in split_time(x, y, k, time_dim):
        prediction, state = model(x_s, state)
        loss = loss_fn(prediction, y_s) * (x_s.shape[time_dim] / total_steps)
        loss.backward()
        total += loss.detach().double().cpu()
        # Detach at the segment boundary: this *is* the truncation (the next segment's gradient stops
        # here instead of flowing back into this one), it keeps memory at O(k) steps instead of O(T),
        # and without it the next backward() would walk into this segment's graph, already freed.
        state = detach_state(state)
    return total, state
