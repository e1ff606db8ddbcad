"""Process-wide settings that every entry point goes through: seeds and thread counts.

NumPy and torch are imported inside the functions that use them: the command line parses
``--threads`` with :func:`parse_threads` before anything heavy is loaded.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import random
import re
import time

from lstmkit.errors import ConfigError


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (all devices) from one integer.

    With the same seed, thread count and torch build, a CPU run is bit-for-bit reproducible.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# Chosen with benchmarks/bench_threads.py on the 2-core development machine (README, "Threads on a
# busy machine"), with the other core idle and with it busy; N = 32, T = 60, H_in = H.
# * OpenMP threads that spin while they wait (libgomp's default) make two threads 1.15-1.9x faster
#   than one on an idle machine, and 2-20x SLOWER (single steps 200x) once another process is busy.
# * Threads that sleep while they wait (OMP_WAIT_POLICY=PASSIVE, set by lstmkit/__init__.py before
#   torch loads) stay within about 1.2x of one thread under load, but pay a wake-up per parallel
#   region: on the idle machine 0.2x / 0.3x / 0.7x of one thread at H = 32 / 64 / 128, 1.3x at 256, 1.7x at 512.
# * With one other busy process, two sleeping threads at H = 512 were 0.66-1.0x of one thread (three
#   runnable threads on two cores): so "auto" also leaves out the cores other processes keep busy
#   when it is called (other_load()).
# So with sleeping waiters a second thread only pays from PASSIVE_MIN_HIDDEN up; with spinning ones
# (only if the user asked for them) from above DEFAULT_SMALL_HIDDEN.
PASSIVE_MIN_HIDDEN = 256
DEFAULT_SMALL_HIDDEN = 32

log = logging.getLogger("lstmkit")
_warned_spin = False


@contextlib.contextmanager
def quiet_loggers(*names: str, level: int = logging.ERROR):
    """Hold the loggers ``names`` (``""``: the root logger) at ``level`` or above inside the block, and
    give them back their own levels after it: for libraries that log advice at every call, and for
    loops that would log the same line a thousand times."""
    loggers = [logging.getLogger(name) if name else logging.getLogger() for name in names]
    saved = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(max(lg.getEffectiveLevel(), level))
    try:
        yield
    finally:
        for lg, old in zip(loggers, saved):
            lg.setLevel(old)


def parse_threads(text: str) -> int | str:
    """``--threads`` / ``LSTMKIT_NUM_THREADS``: ``"auto"`` or a positive integer, else ValueError."""
    value = str(text).strip()
    if value.lower() == "auto":
        return "auto"
    if re.fullmatch(r"[0-9]+", value) and int(value) >= 1:
        return int(value)
    raise ConfigError(f"--threads must be a positive integer or 'auto', got {str(text)!r}")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity, e.g. under taskset or a container's cpuset)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def omp_wait_policy() -> str:
    """How torch's OpenMP threads wait for work: the input of ``set_num_threads("auto")``.

    "passive": they sleep (OMP_WAIT_POLICY=PASSIVE, set by lstmkit before torch loaded or by the user);
    "user": the user chose a spinning policy (OMP_WAIT_POLICY=ACTIVE, GOMP_SPINCOUNT, KMP_BLOCKTIME);
    "spin": torch was imported before lstmkit with none of those set, so libgomp spins (its default),
    and two threads can stall on a busy machine.
    """
    import lstmkit

    state = getattr(lstmkit, "_omp_wait", "unknown")
    if state == "unknown":
        state = "user" if any(os.environ.get(v) for v in lstmkit._WAIT_VARS) else "spin"
    if state == "user" and (os.environ.get("OMP_WAIT_POLICY", "").strip().lower() == "passive"
                            or os.environ.get("GOMP_SPINCOUNT", "").strip() == "0"
                            or os.environ.get("KMP_BLOCKTIME", "").strip() == "0"):
        state = "passive"
    return state


def _machine_busy_seconds() -> float:
    """CPU seconds all cores have been busy since boot (/proc/stat; hypervisor steal counts as busy)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def other_load(sample_s: float = 0.2) -> float:
    """Cores other processes keep busy now: the machine's busy time over ``sample_s`` seconds, less
    this process's own; the 1-minute load average where /proc/stat is missing (0.0 if unknown).

    Measured now, not from the load average: that one lags a minute, so a run started right after
    another (a sweep, ``make test``) would still see the finished run and take one thread.
    """
    try:
        busy0, own0, t0 = _machine_busy_seconds(), time.process_time(), time.monotonic()
        time.sleep(sample_s)
        busy1, own1, t1 = _machine_busy_seconds(), time.process_time(), time.monotonic()
        return max(0.0, (busy1 - busy0 - (own1 - own0)) / (t1 - t0))
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0


