"""Thread settings on an idle and on a busy machine: 1 thread, 2 threads, lstmkit's default.

Each setting runs in a fresh subprocess (the OpenMP wait policy is read once, when torch loads
libgomp), with OMP_* / GOMP_* / LSTMKIT_NUM_THREADS removed from its environment so that only the
setting itself decides. Every subprocess times, for each hidden size H, a training step of
lstmkit.nn.LSTM (forward, MSE loss, backward, Adam step; N = 32, T = 60, H_in = H) and an inference
forward, each for a time budget. Settings alternate (A, B, C, C, B, A, ...) within a phase.

Phases: "idle" (nothing started by this script; what other processes used meanwhile is printed, since
this machine is shared) and "loaded" (this script starts one busy-loop process per core, like a CI
job or a colleague's run next to yours; they stop at the end of the phase and never outlive
--max-load-s). In the loaded phase "lstmkit default, chosen while idle" is the default as it runs when
the load starts only after it chose its thread count (other_load() read as 0). A setting whose
training step took over 3x one thread's in the first round (a stall) runs no further rounds, and a
subprocess past --child-budget takes one rep per measurement: the whole stays under about 5 minutes
on 2 cores (--quick: about 1).

Speed-up = 1-thread median / setting's median, both from the same phase (above 1: faster than one
thread; below 1: slower); "worst" is the slowest single training step; "thr" the threads used.

    python benchmarks/bench_threads.py [--quick] [--rounds 3] [--budget 0.3] [--explore] [--json FILE]
"""
from __future__ import annotations

import argparse
import importlib
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time

# Environment variables that change how torch threads behave; a child gets none of them unless its
# setting adds them.
THREAD_ENV = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "MKL_NUM_THREADS",
              "OPENBLAS_NUM_THREADS", "LSTMKIT_NUM_THREADS")

# name -> how its subprocess runs: extra environment; threads (an int, or "auto" for
# lstmkit.runtime.set_num_threads("auto", hidden_size=H)); torch_first: import torch before lstmkit,
# so that lstmkit's import-time wait policy cannot apply; pretend_idle: lstmkit sees no other load;
# the phases it runs in.
def setting(env=None, threads=2, torch_first=True, pretend_idle=False, phases=("idle", "loaded")) -> dict:
    return {"env": env or {}, "threads": threads, "torch_first": torch_first, "pretend_idle": pretend_idle,
            "phases": phases}


SETTINGS = {
    "1 thread": setting(threads=1),
    "2 threads, OpenMP default": setting(),
    "lstmkit default": setting(threads="auto", torch_first=False),
    "lstmkit default, chosen while idle": setting(threads="auto", torch_first=False, pretend_idle=True,
                                                  phases=("loaded",)),
}
# --explore: the wait policies the default was chosen from (libgomp's default spins 300000 times).
EXPLORE = {"2 threads, PASSIVE": setting({"OMP_WAIT_POLICY": "PASSIVE"})}
EXPLORE.update({f"2 threads, GOMP_SPINCOUNT={n}": setting({"GOMP_SPINCOUNT": str(n)})
                for n in (1000, 3000, 10000, 30000)})
STALL = 3.0  # a setting whose first-round training step took 3x one thread's (at any H): no more rounds


# ---- child: one setting, every H --------------------------------------------------------------

