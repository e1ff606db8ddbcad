import os

import pytest
import torch

# One thread keeps the suite's timings steady on a shared 2-core machine and makes float results
# independent of how work is split between threads.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
