"""``TrainConfig``: every knob of the training loop in one JSON-able dataclass.

The whole config is written to ``config.json["train"]`` and into ``trainer_state.pt`` so a run can be
resumed (and audited) from its run directory alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from lstmkit.config import DictConfig
from lstmkit.errors import ConfigError

OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
SCHEDULES = ("plateau", "cosine", "onecycle")
ON_NAN = ("skip", "stop")
TBPTT_UPDATES = ("segment", "batch")


@dataclass
class TrainConfig(DictConfig):
    # --- loop -------------------------------------------------------------------------------------
    epochs: int = 10
    # Global batch size: under DDP each of W processes gets batch_size // W samples, so the update is
    # the same as one process with this batch. Used only when fit() is given Datasets, not DataLoaders.
    batch_size: int = 32
    # Reshuffle the training set every epoch. The order is derived from (seed, epoch) by a
    # DistributedSampler, never from a hidden generator, so a resumed run replays the same order.
    shuffle: bool = True
    drop_last: bool = False
    num_workers: int = 0

    # --- optimiser and schedule -------------------------------------------------------------------
    optimizer: str = "adam"  # adam | adamw | rmsprop | sgd
    lr: float = 1e-3  # Adam's default (Kingma & Ba 2015); use lr_find() to pick one for SGD
    momentum: float = 0.9  # sgd and rmsprop only
    # L2 penalty for adam/rmsprop/sgd; decoupled decay for adamw (Loshchilov & Hutter 2019).
    weight_decay: float = 0.0
    schedule: str | None = None  # plateau | cosine | onecycle | None (constant)
    plateau_factor: float = 0.5  # plateau: lr *= factor after plateau_patience epochs w/o improvement
    plateau_patience: int = 2
    min_lr: float = 0.0  # floor for plateau, end value for cosine

    # --- gradients --------------------------------------------------------------------------------
    # LSTMs still see exploding gradients (Pascanu et al. 2013, "On the difficulty of training RNNs");
    # clipping the global norm keeps the update's direction and bounds its size. The pre-clip norm is
    # logged every step either way. None disables.
    clip_grad_norm: float | None = 1.0
    clip_grad_value: float | None = None  # clamp each gradient element to [-v, v]; applied after norm
    # What a non-finite loss or gradient does: "stop" raises NonFiniteLossError (epoch, step);
    # "skip" drops that step's update, counts it and carries on (an epoch of only skips still stops).
    on_nan: str = "stop"

    # --- recurrent state --------------------------------------------------------------------------
    # Truncated BPTT: cut each batch's sequences into segments of this many steps, carrying the
    # hidden state across segments but not the gradient. None = full BPTT over the whole sequence.
    tbptt_steps: int | None = None
    # "segment": one optimiser step per segment (Williams & Peng's TBPTT(k, k), awd-lstm style).
    # "batch": accumulate the segments' gradients (loss_s weighted by T_s / T) and step once per
    # batch, so k = T is exactly full BPTT and k < T only drops the cross-segment terms.
    tbptt_update: str = "segment"
    # Stateful training over a continuous stream: row i of batch b+1 continues row i of batch b, so
    # the final state of a batch (detached) is the initial state of the next. Reset every epoch.
    # Needs shuffle=False and equal batch sizes (drop_last=True).
    carry_state: bool = False
    time_dim: int = 1  # time axis of x and y for TBPTT segments (1: batch_first, as tasks use)

    # --- ensembles --------------------------------------------------------------------------------
    # For a model of independent members (``model.members`` > 1, no parameter shared; in training
    # ``model(x)`` stacks the members' predictions on dim 0 and ``model(x, member=k)`` is entry k) and a
    # loss whose terms each read one member's prediction (a mean over members and samples): run each
    # member's forward and backward before the next member's forward. The update is bit for bit the
    # same, but only one member's activations live at a time. Why it matters: three LSTMs over 96-step
    # windows hold 18 MB of oneDNN workspace at once, more than glibc keeps between steps, so every step
    # mapped it afresh from the system (2,000 page faults a step, a third of the step's time).
    # Plain (non-stateful) training in one process only; ignored under DDP.
    backward_by_member: bool = False

    # --- validation, early stopping ---------------------------------------------------------------
    monitor: str = "val_loss"  # a history column: train_loss, val_loss or val_<metric name>
    mode: str = "min"  # "min" for losses/errors, "max" for accuracies
    patience: int | None = None  # stop after this many epochs without improvement; None = never
    min_delta: float = 0.0  # an improvement must beat the best by more than this
    restore_best: bool = True  # end with the best epoch's weights, not the last epoch's

    # --- runtime ----------------------------------------------------------------------------------
    # Seeds torch, numpy and random at the start of fit (plus the rank under DDP, so dropout masks
    # differ between processes). Seed the model's initialisation yourself before building it.
    seed: int | None = 0
    device: str = "auto"  # "auto": cuda if available else cpu; or "cpu", "cuda", "cuda:1"
    num_threads: int | str | None = None  # passed to lstmkit.runtime.set_num_threads; None = leave
    checkpoint_every_epochs: int = 1  # with a run_dir; the last epoch is always checkpointed
    checkpoint_every_steps: int | None = None  # extra mid-epoch checkpoints (at a batch boundary)
    progress: bool | str = "auto"  # tqdm bars: True, False or "auto" (only when stderr is a terminal)
    log_every_steps: int = 50  # a DEBUG log line per this many steps (INFO lines come per epoch)

    def __post_init__(self) -> None:
        def check(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(f"TrainConfig: {message}")

        check(_is_int(self.epochs) and self.epochs >= 1, f"epochs must be an integer >= 1, got {self.epochs!r}")
        check(_is_int(self.batch_size) and self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size!r}")
        check(self.optimizer in OPTIMIZERS, f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        check(self.schedule is None or self.schedule in SCHEDULES,
              f"schedule must be one of {SCHEDULES} or None, got {self.schedule!r}")
        check(self.lr >= 0, f"lr must be >= 0, got {self.lr!r}")
        check(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay!r}")
        for name in ("clip_grad_norm", "clip_grad_value"):
            value = getattr(self, name)
            check(value is None or value > 0, f"{name} must be > 0 or None, got {value!r}")
        check(self.on_nan in ON_NAN, f"on_nan must be one of {ON_NAN}, got {self.on_nan!r}")
        check(self.tbptt_steps is None or (_is_int(self.tbptt_steps) and self.tbptt_steps >= 1),
              f"tbptt_steps must be an integer >= 1 or None, got {self.tbptt_steps!r}")
        check(self.tbptt_update in TBPTT_UPDATES,
              f"tbptt_update must be one of {TBPTT_UPDATES}, got {self.tbptt_update!r}")
        check(not (self.carry_state and self.shuffle),
              "carry_state=True carries the state from one batch to the next row by row; "
              "that only makes sense in stream order: set shuffle=False")
        check(self.mode in ("min", "max"), f"mode must be 'min' or 'max', got {self.mode!r}")
        check(self.patience is None or (_is_int(self.patience) and self.patience >= 1),
              f"patience must be an integer >= 1 or None, got {self.patience!r}")
        check(self.seed is None or (_is_int(self.seed) and self.seed >= 0),
              f"seed must be a non-negative integer or None, got {self.seed!r}")
        check(self.progress in (True, False, "auto"), f"progress must be True, False or 'auto', got {self.progress!r}")
        check(_is_int(self.checkpoint_every_epochs) and self.checkpoint_every_epochs >= 1,
              f"checkpoint_every_epochs must be >= 1, got {self.checkpoint_every_epochs!r}")
        check(self.checkpoint_every_steps is None
              or (_is_int(self.checkpoint_every_steps) and self.checkpoint_every_steps >= 1),
              f"checkpoint_every_steps must be >= 1 or None, got {self.checkpoint_every_steps!r}")

    @property
    def uses_state(self) -> bool:
        """True when the model follows the stateful protocol ``model(x, state) -> (pred, state)``."""
        return self.tbptt_steps is not None or self.carry_state



def resolve_device(device: str | torch.device, local_rank: int = 0) -> torch.device:
    """``"auto"`` -> ``cuda:<local_rank>`` when CUDA is available, else ``cpu``; anything else as given."""
    if device == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {str(device)!r} requested but CUDA is not available; use device='auto' or 'cpu'")
    return device


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
