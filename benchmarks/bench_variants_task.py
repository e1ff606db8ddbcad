"""What the LSTM variants change on a real task: Rotten Tomatoes sentiment and the Shakespeare LM.

The same runs as ``benchmarks/bench_text.py`` (same code as the command line, same split, defaults)
with one thing changed per row: the cell (``--cell layernorm``, ``peephole``, ``cifg``, ``gru``) or
a recurrent regulariser (``--recurrent-dropout 0.25``, ``--zoneout 0.1``). Prints test accuracy /
macro-F1 (sentiment) or validation / test perplexity (LM), epochs and wall time, for seeds 0..S-1.

    python benchmarks/bench_variants_task.py [--part rt|lm|all] [--seeds 2] [--quick]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from lstmkit.data.datasets import load_dataset
from lstmkit.runtime import set_num_threads
from lstmkit.tasks.base import train_run
from lstmkit.tasks.text import ClassifyConfig, LanguageModel, LMConfig, TextClassifier

ROWS = {  # name -> config fields changed from the defaults
    "lstm (default)": {},
    "layernorm": {"cell": "layernorm"},
    "lstm, recurrent dropout 0.25": {"recurrent_dropout": 0.25},
    "lstm, zoneout 0.1": {"zoneout": 0.1},
    "peephole": {"cell": "peephole"},
    "cifg": {"cell": "cifg"},
    "gru": {"cell": "gru"},
}
TRAGEDIES = ["hamlet", "macbeth", "lear", "othello", "romeo_and_juliet", "julius_caesar"]


def run_rt(out: Path, changes: dict, seed: int, quick: bool) -> dict:
    path = out / "rt.csv"
    if not path.exists():
        load_dataset("rotten_tomatoes")[["text", "label"]].to_csv(path, index=False)
    config = ClassifyConfig(text_column="text", label_column="label", epochs=2 if quick else 10, seed=seed,
                            **changes)
    set_num_threads("auto", hidden_size=config.hidden_size)
    start = time.perf_counter()
    result = train_run(TextClassifier(config), str(path), out / f"rt-{len(list(out.iterdir()))}")
    return {"seconds": time.perf_counter() - start, "epochs": result["epochs"], **result["model"]}


def run_lm(out: Path, changes: dict, seed: int, quick: bool) -> dict:
    works = load_dataset("shakespeare").set_index("work")["text"]
    text = "\n".join(works[w] for w in TRAGEDIES)
    if quick:
        text = text[:200_000]
    config = LMConfig(level="word", hidden_size=128, max_vocab=10000, epochs=2 if quick else 6, seed=seed, **changes)
    set_num_threads("auto", hidden_size=config.hidden_size)
    start = time.perf_counter()
    result = train_run(LanguageModel(config), text, out / f"lm-{len(list(out.iterdir()))}")
    return {"seconds": time.perf_counter() - start, "epochs": result["epochs"], **result["model"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["rt", "lm", "all"], default="rt")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--rows", nargs="*", default=list(ROWS), help=f"any of {list(ROWS)}")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    parts = ["rt", "lm"] if args.part == "all" else [args.part]
    out = Path(tempfile.mkdtemp(prefix="bench-variants-"))
    try:
        for part in parts:
            if part == "rt":
                print("\nRotten Tomatoes sentiment (test 2,562 snippets; embedding 100, 128 units, max pooling, "
                      "dropout 0.5, 10 epochs with early stopping)")
                print("| cell | test accuracy | macro-F1 | epochs | seconds per run |")
            else:
                print("\nShakespeare word LM (six tragedies; 2 x 128, tied, dropout 0.3, bptt 35, 6 epochs)")
                print("| cell | val perplexity | test perplexity | epochs | seconds per run |")
            print("| --- | --- | --- | --- | --- |", flush=True)
            for name in args.rows:
                runs = [(run_rt if part == "rt" else run_lm)(out, ROWS[name], seed, args.quick)
                        for seed in range(args.seeds)]
                mean = lambda key: statistics.mean(r[key] for r in runs)  # noqa: E731
                per_seed = lambda key, f: ", ".join(f.format(r[key]) for r in runs)  # noqa: E731
                seconds = f"{mean('seconds'):.0f}"
                epochs = per_seed("epochs", "{}")
                if part == "rt":
                    print(f"| {name} | {mean('accuracy'):.3f} ({per_seed('accuracy', '{:.3f}')}) | "
                          f"{mean('macro_f1'):.3f} | {epochs} | {seconds} |", flush=True)
                else:
                    print(f"| {name} | {mean('val_perplexity'):.1f} | {mean('test_perplexity'):.1f} "
                          f"({per_seed('test_perplexity', '{:.1f}')}) | {epochs} | {seconds} |", flush=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
