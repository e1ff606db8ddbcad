"""The thread default (README, "Threads on a busy machine"): the OpenMP wait policy set at import,
the user's own settings left alone.

The wait policy is read once, when torch loads libgomp, so each case runs in a fresh interpreter.
libgomp's OMP_DISPLAY_ENV=VERBOSE prints the policy the runtime actually started with (GOMP_SPINCOUNT
'0' = waiting threads sleep; '300000' = libgomp's default spinning).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lstmkit import runtime

THREAD_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "LSTMKIT_NUM_THREADS",
              "OMP_DISPLAY_ENV")

REPORT = """
import json, os, sys
import lstmkit.nn  # any lstmkit module runs lstmkit/__init__.py first; lstmkit.nn imports torch
import torch
from lstmkit import runtime
runtime.other_load = lambda *a: 0.0  # an idle machine, whatever the test machine is doing
after = {
    "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")},
    "threads": torch.get_num_threads(),
    "policy": runtime.omp_wait_policy(),
    "auto_256": runtime.set_num_threads("auto", hidden_size=256),
    "auto_128": runtime.set_num_threads("auto", hidden_size=128),
    "auto_none": runtime.set_num_threads("auto"),
    "cores": runtime.usable_cores(),
}
print(json.dumps({"after": after}))
"""


def run(prelude: str, **env) -> tuple[dict, dict]:
    """Run ``prelude`` + REPORT in a fresh interpreter with only ``env`` of the thread variables set."""
    clean = {k: v for k, v in os.environ.items() if k not in THREAD_ENV}
    clean.update(env, OMP_DISPLAY_ENV="VERBOSE")
    proc = subprocess.run([sys.executable, "-c", prelude + REPORT], env=clean, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    icv = {}
    for line in proc.stderr.splitlines():  # libgomp's "  NAME = 'value'" lines
        name, sep, value = line.strip().partition(" = ")
        if sep:
            icv.setdefault(name, value.strip("'"))
    return out, icv


def test_default_applies_when_the_user_set_nothing():
    out, icv = run("")
    after = out["after"]
    assert after["env"]["OMP_WAIT_POLICY"] == "PASSIVE"
    assert icv["OMP_WAIT_POLICY"] == "PASSIVE" and icv["GOMP_SPINCOUNT"] == "0"  # what libgomp runs with
    assert after["policy"] == "passive"
    assert after["auto_256"] == after["cores"] == len(os.sched_getaffinity(0))
    assert after["auto_128"] == after["auto_none"] == 1


def test_users_own_settings_are_left_alone():
    out, icv = run("", OMP_NUM_THREADS="1", OMP_WAIT_POLICY="active")
    after = out["after"]
    assert after["env"] == {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "active", "GOMP_SPINCOUNT": None}
    assert icv["OMP_WAIT_POLICY"] == "ACTIVE" and icv["GOMP_SPINCOUNT"] != "0"
    assert after["threads"] == 1
    assert after["policy"] == "user"
    assert after["auto_256"] == 1  # "auto" follows the user's OMP_NUM_THREADS


def test_prior_torch_threads_are_left_alone_and_auto_stays_safe():
    # torch imported (and libgomp started, spinning) before lstmkit: too late to change the policy, so
    # lstmkit leaves the environment and the thread count alone, and "auto" keeps to one thread.
    out, icv = run("import torch\ntorch.set_num_threads(3)\n")
    after = out["after"]
    assert icv["GOMP_SPINCOUNT"] == "300000"
    assert after["threads"] == 3
    assert after["env"] == {"OMP_NUM_THREADS": None, "OMP_WAIT_POLICY": None, "GOMP_SPINCOUNT": None}
    assert after["policy"] == "spin"
    assert after["auto_256"] == 1


def test_users_passive_policy_counts_as_passive():
    out, icv = run("", OMP_WAIT_POLICY="passive")
    assert icv["GOMP_SPINCOUNT"] == "0"
    assert out["after"]["policy"] == "passive" and out["after"]["env"]["OMP_WAIT_POLICY"] == "passive"


@pytest.mark.parametrize("text, expected", [("auto", "auto"), ("AUTO", "auto"), ("1", 1), (" 4 ", 4), ("16", 16)])
def test_parse_threads_accepts_auto_and_positive_integers(text, expected):
    assert runtime.parse_threads(text) == expected


@pytest.mark.parametrize("text", ["abc", "0", "-1", "1.5", "", "2 threads", "\u00b2"])
def test_parse_threads_refuses_anything_else(text):
    with pytest.raises(ValueError) as err:
        runtime.parse_threads(text)
    assert str(err.value) == f"--threads must be a positive integer or 'auto', got {text!r}"


def test_parse_threads_message():
    with pytest.raises(ValueError, match=r"^--threads must be a positive integer or 'auto', got 'abc'$"):
        runtime.parse_threads("abc")


def test_auto_order_lstmkit_env_then_omp_env_then_model_size(monkeypatch):
    for name in ("LSTMKIT_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(runtime, "usable_cores", lambda: 4)
    monkeypatch.setattr(runtime, "other_load", lambda: 0.0)
    monkeypatch.setattr(runtime, "omp_wait_policy", lambda: "passive")
    assert runtime.auto_threads(256) == runtime.auto_threads(1024) == 4
    assert runtime.auto_threads(128) == runtime.auto_threads(32) == runtime.auto_threads(None) == 1
    monkeypatch.setattr(runtime, "omp_wait_policy", lambda: "user")  # the user's spinning policy
    assert runtime.auto_threads(64) == runtime.auto_threads(None) == 4 and runtime.auto_threads(32) == 1
    monkeypatch.setattr(runtime, "omp_wait_policy", lambda: "spin")
    assert runtime.auto_threads(256) == 1
    monkeypatch.setattr(runtime, "usable_cores", lambda: 1)
    monkeypatch.setattr(runtime, "omp_wait_policy", lambda: "passive")
    assert runtime.auto_threads(512) == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3,2")
    assert runtime.auto_threads(256) == 3
    monkeypatch.setenv("LSTMKIT_NUM_THREADS", "2")
    assert runtime.auto_threads(32) == 2
    monkeypatch.setenv("LSTMKIT_NUM_THREADS", "auto")
    assert runtime.auto_threads(256) == 3
    monkeypatch.setenv("LSTMKIT_NUM_THREADS", "two")
    with pytest.raises(ValueError, match="LSTMKIT_NUM_THREADS must be a positive integer or 'auto', got 'two'"):
        runtime.auto_threads(256)


@pytest.mark.parametrize("cores, load, expected", [(2, 0.0, 2), (2, 0.4, 2), (2, 0.7, 1), (2, 3.0, 1),
                                                   (16, 4.2, 12), (16, 40.0, 1)])
def test_auto_leaves_out_cores_other_processes_keep_busy(monkeypatch, cores, load, expected):
    for name in ("LSTMKIT_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(runtime, "usable_cores", lambda: cores)
    monkeypatch.setattr(runtime, "omp_wait_policy", lambda: "passive")
    monkeypatch.setattr(runtime, "other_load", lambda *a: load)
    assert runtime.auto_threads(512) == expected
    assert runtime.auto_threads(128) == 1


def test_other_load_sees_a_busy_process():
    busy = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time() + 20\nwhile time.time() < t: pass"])
    try:
        import time

        time.sleep(0.3)
        own = runtime.other_load(0.3)
        assert own >= 0.6, own  # the busy process: about one core (more if the machine is busier)
    finally:
        busy.kill()
        busy.wait()


def test_set_num_threads_sets_torch_and_numpys_blas(monkeypatch):
    import torch

    monkeypatch.setenv("LSTMKIT_NUM_THREADS", "1")
    libs = runtime._numpy_blas_libraries()
    try:
        import numpy

        blas = numpy.__config__.CONFIG["Build Dependencies"]["blas"]["name"]
    except (AttributeError, KeyError, TypeError):
        blas = ""
    if "openblas" in blas and sys.platform == "linux":
        assert libs, "NumPy's OpenBLAS was not found"
    getters = [getattr(lib, setter.__name__.replace("_set_", "_get_")) for lib, setter in libs]
    try:
        assert runtime.set_num_threads(2) == 2 and torch.get_num_threads() == 2
        assert all(get() == 2 for get in getters)
        assert runtime.set_num_threads("auto") == 1 and torch.get_num_threads() == 1
        assert all(get() == 1 for get in getters)
        assert runtime.set_num_threads("2") == 2
        with pytest.raises(ValueError):
            runtime.set_num_threads(0)
        assert runtime.set_blas_threads(1) == len(libs) and all(get() == 1 for get in getters)
        with pytest.raises(ValueError):
            runtime.set_blas_threads(0)
    finally:
        runtime.set_num_threads(1)
