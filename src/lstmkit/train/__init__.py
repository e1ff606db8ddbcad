"""Training engine: Trainer/fit/resume, TBPTT, clipping, NaN guard, checkpoints, lr finder, DDP, model files.

Run directory written by a Trainer with ``run_dir`` (rank 0 only, every file written atomically)::

    config.json        {"model_type", "format_version": 1, "model": {...}, "train": TrainConfig, ...}
    model.safetensors  weights; after fit the best epoch's (restore_best) or the last
    trainer_state.pt   resume state, torch.save of plain data, read with weights_only=True
    history.csv        one row per epoch;  steps.csv: one row per optimiser step
"""
from lstmkit.files import atomic_write
from lstmkit.train.bptt import detach_state, split_time, tbptt_backward
from lstmkit.train.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_trainer_state,
    restore_rng_state,
    save_trainer_state,
)
from lstmkit.train.config import TrainConfig, resolve_device
from lstmkit.train.distributed import cleanup_distributed, dist_info, init_distributed, is_main_process, make_loader
from lstmkit.train.lr_finder import LRFinderResult, lr_find
from lstmkit.train.model_io import FORMAT_VERSION, ModelFileError, load_model, read_config, save_model, update_config, write_task_config
from lstmkit.train.progress import EpochProgress
from lstmkit.train.optim import clip_gradients, make_optimizer, make_scheduler
from lstmkit.train.early_stopping import EarlyStopping
from lstmkit.train.evaluation import evaluate, predict
from lstmkit.train.trainer import NonFiniteLossError, Trainer, fit, resume

__all__ = [
    "FORMAT_VERSION",
    "CheckpointError",
    "EarlyStopping",
    "EpochProgress",
    "LRFinderResult",
    "ModelFileError",
    "NonFiniteLossError",
    "TrainConfig",
    "Trainer",
    "atomic_write",
    "capture_rng_state",
    "cleanup_distributed",
    "clip_gradients",
    "detach_state",
    "dist_info",
    "evaluate",
    "fit",
    "init_distributed",
    "is_main_process",
    "load_model",
    "load_trainer_state",
    "lr_find",
    "make_loader",
    "make_optimizer",
    "make_scheduler",
    "predict",
    "read_config",
    "resolve_device",
    "restore_rng_state",
    "resume",
    "save_model",
    "save_trainer_state",
    "split_time",
    "tbptt_backward",
    "update_config",
    "write_task_config",
]
