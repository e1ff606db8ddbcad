r"""Text classification (sentiment and any other labels): an LSTM reads a text, a dense layer labels it.

The network is :class:`~lstmkit.tasks.text.models.LSTMTextClassifier` (embedding -> (bi)LSTM with
each text's length -> masked pooling -> linear). Batches are drawn by
:class:`lstmkit.data.BucketBatchSampler` (similar lengths together); the ``lengths`` keep a text's
logits independent of its batch.

Evaluation: a seeded, stratified train / validation / test split (:func:`lstmkit.data.stratified_split`);
early stopping on the validation accuracy (or loss); accuracy, macro-F1 (the mean over classes of each
class's F1, so a rare class counts as much as a common one) and the confusion matrix on the test part
(:func:`lstmkit.metrics.classification.classification_metrics`), next to a TF-IDF (word 1-2-grams,
same tokeniser) + logistic regression baseline (:mod:`lstmkit.tasks.text.baselines`) fitted on the
same training rows, its C chosen on the same validation rows.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from lstmkit.data import (BucketBatchSampler, DataError, LabelledSequences, collate_labelled, pad_sequences,
                          stratified_split)
from lstmkit.data.text import Vocabulary, check_texts
from lstmkit.errors import InputFileError
from lstmkit.files import atomic_write_text
from lstmkit.metrics.classification import class_order, classification_metrics, label_accuracy
from lstmkit.runtime import seed_everything
from lstmkit.tasks.text.baselines import tfidf_logreg_baseline
from lstmkit.tasks.text.tokens import TextApplication
from lstmkit.tasks.text.config import ClassifyConfig, ClassifyState
from lstmkit.tasks.text.models import LSTMTextClassifier
from lstmkit.train import TrainConfig

__all__ = ["TextClassifier", "read_labelled"]

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------ reading
def read_labelled(data, text_column: str, label_column: str | None) -> tuple[list[str], list[str] | None]:
    """Texts (checked: no blanks, no numbers) and labels (as strings) of a CSV path or DataFrame."""
    if isinstance(data, pd.DataFrame):
        frame, source = data, "the table"
    else:
        path = Path(data)
        if not path.is_file():
            raise InputFileError(f"{path}: no such file")
        source = str(path)
        try:
            # Only empty fields are missing: "NA" or "null" in a review is text.
            frame = pd.read_csv(path, keep_default_na=False, na_values=[""],
                                dtype={label_column: str} if label_column else None)
        except pd.errors.EmptyDataError:
            raise DataError(f"{path}: the file is empty") from None
        except (pd.errors.ParserError, UnicodeDecodeError) as error:
            raise DataError(f"{path}: not a readable CSV file ({str(error).splitlines()[0]})") from None
    for column in (text_column, label_column):
        if column is not None and column not in frame.columns:
            raise DataError(f"{source}: column {column!r} not found; columns are: "
                            f"{', '.join(map(str, frame.columns))}")
    if len(frame) == 0:
        raise DataError(f"{source}: the table has no rows")
    texts = check_texts(frame[text_column], name=text_column)
    if label_column is None:
        return texts, None
    values = frame[label_column]
    missing = values.isna().to_numpy()
    if missing.any():
        raise DataError(f"label column {label_column!r} has a missing label at row {int(np.argmax(missing))}")
    labels = [str(v).strip() for v in values.tolist()]
    blank = [i for i, v in enumerate(labels) if not v]
    if blank:
        raise DataError(f"label column {label_column!r} has a missing label at row {blank[0]}")
    return texts, labels


# ------------------------------------------------------------------------------------------ task
class TextClassifier(TextApplication):
    """Fit, evaluate, predict, save and load an LSTM text classifier.

    >>> clf = TextClassifier(ClassifyConfig(text_column="text", label_column="label")).fit(df)
    >>> clf.evaluate(df)["model"]["accuracy"]; clf.predict(["a gripping film"])
    """

    name = "text_classify"
    config_class = ClassifyConfig
    state_class = ClassifyState
    description = "a text classifier"
    train_command = "lstmkit text classify train"

    @property
    def classes(self) -> list[str]:
        """The labels in the order of the model's outputs (and of ``prob_<class>`` columns)."""
        self.require_fitted()
        return self.state.classes

    # ---- data ------------------------------------------------------------------------------------
    def _read(self, data) -> tuple[list[str], list[str]]:
        cfg = self.config
        texts, labels = read_labelled(data, cfg.text_column, cfg.label_column)
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise DataError(f"label column {cfg.label_column!r} has only one class ({classes[0]!r}): a classifier "
                            "needs at least two")
        return texts, labels

    def _split(self, labels: Sequence[str]):
        cfg = self.config
        return stratified_split(labels, val=cfg.val_fraction, test=cfg.test_fraction, seed=cfg.seed)

    def check_input(self, data) -> None:
        self._split(self._read(data)[1])

    def _tokens(self, texts: Sequence[str], tokenizer=None) -> list[list[str]]:
        tokenizer = tokenizer or self.tokenizer
        return [tokenizer(t)[: self.config.max_length] for t in texts]

    def encode(self, texts: Sequence[str]) -> list[torch.Tensor]:
        """Id tensors of ``texts``; a text with no token at all (possible only without punctuation) is <unk>."""
        vocab = self.state.vocabulary
        return [torch.tensor(vocab.encode(tokens) or [vocab.unk_id], dtype=torch.int64)
                for tokens in self._tokens(texts)]

    def _loader(self, ids: list[torch.Tensor], labels: np.ndarray, *, shuffle: bool):
        sampler = BucketBatchSampler([len(t) for t in ids], self.config.batch_size, shuffle=shuffle)
        return torch.utils.data.DataLoader(LabelledSequences(ids, labels), batch_sampler=sampler,
                                           collate_fn=collate_labelled)

    # ---- fit -------------------------------------------------------------------------------------
    def fit(self, data, *, run_dir: str | Path | None = None, resume: bool = False) -> "TextClassifier":
        """Fit the vocabulary and the model on the training rows of ``data`` (a CSV path or DataFrame),
        stopping early on the validation rows. ``run_dir``/``resume``: see
        :meth:`lstmkit.tasks.base.Application.train_model`."""
        cfg = self.config
        texts, labels = self._read(data)
        train, val, test = self._split(labels)
        classes = class_order(labels)
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[v] for v in labels], dtype=np.int64)
        tokenizer = cfg.tokenizer()
        vocab = Vocabulary(min_freq=cfg.min_freq, max_size=cfg.max_vocab).fit(
            self._tokens([texts[i] for i in train], tokenizer))
        self.state = ClassifyState(rows=len(texts), classes=classes, vocab_size=len(vocab),
                                   split={"train": int(len(train)), "val": int(len(val)), "test": int(len(test)),
                                          "seed": cfg.seed, "stratified": True},
                                   tokenizer=tokenizer, vocabulary=vocab)
        ids = self.encode(texts)
        seed_everything(cfg.seed)
        model = LSTMTextClassifier(len(vocab), len(classes), cfg.embedding_dim, cfg.hidden_size, cfg.num_layers,
                                   cfg.bidirectional, cfg.dropout, cfg.pooling, cfg.cell, cfg.recurrent_dropout,
                                   cfg.zoneout)
        train_config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adam", lr=cfg.lr,
                                   weight_decay=cfg.weight_decay, clip_grad_norm=cfg.clip_grad_norm,
                                   patience=cfg.patience, restore_best=True, monitor=f"val_{cfg.monitor}",
                                   mode="max" if cfg.monitor == "accuracy" else "min", seed=cfg.seed,
                                   device="cpu", progress=False)
        self.train_model(model, F.cross_entropy, train_config,
                         self._loader([ids[i] for i in train], y[train], shuffle=True),
                         self._loader([ids[i] for i in val], y[val], shuffle=False),
                         run_dir=run_dir, resume=resume, metrics={"accuracy": label_accuracy})
        return self

    # ---- prediction ------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_proba(self, texts: Sequence[str] | str) -> np.ndarray:
        """Class probabilities (n, C), columns in ``self.classes`` order."""
        self.require_fitted()
        if isinstance(texts, str):
            texts = [texts]
        texts = check_texts(list(texts), name="text")
        ids = self.encode(texts)
        order = np.argsort([len(t) for t in ids], kind="stable")  # batch similar lengths together
        probs = np.zeros((len(ids), len(self.classes)))
        model = self.model.eval()
        for start in range(0, len(order), 256):
            rows = order[start : start + 256]
            x, lengths = pad_sequences([ids[i] for i in rows])
            probs[rows] = torch.softmax(model((x, lengths)).double(), dim=-1).numpy()
        return probs

    def predict(self, texts: Sequence[str] | str) -> pd.DataFrame:
        """One row per text: ``text``, ``label``, ``probability`` (of that label), ``prob_<class>`` for each class."""
        if isinstance(texts, str):
            texts = [texts]
        probs = self.predict_proba(texts)
        best = probs.argmax(1)
        frame = pd.DataFrame({"text": list(texts), "label": [self.classes[i] for i in best],
                              "probability": probs[np.arange(len(best)), best]})
        for k, c in enumerate(self.classes):
            frame[f"prob_{c}"] = probs[:, k]
        return frame

    def evaluate(self, data, *, baseline: bool = True) -> dict:
        """Metrics on the test rows (the same seeded split as ``fit``), model and TF-IDF baseline.

        Returns ``{"model": {...}, "baselines": {"tfidf_logreg": {...}}, "split": {...}, "predictions": DataFrame}``.
        """
        self.require_fitted()
        texts, labels = self._read(data)
        train, val, test = self._split(labels)
        unknown = sorted(set(labels) - set(self.classes))
        if unknown:
            raise DataError(f"labels {unknown} were not among the training classes {self.classes}")
        index = {c: i for i, c in enumerate(self.classes)}
        y = np.array([index[v] for v in labels], dtype=np.int64)
        test_texts = [texts[i] for i in test]
        probs = self.predict_proba(test_texts)
        pred = probs.argmax(1)
        result = {"model": classification_metrics(y[test], pred, self.classes), "baselines": {}}
        predictions = pd.DataFrame({"row": test, "text": test_texts, "label": [labels[i] for i in test],
                                    "predicted": [self.classes[i] for i in pred],
                                    "probability": probs[np.arange(len(pred)), pred]})
        if baseline:
            try:
                base_pred, info = tfidf_logreg_baseline(
                    self.tokenizer, [texts[i] for i in train], y[train], [texts[i] for i in val], y[val], test_texts)
                result["baselines"]["tfidf_logreg"] = {**classification_metrics(y[test], base_pred, self.classes),
                                                       **info}
                predictions["tfidf_logreg"] = [self.classes[i] for i in base_pred]
            except ImportError as error:
                logger.warning("%s", error)
        result["split"] = {**self.state.split, "classes": self.classes,
                           "test_class_counts": {c: int((y[test] == k).sum()) for k, c in enumerate(self.classes)}}
        result["predictions"] = predictions
        return result

    # ---- run directory ---------------------------------------------------------------------------
    def write_results(self, out: Path, result: dict, data) -> None:
        """``predictions.csv``: every test row with its text, label, the model's and the baseline's prediction."""
        predictions = result.pop("predictions")
        atomic_write_text(out / "predictions.csv", predictions.to_csv(index=False))
