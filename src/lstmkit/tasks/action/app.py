r"""Action recognition: fit, evaluate and predict one label per video clip or motion-sensor sequence.

The network is :class:`~lstmkit.tasks.action.model.ActionNet` (a frame CNN or the sensor channels ->
:class:`lstmkit.nn.LSTM` with each sequence's length -> masked pooling -> linear), trained with
cross-entropy by :class:`lstmkit.train.Trainer`, early stopping on the validation loss.

Split: a data set with a fixed train/test split (the motion archives, a ``split`` column, a ``_TEST.ts``
beside the ``_TRAIN.ts``) keeps it; otherwise a seeded, stratified train / validation / test split
(:func:`lstmkit.data.stratified_split`). The validation part is always carved from training, so the
test part is touched only by :meth:`ActionRecognizer.evaluate`.

Preprocessing fitted on the training part only: the channel means and standard deviations of sensor
data (``normalize="channel"``); ``"sequence"`` standardises every sequence on its own (the UCR
archive's z-normalisation), which needs no fitted state. Frames go in as uint8 and are scaled in the
network.

Metrics on the test part (:func:`lstmkit.metrics.classification.classification_metrics`): accuracy,
macro-F1 and the confusion matrix, for the model and the baselines on the same test part: the
majority class of training, 1-NN DTW on the sequences as given (sensors,
:mod:`lstmkit.metrics.dtw`), and a single-frame CNN (video, :mod:`lstmkit.tasks.action.baselines`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from lstmkit.data import LabelledSequences, collate_labelled, pad_sequences, stratified_split
from lstmkit.errors import DataError
from lstmkit.files import atomic_write_text
from lstmkit.metrics.classification import class_order, classification_metrics, label_accuracy
from lstmkit.runtime import seed_everything
from lstmkit.tasks.action.config import ActionConfig, ActionState
from lstmkit.tasks.action.inputs import Examples, read_clips, read_examples
from lstmkit.tasks.action.model import ActionNet
from lstmkit.tasks.base import Application
from lstmkit.train import TrainConfig

__all__ = ["ActionRecognizer"]

BATCH = 64  # examples per forward pass at inference


def _input_key(data):
    """What must not have changed for a cached read of ``data`` to stand: a file's or folder's
    modification time and size; a DataFrame's contents (its hash)."""
    if isinstance(data, pd.DataFrame):
        return int(pd.util.hash_pandas_object(data, index=True).sum()), tuple(map(str, data.columns))
    if isinstance(data, (str, Path)) and Path(data).exists():
        info = Path(data).stat()
        return str(data), info.st_mtime_ns, info.st_size
    return str(data)


