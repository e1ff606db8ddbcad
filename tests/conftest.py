import os

import lstmkit  # noqa: F401  (before torch, as every lstmkit entry point: sets the OpenMP wait policy)
import pytest
import torch

# One thread keeps the suite's timings steady on a shared 2-core machine and makes float results
# independent of how work is split between threads.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")
# ... also for commands run without --threads ("auto") and for the subprocesses tests start: on a CI
# machine whose other core is busy, two threads are at best no faster (README, "Threads on a busy
# machine").
os.environ.setdefault("LSTMKIT_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _one_thread():
    """A test that sets more threads (--threads 2, set_num_threads) does not pass them on to the next."""
    yield
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
