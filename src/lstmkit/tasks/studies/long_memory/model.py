r"""The study's model (:class:`LongMemoryNet`), the RNN matched to the LSTM in parameters, and gradient flow.

Both models read the answer from their last hidden state through a linear head. The RNN gets more
units than the LSTM (one weight block instead of four) so that both have about the same number of
parameters (:func:`matched_rnn_hidden_size`).

**Gradient flow.** :func:`hidden_gradient_norms` returns, for every step t, the mean over sequences of
:math:`\lVert \partial L_n / \partial h_t \rVert` (total derivative through the recurrence, :math:`L_n`
the loss of sequence n), by running the recurrent layer one step per call with its state carried, so
each :math:`h_t` is a tensor of the graph, and asking autograd for the gradient with respect to all of
them. A vanilla RNN's :math:`\partial h_t / \partial h_{t-1} = \mathrm{diag}(1 - h_t^2) W_{hh}` shrinks
the signal geometrically with the distance from the end; the LSTM's cell path
:math:`\partial c_t / \partial c_{t-1} = \mathrm{diag}(f_t)` need not.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from lstmkit.nn import recurrent_layer
from lstmkit.registry import register_model
from lstmkit.tasks.cells import CELL_NAMES
from lstmkit.tasks.studies.long_memory.problems import Problem


@register_model("long_memory_net")
class LongMemoryNet(torch.nn.Module):
    """A recurrent layer (``lstmkit.nn.LSTM``, ``RNN``, or any other cell of :data:`lstmkit.nn.CELLS`) and a
    linear head on its last hidden state.

    ``forward(x)``: x (N, T, input_size) -> (N, output_size).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, output_size: int, *, backend: str = "auto"):
        super().__init__()
        if cell not in CELL_NAMES:
            raise ValueError(f"cell must be one of {', '.join(CELL_NAMES)}, got {cell!r}")
        self.cell, self.input_size, self.hidden_size, self.output_size = cell, input_size, hidden_size, output_size
        self.backend = backend
        self.rnn = recurrent_layer(cell, input_size, hidden_size, batch_first=True, backend=backend)
        self.head = torch.nn.Linear(hidden_size, output_size)

    def get_config(self) -> dict:
        return {"cell": self.cell, "input_size": self.input_size, "hidden_size": self.hidden_size,
                "output_size": self.output_size, "backend": self.backend}

    @classmethod
    def from_config(cls, config: dict) -> "LongMemoryNet":
        config = dict(config)
        return cls(config.pop("cell"), **config)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)  # (N, T, H)
        return self.head(out[:, -1])

    def unrolled(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``forward`` one step per call: (prediction, [h_1, ..., h_T]), each h_t (N, H) a node of the graph.

        The state goes from each call to the next, so ``h_t`` is exactly the tensor ``h_{t+1}`` is
        computed from and the gradient with respect to it is the total derivative through time.
        """
        state = None
        hidden: list[Tensor] = []
        for x_t in x.unbind(1):  # T x (N, F)
            _, state = self.rnn(x_t.unsqueeze(1), state)
            if isinstance(state, tuple):  # the LSTM family: (h, c), each (1, N, H)
                h = state[0][0]
                state = (h.unsqueeze(0), state[1])
            else:
                h = state[0]
                state = h.unsqueeze(0)
            hidden.append(h)  # (N, H), the very tensor the next step reads
        return self.head(hidden[-1]), hidden


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def matched_rnn_hidden_size(problem: Problem, lstm_hidden: int) -> int:
    """RNN units whose parameter count (layer + head) is closest to that of the LSTM with ``lstm_hidden``."""
    I, O = problem.input_size, problem.output_size

    def count_lstm(h: int) -> int:
        return 4 * h * (I + h) + 8 * h + h * O + O

    def count_rnn(h: int) -> int:
        return h * (I + h) + 2 * h + h * O + O

    target = count_lstm(lstm_hidden)
    # h^2 + (I + 2 + O) h + O = target, and the integers either side of the root
    b = I + 2 + O
    root = (-b + math.sqrt(b * b + 4 * (target - O))) / 2
    return min((max(1, math.floor(root)), math.ceil(root)), key=lambda h: abs(count_rnn(h) - target))


def matched_hidden_size(cell: str, problem: Problem, lstm_hidden: int) -> int:
    """Units of a ``cell`` network whose parameter count (layer + head) is closest to that of the LSTM with
    ``lstm_hidden`` (:func:`matched_rnn_hidden_size` for the RNN; counted on built networks for the others)."""
    if cell == "lstm":
        return lstm_hidden
    if cell == "rnn":
        return matched_rnn_hidden_size(problem, lstm_hidden)

    def count(cell_name: str, h: int) -> int:
        return parameter_count(LongMemoryNet(cell_name, problem.input_size, h, problem.output_size))

    target = count("lstm", lstm_hidden)
    low, high = 1, 4 * lstm_hidden + 8  # the count grows with h: the last h with count <= target, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if count(cell, middle) <= target:
            low = middle
        else:
            high = middle - 1
    return min((low, low + 1), key=lambda h: abs(count(cell, h) - target))


def build_model(cell: str, problem: Problem, lstm_hidden: int) -> LongMemoryNet:
    return LongMemoryNet(cell, problem.input_size, matched_hidden_size(cell, problem, lstm_hidden), problem.output_size)


# --------------------------------------------------------------------------------- gradient flow
def hidden_gradient_norms(model: LongMemoryNet, x: Tensor, y: Tensor,
                          loss_fn: Callable[..., Tensor]) -> Tensor:
    r"""(T,) float64: entry t is the mean over the batch of :math:`\lVert \partial L_n / \partial h_t \rVert_2`.

    :math:`L_n` is sequence n's own loss (``loss_fn(prediction, y, reduction="sum")`` is
    differentiated, and :math:`h_t^{(n)}` affects only :math:`L_n`); the derivative is the total one,
    through every later step. Parameters get no gradient.
    """
    with torch.enable_grad():
        prediction, hidden = model.unrolled(x)
        loss = loss_fn(prediction, y, reduction="sum")
        grads = torch.autograd.grad(loss, hidden)  # T x (N, H)
    return torch.stack([g.detach().double().norm(dim=-1).mean() for g in grads])


def gradient_summary(norms: Tensor) -> dict:
    """``{"first_over_last": ||dL/dh_1|| / ||dL/dh_T||, "norms": [...]}`` for ``results.json``."""
    last = float(norms[-1])
    return {"first_over_last": float(norms[0]) / last if last > 0 else float("nan"),
            "norms": [float(v) for v in norms]}
