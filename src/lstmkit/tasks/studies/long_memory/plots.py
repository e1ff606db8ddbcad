"""Figures of the long-memory study, drawn from its ``results.json`` dict (see
:mod:`lstmkit.tasks.studies.long_memory.study`).

matplotlib is imported on first use: importing the study (as the model registry does to load a
``long_memory_net``) should not pay for it.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lstmkit.tasks.studies.long_memory.problems import PROBLEMS

COLORS = {"rnn": "C3", "lstm": "C0", "gru": "C2", "peephole": "C1", "cifg": "C4", "layernorm": "C5"}
NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU", "peephole": "peephole LSTM", "cifg": "CIFG LSTM",
         "layernorm": "layer-norm LSTM"}
_LABELS = {"mse": "test MSE", "cross_entropy": "test cross-entropy", "accuracy": "test accuracy",
           "within_0.04": "fraction |error| < 0.04"}


def _pyplot():
    from lstmkit.plots import plt  # selects the Agg backend

    return plt


def _save(fig, path):
    from lstmkit.plots import save_figure

    return save_figure(fig, path)


def _null_formatter():
    from matplotlib.ticker import NullFormatter

    return NullFormatter()


def _headline(task: str) -> str:
    return "mse" if task == "adding" else "accuracy"


def summary_plot(results: dict, path: str | Path) -> Path:
    """Per task: the headline test metric against sequence length, each seed a dot, the mean a line."""
    tasks = results["config"]["tasks"]
    lengths = results["config"]["lengths"]
    fig, axes = _pyplot().subplots(1, len(tasks), figsize=(5.2 * len(tasks), 3.8), squeeze=False)
    fig.subplots_adjust(wspace=0.3)
    for ax, task in zip(axes[0], tasks):
        metric = _headline(task)
        for cell in results["config"].get("models", ["rnn", "lstm"]):
            means = []
            for length in lengths:
                values = [r["test"][metric] for r in results["runs"]
                          if (r["task"], r["length"], r["model"]) == (task, length, cell)]
                finite = [v for v in values if v is not None and math.isfinite(v)]
                ax.scatter([length] * len(finite), finite, color=COLORS[cell], s=14, alpha=0.6)
                means.append(np.mean(finite) if finite else np.nan)
            ax.plot(lengths, means, "-o", color=COLORS[cell], label=NAMES[cell], ms=4)
        base = [results["baselines"][task][str(length)][metric] for length in lengths]
        ax.plot(lengths, base, "--", color="0.4", label=PROBLEMS[task].baseline_name)
        if task == "adding":
            ax.set_yscale("log")
            ax.axhline(PROBLEMS[task].solved_at, color="0.6", lw=0.8, ls=":", label="solved below")
        else:
            ax.axhline(PROBLEMS[task].solved_at, color="0.6", lw=0.8, ls=":", label="solved above")
            ax.set_ylim(0, 1.05)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(_null_formatter())
        ax.set_xticks(lengths)
        ax.set_xticklabels([str(t) for t in lengths])
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(_LABELS[metric])
        ax.set_title(task)
        ax.legend(fontsize=8)
    fig.suptitle("Long-memory study: test error at the end of training", y=1.03)
    return _save(fig, path)


def learning_curves(results: dict, path: str | Path) -> Path:
    """Validation error against optimiser steps: one panel per (task, length), one line per run."""
    tasks = results["config"]["tasks"]
    lengths = results["config"]["lengths"]
    fig, axes = _pyplot().subplots(len(tasks), len(lengths), figsize=(3.2 * len(lengths), 2.8 * len(tasks)),
                                   squeeze=False, sharey="row")
    fig.subplots_adjust(hspace=0.4, wspace=0.1)
    for i, task in enumerate(tasks):
        metric = PROBLEMS[task].error_metric
        for j, length in enumerate(lengths):
            ax = axes[i][j]
            for run in results["runs"]:
                if (run["task"], run["length"]) != (task, length) or not run["curve"]:
                    continue
                steps = [p["step"] for p in run["curve"]]
                values = [p[metric] for p in run["curve"]]
                ax.plot(steps, values, ".-", ms=3, color=COLORS[run["model"]], lw=1, alpha=0.8,
                        label=NAMES[run["model"]] if run["seed"] == results["config"]["seed"] else None)
            base = results["baselines"][task][str(length)][metric]
            ax.axhline(base, color="0.4", ls="--", lw=0.8, label=PROBLEMS[task].baseline_name)
            if task == "adding":
                ax.axhline(PROBLEMS[task].solved_at, color="0.6", ls=":", lw=0.8)
            ax.set_yscale("log")
            ax.set_title(f"{task}, T = {length}", fontsize=9)
            if i == len(tasks) - 1:
                ax.set_xlabel("optimiser step")
            if j == 0:
                ax.set_ylabel(f"validation {metric.replace('_', '-')}")
                ax.legend(fontsize=7)
    return _save(fig, path)


def gradient_flow_plot(results: dict, path: str | Path) -> Path:
    """||dL/dh_t|| against the distance from the last step, at the longest length, first seed.

    Left column at initialisation, right column after training; one row per task. Log scale: a
    straight falling line is geometric decay, the vanishing gradient.
    """
    tasks = results["config"]["tasks"]
    length = results["config"]["lengths"][-1]
    seed = results["config"]["seed"]
    fig, axes = _pyplot().subplots(len(tasks), 2, figsize=(10, 3.4 * len(tasks)), squeeze=False, sharey="row")
    fig.subplots_adjust(hspace=0.45, wspace=0.08)
    for i, task in enumerate(tasks):
        for j, when in enumerate(("init", "trained")):
            ax = axes[i][j]
            for run in results["runs"]:
                if (run["task"], run["length"], run["seed"]) != (task, length, seed):
                    continue
                norms = np.asarray(run[f"gradient_{when}"]["norms"], dtype=float)[::-1]  # distance 0 = last step
                ax.plot(np.arange(len(norms)), norms, color=COLORS[run["model"]], label=NAMES[run["model"]])
            ax.set_yscale("log")
            ax.set_title(f"{task}, T = {length}, {'at initialisation' if when == 'init' else 'after training'}",
                         fontsize=9)
            ax.set_xlabel("steps before the end (T - t)")
            if j == 0:
                ax.set_ylabel(r"mean $\|\partial L / \partial h_t\|$")
            ax.legend(fontsize=8)
    fig.suptitle("Gradient flow: how much of the loss gradient reaches each earlier step", y=0.98)
    return _save(fig, path)
