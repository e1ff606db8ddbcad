"""The pictures of ``lstmkit action``.

* ``confusion.png``: the test part's confusion matrix, true class down the rows, predicted class along
  the columns, each cell its count (a perfect model fills only the diagonal).
* ``predict --plot``: per clip, a strip of its frames over the class probabilities after each frame;
  per sensor sequence, its channels over the same probabilities. The probability after step t is what
  the model says of the sequence cut there, so the picture shows when the model made up its mind.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from lstmkit.plots import plt, save_figure

__all__ = ["plot_confusion", "plot_prediction"]

MAX_THUMBNAILS = 8
MAX_LEGEND = 8  # classes named in the legend: the most probable ones at the end


def plot_confusion(matrix: Sequence[Sequence[int]], classes: Sequence[str], path: str | Path, *,
                   title: str = "") -> Path:
    """Counts of (true, predicted) pairs, written to ``path`` as PNG."""
    cm = np.asarray(matrix)
    size = max(3.5, 0.45 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(cm, cmap="Blues", vmin=0)
    ax.set_xticks(range(len(classes)))
    ax.set_xticklabels(classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)))
    ax.set_yticklabels(classes, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    threshold = cm.max() / 2 if cm.size else 0
    for (row, col), count in np.ndenumerate(cm):
        if count:
            ax.text(col, row, str(count), ha="center", va="center", fontsize=7,
                    color="white" if count > threshold else "black")
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    fig.colorbar(image, ax=ax, shrink=0.7, label="test examples")
    return save_figure(fig, path)


def _probability_panel(ax, probs: np.ndarray, classes: Sequence[str], unit: str) -> None:
    steps = np.arange(1, len(probs) + 1)
    order = np.argsort(-probs[-1])[:MAX_LEGEND]
    for k in order:
        ax.plot(steps, probs[:, k], marker="." if len(steps) <= 40 else None, label=classes[k])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0.5, len(steps) + 0.5)
    ax.set_xlabel(f"{unit}s seen")
    ax.set_ylabel("class probability")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    ax.grid(alpha=0.3)


def plot_prediction(example: np.ndarray, probs: np.ndarray, classes: Sequence[str], path: str | Path, *,
                    kind: str, title: str = "", channels: Sequence[str] = ()) -> Path:
    """One clip's frames (``kind="video"``, (T, H, W, 3) uint8) or one sequence's channels ((T, C)) over
    its class probabilities after each step ``probs`` (T, C)."""
    video = kind == "video"
    fig = plt.figure(figsize=(9, 4.6 if video else 5.5))
    top, bottom = fig.add_gridspec(2, 1, height_ratios=[0.8, 1.4] if video else [1, 1.4], hspace=0.3 if video else 0.45)
    if video:
        shown = np.unique(np.linspace(0, len(example) - 1, min(MAX_THUMBNAILS, len(example))).round().astype(int))
        strip = top.subgridspec(1, len(shown), wspace=0.05)
        for j, t in enumerate(shown):
            ax = fig.add_subplot(strip[0, j])
            ax.imshow(example[t])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"frame {t + 1}", fontsize=8)
        unit = "frame"
    else:
        ax = fig.add_subplot(top)
        steps = np.arange(1, len(example) + 1)
        for k in range(example.shape[1]):
            ax.plot(steps, example[:, k], linewidth=1, label=channels[k] if k < len(channels) else f"dim_{k}")
        ax.set_xlim(0.5, len(steps) + 0.5)
        ax.set_xlabel("step")
        ax.set_ylabel("value")
        if example.shape[1] <= MAX_LEGEND:
            ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
        unit = "step"
    _probability_panel(fig.add_subplot(bottom), probs, classes, unit)
    if title:
        fig.suptitle(title, fontsize=10, x=0.02, ha="left")
    return save_figure(fig, path)
