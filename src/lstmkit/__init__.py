"""lstmkit: Long Short-Term Memory networks made practical."""

# Threads on a shared machine (README, "Threads on a busy machine"). OpenMP threads that spin while
# they wait (libgomp's default) make a two-thread torch step 8-200x slower as soon as another
# process keeps a core busy;
# threads that sleep while they wait (OMP_WAIT_POLICY=PASSIVE) do not. libgomp reads the policy once,
# when torch loads it, so it is set here, before any lstmkit module imports torch, and only when the
# user chose no wait policy of their own. lstmkit.runtime.set_num_threads("auto") reads the result.
import os as _os
import sys as _sys

_WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
if "torch" in _sys.modules:
    _omp_wait = "unknown"  # torch (and its OpenMP runtime) started before lstmkit: too late to choose
elif any(_os.environ.get(_v) for _v in _WAIT_VARS):
    _omp_wait = "user"  # the user's own setting, left alone
else:
    _os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    _omp_wait = "passive"

__version__ = "0.1.0"
