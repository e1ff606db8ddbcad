"""Process-wide settings that every entry point goes through: seeds and thread counts."""
from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (all devices) from one integer.

    With the same seed, thread count and torch build, a CPU run is bit-for-bit reproducible.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# Measured by benchmarks/bench_lstm.py on the 2-core development machine (see README, "Speed"):
# for hidden sizes up to DEFAULT_SMALL_HIDDEN a single thread is as fast as two and does not suffer
# the 10-100x stalls two OpenMP threads see when the other core is busy.
DEFAULT_SMALL_HIDDEN = 128


def set_num_threads(threads: int | str = "auto", *, hidden_size: int | None = None) -> int:
    """Set torch's intra-op thread count and return it.

    ``threads="auto"`` uses one thread for small models (``hidden_size <= 128``) and every core
    otherwise; the environment variable ``LSTMKIT_NUM_THREADS`` overrides "auto".
    """
    if threads == "auto":
        env = os.environ.get("LSTMKIT_NUM_THREADS")
        if env:
            threads = int(env)
        elif hidden_size is not None and hidden_size <= DEFAULT_SMALL_HIDDEN:
            threads = 1
        else:
            threads = os.cpu_count() or 1
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive integer or 'auto', got {threads!r}")
    torch.set_num_threads(threads)
    return threads
