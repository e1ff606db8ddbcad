"""Small labelled tables and the tiny trained run directories the export tests share."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def motion_table(n: int = 24, seed: int = 0) -> pd.DataFrame:
    """Three classes of two-channel sequences (7-20 steps): rising, falling, or rising then falling."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        label = ("rise", "fall", "peak")[s % 3]
        steps = int(rng.integers(7, 21))
        t = np.linspace(0, 1, steps)
        shape = {"rise": t, "fall": 1 - t, "peak": 1 - np.abs(2 * t - 1)}[label]
        ax, ay = 2 * shape + 0.25 * rng.standard_normal(steps), rng.standard_normal(steps)
        rows += [{"sequence": f"s{s:03d}", "label": label, "step": k, "ax": ax[k], "ay": ay[k]} for k in range(steps)]
    return pd.DataFrame(rows)


def review_table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Texts of filler words and one of "good" (pos) or "bad" (neg)."""
    rng = np.random.default_rng(seed)
    filler = "the film was and it a plot story actors quite really so".split()
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = list(rng.choice(filler, rng.integers(2, 15))) + [("good" if label == "pos" else "bad")]
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return pd.DataFrame(rows, columns=["review", "sentiment"])


def train_action(directory: Path, **options) -> Path:
    """A one-epoch sensor action recogniser on :func:`motion_table`, saved in ``directory``; ``options``
    go to its ActionConfig (``cell="gru"``, ...)."""
    from lstmkit.tasks.action import ActionConfig, ActionRecognizer

    ActionRecognizer(ActionConfig(epochs=1, hidden_size=8, **options)).fit(motion_table()).save(directory)
    return directory


def train_text(directory: Path, **options) -> Path:
    """A one-epoch bidirectional text classifier on :func:`review_table`, saved in ``directory``; ``options``
    go to its ClassifyConfig (``cell="gru"``, ...)."""
    from lstmkit.tasks.text import ClassifyConfig, TextClassifier

    config = ClassifyConfig(text_column="review", label_column="sentiment", min_freq=1, embedding_dim=8,
                            hidden_size=8, bidirectional=True, pooling="last", epochs=1, **options)
    TextClassifier(config).fit(review_table()).save(directory)
    return directory