def auto_threads(hidden_size: int | None = None) -> int:
    """The thread count ``set_num_threads("auto")`` uses; see there."""
    global _warned_spin
    env = os.environ.get("LSTMKIT_NUM_THREADS", "").strip()
    if env:
        try:
            value = parse_threads(env)
        except ValueError:
            raise ConfigError(f"LSTMKIT_NUM_THREADS must be a positive integer or 'auto', got {env!r}") from None
        if value != "auto":
            return value
    omp = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if re.fullmatch(r"[0-9]+", omp) and int(omp) >= 1:
        return int(omp)
    cores = usable_cores()
    policy = omp_wait_policy()
    if cores == 1:
        return 1
    if policy == "spin":
        if not _warned_spin:
            _warned_spin = True
            log.info("torch was imported before lstmkit, so its OpenMP threads spin while they wait and "
                     "would stall on a busy machine: 'auto' uses 1 thread. Import lstmkit before torch, "
                     "or set OMP_WAIT_POLICY (PASSIVE or ACTIVE), or pass a thread count.")
        return 1
    if policy == "passive":
        if hidden_size is None or hidden_size < PASSIVE_MIN_HIDDEN:
            return 1
    # else the user's own spinning policy (OMP_WAIT_POLICY=ACTIVE, GOMP_SPINCOUNT > 0): fast while the
    # machine is idle, their choice.
    elif hidden_size is not None and hidden_size <= DEFAULT_SMALL_HIDDEN:
        return 1
    return max(1, min(cores, round(cores - other_load())))  # the cores left free


def _numpy_blas_libraries() -> list:
    """(library, its set_num_threads) for each OpenBLAS NumPy (or SciPy) loaded; empty where there are none.

    NumPy has no API for its BLAS threads; this is the call threadpoolctl makes, for OpenBLAS only.
    """
    global _blas_libs
    if _blas_libs is None:
        _blas_libs = []
        try:
            with open("/proc/self/maps") as maps:
                paths = {line.split(None, 5)[5].strip() for line in maps if "openblas" in line.lower()
                         and len(line.split(None, 5)) == 6}
        except OSError:
            paths = set()
        for path in sorted(paths):
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for name in _OPENBLAS_SETTERS:
                setter = getattr(lib, name, None)
                if setter is not None:
                    setter.argtypes, setter.restype = [ctypes.c_int], None
                    _blas_libs.append((lib, setter))
                    break
    return _blas_libs


_blas_libs = None
_OPENBLAS_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads")


def set_num_threads(threads: int | str = "auto", *, hidden_size: int | None = None) -> int:
    """Set torch's intra-op thread count (and NumPy's OpenBLAS threads, to the same) and return it.

    ``threads="auto"`` takes, in this order: ``LSTMKIT_NUM_THREADS``; the user's ``OMP_NUM_THREADS``;
    then, by how OpenMP threads wait (:func:`omp_wait_policy`): sleeping (lstmkit's default), the
    usable cores that other processes left free (:func:`other_load`) for ``hidden_size >= 256``, one
    thread below or when ``hidden_size`` is unknown; spinning by the user's choice, the free cores
    above ``hidden_size`` 32; spinning because torch was imported before lstmkit, one thread.
    NumPy's BLAS follows (:func:`set_blas_threads`): its threads stall on a busy machine too.
    """
    if isinstance(threads, str):
        threads = parse_threads(threads)
    if threads == "auto":
        threads = auto_threads(hidden_size)
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive integer or 'auto', got {threads!r}")
    import torch

    torch.set_num_threads(threads)
    set_blas_threads(threads)
    return threads


def set_blas_threads(threads: int) -> int:
    """Set the thread count of NumPy's (and SciPy's) OpenBLAS; returns how many libraries were set.

    The NumPy streamer (``LSTM.streamer``) is one thread by design, but NumPy's OpenBLAS splits a
    step's product over every core from H = 256 at batch 1 (and from H = 128 at batch 32): with one
    other busy process on the 2-core machine, a step then took 7.7 ms instead of 63 us (H = 256)
    and 15.4 ms instead of 221 us (H = 512). 0 where NumPy's BLAS is not OpenBLAS (nothing to set).
    """
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be a positive integer, got {threads!r}")
    libs = _numpy_blas_libraries()
    for _, setter in libs:
        setter(threads)
    return len(libs)
