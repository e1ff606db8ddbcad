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


# Measured by benchmarks/bench_lstm.py on the 2-core development machine (README, "Speed"): with the
# other core idle, a second thread speeds up a training step 1.47x at H = 64, 1.52x at H = 128 and
# 1.93x at H = 256; with the other core busy, two threads stalled (0.23x at H = 128). Below H = 64
# (the forecaster's H = 32 with batches of 32) per-step overhead dominates, so one thread is kept.
DEFAULT_SMALL_HIDDEN = 32


def set_num_threads(threads: int | str = "auto", *, hidden_size: int | None = None) -> int:
    """Set torch's intra-op thread count and return it.

    ``threads="auto"`` uses one thread for small models (``hidden_size <= 32``) and every core
    otherwise; the environment variable ``LSTMKIT_NUM_THREADS`` overrides "auto" (set it to 1 on a
    machine whose other cores are busy).
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
