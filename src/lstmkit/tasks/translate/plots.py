"""``attention.png``: where the decoder looked while writing each target token.

One panel per sentence: target tokens down the rows (``<eos>`` last when the translation ended with
it), source tokens along the columns, each cell the attention weight (0-1, darker = more). A good
model shows a near-diagonal band for languages with similar word order, with off-diagonal blocks where
words are reordered (English adjective-noun against Spanish noun-adjective).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from lstmkit.plots import plt, save_figure

__all__ = ["attention_figure", "attention_plot"]


def _panel(ax, weights, source: Sequence[str], target: Sequence[str], title: str = "") -> None:
    image = ax.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(source)))
    ax.set_xticklabels(list(source), rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(target)))
    ax.set_yticklabels(list(target), fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("translation")
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    return image


def attention_figure(translations) -> "plt.Figure":
    """A figure with one attention panel per :class:`~lstmkit.tasks.translate.Translation` (those with
    attention weights)."""
    items = [t for t in translations if t.attention is not None and len(t.attention)]
    if not items:
        raise ValueError("no translation with attention weights to draw")
    widths = [max(3.0, 0.38 * len(t.source_tokens) + 1.5) for t in items]
    heights = [max(2.5, 0.3 * len(t.target_labels) + 1.5) for t in items]
    fig, axes = plt.subplots(len(items), 1, figsize=(max(widths), sum(heights)),
                             gridspec_kw={"height_ratios": heights}, squeeze=False)
    image = None
    for ax, t in zip(axes[:, 0], items):
        text = t.text if len(t.text) <= 90 else t.text[:87] + "..."
        image = _panel(ax, t.attention, t.source_tokens, t.target_labels, title=text)
    fig.colorbar(image, ax=list(axes[:, 0]), shrink=0.6, label="attention weight")
    return fig


def attention_plot(translations, path: str | Path) -> Path:
    """Draw :func:`attention_figure` and write it to ``path`` as PNG (atomically)."""
    return save_figure(attention_figure(translations), path)
