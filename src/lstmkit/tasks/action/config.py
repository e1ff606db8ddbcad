"""What defines an action-recognition run (:class:`ActionConfig`) and what fitting learns (:class:`ActionState`).

One config serves both kinds of input; the fields of the other kind are ignored (and say so in their
comments). ``None`` in a model field means "the kind's default", filled in by :meth:`ActionConfig.resolved`
once the kind is known, so that ``config.json`` records the values that were used.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from lstmkit.config import DictConfig, check_positive_ints
from lstmkit.errors import ConfigError
from lstmkit.tasks.cells import check_cell_options

KINDS = ("auto", "video", "sensor")
NORMALIZATIONS = ("channel", "sequence", "none")
POOLINGS = ("max", "mean", "last")  # lstmkit.nn.pooling.masked_pool's modes

# Defaults that differ by kind, chosen on the generated video set and the three motion sets (README,
# "Action recognition"): a video model reads frame features in order and answers after the last frame
# ("last" pooling, one direction, so the probability after each frame is what a live stream would
# show); sensor sequences are short and fully available, so both directions and a mean over time,
# after a convolution over 5 steps (64 channels), which lifted GunPoint from 0.71 to 0.97. The frame
# CNN needs the smaller learning rate: at 3e-3 it stalled at chance on 1,100 generated clips. The
# motion sets have validation parts of 8-54 sequences, whose loss is noisy: a patience of 20 epochs
# stopped GunPoint early (0.889 over three seeds), 50 epochs gave 0.942 (BasicMotions 0.983 both ways).
KIND_DEFAULTS = {
    "video": {"bidirectional": False, "pooling": "last", "hidden_size": 128, "dropout": 0.2, "conv_channels": 0,
              "lr": 1e-3, "epochs": 100, "patience": 20},
    "sensor": {"bidirectional": True, "pooling": "mean", "hidden_size": 128, "dropout": 0.2, "conv_channels": 64,
               "lr": 3e-3, "epochs": 200, "patience": 50},
}


@dataclass
class ActionConfig(DictConfig):
    """An action-recognition run over video clips or motion-sensor sequences."""

    kind: str = "auto"  # "video", "sensor", or "auto": video for clip folders / path,label CSVs
    # ---- sensor tables (long format: one row per sequence and step)
    id_column: str = "sequence"
    label_column: str = "label"
    step_column: str | None = "step"  # rows are ordered by it when the column exists
    split_column: str | None = "split"  # "train"/"test" rows when the column exists (a fixed split)
    channels: list[str] | None = None  # default: every other numeric column
    normalize: str = "channel"  # "channel": each channel standardised with training mean/std
    conv_channels: int | None = None  # sensors: 1-D convolutions (kernel conv_kernel) before the LSTM; 0 = none
    conv_kernel: int = 5
    conv_layers: int = 1
    # ---- video clips
    frames: int = 16  # frames per clip, spaced evenly over it (fps=None)
    fps: float | None = None  # instead: frames sampled at this rate (clips of different lengths)
    size: int = 64  # frames resized to size x size
    cnn_channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    feature_dim: int = 128  # per-frame feature vector the LSTM reads
    # ---- model (None: the kind's default, KIND_DEFAULTS)
    hidden_size: int | None = None
    num_layers: int = 1
    bidirectional: bool | None = None
    pooling: str | None = None
    dropout: float | None = None
    cell: str = "lstm"  # the recurrent cell (lstmkit.tasks.cells.CELL_NAMES)
    recurrent_dropout: float = 0.0  # on h inside the recurrence, one mask per sequence (training only)
    zoneout: float = 0.0
    # ---- split: without a fixed split, a seeded stratified one; validation is always carved from training
    val_fraction: float = 0.2
    test_fraction: float = 0.2
    # ---- training
    epochs: int | None = None  # default: 100 video, 200 sensors
    patience: int | None = None  # epochs without a better validation loss; default: 20 video, 50 sensors
    batch_size: int = 16
    lr: float | None = None  # Adam's learning rate (default: 1e-3 video, 3e-3 sensors)
    weight_decay: float = 1e-4
    clip_grad_norm: float = 1.0
    seed: int = 0
    device: str = "auto"  # "auto" (CUDA when available), "cpu", "cuda", "cuda:1"
    # ---- baselines: majority class always; 1-NN DTW (sensors) or a single-frame CNN (video)
    baselines: bool = True
    dtw_window: float | None = None  # Sakoe-Chiba band as a fraction of the length; None = full

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.normalize not in NORMALIZATIONS:
            raise ConfigError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got {self.normalize!r}")
        for name in ("frames", "size", "feature_dim", "num_layers", "batch_size", "conv_kernel", "conv_layers"):
            check_positive_ints(self, [name])
        for name in ("hidden_size", "epochs", "patience"):
            if getattr(self, name) is not None:
                check_positive_ints(self, [name])
        if self.conv_kernel % 2 == 0:
            raise ConfigError(f"conv_kernel must be odd (a 'same' convolution keeps the length), got {self.conv_kernel}")
        if self.conv_channels is not None and (not isinstance(self.conv_channels, int)
                                               or isinstance(self.conv_channels, bool) or self.conv_channels < 0):
            raise ConfigError(f"conv_channels must be 0 (none) or a positive integer, got {self.conv_channels!r}")
        if self.fps is not None and not self.fps > 0:
            raise ConfigError(f"fps must be positive, got {self.fps!r}")
        if not self.cnn_channels or any(not isinstance(c, int) or c < 1 for c in self.cnn_channels):
            raise ConfigError(f"cnn_channels must be positive integers, got {self.cnn_channels!r}")
        if self.size < 2 ** len(self.cnn_channels):
            raise ConfigError(f"size {self.size} is too small for {len(self.cnn_channels)} stride-2 convolutions; "
                              f"use at least {2 ** len(self.cnn_channels)}")
        if self.pooling is not None and self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1 and self.val_fraction + self.test_fraction < 1):
            raise ConfigError("val_fraction and test_fraction must be fractions in (0, 1) with a sum below 1, got "
                              f"{self.val_fraction} and {self.test_fraction}")
        if self.dtw_window is not None and not 0 <= self.dtw_window <= 1:
            raise ConfigError(f"dtw_window must be a fraction in [0, 1] or None, got {self.dtw_window!r}")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"lr must be positive, got {self.lr!r}")
        check_cell_options(self)

    def resolved(self, kind: str) -> "ActionConfig":
        """This config with ``kind`` set and every ``None`` model field replaced by the kind's default."""
        defaults = {k: v for k, v in KIND_DEFAULTS[kind].items() if getattr(self, k) is None}
        return replace(self, kind=kind, **defaults)


@dataclass
class ActionState(DictConfig):
    """What fitting learned: the classes in output order, the channels and their training mean/std
    (sensors), the frame geometry (video), and the split's sizes."""

    kind: str
    classes: list[str]
    channels: list[str]  # sensor channels in input order; video: ["r", "g", "b"]
    mean: list[float]  # per channel, from the training part (0 for video and normalize="none")
    std: list[float]  # per channel (1 when not standardised)
    split: dict  # {"train", "val", "test": counts, "fixed": bool, "seed"}
    lengths: dict = field(default_factory=dict)  # {"min", "max"} steps or frames per sequence in training
