"""Small labelled tables that tests in several folders share (``tests/`` is on sys.path: its conftest)."""
from __future__ import annotations

import numpy as np
import pandas as pd


def motion_table(n: int = 24, seed: int = 0, offset: float = 0.0) -> pd.DataFrame:
    """Three classes of two-channel sequences (7-20 steps) told apart by how channel 'ax' moves over time:
    rising, falling, or rising then falling, each with noise; 'ay' is noise of the same spread in all.
    ``offset`` shifts 'ax' (a different sensor calibration)."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        label = ("rise", "fall", "peak")[s % 3]
        steps = int(rng.integers(7, 21))
        t = np.linspace(0, 1, steps)
        shape = {"rise": t, "fall": 1 - t, "peak": 1 - np.abs(2 * t - 1)}[label]
        ax = 2 * shape + 0.25 * rng.standard_normal(steps) + offset
        ay = rng.standard_normal(steps)
        rows += [{"sequence": f"s{s:03d}", "label": label, "step": k, "ax": ax[k], "ay": ay[k]} for k in range(steps)]
    return pd.DataFrame(rows)
