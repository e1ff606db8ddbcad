"""The picture of ``lstmkit speech transcribe --plot``.

Top: the utterance's features (log-mel energies, or MFCCs) over time as the network reads them.
Bottom, on the same time axis: the probability of each output label at each of the network's frames
(after the stride-2 convolution, 20 ms apart): the blank in grey, every character that is ever the
most probable label in colour and named. CTC networks "spike": a character is emitted in one or two
frames and the blank holds the rest, which is what best-path decoding reads off.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lstmkit.plots import plt, save_figure
from lstmkit.tasks.speech.model import BLANK

__all__ = ["plot_transcription"]


def plot_transcription(app, path: str | Path, out: str | Path, *, title: str = "") -> Path:
    """Features over the CTC (or keyword) output probabilities of one audio file, written to ``out``."""
    feats = app.features_of_files([Path(path)])[0]
    outputs = app.network_outputs([feats])[0]
    feature_config = app.config.feature_config()
    hop = feature_config.hop_ms / 1000
    fig, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, height_ratios=[1.2, 1])
    end = len(feats) * hop
    axes[0].imshow(feats.numpy().T, origin="lower", aspect="auto", extent=(0, end, 0, feats.shape[1]), cmap="magma")
    axes[0].set_ylabel("mel filter" if feature_config.kind == "logmel" else "cepstral coefficient")
    axes[0].set_title(title)
    ax = axes[1]
    if app.config.task == "ctc":
        probs = np.exp(outputs)  # (T', 1 + V)
        step = end / len(probs)
        t = (np.arange(len(probs)) + 0.5) * step
        ax.plot(t, probs[:, BLANK], color="0.6", lw=1, label="blank")
        shown = sorted(set(probs.argmax(1).tolist()) - {BLANK})
        colours = plt.cm.tab10(np.linspace(0, 1, 10))
        for k, label in enumerate(shown):
            name = app.state.alphabet[label - 1]
            ax.plot(t, probs[:, label], color=colours[k % 10], lw=1.5, label=repr(name))
            peak = int(probs[:, label].argmax())
            ax.annotate(name if name != " " else "␣", (t[peak], probs[peak, label]), ha="center", va="bottom",
                        fontsize=9)
        ax.set_ylabel("P(label) per frame")
        ax.set_ylim(0, 1.05)
        if len(shown) <= 12:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    else:
        probs = np.exp(outputs)
        top = np.argsort(probs)[::-1][:5]
        ax.barh([app.state.classes[k] for k in top][::-1], probs[top][::-1], height=0.6)
        ax.set_xlabel("P(label)")
    axes[1].set_xlabel("time (s)")
    fig.tight_layout()
    return save_figure(fig, out)
