"""Text with LSTMs: next-word language modelling and text (sentiment) classification.

Both start from the same pieces: a tokeniser and a :class:`~lstmkit.data.text.Vocabulary`
(:mod:`lstmkit.data.text`, saved as JSON in ``config.json``), an embedding, and
:class:`lstmkit.nn.LSTM`. They differ in how texts are batched:

* :mod:`lstmkit.tasks.text_lm`: the corpus is one continuous stream, read ``bptt`` tokens at a
  time with the state carried between batches (truncated BPTT in :class:`lstmkit.train.Trainer`);
  :class:`LanguageModel` reports perplexity against Kneser-Ney n-grams (:mod:`lstmkit.tasks.text_ngram`),
  predicts the next word and generates text.
* :mod:`lstmkit.tasks.text_classify`: each text is one sequence; texts of different lengths are
  padded into one batch with their ``lengths`` (:mod:`lstmkit.data.padding`), so a text's label does
  not depend on its batch; :class:`TextClassifier` reports accuracy and macro-F1 against TF-IDF +
  logistic regression.

Command line: ``lstmkit text lm train|generate|next`` and ``lstmkit text classify train|predict``.
"""
from lstmkit.tasks.text_classify import (
    ClassifyConfig,
    LSTMTextClassifier,
    TextClassifier,
    classification_metrics,
    tfidf_logreg_baseline,
)
from lstmkit.tasks.text_classify import train_run as train_classifier
from lstmkit.tasks.text_lm import LanguageModel, LMConfig, LSTMLanguageModel, StreamBatches, join_prompt, lm_loss
from lstmkit.tasks.text_lm import train_run as train_lm
from lstmkit.tasks.text_ngram import KneserNeyLM

__all__ = [
    "ClassifyConfig", "KneserNeyLM", "LMConfig", "LSTMLanguageModel", "LSTMTextClassifier", "LanguageModel",
    "StreamBatches", "TextClassifier", "classification_metrics", "join_prompt", "lm_loss", "tfidf_logreg_baseline",
    "train_classifier", "train_lm",
]