def child(spec: dict) -> None:
    if spec["torch_first"]:
        importlib.import_module("torch")  # starts libgomp before lstmkit could choose a wait policy
    import lstmkit  # noqa: F401
    import torch

    import lstmkit.nn as lnn
    from lstmkit.runtime import set_num_threads

    if spec["pretend_idle"]:
        import lstmkit.runtime

        lstmkit.runtime.other_load = lambda *a: 0.0

    results = []
    child_start = time.monotonic()

    def more(times: list, start: float) -> bool:
        """At least one rep; then until the budget is spent (min_reps unless that takes 4x the budget,
        as a stalled setting's would), at most max_reps; past child_budget, one rep only."""
        if not times:
            return True
        if len(times) >= spec["max_reps"] or time.monotonic() - child_start > spec["child_budget"]:
            return False
        spent = time.perf_counter() - start
        return spent < spec["budget"] or (len(times) < spec["min_reps"] and spent < 4 * spec["budget"])
    for H in spec["hs"]:
        if spec["threads"] == "auto":
            threads = set_num_threads("auto", hidden_size=H)
        else:
            threads = spec["threads"]
            torch.set_num_threads(threads)
        torch.manual_seed(0)
        N, T = spec["batch"], spec["steps"]
        model = lnn.LSTM(H, H)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = torch.randn(T, N, H)
        target = torch.randn(T, N, H)

        def train():
            opt.zero_grad(set_to_none=True)
            out, _ = model(x)
            torch.nn.functional.mse_loss(out, target).backward()
            opt.step()

        def infer():
            with torch.no_grad():
                model(x)

        row = {"H": H, "threads": threads}
        for name, fn in (("train", train), ("infer", infer)):
            if time.monotonic() - child_start < spec["child_budget"]:
                fn()  # warm-up: oneDNN primitive creation, Adam state (skipped by a stalled setting)
            times = []
            start = time.perf_counter()
            while more(times, start):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            row[name] = times
        results.append(row)
    info = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"), "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT")}
    print(json.dumps({"rows": results, "env": info}))


def run_child(name: str, spec: dict, args) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_ENV}
    env.update(spec["env"])
    spec = dict(spec, hs=args.hs, batch=args.batch, steps=args.steps, budget=args.budget,
                min_reps=args.min_reps, max_reps=args.max_reps, child_budget=args.child_budget, phases=None)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)], env=env,
                          capture_output=True, text=True, timeout=args.child_timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"setting {name!r} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- load --------------------------------------------------------------------------------------

def _busy(deadline: float) -> None:
    x = 0
    while time.monotonic() < deadline:
        for _ in range(10000):
            x += 1


class Load:
    """``n`` busy-loop processes; each stops by itself at ``max_s`` even if this process dies."""

    def __init__(self, n: int, max_s: float) -> None:
        ctx = mp.get_context("fork")
        deadline = time.monotonic() + max_s
        self.procs = [ctx.Process(target=_busy, args=(deadline,), daemon=True) for _ in range(n)]

    def __enter__(self):
        for p in self.procs:
            p.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.join(5)


# ---- parent ------------------------------------------------------------------------------------

def cpu_snapshot() -> tuple:
    """(busy cores-seconds of the whole machine, steal seconds, CPU seconds of our finished children, time)."""
    import resource

    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        hz = os.sysconf("SC_CLK_TCK")
        busy, steal = (v[0] + v[1] + v[2] + v[5] + v[6]) / hz, (v[7] if len(v) > 7 else 0) / hz
    except (OSError, ValueError, IndexError):
        busy = steal = float("nan")
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return busy, steal, ru.ru_utime + ru.ru_stime, time.monotonic()


def phase(label: str, settings: dict, args) -> dict:
    kind = label.split()[0]
    settings = {k: v for k, v in settings.items() if kind in v["phases"]}
    samples = {name: {H: {"train": [], "infer": [], "threads": set()} for H in args.hs} for name in settings}
    names = list(settings)
    stalled = []
    load0 = os.getloadavg()[0]
    snap0 = cpu_snapshot()
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            if name in stalled:
                continue
            out = run_child(name, settings[name], args)
            for row in out["rows"]:
                s = samples[name][row["H"]]
                s["train"] += row["train"]
                s["infer"] += row["infer"]
                s["threads"].add(row["threads"])
            if name == "lstmkit default":
                samples[name]["env"] = out["env"]
        if r == 0:  # a stalled setting's one round says enough; more would take minutes
            one = samples["1 thread"]
            stalled = [k for k in names if k != "1 thread" and any(
                statistics.median(samples[k][H]["train"]) > STALL * statistics.median(one[H]["train"])
                for H in args.hs)]
    snap1 = cpu_snapshot()
    elapsed = snap1[3] - snap0[3]
    busy, steal, ours = ((b - a) / elapsed for a, b in zip(snap0[:3], snap1[:3]))
    note = f"; one round only (stalled): {', '.join(stalled)}" if stalled else ""
    print(f"[{label}: {elapsed:.0f} s; load average {load0:.2f} at start, {os.getloadavg()[0]:.2f} at end; "
          f"cores busy {busy:.2f} on average, of which the benchmark's settings {ours:.2f}, so other "
          f"processes{' and the load' if label.startswith('loaded') else ''} {busy - ours:.2f}; "
          f"hypervisor steal {steal:.2f}{note}]", flush=True)
    return samples


