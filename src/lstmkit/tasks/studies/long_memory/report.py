"""The study's tables: one summary row per (task, length, model) and the ``results.md`` report."""
from __future__ import annotations

import math
import statistics

from lstmkit.tasks.studies.long_memory.config import MODEL_NAMES
from lstmkit.tasks.studies.long_memory.problems import PROBLEMS


def _mean_sd(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return float("nan"), float("nan")
    return statistics.fmean(finite), (statistics.stdev(finite) if len(finite) > 1 else 0.0)


def summarize(runs: list[dict]) -> list[dict]:
    """One row per (task, length, model): solved seeds, steps to solve, test metrics over seeds."""
    rows = []
    keys = list(dict.fromkeys((r["task"], r["length"], r["model"]) for r in runs))
    for task, length, cell in keys:
        group = [r for r in runs if (r["task"], r["length"], r["model"]) == (task, length, cell)]
        solved = [r["steps_to_solve"] for r in group if r["solved"]]
        row = {"task": task, "length": length, "model": cell, "hidden_size": group[0]["hidden_size"],
               "parameters": group[0]["parameters"], "seeds": len(group), "solved": len(solved),
               "steps_to_solve": solved, "median_steps_to_solve": statistics.median(solved) if solved else None,
               "diverged": sum(r["diverged"] for r in group)}
        for metric in group[0]["test"]:
            row[f"{metric}_mean"], row[f"{metric}_sd"] = _mean_sd([r["test"][metric] for r in group])
        for when in ("init", "trained"):
            row[f"gradient_ratio_{when}"] = statistics.median(r[f"gradient_{when}"]["first_over_last"] for r in group)
        rows.append(row)
    return rows


def _fmt(value: float, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) < 10 ** -digits or abs(value) >= 1e4):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def markdown_report(results: dict) -> str:
    """``results.md``: per task, one table with a row per length and model and the baseline."""
    config = results["config"]
    models = config.get("models", ["rnn", "lstm"])
    title = ("vanilla RNN against LSTM" if models == ["rnn", "lstm"]
             else ", ".join(MODEL_NAMES[m] for m in models if m != "lstm") + " against LSTM")
    lines = [f"# Long-memory study: {title}", ""]
    lines.append(
        f"Settings: lengths {config['lengths']}, {config['seeds']} seed(s) from {config['seed']}, at most "
        f"{config['steps']} Adam steps of {config['batch_size']} fresh sequences, gradient norm clipped at "
        f"{config['clip_grad_norm']}, LSTM {config['hidden_size']} units, "
        f"{'RNN' if models == ['rnn', 'lstm'] else 'the others'} matched in parameters; "
        f"validation every {config['eval_every']} steps; test set of {config['test_size']} sequences. "
        f"Wall time {results['wall_seconds'] / 60:.1f} min."
    )
    lines.append("")
    for task in config["tasks"]:
        problem = PROBLEMS[task]
        rows = [r for r in results["summary"] if r["task"] == task]
        lr = results["learning_rates"][task]
        if task == "adding":
            criterion = f"solved: validation MSE < {problem.solved_at}"
            cols = [("test MSE", "mse", 4), ("share with error < 0.04", "within_0.04", 3)]
        else:
            criterion = f"solved: validation accuracy >= {problem.solved_at:.0%}"
            cols = [("test accuracy", "accuracy", 3), ("test cross-entropy", "cross_entropy", 3)]
        lines += [f"## {task} ({problem.description})", "",
                  f"Adam lr {lr}; {criterion}. Gradient ratio: median over seeds of "
                  "‖∂L/∂h₁‖ / ‖∂L/∂h_T‖ (how much of the loss gradient reaches the first step), "
                  "at initialisation → after training.", ""]
        header = ["T", "model", "params", "solved", "steps to solve", *(c[0] for c in cols), "gradient ratio"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---"] * len(header)) + "|")
        for length in config["lengths"]:
            for row in (r for r in rows if r["length"] == length):
                steps = ("—" if not row["steps_to_solve"] else
                         f"{row['median_steps_to_solve']:g}" + (f" ({', '.join(map(str, row['steps_to_solve']))})"
                                                               if len(row["steps_to_solve"]) > 1 else ""))
                solved = f"{row['solved']}/{row['seeds']}"
                if row["diverged"]:
                    solved += f" ({row['diverged']} diverged)"
                values = []
                for _, key, digits in cols:
                    mean, sd = row[f"{key}_mean"], row[f"{key}_sd"]
                    values.append(_fmt(mean, digits) + (f" ± {_fmt(sd, digits)}" if row["seeds"] > 1 else ""))
                ratio = f"{_fmt(row['gradient_ratio_init'])} → {_fmt(row['gradient_ratio_trained'])}"
                name = f"{MODEL_NAMES[row['model']]} ({row['hidden_size']} units)"
                lines.append(f"| {length} | {name} | {row['parameters']:,} | {solved} | {steps} | "
                             + " | ".join(values) + f" | {ratio} |")
            base = results["baselines"][task][str(length)]
            lines.append(f"| {length} | {problem.baseline_name} | 0 | — | — | "
                         + " | ".join(_fmt(base[key], digits) for _, key, digits in cols) + " | — |")
        lines.append("")
    return "\n".join(lines)
