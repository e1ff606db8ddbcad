r"""Text classification (sentiment and any other labels): an LSTM reads a text, a dense layer labels it.

Model::

    ids (N, T), lengths (N,) -> embedding (N, T, E) -> dropout -> (bi)LSTM with lengths (N, T, D*H)
        -> pooled over each text's own steps (N, D*H) -> dropout -> linear (N, C) -> softmax

Pooling: ``"max"`` (default) takes each feature's maximum over the valid steps, ``"mean"`` their
mean, ``"last"`` the final states (each direction's own last step). Texts of different lengths share
a padded batch; the ``lengths`` go to :class:`lstmkit.nn.LSTM` (pads never enter a state) and to the
pooling mask (:func:`lstmkit.data.sequence_mask`), so a text's logits do not depend on the batch it
is in. Batches are drawn by :class:`lstmkit.data.BucketBatchSampler` (similar lengths together).

Evaluation: a seeded, stratified train / validation / test split (:func:`lstmkit.data.text.stratified_split`);
early stopping on the validation loss; accuracy, macro-F1 (the mean over classes of each class's F1,
so a rare class counts as much as a common one) and the confusion matrix on the test part, next to a
TF-IDF (word 1-2-grams, same tokeniser) + logistic regression baseline fitted on the same training
rows, its C chosen on the same validation rows.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from lstmkit.data import BucketBatchSampler, DataError, collate, pad_sequences, sequence_mask
from lstmkit.data.text import Vocabulary, WordTokenizer, check_texts, stratified_split, tokenizer_from_dict
from lstmkit.nn import LSTM
from lstmkit.registry import register_model
from lstmkit.runtime import seed_everything
from lstmkit.train import TrainConfig, Trainer, load_model, read_config, save_model, write_task_config
from lstmkit.config import DictConfig

logger = logging.getLogger(__name__)

TASK_NAME = "text_classify"
POOLINGS = ("max", "mean", "last")


# ---------------------------------------------------------------------------------------- config
@dataclass
class ClassifyConfig(DictConfig):
    """A text-classification run."""

    text_column: str = "text"
    label_column: str = "label"
    lower: bool = True
    min_freq: int = 2  # a word seen once in training gets no embedding of its own: <unk>
    max_vocab: int | None = 30000  # entries, the four specials included
    max_length: int = 400  # tokens read per text (the rest is cut)
    embedding_dim: int = 100
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    pooling: str = "max"
    dropout: float = 0.5  # on the embeddings, between LSTM layers and before the output layer
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    # Early stopping (and the weights kept) by validation accuracy, the metric reported: on sentiment
    # snippets the validation loss turns up while the accuracy still rises (the model grows overconfident
    # on the examples it gets right), so stopping on the loss ended 2-3 points lower (Rotten Tomatoes).
    monitor: str = "accuracy"  # "accuracy" or "loss"
    epochs: int = 20
    patience: int = 3
    lr: float = 2e-3
    weight_decay: float = 0.0
    batch_size: int = 32
    clip_grad_norm: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("min_freq", "max_length", "embedding_dim", "hidden_size", "num_layers", "epochs", "patience",
                     "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.monitor not in ("accuracy", "loss"):
            raise ValueError(f"monitor must be 'accuracy' or 'loss', got {self.monitor!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1
                and self.val_fraction + self.test_fraction < 1):
            raise ValueError("val_fraction and test_fraction must be fractions in (0, 1) with a sum below 1, got "
                             f"{self.val_fraction} and {self.test_fraction}")
        if self.max_vocab is not None and self.max_vocab <= 4:
            raise ValueError(f"max_vocab must be larger than 4 (the special tokens), got {self.max_vocab!r}")

    def tokenizer(self) -> WordTokenizer:
        return WordTokenizer(lower=self.lower, punctuation=True)



# ----------------------------------------------------------------------------------------- model
@register_model("text_classifier")
class LSTMTextClassifier(torch.nn.Module):
    """Embedding -> (bi)LSTM -> masked pooling -> linear.

    ``forward((ids, lengths))``: ids (N, T) int64 padded with 0, lengths (N,) -> logits (N, C).
    """

    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int = 100, hidden_size: int = 128,
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.5, pooling: str = "max"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.vocab_size, self.num_classes, self.embedding_dim = vocab_size, num_classes, embedding_dim
        self.hidden_size, self.num_layers, self.bidirectional = hidden_size, num_layers, bool(bidirectional)
        self.dropout_p, self.pooling = float(dropout), pooling
        self.embedding = torch.nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = LSTM(embedding_dim, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional,
                         dropout=self.dropout_p if num_layers > 1 else 0.0)
        self.drop = torch.nn.Dropout(self.dropout_p)
        self.head = torch.nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def get_config(self) -> dict:
        return {"vocab_size": self.vocab_size, "num_classes": self.num_classes, "embedding_dim": self.embedding_dim,
                "hidden_size": self.hidden_size, "num_layers": self.num_layers, "bidirectional": self.bidirectional,
                "dropout": self.dropout_p, "pooling": self.pooling}

    @classmethod
    def from_config(cls, config: dict) -> "LSTMTextClassifier":
        return cls(**config)

    def forward(self, inputs) -> torch.Tensor:
        ids, lengths = inputs  # (N, T), (N,)
        x = self.drop(self.embedding(ids))  # (N, T, E)
        out, (h_n, _) = self.lstm(x, lengths=lengths)  # out (N, T, D*H), zero past each length
        if self.pooling == "last":
            D = 2 if self.bidirectional else 1
            pooled = torch.cat(list(h_n[-D:]), dim=-1)  # (N, D*H): the top layer's final state per direction
        else:
            mask = sequence_mask(lengths, out.shape[1]).to(out.device).unsqueeze(-1)  # (N, T, 1)
            if self.pooling == "max":
                pooled = out.masked_fill(~mask, float("-inf")).amax(dim=1)  # (N, D*H)
            else:
                pooled = out.sum(dim=1) / lengths.to(out.device, out.dtype).unsqueeze(-1)  # pads are zero
        return self.head(self.drop(pooled))  # (N, C)


def _collate_labelled(batch):
    x, lengths, y = collate(batch)
    return (x, lengths), y


class _Encoded(torch.utils.data.Dataset):
    def __init__(self, ids: list[torch.Tensor], labels: np.ndarray):
        self.ids, self.labels = ids, torch.as_tensor(labels, dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i):
        return self.ids[i], self.labels[i]


# ------------------------------------------------------------------------------------------ metrics
def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> dict:
    """Accuracy, macro-F1 and the confusion matrix (rows: true class, columns: predicted, in ``classes``
    order). A class never predicted has precision 0 (scikit-learn's ``zero_division=0``)."""
    C = len(classes)
    cm = np.zeros((C, C), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(0).astype(float), cm.sum(1).astype(float)
    precision = np.divide(tp, predicted, out=np.zeros(C), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros(C), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(C), where=precision + recall > 0)
    return {"accuracy": float(tp.sum() / max(cm.sum(), 1)), "macro_f1": float(f1.mean()),
            "f1": {c: float(v) for c, v in zip(classes, f1)}, "confusion_matrix": cm.tolist()}


def tfidf_logreg_baseline(tokenizer, train_texts, train_y, val_texts, val_y, test_texts) -> tuple[np.ndarray, dict]:
    """TF-IDF of word 1- and 2-grams (the model's tokeniser, sublinear tf) + logistic regression; C chosen
    on the validation rows from 0.25, 1, 4, 16. Returns test predictions and the chosen settings."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise ImportError("the TF-IDF baseline needs scikit-learn: pip install 'lstmkit[text]'") from None

    def analyzer(text: str) -> list[str]:
        tokens = tokenizer(text)
        return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]

    vectorizer = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, min_df=1)
    x_train = vectorizer.fit_transform(train_texts)
    x_val, x_test = vectorizer.transform(val_texts), vectorizer.transform(test_texts)
    best = None
    for C in (0.25, 1.0, 4.0, 16.0):
        clf = LogisticRegression(C=C, max_iter=2000).fit(x_train, train_y)
        accuracy = float((clf.predict(x_val) == val_y).mean())
        if best is None or accuracy > best[0]:
            best = (accuracy, C, clf)
    accuracy, C, clf = best
    return clf.predict(x_test), {"C": C, "val_accuracy": accuracy, "features": int(x_train.shape[1])}


# ------------------------------------------------------------------------------------------ reading
def read_labelled(data, text_column: str, label_column: str | None) -> tuple[list[str], list[str] | None]:
    """Texts (checked: no blanks, no numbers) and labels (as strings) of a CSV path or DataFrame."""
    if isinstance(data, pd.DataFrame):
        frame, source = data, "the table"
    else:
        path = Path(data)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
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


def _class_order(labels: Sequence[str]) -> list[str]:
    """Classes sorted numerically when every label is a number ("2" before "10"), else alphabetically."""
    unique = sorted(set(labels))
    try:
        return sorted(unique, key=float)
    except ValueError:
        return unique


# ------------------------------------------------------------------------------------------ task
class TextClassifier:
    """Fit, evaluate, predict, save and load an LSTM text classifier.

    >>> clf = TextClassifier(ClassifyConfig(text_column="text", label_column="label")).fit(df)
    >>> clf.evaluate(df)["model"]["accuracy"]; clf.predict(["a gripping film"])
    """

    def __init__(self, config: ClassifyConfig):
        self.config = config
        self.tokenizer = config.tokenizer()
        self.vocab: Vocabulary | None = None
        self.classes: list[str] = []
        self.model: LSTMTextClassifier | None = None
        self.state: dict = {}
        self.history: list[dict] = []

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

    def _tokens(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokenizer(t)[: self.config.max_length] for t in texts]

    def encode(self, texts: Sequence[str]) -> list[torch.Tensor]:
        """Id tensors of ``texts``; a text with no token at all (possible only without punctuation) is <unk>."""
        return [torch.tensor(self.vocab.encode(tokens) or [self.vocab.unk_id], dtype=torch.int64)
                for tokens in self._tokens(texts)]

    def _loader(self, ids: list[torch.Tensor], labels: np.ndarray, *, shuffle: bool):
        sampler = BucketBatchSampler([len(t) for t in ids], self.config.batch_size, shuffle=shuffle)
        return torch.utils.data.DataLoader(_Encoded(ids, labels), batch_sampler=sampler,
                                           collate_fn=_collate_labelled)

    # ---- fit -------------------------------------------------------------------------------------
    def fit(self, data, *, run_dir: str | Path | None = None) -> "TextClassifier":
        """Fit the vocabulary and the model on the training rows of ``data`` (a CSV path or DataFrame),
        stopping early on the validation rows."""
        cfg = self.config
        texts, labels = self._read(data)
        train, val, test = self._split(labels)
        self.classes = _class_order(labels)
        index = {c: i for i, c in enumerate(self.classes)}
        y = np.array([index[v] for v in labels], dtype=np.int64)
        self.vocab = Vocabulary(min_freq=cfg.min_freq, max_size=cfg.max_vocab).fit(
            self._tokens([texts[i] for i in train]))
        ids = self.encode(texts)
        self.state = {"rows": len(texts), "classes": self.classes, "vocab_size": len(self.vocab),
                      "split": {"train": int(len(train)), "val": int(len(val)), "test": int(len(test)),
                                "seed": cfg.seed, "stratified": True}}
        seed_everything(cfg.seed)
        self.model = LSTMTextClassifier(len(self.vocab), len(self.classes), cfg.embedding_dim, cfg.hidden_size,
                                        cfg.num_layers, cfg.bidirectional, cfg.dropout, cfg.pooling)
        train_config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adam", lr=cfg.lr,
                                   weight_decay=cfg.weight_decay, clip_grad_norm=cfg.clip_grad_norm,
                                   patience=cfg.patience, restore_best=True, monitor=f"val_{cfg.monitor}",
                                   mode="max" if cfg.monitor == "accuracy" else "min", seed=cfg.seed,
                                   device="cpu", progress=False)
        if run_dir is not None:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            self._write_config(run_dir, train_config)
        trainer = Trainer(self.model, F.cross_entropy, train_config, run_dir=run_dir,
                          metrics={"accuracy": _accuracy})
        self.history = trainer.fit(self._loader([ids[i] for i in train], y[train], shuffle=True),
                                   self._loader([ids[i] for i in val], y[val], shuffle=False))
        self.model = trainer.model.eval()
        if run_dir is not None:
            self._write_config(run_dir, train_config)
        return self

    def _require_fitted(self) -> None:
        if self.model is None or self.vocab is None:
            raise RuntimeError("this TextClassifier is not fitted yet: call fit() or TextClassifier.load()")

    # ---- prediction ------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_proba(self, texts: Sequence[str] | str) -> np.ndarray:
        """Class probabilities (n, C), columns in ``self.classes`` order."""
        self._require_fitted()
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
        self._require_fitted()
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
        result["split"] = {**self.state.get("split", {}), "classes": self.classes,
                           "test_class_counts": {c: int((y[test] == k).sum()) for k, c in enumerate(self.classes)}}
        result["predictions"] = predictions
        return result

    # ---- files -----------------------------------------------------------------------------------
    def _write_config(self, run_dir, train_config: TrainConfig | None = None) -> None:
        write_task_config(run_dir, TASK_NAME, self.config, {**self.state, "tokenizer": self.tokenizer.to_dict(), "vocabulary": self.vocab.to_dict()}, train_config)

    def save(self, directory: str | Path) -> Path:
        """``config.json`` (task, tokenizer, vocabulary, classes, model) + ``model.safetensors``."""
        self._require_fitted()
        directory = Path(directory)
        save_model(self.model, directory)
        self._write_config(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "TextClassifier":
        config = read_config(directory)
        task = dict(config.get("task") or {})
        if task.pop("name", None) != TASK_NAME or "vocabulary" not in (config.get("data") or {}):
            raise DataError(f"{directory} does not hold a text classifier (config.json has no {TASK_NAME} task); "
                            "train one with `lstmkit text classify train`")
        clf = cls(ClassifyConfig.from_dict(task))
        data = dict(config["data"])
        clf.tokenizer = tokenizer_from_dict(data.pop("tokenizer"))
        clf.vocab = Vocabulary.from_dict(data.pop("vocabulary"))
        clf.classes = list(data["classes"])
        clf.state = data
        clf.model = load_model(directory).eval()
        return clf


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(-1) == y).float().mean())


# ---------------------------------------------------------------------------------- run directory
def train_run(config: ClassifyConfig, data, out: str | Path) -> dict:
    """``lstmkit text classify train``: fit, evaluate on the test rows, write the run directory.

    Writes ``config.json``, ``model.safetensors``, ``history.csv`` (the Trainer), ``metrics.json`` and
    ``predictions.csv`` (every test row: text, label, the model's and the baseline's prediction). The
    data is read and checked before anything is written.
    """
    from lstmkit.train.checkpoint import check_run_dir, write_json
    from lstmkit.train.checkpoint import atomic_write_text

    out = check_run_dir(out, resume=False)
    clf = TextClassifier(config)
    clf._split(clf._read(data)[1])  # validate first: nothing is written for bad input
    clf.fit(data, run_dir=out)
    result = clf.evaluate(data)
    predictions = result.pop("predictions")
    result["epochs"] = len(clf.history)
    write_json(out / "metrics.json", result)
    atomic_write_text(out / "predictions.csv", predictions.to_csv(index=False))
    return result