def report(label: str, samples: dict, args) -> None:
    base = samples["1 thread"]
    print(f"\n{label}: median training step (worst) and inference forward, ms; speed-up = 1 thread / setting")
    print(f"{'setting':<36} {'H':>4} {'thr':>3} | {'train ms':>8} {'worst':>8} {'speed-up':>8} | "
          f"{'infer ms':>8} {'speed-up':>8}")
    for name, per_h in samples.items():
        if not per_h[args.hs[0]]["train"]:
            continue
        for H in args.hs:
            s = per_h[H]
            tr, ir = statistics.median(s["train"]), statistics.median(s["infer"])
            b_tr, b_ir = statistics.median(base[H]["train"]), statistics.median(base[H]["infer"])
            thr = ",".join(str(t) for t in sorted(s["threads"]))
            print(f"{name:<36} {H:>4} {thr:>3} | {tr * 1e3:>8.2f} {max(s['train']) * 1e3:>8.1f} "
                  f"{b_tr / tr:>7.2f}x | {ir * 1e3:>8.2f} {b_ir / ir:>7.2f}x")
        print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="H = 64, 128, 256, one round, short budget")
    parser.add_argument("--rounds", type=int, default=None, help="passes over the settings per phase (default 3)")
    parser.add_argument("--budget", type=float, default=None, help="seconds per (H, train/infer) (default 0.3)")
    parser.add_argument("--hs", default=None, help="hidden sizes, comma-separated (default 32,64,128,256,512)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=60, help="sequence length T")
    parser.add_argument("--min-reps", type=int, default=5)
    parser.add_argument("--max-reps", type=int, default=60)
    parser.add_argument("--explore", action="store_true", help="also PASSIVE and GOMP_SPINCOUNT settings")
    parser.add_argument("--only", default=None, help="keep settings whose name contains one of these (comma-separated)")
    parser.add_argument("--phases", default="idle,loaded")
    parser.add_argument("--load", type=int, default=None, help="busy processes in the loaded phase (default: cores)")
    parser.add_argument("--max-load-s", type=float, default=600.0, help="busy loops never run longer than this")
    parser.add_argument("--child-budget", type=float, default=15.0,
                        help="seconds after which a setting's subprocess takes one rep per measurement")
    parser.add_argument("--child-timeout", type=float, default=300.0)
    parser.add_argument("--json", default=None, help="also write every sample (seconds) to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.budget = args.budget or (0.2 if args.quick else 0.3)
    args.hs = [int(h) for h in (args.hs or ("64,128,256" if args.quick else "32,64,128,256,512")).split(",")]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    nload = args.load or cores
    settings = dict(SETTINGS, **(EXPLORE if args.explore else {}))
    if args.only:
        settings = {k: v for k, v in settings.items() if k == "1 thread" or any(o in k for o in args.only.split(","))}
    print(f"{cores} cores; N = {args.batch}, T = {args.steps}, H_in = H; {args.rounds} round(s), "
          f"{args.budget} s per measurement; settings alternate within a phase", flush=True)
    results = {}
    for label in args.phases.split(","):
        if label == "loaded":
            with Load(nload, args.max_load_s):
                results[label] = phase(f"loaded ({nload} busy processes)", settings, args)
        else:
            results[label] = phase("idle", settings, args)
    envs = [r["lstmkit default"].pop("env", None) for r in results.values() if "lstmkit default" in r]
    if envs and envs[0]:
        print(f"lstmkit default ran with OMP_WAIT_POLICY={envs[0]['OMP_WAIT_POLICY']}, "
              f"GOMP_SPINCOUNT={envs[0]['GOMP_SPINCOUNT']}")
    for label, samples in results.items():
        report(label, samples, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({label: {name: {str(H): {k: (sorted(v) if isinstance(v, set) else v) for k, v in s.items()}
                                      for H, s in per_h.items()} for name, per_h in r.items()}
                       for label, r in results.items()}, f)


if __name__ == "__main__":
    main()
