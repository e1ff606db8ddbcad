"""lstmkit.nn.LSTM (backend="auto") against torch.nn.LSTM, measured alternately in the same run.

Prints, per configuration of the standard grid (N = 32, 64; T = 100; H = 64..512; H_in = H), the
median time of a training step (forward + backward) and of inference for both, their ratio
(lstmkit / torch, < 1 means lstmkit is faster), and the GFLOP/s achieved against this machine's
matrix-multiply rate measured at the start. Then the thread-count question (1 vs 2 threads) and the
streaming engine against a torch.nn.LSTM seq-len-1 loop.

    python benchmarks/bench_lstm.py [--quick] [--reps 7]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

import lstmkit.nn as lnn


def timed(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def alternate(fns: dict, reps: int, rounds: int = 3) -> dict:
    """Median over rounds of A, B, A, B, ...: each round times every function ``reps`` times."""
    samples = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(timed(fn, reps))
    return {k: statistics.median(v) for k, v in samples.items()}


def matmul_gflops(n: int = 1024, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / timed(lambda: a @ b, reps) / 1e9


def lstm_flops(T, N, I, H):
    return 2 * T * N * 4 * H * (I + H)


def bench_grid(grid, reps):
    rows = []
    for N, T, H in grid:
        I = H
        theirs = torch.nn.LSTM(I, H)
        ours = lnn.LSTM(I, H)
        ours.load_state_dict(theirs.state_dict())
        x = torch.randn(T, N, I)
        xg = x.clone().requires_grad_(True)

        def train(m):
            def step():
                out, _ = m(xg)
                out.sum().backward()
            return step

        def infer(m):
            def step():
                with torch.no_grad():
                    m(x)
            return step

        t = alternate({"torch": train(theirs), "lstmkit": train(ours)}, reps)
        i = alternate({"torch": infer(theirs), "lstmkit": infer(ours)}, reps)
        flops = lstm_flops(T, N, I, H)
        rows.append((N, T, H, t["lstmkit"] / t["torch"], i["lstmkit"] / i["torch"],
                     3 * flops / t["lstmkit"] / 1e9, flops / i["lstmkit"] / 1e9, t["torch"], i["torch"]))
    return rows


def bench_threads(reps):
    rows = []
    for H in (64, 128, 256):
        model = lnn.LSTM(H, H)
        x = torch.randn(100, 32, H, requires_grad=True)

        def step():
            out, _ = model(x)
            out.sum().backward()

        result = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            result[threads] = timed(step, reps)
        rows.append((H, result[1], result[2]))
    return rows


def bench_streaming(reps, steps=500):
    rows = []
    for H in (64, 128):
        theirs = torch.nn.LSTM(1, H).eval()
        ours = lnn.LSTM(1, H).eval()
        ours.load_state_dict(theirs.state_dict())
        xs = torch.randn(steps, 1, 1, 1)

        def torch_loop():
            state = None
            with torch.no_grad():
                for x in xs:
                    _, state = theirs(x, state)

        def stream_loop():
            streamer = ours.streamer()
            for x in xs.numpy():
                streamer.step(x[0])

        t = alternate({"torch": torch_loop, "lstmkit": stream_loop}, max(1, reps // 2))
        rows.append((H, t["torch"] / steps * 1e6, t["lstmkit"] / steps * 1e6, t["torch"] / t["lstmkit"]))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a reduced grid (for a smoke run)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="threads for the grid (default 2)")
    args = parser.parse_args(argv)
    Hs = (64, 128) if args.quick else (64, 128, 256, 512)
    Ns = (32,) if args.quick else (32, 64)
    grid = [(N, 100, H) for H in Hs for N in Ns]

    torch.set_num_threads(args.threads)
    roof = matmul_gflops()
    print(f"torch {torch.__version__}, {args.threads} threads; matmul roofline (1024^3 fp32): {roof:.0f} GFLOP/s\n")
    print("lstmkit.nn.LSTM (auto) / torch.nn.LSTM, median of alternating runs (ratio < 1: lstmkit faster)")
    print(f"{'N':>4} {'T':>4} {'H':>4} | {'train ratio':>11} {'infer ratio':>11} | {'train GF/s':>10} "
          f"{'% roof':>6} {'infer GF/s':>10} {'% roof':>6} | {'torch train ms':>14} {'torch infer ms':>14}")
    worst = 0.0
    ratios = []
    for N, T, H, tr, ir, tg, ig, tt, ti in bench_grid(grid, args.reps):
        worst = max(worst, tr, ir)
        ratios.append((tr, ir))
        print(f"{N:>4} {T:>4} {H:>4} | {tr:>11.3f} {ir:>11.3f} | {tg:>10.1f} {100 * tg / roof:>5.0f}% "
              f"{ig:>10.1f} {100 * ig / roof:>5.0f}% | {tt * 1e3:>14.2f} {ti * 1e3:>14.2f}")
    geo = [statistics.geometric_mean(r[k] for r in ratios) for k in (0, 1)]
    print(f"geometric mean ratio: train {geo[0]:.3f}, inference {geo[1]:.3f} (target: <= 1.05); "
          f"worst single ratio {worst:.3f} (both sides run the same kernel: single ratios show the noise)\n")

    print("training step (T=100, N=32, H_in=H), seconds: 1 thread vs 2 threads")
    for H, one, two in bench_threads(args.reps):
        print(f"  H={H:>4}: 1 thread {one * 1e3:7.2f} ms, 2 threads {two * 1e3:7.2f} ms, "
              f"speed-up from the 2nd thread {one / two:.2f}x")
    torch.set_num_threads(1)

    print("\nstreaming, batch 1, one step per call (1 thread)")
    for H, t_us, s_us, ratio in bench_streaming(args.reps):
        print(f"  H={H:>4}: torch.nn.LSTM seq-len-1 {t_us:6.1f} us/step, lstmkit streamer {s_us:6.1f} us/step, "
              f"{ratio:.1f}x as many steps per second (target >= 5x)")


if __name__ == "__main__":
    main()
