"""LSTM variants on the fused backend against torch.nn.LSTM, and against their own reference loop.

No vendor kernel covers a peephole, coupled-gate or layer-normalised LSTM, or zoneout and recurrent
dropout, so they run on lstmkit's fused backend (one autograd node per layer direction with a
hand-written backward through time, :mod:`lstmkit.nn.fused`). This prints, for the grid N = 32, 64;
T = 100; H = 64..512 (H_in = H), the median time of one training step (forward + backward of
``out.sum()``, training mode) of each variant:

* ``vs torch``: the variant's default backend over standard ``torch.nn.LSTM`` on the same shapes
  (the goal: <= 1.5 at H >= 128; the standard LSTM itself stays on torch's kernel, ~1.0), and for
  the GRU also over ``torch.nn.GRU``;
* ``ref/fused``: the same variant's step-by-step reference loop under autograd over its fused
  backend (how much the hand-written backward saves);
* ``GFLOP/s`` and ``roofline``: the fused step's rate (an LSTM training step is ~3x the forward's
  2 T N 4H (H_in + H) FLOPs; 3H for the coupled cell and the GRU) and its share of this machine's
  matrix-multiply rate measured at the start with the same thread count.

Times are medians of alternating rounds (torch, fused, reference, torch, ...): this machine is shared.

    python benchmarks/bench_variants.py [--quick] [--threads 1] [--reps 3]
"""
from __future__ import annotations

import argparse

import torch

import lstmkit.nn as lnn
from bench_lstm import alternate, matmul_gflops  # the same timing rules as the standard LSTM's benchmark

VARIANTS = {  # name -> (constructor, gate blocks for the FLOP count)
    "lstm (native)": (lambda I, H, **kw: lnn.LSTM(I, H, **kw), 4),
    "lstm on fused": (lambda I, H, **kw: lnn.LSTM(I, H, **kw), 4),
    "peephole": (lambda I, H, **kw: lnn.PeepholeLSTM(I, H, **kw), 4),
    "cifg": (lambda I, H, **kw: lnn.LSTM(I, H, coupled=True, **kw), 3),
    "layernorm": (lambda I, H, **kw: lnn.LayerNormLSTM(I, H, **kw), 4),
    "recurrent dropout 0.25": (lambda I, H, **kw: lnn.LSTM(I, H, recurrent_dropout=0.25, **kw), 4),
    "zoneout 0.1": (lambda I, H, **kw: lnn.LSTM(I, H, zoneout=0.1, **kw), 4),
    "gru": (lambda I, H, **kw: lnn.GRU(I, H, **kw), 3),  # trains on the fused backend on CPU (faster)
    "gru zoneout 0.1": (lambda I, H, **kw: lnn.GRU(I, H, zoneout=0.1, **kw), 3),
}


def train_step(module, x):
    def step():
        module.zero_grad(set_to_none=True)
        out, _ = module(x)
        out.sum().backward()
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 32, H = 64 and 256 only")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, lstmkit's default here)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-reference", action="store_true", help="skip the (slow) reference loops")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    peak = matmul_gflops()
    grid = [(32, 100, 64), (32, 100, 256)] if args.quick else [(N, 100, H) for N in (32, 64) for H in (64, 128, 256, 512)]
    print(f"threads {args.threads}; matrix multiply {peak:.0f} GFLOP/s (1024^2 fp32); training step = forward + "
          "backward, T = 100, H_in = H; medians of alternating rounds\n")
    print("| N | H | variant | ms | vs torch.nn.LSTM | ref/fused | GFLOP/s | roofline |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |", flush=True)
    for N, T, H in grid:
        x = torch.randn(T, N, H)
        torch_lstm, torch_gru = torch.nn.LSTM(H, H), torch.nn.GRU(H, H)
        for name, (build, gates) in VARIANTS.items():
            backend = "fused" if name == "lstm on fused" else "auto"
            fns = {"torch": train_step(torch_lstm, x), "ours": train_step(build(H, H, backend=backend).train(), x)}
            if name.startswith("gru"):
                fns["torch.nn.GRU"] = train_step(torch_gru, x)
            if not args.no_reference and not name.endswith("(native)"):
                fns["reference"] = train_step(build(H, H, backend="reference").train(), x)
            t = alternate(fns, args.reps, args.rounds)
            flops = 3 * 2 * T * N * gates * H * (H + H)
            rate = flops / t["ours"] / 1e9
            ref = f"{t['reference'] / t['ours']:.2f}" if "reference" in t else "-"
            vs = f"{t['ours'] / t['torch']:.2f}"
            if "torch.nn.GRU" in t:
                vs += f" (GRU: {t['ours'] / t['torch.nn.GRU']:.2f})"
            print(f"| {N} | {H} | {name} | {t['ours'] * 1e3:.1f} | {vs} | {ref} | "
                  f"{rate:.0f} | {rate / peak:.0%} |", flush=True)


if __name__ == "__main__":
    main()
