"""Small labelled tables and the tiny trained run directories the export tests share."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from labelled_tables import motion_table


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


def monthly_table(n: int = 150, seed: int = 0) -> pd.DataFrame:
    """A positive, trending, seasonal monthly series (modelled on the log scale) and one extra feature."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    sales = (100 + 0.8 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.02, n))
    return pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS"), "sales": sales,
                         "promo": rng.normal(size=n)})


def sine_table(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"value": np.sin(2 * np.pi * np.arange(n) / 25) + 0.1 * rng.normal(size=n)})


def train_forecast(directory: Path) -> Path:
    """A tiny forecaster with every part the graph has to carry: two ensemble members, three quantiles,
    a feature, a seasonal baseline, log targets. A few epochs move the heads off their zero start. The
    forecast is the network's alone (combine="lstm"): the tests bound how far the graph moves it."""
    from lstmkit.tasks.forecast import ForecastConfig, Forecaster

    config = ForecastConfig(targets=["sales"], features=["promo"], time_column="month", quantiles=[0.1, 0.5, 0.9],
                            hidden_size=8, ensemble=2, epochs=5, patience=5, combine="lstm")
    Forecaster(config).fit(monthly_table()).save(directory)
    return directory


def train_anomaly(directory: Path, method: str) -> Path:
    """A tiny anomaly detector (``method`` "prediction" or "reconstruction") on :func:`sine_table`."""
    from lstmkit.tasks.anomaly import AnomalyConfig, AnomalyDetector

    config = AnomalyConfig(columns=["value"], method=method, window=16, hidden_size=8, epochs=3, patience=3,
                           train_fraction=0.6)
    AnomalyDetector(config).fit(sine_table()).save(directory)
    return directory


def number_sentences() -> list[str]:
    """English number words of several lengths (the sources the translator tests decode)."""
    return ["three hundred and twelve", "forty-two", "seven", "ninety-nine", "one hundred",
            "eight hundred and eighty-eight", "six hundred and five", "zzz unknown words"]


def train_translator(directory: Path, **options) -> Path:
    """A word-level English -> French number translator trained for one epoch on 200 pairs, its weights then
    drawn at random (N(0, 0.5)) and saved in ``directory``. One epoch stops at <eos> after a token or two; the
    random weights write 10-20 tokens a sentence, so decoding comparisons go over many steps and beams.
    ``options`` go to its TranslateConfig (``cell="gru"``, ...)."""
    import torch

    from lstmkit.tasks.translate import TranslateConfig, Translator, number_pairs

    config = TranslateConfig(tokenizer="word", min_freq=1, embedding_dim=8, hidden_size=16, epochs=1, dropout=0.0,
                             batch_size=64, beam=3, **options)
    translator = Translator(config).fit(number_pairs(200, high=999, source="en", seed=0))
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in translator.model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    translator.save(directory)
    return directory
