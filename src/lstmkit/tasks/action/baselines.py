"""The baseline each kind of input is measured against, on the same split as the model.

* Sensors: 1-NN DTW (:func:`lstmkit.metrics.dtw.nearest_neighbour`): each test sequence takes the
  label of the training sequence nearest under dependent multivariate dynamic time warping, on the
  sequences as given (not standardised), which is how the UEA/UCR archive computes its reference
  numbers: lstmkit reproduces them to three decimals (BasicMotions 0.975, GunPoint 0.907,
  JapaneseVowels 0.949). It needs no training: the bar a network has to clear.
* Video: a single-frame CNN (:class:`lstmkit.tasks.action.model.FrameClassifier`): the same frame
  encoder trained to label single frames, a clip's label from the mean of its frames'
  log-probabilities. It knows what is in the frames but not their order: what the LSTM adds is
  exactly the difference between the two.

The majority class of training is computed by the application itself for every kind.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lstmkit.runtime import seed_everything
from lstmkit.train import TrainConfig, Trainer

__all__ = ["dtw_baseline", "kind_baseline", "single_frame_baseline", "train_frame_classifier"]


def kind_baseline(app, examples, y: np.ndarray, train: np.ndarray, val: np.ndarray, test: np.ndarray):
    """``(name, predicted class indices on test, info)`` of the baseline for ``examples.kind``."""
    if examples.kind == "video":
        return ("single_frame",) + single_frame_baseline(app, examples, y, train, val, test)
    return ("dtw_1nn",) + dtw_baseline(app, examples, y, train, val, test)


def dtw_baseline(app, examples, y, train, val, test):
    """1-NN DTW with every training sequence (validation part included: nothing is tuned) as a reference."""
    from lstmkit.metrics.dtw import nearest_neighbour

    references = np.sort(np.concatenate([train, val]))
    series = [a.astype(np.float64) for a in examples.x]  # as given: the archive's protocol (README)
    predicted = nearest_neighbour([series[i] for i in references], y[references], [series[i] for i in test],
                                  window=app.config.dtw_window)
    return np.asarray(predicted, dtype=np.int64), {"window": app.config.dtw_window, "references": int(len(references))}


class _Frames(torch.utils.data.Dataset):
    """Every frame of the given clips, each labelled with its clip's class."""

    def __init__(self, clips: list[np.ndarray], labels: np.ndarray):
        self.frames = torch.from_numpy(np.concatenate(clips))
        self.labels = torch.as_tensor(np.repeat(labels, [len(c) for c in clips]), dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i):
        return self.frames[i], self.labels[i]


def train_frame_classifier(app, clips: list[np.ndarray], y: np.ndarray, train: np.ndarray, val: np.ndarray):
    """A :class:`FrameClassifier` trained on the training clips' frames (each labelled with its clip's
    class), stopping early on the validation clips' frames; returned in eval mode with its epoch count."""
    from lstmkit.tasks.action.model import FrameClassifier

    cfg = app.config
    seed_everything(cfg.seed)
    model = FrameClassifier(len(app.state.classes), cfg.cnn_channels, cfg.feature_dim, cfg.dropout)
    frames_per_clip = max(1, int(np.mean([len(clips[i]) for i in train])))
    train_config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size * frames_per_clip, optimizer="adam",
                               lr=cfg.lr, weight_decay=cfg.weight_decay, clip_grad_norm=cfg.clip_grad_norm,
                               patience=cfg.patience, restore_best=True, monitor="val_loss", seed=cfg.seed,
                               device=_device(app, cfg.device), progress=False)
    trainer = Trainer(model, F.cross_entropy, train_config)
    trainer.fit(_Frames([clips[i] for i in train], y[train]), _Frames([clips[i] for i in val], y[val]))
    return trainer.model.eval(), len(trainer.history)


def _device(app, configured: str) -> str:
    """Where the baseline trains: beside a loaded model (a run trained on CUDA evaluated on a CPU machine
    trains its baseline on the CPU), else as configured."""
    if app.model is not None:
        return str(next(app.model.parameters()).device)
    return configured


def single_frame_baseline(app, examples, y, train, val, test):
    """Train :func:`train_frame_classifier` and label each test clip by its frames' mean log-probability."""
    model, epochs = train_frame_classifier(app, examples.x, y, train, val)
    device = next(model.parameters()).device
    predicted = [int(model.clip_log_probs(torch.from_numpy(examples.x[i]).to(device)).argmax()) for i in test]
    return np.asarray(predicted, dtype=np.int64), {"epochs": epochs}
