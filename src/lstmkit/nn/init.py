r"""Weight initialisation for recurrent layers, applied per gate block.

An LSTM stacks four gates in one matrix: ``weight_ih`` is (4H, H_in) with row blocks i|f|g|o.
Glorot and He scale by fan-in/fan-out, which must be those of one gate (H x H_in), not of the
stacked matrix (4H x H_in), or every gate would start four times too small in variance. Likewise an
orthogonal recurrent matrix is orthogonal per gate block (Saxe et al. 2014), which is what Keras does.

Names accepted wherever an initialiser is chosen (constructor or config):

===================  ==================================================================  =========
name                 definition                                                          source
===================  ==================================================================  =========
``xavier_uniform``   U(-a, a), a = sqrt(6 / (fan_in + fan_out))                          Glorot & Bengio 2010
``xavier_normal``    N(0, 2 / (fan_in + fan_out))                                        Glorot & Bengio 2010
``kaiming_uniform``  U(-a, a), a = sqrt(6 / fan_in) (ReLU gain)                          He et al. 2015
``kaiming_normal``   N(0, 2 / fan_in)                                                    He et al. 2015
``orthogonal``       a random orthogonal matrix per gate block                           Saxe et al. 2014
``uniform``          U(-1/sqrt(H), 1/sqrt(H)) on every parameter, biases too             torch.nn.LSTM
===================  ==================================================================  =========

The forget-gate bias defaults to 1.0 (Gers et al. 2000; Jozefowicz, Zaremba & Sutskever 2015 found
it closes most of the gap between the LSTM and the best architectures they searched): an LSTM then
starts out remembering, so gradients reach early steps before the gates have learnt anything.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

__all__ = ["INITIALIZERS", "init_biases_", "init_gate_blocks_", "set_forget_bias_", "check_init_name"]


def _xavier_uniform_(w: Tensor, gain: float = 1.0) -> Tensor:
    return torch.nn.init.xavier_uniform_(w, gain=gain)


def _xavier_normal_(w: Tensor, gain: float = 1.0) -> Tensor:
    return torch.nn.init.xavier_normal_(w, gain=gain)


def _kaiming_uniform_(w: Tensor, gain: float = 1.0) -> Tensor:
    return torch.nn.init.kaiming_uniform_(w, nonlinearity="relu")


def _kaiming_normal_(w: Tensor, gain: float = 1.0) -> Tensor:
    return torch.nn.init.kaiming_normal_(w, nonlinearity="relu")


def _orthogonal_(w: Tensor, gain: float = 1.0) -> Tensor:
    return torch.nn.init.orthogonal_(w, gain=gain)


# name -> function(block) that fills one gate block in place. "uniform" is handled by the caller,
# since its bound depends on the hidden size rather than on the block's fans.
INITIALIZERS: dict[str, Callable[..., Tensor]] = {
    "xavier_uniform": _xavier_uniform_,
    "xavier_normal": _xavier_normal_,
    "kaiming_uniform": _kaiming_uniform_,
    "kaiming_normal": _kaiming_normal_,
    "orthogonal": _orthogonal_,
    "uniform": lambda w, gain=1.0: w,
}


def check_forget_bias(value, who: str) -> float | None:
    """``value`` as a float (or None), or a clear error for anything that is not a finite number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{who}: forget_bias must be a finite number or None, got {value!r}")
    return float(value)


def check_init_name(name: str, what: str) -> str:
    if name not in INITIALIZERS:
        raise ValueError(f"unknown {what} {name!r}; expected one of {sorted(INITIALIZERS)}")
    return name


@torch.no_grad()
def init_gate_blocks_(weight: Tensor, num_gates: int, name: str, *, hidden_size: int) -> Tensor:
    """Fill ``weight`` (num_gates * H, fan_in) in place, one (H, fan_in) gate block at a time."""
    check_init_name(name, "initialiser")
    if name == "uniform":
        bound = 1.0 / math.sqrt(hidden_size)
        return weight.uniform_(-bound, bound)
    for block in weight.chunk(num_gates, dim=0):
        if block.dtype in (torch.float16, torch.bfloat16):
            # QR (orthogonal) has no half-precision kernel: draw in float32, then round once.
            block.copy_(INITIALIZERS[name](torch.empty(block.shape, dtype=torch.float32, device=block.device)))
        else:
            INITIALIZERS[name](block)
    return weight


@torch.no_grad()
def init_biases_(bias_ih: Tensor, bias_hh: Tensor, input_init: str, *, hidden_size: int) -> None:
    """Zero both bias vectors (Keras' default), or draw them with torch's uniform scheme when
    ``input_init == "uniform"``, which covers biases too."""
    for bias in (bias_ih, bias_hh):
        if input_init == "uniform":
            init_gate_blocks_(bias.unsqueeze(1), 1, "uniform", hidden_size=hidden_size)
        else:
            bias.zero_()


@torch.no_grad()
def set_forget_bias_(bias_ih: Tensor, bias_hh: Tensor | None, value: float, *, block: int = 1,
                     num_gates: int = 4) -> None:
    """Set the LSTM forget-gate bias to ``value`` (block f of i|f|g|o; ``block=0, num_gates=3`` for
    the coupled cell's f|g|o).

    torch's LSTM has two bias vectors that are always added, so the forget block of ``bias_ih`` takes
    ``value`` and that of ``bias_hh`` zero: their sum, the effective bias, is exactly ``value``.
    """
    hidden = bias_ih.shape[0] // num_gates
    bias_ih[block * hidden : (block + 1) * hidden].fill_(value)
    if bias_hh is not None:
        bias_hh[block * hidden : (block + 1) * hidden].zero_()
