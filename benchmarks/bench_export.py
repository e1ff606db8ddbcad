"""Inference out of Python: PyTorch against onnxruntime (float and int8 weights), speed and accuracy.

    python benchmarks/bench_export.py            # about 1-2 minutes on 2 cores
    python benchmarks/bench_export.py --quick    # smaller sizes: a smoke run of the script

Part 1, the LSTM alone: a 2-layer LSTM of H units reading H features, T = 100 steps, batch 1 and
32, one thread everywhere; the best of 20 calls of ``lstmkit.nn.LSTM`` (eval, no grad), of its ONNX
graph (``lstmkit.export.export_lstm_onnx``) in onnxruntime, and of that graph with int8 weights
(``lstmkit.export.onnx.quantize_onnx_int8``), with the int8 outputs' largest and mean relative
deviation from PyTorch's.

Then one step at batch 1 with the state fed in (a live stream's cost), for four sizes: the LSTM
module, lstmkit's NumPy streamer and the ONNX graph in onnxruntime.

Part 2, a task: the action recogniser on JapaneseVowels (needs ``lstmkit[motion-data]``; skipped
without it), trained with its defaults (seed 0), then the test part classified by PyTorch, by the float
graph and by the int8 graph: accuracy and the share of test sequences whose label changes.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lstmkit.errors import MissingDependencyError
from lstmkit.export import export_lstm_onnx, export_run_onnx
from lstmkit.export.onnx import quantize_onnx_int8
from lstmkit.nn import LSTM


def best(call, repeats: int = 20) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def session(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def bench_lstm(folder: Path, sizes: tuple[int, ...]) -> None:
    print(f"{'H':>5}{'batch':>7}{'torch ms':>10}{'ort fp32 ms':>13}{'ort int8 ms':>13}{'int8 vs torch':>15}"
          f"{'int8 max dev':>14}{'mean rel dev':>14}")
    for hidden in sizes:
        torch.manual_seed(0)
        lstm = LSTM(hidden, hidden, 2, batch_first=True).eval()
        floating = export_lstm_onnx(lstm, folder / f"lstm{hidden}.onnx")
        int8 = quantize_onnx_int8(floating, folder / f"lstm{hidden}.int8.onnx")
        s32, s8 = session(floating), session(int8)
        for batch in (1, 32):
            x = torch.randn(batch, 100, hidden)
            with torch.no_grad():
                reference = lstm(x)[0].numpy()
                t_torch = best(lambda: lstm(x))
            feed = {"input": x.numpy()}
            t32, t8 = best(lambda: s32.run(["output"], feed)), best(lambda: s8.run(["output"], feed))
            deviation = np.abs(s8.run(["output"], feed)[0] - reference)
            print(f"{hidden:>5}{batch:>7}{t_torch * 1e3:>10.2f}{t32 * 1e3:>13.2f}{t8 * 1e3:>13.2f}"
                  f"{t_torch / t8:>14.1f}x{deviation.max():>14.4f}{deviation.mean() / np.abs(reference).mean():>14.4f}",
                  flush=True)


def bench_one_step(folder: Path) -> None:
    """One step at batch 1 with the state carried, what a live stream costs: the LSTM module, lstmkit's
    NumPy streamer (what `anomaly watch` and `serve`'s streams run) and the ONNX graph in onnxruntime."""
    print(f"\n{'one step, batch 1':24}{'nn.LSTM us':>12}{'streamer us':>13}{'onnxruntime us':>16}")
    for hidden, layers, features in ((32, 1, 1), (64, 2, 1), (128, 2, 8), (256, 2, 8)):
        torch.manual_seed(0)
        lstm = LSTM(features, hidden, layers, batch_first=True).eval()
        s32 = session(export_lstm_onnx(lstm, folder / f"step{hidden}.onnx"))
        x = torch.randn(1, 1, features)
        state = (torch.zeros(layers, 1, hidden), torch.zeros(layers, 1, hidden))
        with torch.no_grad():
            t_module = best(lambda: lstm(x, state), repeats=300)
        streamer, row = lstm.streamer(1), x[0].numpy().astype(np.float64)
        t_streamer = best(lambda: streamer.step(row), repeats=300)
        feed = {"input": x.numpy(), "h0": state[0].numpy(), "c0": state[1].numpy()}
        t_ort = best(lambda: s32.run(None, feed), repeats=300)
        label = f"{layers} x {hidden} units, {features} in"
        print(f"{label:24}{t_module * 1e6:>12.0f}{t_streamer * 1e6:>13.0f}{t_ort * 1e6:>16.0f}", flush=True)


def bench_task(folder: Path, quick: bool) -> None:
    from lstmkit.data import pad_sequences
    from lstmkit.tasks.action import ActionConfig, ActionRecognizer, read_examples

    name = "japanese_vowels"
    try:
        app = ActionRecognizer(ActionConfig(epochs=3 if quick else None, baselines=False)).fit(name)
    except MissingDependencyError as error:
        print(f"{name}: skipped: {error}")
        return
    run = folder / "jv"
    app.save(run)
    floating, int8 = export_run_onnx(run), export_run_onnx(run, quantize="int8")
    examples = read_examples(name, app.config)  # labelled, with the archive's train/test split
    test = [i for i, part in enumerate(examples.split) if part == "test"]
    x, lengths = pad_sequences([app.network_input(examples.x[i]) for i in test])
    truth = np.array([app.classes.index(examples.labels[i]) for i in test])
    with torch.no_grad():
        by_torch = app.model((x, lengths)).argmax(-1).numpy()
    feeds = {"x": x.numpy(), "lengths": lengths.numpy()}
    labels = {"PyTorch": by_torch}
    for label, path in (("onnxruntime float", floating), ("onnxruntime int8", int8)):
        labels[label] = session(path).run(None, feeds)[0].argmax(-1)
    print(f"\n{name}: {len(test)} test sequences")
    for label, predicted in labels.items():
        changed = (predicted != by_torch).mean()
        print(f"  {label:20} accuracy {(predicted == truth).mean():.3f}   labels different from PyTorch's: {changed:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="lstmkit-bench-export-") as tmp:
        bench_lstm(Path(tmp), (64, 128) if args.quick else (64, 128, 256, 512))
        bench_one_step(Path(tmp))
        bench_task(Path(tmp), args.quick)


if __name__ == "__main__":
    main()