class ActionRecognizer(Application):
    """Fit, evaluate, predict, save and load an action recogniser.

    >>> app = ActionRecognizer(ActionConfig()).fit("basic_motions")
    >>> app.evaluate("basic_motions")["model"]["accuracy"]; app.predict("new_recordings.csv")
    """

    name = "action"
    config_class = ActionConfig
    state_class = ActionState
    description = "an action-recognition model"
    train_command = "lstmkit action train"

    def __init__(self, config: ActionConfig):
        super().__init__(config)
        self._cache: tuple | None = None  # (input, its key, Examples): train_run reads the input up to four times

    @property
    def classes(self) -> list[str]:
        self.require_fitted()
        return self.state.classes

    # ---- data ------------------------------------------------------------------------------------
    def read_labelled(self, data) -> Examples:
        """Labelled examples of ``data``, decoded once per input (a video folder is slow to decode)."""
        key = _input_key(data)
        if (self._cache is not None and self._cache[1] == key
                and (self._cache[0] is data or not isinstance(data, pd.DataFrame))):
            return self._cache[2]
        examples = read_examples(data, self.config)
        if examples.labels is None:
            raise DataError("the data has no labels; training and evaluation need a label per sequence")
        if len(set(examples.labels)) < 2:
            raise DataError(f"the data has only one class ({examples.labels[0]!r}): a classifier needs at least two")
        self._cache = (data, key, examples)
        return examples

    def split(self, examples: Examples) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(train, val, test) indices: the data's fixed split with validation carved from its training
        part, else a seeded stratified split."""
        cfg, labels = self.config, np.asarray(examples.labels, dtype=object)
        if examples.split is None:
            return stratified_split(labels, val=cfg.val_fraction, test=cfg.test_fraction, seed=cfg.seed)
        fixed = np.asarray(examples.split)
        train_all, test = np.flatnonzero(fixed == "train"), np.flatnonzero(fixed == "test")
        if len(train_all) == 0 or len(test) == 0:
            raise DataError(f"the split column marks {len(train_all)} sequence(s) 'train' and {len(test)} 'test'; "
                            "both parts need sequences")
        unseen = sorted(set(labels[test]) - set(labels[train_all]))
        if unseen:
            raise DataError(f"test label(s) {unseen} never occur in the training part")
        rng = np.random.default_rng(cfg.seed)
        val = []
        for value in sorted(set(labels[train_all])):
            rows = rng.permutation(train_all[labels[train_all] == value])
            if len(rows) < 2:
                raise DataError(f"class {value!r} has {len(rows)} training example(s); each class needs at least 2 "
                                "(one for training, one for validation)")
            val.extend(rows[: max(1, round(cfg.val_fraction * len(rows)))])
        val = np.sort(np.asarray(val, dtype=np.int64))
        return np.setdiff1d(train_all, val), val, test

    def check_input(self, data) -> None:
        self.split(self.read_labelled(data))

    def network_input(self, array: np.ndarray) -> torch.Tensor:
        """One example as the network reads it: frames stay uint8, sensor channels are standardised."""
        if self.state.kind == "video":
            return torch.from_numpy(np.ascontiguousarray(array))
        x = array.astype(np.float32)
        if self.config.normalize == "sequence":
            x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-8)
        else:
            x = (x - np.asarray(self.state.mean, np.float32)) / np.asarray(self.state.std, np.float32)
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    def _check_channels(self, examples: Examples) -> None:
        if examples.kind != self.state.kind:
            raise DataError(f"the model was trained on {self.state.kind} data, got {examples.kind} data")
        if examples.kind == "sensor" and examples.channels != self.state.channels:
            raise DataError(f"the model reads channels {self.state.channels}, the data has {examples.channels}")

    # ---- fit -------------------------------------------------------------------------------------
    def fit(self, data, *, run_dir: str | Path | None = None, resume: bool = False) -> "ActionRecognizer":
        """Fit the preprocessing and the network on the training part of ``data``, stopping early on the
        validation part. ``run_dir``/``resume``: see :meth:`lstmkit.tasks.base.Application.train_model`."""
        examples = self.read_labelled(data)
        self.config = cfg = self.config.resolved(examples.kind)
        train, val, test = self.split(examples)
        classes = class_order(examples.labels)
        index = {c: i for i, c in enumerate(classes)}
        y = np.array([index[v] for v in examples.labels], dtype=np.int64)
        mean, std = [0.0] * len(examples.channels), [1.0] * len(examples.channels)
        if examples.kind == "sensor" and cfg.normalize == "channel":
            steps = np.concatenate([examples.x[i] for i in train]).astype(np.float64)
            mean, std = steps.mean(0).tolist(), np.maximum(steps.std(0), 1e-8).tolist()
        lengths = examples.lengths()[train]
        self.state = ActionState(
            kind=examples.kind, classes=classes, channels=examples.channels, mean=mean, std=std,
            split={"train": int(len(train)), "val": int(len(val)), "test": int(len(test)),
                   "fixed": examples.split is not None, "seed": cfg.seed},
            lengths={"min": int(lengths.min()), "max": int(lengths.max())})
        x = [self.network_input(a) for a in examples.x]
        seed_everything(cfg.seed)
        model = ActionNet(examples.kind, len(classes), input_size=len(examples.channels),
                          hidden_size=cfg.hidden_size, num_layers=cfg.num_layers, bidirectional=cfg.bidirectional,
                          pooling=cfg.pooling, dropout=cfg.dropout, cnn_channels=cfg.cnn_channels,
                          feature_dim=cfg.feature_dim, conv_channels=cfg.conv_channels, conv_kernel=cfg.conv_kernel,
                          conv_layers=cfg.conv_layers, cell=cfg.cell, recurrent_dropout=cfg.recurrent_dropout,
                          zoneout=cfg.zoneout)
        train_config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adam", lr=cfg.lr,
                                   weight_decay=cfg.weight_decay, clip_grad_norm=cfg.clip_grad_norm,
                                   patience=cfg.patience, restore_best=True, monitor="val_loss", mode="min",
                                   seed=cfg.seed, device=cfg.device, progress=False)
        self.train_model(model, F.cross_entropy, train_config, self._loader(x, y, train, shuffle=True),
                         self._loader(x, y, val, shuffle=False), run_dir=run_dir, resume=resume,
                         metrics={"accuracy": label_accuracy})
        return self

    def _loader(self, x: list[torch.Tensor], y: np.ndarray, rows: np.ndarray, *, shuffle: bool):
        generator = torch.Generator().manual_seed(self.config.seed)
        return torch.utils.data.DataLoader(LabelledSequences([x[i] for i in rows], y[rows]),
                                           batch_size=self.config.batch_size, shuffle=shuffle,
                                           collate_fn=collate_labelled, generator=generator)

    # ---- prediction ------------------------------------------------------------------------------
    @torch.no_grad()
    def predict_proba(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Class probabilities (n, C) of clips/sequences already read (arrays as in :class:`Examples`),
        columns in ``self.classes`` order."""
        self.require_fitted()
        model = self.model.eval()
        device = next(model.parameters()).device
        probs = np.zeros((len(arrays), len(self.classes)))
        for start in range(0, len(arrays), BATCH):
            x, lengths = pad_sequences([self.network_input(a) for a in arrays[start:start + BATCH]])
            logits = model((x.to(device), lengths.to(device)))
            probs[start:start + len(lengths)] = torch.softmax(logits.double(), -1).cpu().numpy()
        return probs

    def read_unlabelled(self, data) -> Examples:
        """Clips (a list of files, a folder of clips, at any depth, or a CSV with a ``path`` column) or
        sensor sequences (a table, ``.ts`` file or folder of CSV files) to predict; labels are not needed."""
        self.require_fitted()
        config = self.config
        if self.state.kind == "video" and isinstance(data, (list, tuple)):
            examples = read_clips(None, config, files=list(data))
        elif self.state.kind == "video":
            examples = read_clips(data, config, labelled=False)
        else:
            examples = read_examples(data, config, labelled=False)
        self._check_channels(examples)
        return examples

    def predict(self, data) -> pd.DataFrame:
        """One row per clip/sequence: ``id``, ``label``, ``probability`` (of that label), ``prob_<class>``."""
        examples = data if isinstance(data, Examples) else self.read_unlabelled(data)
        probs = self.predict_proba(examples.x)
        best = probs.argmax(1)
        frame = pd.DataFrame({"id": examples.ids, "label": [self.classes[i] for i in best],
                              "probability": probs[np.arange(len(best)), best]})
        for k, c in enumerate(self.classes):
            frame[f"prob_{c}"] = probs[:, k]
        return frame

    @torch.no_grad()
    def probabilities_over_time(self, array: np.ndarray) -> np.ndarray:
        """(T, C): the class probabilities after each step, i.e. of the sequence cut after step t.

        Every prefix goes through the network as one batch, the prefix of length t padded with its
        ``lengths = t``: exact for any model, bidirectional ones included (a prefix is what the model
        would see if the sequence ended there). A video clip's frames pass through the CNN once; a
        sensor prefix is preprocessed on its own (``normalize="sequence"`` standardises the prefix).
        """
        self.require_fitted()
        model = self.model.eval()
        device = next(model.parameters()).device
        steps = len(array)
        lengths = torch.arange(1, steps + 1, device=device)
        if self.state.kind == "video":
            clip = self.network_input(array).unsqueeze(0).to(device)
            features = model.lstm_inputs(clip, lengths[-1:])  # (1, T, F): each frame's features
            logits = model.classify(features.expand(steps, -1, -1), lengths)
        else:
            x, _ = pad_sequences([self.network_input(array[:t]) for t in range(1, steps + 1)])
            logits = model((x.to(device), lengths))
        return torch.softmax(logits.double(), -1).cpu().numpy()

    @torch.no_grad()
    def lstm_inputs(self, data, max_sequences: int = 2000) -> tuple[torch.Tensor, list[str], list[str]]:
        """What the LSTM reads, for ``lstmkit inspect``: (N, T, F), the feature names and the example ids.

        Only the examples of the most common length are taken (the first ``max_sequences``), so that
        no pad step enters the gate statistics.
        """
        examples = self.read_unlabelled(data)
        lengths = examples.lengths()
        common = np.bincount(lengths).argmax()
        rows = np.flatnonzero(lengths == common)[:max_sequences]
        model = self.model.eval()
        device = next(model.parameters()).device
        parts = []
        for start in range(0, len(rows), BATCH):  # a batch at a time: 2,000 clips of frames do not fit at once
            x, lengths = pad_sequences([self.network_input(examples.x[i]) for i in rows[start:start + BATCH]])
            parts.append(model.lstm_inputs(x.to(device), lengths.to(device)).cpu())
        inputs = torch.cat(parts)
        if self.state.kind == "video":
            names = [f"frame_feature_{k}" for k in range(inputs.shape[-1])]
        elif model.conv is not None:
            names = [f"conv_{k}" for k in range(inputs.shape[-1])]
        else:
            names = list(self.state.channels)
        return inputs, names, [examples.ids[i] for i in rows]

    # ---- evaluation ------------------------------------------------------------------------------
    def evaluate(self, data, *, baselines: bool | None = None) -> dict:
        """Metrics on the test part (the same split as ``fit``): the model, the majority class and the
        kind's baseline. Returns ``{"model", "baselines", "split", "predictions": DataFrame}``."""
        self.require_fitted()
        examples = self.read_labelled(data)
        self._check_channels(examples)
        train, val, test = self.split(examples)
        unknown = sorted(set(examples.labels) - set(self.classes))
        if unknown:
            raise DataError(f"labels {unknown} were not among the training classes {self.classes}")
        index = {c: i for i, c in enumerate(self.classes)}
        y = np.array([index[v] for v in examples.labels], dtype=np.int64)
        probs = self.predict_proba([examples.x[i] for i in test])
        pred = probs.argmax(1)
        majority = int(np.bincount(y[train], minlength=len(self.classes)).argmax())
        result = {"model": classification_metrics(y[test], pred, self.classes),
                  "baselines": {"majority": classification_metrics(y[test], np.full(len(test), majority),
                                                                   self.classes)}}
        predictions = pd.DataFrame({"id": [examples.ids[i] for i in test],
                                    "label": [examples.labels[i] for i in test],
                                    "predicted": [self.classes[i] for i in pred],
                                    "probability": probs[np.arange(len(pred)), pred]})
        if self.config.baselines if baselines is None else baselines:
            from lstmkit.tasks.action.baselines import kind_baseline

            name, base_pred, info = kind_baseline(self, examples, y, train, val, test)
            result["baselines"][name] = {**classification_metrics(y[test], base_pred, self.classes), **info}
            predictions[name] = [self.classes[i] for i in base_pred]
        result["split"] = {**self.state.split, "train": int(len(train)), "val": int(len(val)), "test": int(len(test)),
                           "classes": self.classes,
                           "test_class_counts": {c: int((y[test] == k).sum()) for k, c in enumerate(self.classes)}}
        result["predictions"] = predictions
        return result

    # ---- run directory ---------------------------------------------------------------------------
    def write_results(self, out: Path, result: dict, data) -> None:
        """``predictions.csv`` (every test example: label, the model's and the baselines' predictions)
        and ``confusion.png`` (the model's confusion matrix on the test part)."""
        from lstmkit.tasks.action.plots import plot_confusion

        predictions = result.pop("predictions")
        atomic_write_text(out / "predictions.csv", predictions.to_csv(index=False))
        plot_confusion(result["model"]["confusion_matrix"], self.classes, out / "confusion.png",
                       title=f"test part: accuracy {result['model']['accuracy']:.3f}")
