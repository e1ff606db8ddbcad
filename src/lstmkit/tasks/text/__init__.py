"""Text with LSTMs: next-word language modelling and text (sentiment) classification.

Both start from the same pieces: a tokeniser and a :class:`~lstmkit.data.text.Vocabulary`
(:mod:`lstmkit.data.text`, saved as JSON in ``config.json``), an embedding, and
:class:`lstmkit.nn.LSTM`. They differ in how texts are batched:

* :mod:`lstmkit.tasks.text.language_model`: the corpus is one continuous stream, read ``bptt`` tokens
  at a time with the state carried between batches (truncated BPTT in :class:`lstmkit.train.Trainer`);
  :class:`LanguageModel` reports perplexity against Kneser-Ney n-grams (:mod:`lstmkit.tasks.text.ngram`),
  predicts the next word and generates text.
* :mod:`lstmkit.tasks.text.classifier`: each text is one sequence; texts of different lengths are
  padded into one batch with their ``lengths`` (:mod:`lstmkit.data.padding`), so a text's label does
  not depend on its batch; :class:`TextClassifier` reports accuracy and macro-F1 against TF-IDF +
  logistic regression (:mod:`lstmkit.tasks.text.baselines`).

The networks are in :mod:`lstmkit.tasks.text.models`, the configs and fitted states in
:mod:`lstmkit.tasks.text.config`. A run directory is written by :func:`lstmkit.tasks.base.train_run`::

    train_run(LanguageModel(LMConfig(level="word")), text, "runs/lm")      # + sample.txt
    train_run(TextClassifier(ClassifyConfig(...)), "reviews.csv", "runs/clf")  # + predictions.csv

Command line: ``lstmkit text lm train|generate|next`` and ``lstmkit text classify train|predict``.

Names are imported on first use (:mod:`lstmkit.lazy`): the command line imports this package for
every call.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from lstmkit.lazy import lazy_exports

if TYPE_CHECKING:
    from lstmkit.tasks.text.baselines import tfidf_logreg_baseline
    from lstmkit.tasks.text.classifier import TextClassifier, read_labelled
    from lstmkit.tasks.text.config import ClassifyConfig, ClassifyState, LMConfig, LMState
    from lstmkit.tasks.text.language_model import LanguageModel, StreamBatches, join_prompt
    from lstmkit.tasks.text.models import LSTMLanguageModel, LSTMTextClassifier, lm_loss
    from lstmkit.tasks.text.ngram import KneserNeyLM

_WHERE = {
    "ClassifyConfig": "lstmkit.tasks.text.config",
    "ClassifyState": "lstmkit.tasks.text.config",
    "KneserNeyLM": "lstmkit.tasks.text.ngram",
    "LMConfig": "lstmkit.tasks.text.config",
    "LMState": "lstmkit.tasks.text.config",
    "LSTMLanguageModel": "lstmkit.tasks.text.models",
    "LSTMTextClassifier": "lstmkit.tasks.text.models",
    "LanguageModel": "lstmkit.tasks.text.language_model",
    "StreamBatches": "lstmkit.tasks.text.language_model",
    "TextClassifier": "lstmkit.tasks.text.classifier",
    "join_prompt": "lstmkit.tasks.text.language_model",
    "lm_loss": "lstmkit.tasks.text.models",
    "read_labelled": "lstmkit.tasks.text.classifier",
    "tfidf_logreg_baseline": "lstmkit.tasks.text.baselines",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
