"""The training loop: ``Trainer``, ``fit`` and ``resume``.

The loop composes the other modules: optimisers and schedules (``optim``), truncated BPTT
(``bptt``), validation (``evaluation``), early stopping (``early_stopping``), crash-safe checkpoints
(``checkpoint``), model files (``model_io``) and DDP (``distributed``). It knows nothing about what
the model predicts.
"""
from __future__ import annotations

import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Iterable

import torch
from torch.utils.data import DataLoader, RandomSampler
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from lstmkit import registry
from lstmkit.errors import RunDirError
from lstmkit.runtime import seed_everything, set_num_threads
from lstmkit.train import distributed
from lstmkit.train.bptt import detach_state, split_time, tbptt_backward
from lstmkit.train.checkpoint import (
    HISTORY_CSV,
    CheckpointError,
    STEP_COLUMNS,
    STEPS_CSV,
    CsvText,
    TRAINER_STATE,
    capture_rng_state,
    load_trainer_state,
    restore_rng_state,
    save_trainer_state,
)
from lstmkit.files import atomic_write_text, write_csv
from lstmkit.train.config import TrainConfig, resolve_device
from lstmkit.train.early_stopping import EarlyStopping
from lstmkit.train.evaluation import LossFn, MetricFn, evaluate, forward_model, split_batch, to_device
from lstmkit.train.model_io import load_model, read_config, save_model
from lstmkit.train.optim import clip_gradients, current_lr, make_optimizer, make_scheduler, schedule_interval

logger = logging.getLogger(__name__)

# Config fields that may change between a run and its resumption without changing its results.
_RESUMABLE_CHANGES = {"epochs", "progress", "log_every_steps", "checkpoint_every_epochs", "checkpoint_every_steps",
                      "num_workers", "backward_by_member"}


class NonFiniteLossError(RuntimeError):
    """The loss or the gradient became NaN/inf (``on_nan="stop"``), at ``epoch`` and ``step``."""

    def __init__(self, message: str, *, epoch: int, step: int):
        super().__init__(message)
        self.epoch = epoch
        self.step = step


def _loader_generators(loader) -> list[torch.Generator]:
    found: list[torch.Generator] = []
    for owner in (loader, getattr(loader, "sampler", None)):
        generator = getattr(owner, "generator", None)
        if isinstance(generator, torch.Generator) and all(generator is not g for g in found):
            found.append(generator)
    return found


def _new_accum() -> dict:
    return {"loss_sum": 0.0, "loss_count": 0, "gnorm_sum": 0.0, "gnorm_max": 0.0, "gnorm_count": 0,
            "skipped": 0, "seconds": 0.0}


def _all_finite(module: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in module.state_dict().values() if t.is_floating_point())


def _clone_weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: t.detach().to("cpu", copy=True) for name, t in module.state_dict().items()}


def _step_log_to_columns(rows: list[dict]) -> dict:
    # Column tensors keep trainer_state.pt compact and loadable with weights_only=True.
    return {
        "epoch": torch.tensor([r["epoch"] for r in rows], dtype=torch.int64),
        "step": torch.tensor([r["step"] for r in rows], dtype=torch.int64),
        "loss": torch.tensor([r["loss"] for r in rows], dtype=torch.float64),
        "grad_norm": torch.tensor([r["grad_norm"] for r in rows], dtype=torch.float64),
        "lr": torch.tensor([r["lr"] for r in rows], dtype=torch.float64),
        "skipped": torch.tensor([r["skipped"] for r in rows], dtype=torch.bool),
    }


def _step_log_from_columns(columns: dict) -> list[dict]:
    keys = list(columns)
    return [dict(zip(keys, values)) for values in zip(*(columns[k].tolist() for k in keys))]


class Trainer:
    """Train ``model`` on (x, y) batches, minimising ``loss_fn(prediction, y)``.

    Model protocol:

    - plain: ``prediction = model(x)``.
    - stateful (``config.tbptt_steps`` or ``config.carry_state`` set):
      ``prediction, new_state = model(x_segment, state)`` with ``state`` None (zeros), a tensor or a
      nested tuple/list/dict of tensors. With ``tbptt_steps=k`` every batch is cut along
      ``config.time_dim`` into segments of k steps, the loss is computed per segment, the state is
      carried to the next segment detached (gradients stop at segment boundaries, see
      :mod:`lstmkit.train.bptt`), and the update happens per segment (``tbptt_update="segment"``) or
      once per batch (``"batch"``). With ``carry_state`` the final state of a batch starts the next one.
    - ensemble (``config.backward_by_member``): ``model.members`` independent members (no shared
      parameter); in training ``model(x)`` stacks their predictions on dim 0 and ``model(x, member=k)``
      is entry k. Each step runs member k's forward and backward before member k + 1's forward, with the
      gradient of ``loss_fn(model(x), y)`` bit for bit when each term of the loss reads one member's
      prediction (see :meth:`_train_members`).

    One optimiser step: zero grads, backward, pre-clip global grad norm (logged every step in
    ``step_log`` / ``steps.csv``), non-finite check of loss and norm (``on_nan``), clip, step.

    ``metrics={"mae": fn}`` adds ``val_mae`` (``fn(prediction, y)``, batch-weighted mean) to each
    epoch's history row; ``callbacks`` are objects with any of ``on_train_begin(trainer)``,
    ``on_epoch_begin(trainer, epoch)``, ``on_step_end(trainer, info)``, ``on_epoch_end(trainer, row)``,
    ``on_train_end(trainer)``; setting ``trainer.should_stop = True`` ends training after the epoch.

    With ``run_dir`` the model must be registered (``lstmkit.registry``); see
    :mod:`lstmkit.train.checkpoint` for the directory layout. Epochs and steps are counted from 1.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: LossFn,
        config: TrainConfig | None = None,
        *,
        metrics: dict[str, MetricFn] | None = None,
        callbacks: Iterable[Any] = (),
        run_dir: str | Path | None = None,
    ):
        self.model = model
        self.loss_fn = loss_fn
        self.config = config if config is not None else TrainConfig()
        self.metrics = dict(metrics or {})
        self.callbacks = list(callbacks)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.history: list[dict] = []  # one row per epoch, as in history.csv
        self.step_log: list[dict] = []  # one row per optimiser step: epoch, step, loss, grad_norm, lr, skipped
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler = None
        self.epoch = 0  # completed epochs
        self.step = 0  # optimiser steps attempted (skipped ones included)
        self.skipped_steps = 0
        self.should_stop = False
        self.early_stopping = EarlyStopping(self.config.mode, self.config.patience, self.config.min_delta)
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.device = torch.device("cpu")
        self.dist = distributed.DistInfo()
        self._members = 0  # > 0: backward_by_member's member count (set by _setup)
        self._steps_csv = CsvText(STEP_COLUMNS)  # steps.csv's text, one row rendered per step

    # ------------------------------------------------------------------------------------- setup
    def _loader(self, data, *, train: bool) -> DataLoader:
        cfg = self.config
        if isinstance(data, DataLoader):
            # A validation loader may hold the whole set on every process: the sums added over
            # processes then give the same mean. Training data must be split, or every process would
            # repeat the same batches.
            if train and self.dist.enabled and not isinstance(data.sampler, DistributedSampler):
                raise ValueError(
                    "under torch.distributed the training DataLoader needs a DistributedSampler; pass the Dataset "
                    "instead and the Trainer builds one (config.batch_size is then the global batch)"
                )
            if train and cfg.carry_state and isinstance(data.sampler, RandomSampler):
                raise ValueError(
                    "carry_state=True needs the batches in stream order: build the DataLoader with shuffle=False"
                )
            return data
        return distributed.make_loader(
            data,
            batch_size=cfg.batch_size,
            shuffle=cfg.shuffle and train,
            seed=cfg.seed or 0,
            drop_last=cfg.drop_last and train,
            num_workers=cfg.num_workers,
            info=self.dist,
        )

    def _columns(self, has_val: bool) -> set[str]:
        return {"train_loss"} | ({"val_loss", *(f"val_{m}" for m in self.metrics)} if has_val else set())

    def _setup(self, train_data, val_data) -> None:
        cfg = self.config
        self.dist = distributed.dist_info()
        self.device = resolve_device(cfg.device, self.dist.local_rank)
        if cfg.num_threads is not None:
            set_num_threads(cfg.num_threads)
        if self.run_dir is not None:
            registry.model_type_of(self.model)  # fail now, not after the first epoch
        self.model.to(self.device)
        self._members = self._members_one_by_one()
        self.train_loader = self._loader(train_data, train=True)
        self.val_loader = self._loader(val_data, train=False) if val_data is not None else None
        columns = self._columns(self.val_loader is not None)
        self._track_best = cfg.monitor in columns
        if not self._track_best and (cfg.patience is not None or cfg.schedule == "plateau"):
            raise ValueError(
                f"monitor {cfg.monitor!r} is not computed (available: {sorted(columns)}); early stopping and the "
                "plateau schedule need it: pass val_data or set monitor='train_loss'"
            )
        self.optimizer = make_optimizer(
            cfg.optimizer, self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, momentum=cfg.momentum
        )
        try:
            steps_per_epoch = len(self.train_loader)
        except TypeError:
            steps_per_epoch = None
        self.scheduler = make_scheduler(
            cfg.schedule, self.optimizer, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch, mode=cfg.mode,
            factor=cfg.plateau_factor, patience=cfg.plateau_patience, min_lr=cfg.min_lr,
        )
        self._interval = schedule_interval(cfg.schedule)

    def _members_one_by_one(self) -> int:
        """How many members ``backward_by_member`` backpropagates one at a time; 0: the whole model at once."""
        cfg = self.config
        if not cfg.backward_by_member or self.dist.enabled or cfg.uses_state:
            return 0
        members = getattr(self.model, "members", None)
        if not isinstance(members, int) or isinstance(members, bool) or members < 1:
            raise ValueError("backward_by_member=True needs a model of independent members: "
                             f"{type(self.model).__name__} has no integer `members` (and forward(x, member=k))")
        return members if members > 1 else 0

    # --------------------------------------------------------------------------------------- fit
    def fit(self, train_data, val_data=None, *, resume: bool = False) -> list[dict]:
        """Train for ``config.epochs`` epochs (fewer with early stopping); returns ``self.history``.

        ``train_data``/``val_data``: DataLoaders yielding (x, y), or Datasets (the Trainer then builds
        loaders from ``config``). ``resume=True`` continues from ``run_dir/trainer_state.pt``: weights,
        optimiser, schedule, RNG states, data order position, early stopping and history, so on CPU
        the result is bit-for-bit that of an uninterrupted run.
        """
        cfg = self.config
        self._setup(train_data, val_data)
        resume_point = None
        if resume:
            if self.run_dir is None:
                raise ValueError("resume=True needs run_dir")
            resume_point = self._restore(load_trainer_state(self.run_dir / TRAINER_STATE))
        elif self.run_dir is not None and (self.run_dir / TRAINER_STATE).exists():
            # The same rule as the command line's --out: a run directory is never overwritten silently.
            raise RunDirError(f"{self.run_dir} already holds a training run ({TRAINER_STATE}); pass resume=True to "
                              "continue it, or choose another run_dir")
        elif cfg.seed is not None:
            # + rank: under DDP each process draws different dropout masks; rank 0 alone is a plain run.
            seed_everything(cfg.seed + self.dist.rank)
        self._net = distributed.wrap_model(self.model, self.device)
        self._call("on_train_begin")
        while self.epoch < cfg.epochs and not self.early_stopping.stopped and not self.should_stop:
            self._run_epoch(self.epoch + 1, resume_point)
            resume_point = None
        self._finish()
        distributed.barrier()  # no process returns before rank 0 has written the final files
        self._call("on_train_end")
        return self.history

    def _call(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            method = getattr(callback, hook, None)
            if method is not None:
                method(self, *args)

    def _run_epoch(self, epoch: int, resume_point: dict | None) -> None:
        cfg = self.config
        loader = self.train_loader
        if hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)  # the shuffle is a function of (seed, epoch)
        generators = _loader_generators(loader)
        if resume_point is not None:
            restore_rng_state(resume_point["epoch_rng"], generators)
        epoch_rng = capture_rng_state(generators)  # replayed by a resume from a mid-epoch checkpoint
        accum = dict(resume_point["epoch_accum"]) if resume_point else _new_accum()
        done = resume_point["batch_in_epoch"] if resume_point else 0
        state = to_device(resume_point["carried_state"], self.device) if resume_point else None
        self._call("on_epoch_begin", epoch)
        self._net.train()
        start = time.perf_counter()
        batches = iter(loader)  # draws the loader's base seed from the RNG restored above
        for _ in range(done):
            next(batches)  # replay the part of this epoch's order that the checkpoint already covers
        if resume_point is not None:
            restore_rng_state(resume_point["rng"], generators)
        try:
            total = len(loader)
        except TypeError:
            total = None
        bar = tqdm(total=total, initial=done, desc=f"epoch {epoch}/{cfg.epochs}",
                   disable=not self._show_progress(), dynamic_ncols=True)
        every = cfg.checkpoint_every_steps
        with bar:
            for batch in batches:
                x, y = split_batch(to_device(batch, self.device))
                step_before = self.step
                state = self._train_batch(x, y, state, epoch, accum)
                if not cfg.carry_state:
                    state = None
                if self._interval == "batch":
                    self.scheduler.step()
                done += 1
                bar.update(1)
                if self.step_log and not bar.disable:  # formatting costs a few us a step even for a hidden bar
                    last = self.step_log[-1]
                    bar.set_postfix(loss=f"{last['loss']:.4g}", gnorm=f"{last['grad_norm']:.3g}")
                if every and self.step // every > step_before // every and done != total:
                    accum["seconds"] += time.perf_counter() - start
                    start = time.perf_counter()
                    self._checkpoint(batch_in_epoch=done, epoch_rng=epoch_rng, accum=accum, carried=state,
                                     generators=generators)
            accum["seconds"] += time.perf_counter() - start
            row = self._end_epoch(epoch, accum, generators)
            bar.set_postfix({k: f"{v:.4g}" for k, v in row.items() if k.endswith("loss") or k.startswith("val_")})

    def _show_progress(self) -> bool:
        progress = self.config.progress
        if progress == "auto":
            progress = sys.stderr.isatty()
        return bool(progress) and self.dist.is_main

    # --------------------------------------------------------------------------------- one batch
    def _train_batch(self, x, y, state, epoch: int, accum: dict):
        cfg = self.config
        if self._members:
            self._train_members(x, y, epoch, accum)
            return None
        if cfg.tbptt_steps is None:
            self.optimizer.zero_grad(set_to_none=True)
            prediction, state = forward_model(self._net, x, state, cfg.uses_state)
            loss = self.loss_fn(prediction, y)
            loss.backward()
            self._apply_update(float(loss.detach()), epoch, accum)
            return detach_state(state)
        if cfg.tbptt_update == "batch":
            self.optimizer.zero_grad(set_to_none=True)
            loss, state = tbptt_backward(self._net, x, y, self.loss_fn, cfg.tbptt_steps, state=state,
                                         time_dim=cfg.time_dim)
            self._apply_update(float(loss), epoch, accum)
            return state
        for x_s, y_s in split_time(x, y, cfg.tbptt_steps, cfg.time_dim):
            self.optimizer.zero_grad(set_to_none=True)
            prediction, state = forward_model(self._net, x_s, state, True)
            loss = self.loss_fn(prediction, y_s)
            loss.backward()
            self._apply_update(float(loss.detach()), epoch, accum)
            # Detach at the segment boundary: this is the truncation (the next segment's gradient stops
            # here), it bounds memory by k steps, and the next backward() must not walk into this
            # segment's graph, which backward() above has already freed.
            state = detach_state(state)
        return state

    def _train_members(self, x, y, epoch: int, accum: dict) -> None:
        """One step of ``backward_by_member``: member k's forward and backward before member k + 1's forward.

        Member k's prediction goes into slot k of the (E, ...) stack that ``model(x)`` would return, the
        other slots zero, and the loss of that stack is backpropagated: for a loss made of terms that each
        read one member's prediction, slot k receives exactly the gradient the whole stack's loss gives
        it (same values, same operations), so the update is bit for bit the one of a single backward
        through all members, while only member k's graph (its LSTM's workspace) is alive. The logged
        loss is the loss of the whole stack of the members' (detached) predictions.
        """
        self.optimizer.zero_grad(set_to_none=True)
        predictions = []
        for member in range(self._members):
            prediction = self._net(x, member=member)
            slots = [prediction if k == member else torch.zeros_like(prediction) for k in range(self._members)]
            self.loss_fn(torch.stack(slots), y).backward()
            predictions.append(prediction.detach())
        with torch.no_grad():
            loss = self.loss_fn(torch.stack(predictions), y)
        self._apply_update(float(loss), epoch, accum)

    def _apply_update(self, loss_value: float, epoch: int, accum: dict) -> None:
        """Guard, clip and apply the gradients already in ``.grad``; log the step."""
        cfg = self.config
        self.step += 1
        grad_norm = clip_gradients(self.model.parameters(), max_norm=cfg.clip_grad_norm, clip_value=cfg.clip_grad_value)
        # Under DDP every process must take the same branch; gradients are already averaged (so their
        # norm agrees), but a loss is per process.
        ok = distributed.all_true(math.isfinite(loss_value) and math.isfinite(grad_norm), self.device)
        lr = current_lr(self.optimizer)
        if ok:
            self.optimizer.step()
            accum["loss_sum"] += loss_value
            accum["loss_count"] += 1
            accum["gnorm_sum"] += grad_norm
            accum["gnorm_max"] = max(accum["gnorm_max"], grad_norm)
            accum["gnorm_count"] += 1
        else:
            self.optimizer.zero_grad(set_to_none=True)
            what = ("loss" if not math.isfinite(loss_value)
                    else "gradient" if not math.isfinite(grad_norm) else "loss on another process")
            message = (f"non-finite {what} at epoch {epoch}, step {self.step} "
                       f"(loss={loss_value:.6g}, pre-clip grad norm={grad_norm:.6g})")
            if cfg.on_nan == "stop":
                raise NonFiniteLossError(
                    message + "; the update was not applied and nothing was saved after it (on_nan='stop')",
                    epoch=epoch, step=self.step,
                )
            self.skipped_steps += 1
            accum["skipped"] += 1
            logger.warning("%s; update skipped (on_nan='skip', %d skipped so far)", message, self.skipped_steps)
        info = {"epoch": epoch, "step": self.step, "loss": loss_value, "grad_norm": grad_norm, "lr": lr,
                "skipped": not ok}
        self.step_log.append(info)
        if cfg.log_every_steps and self.step % cfg.log_every_steps == 0:
            logger.debug("epoch %d step %d loss %.6g grad_norm %.4g lr %.3g",
                         epoch, self.step, loss_value, grad_norm, lr)
        self._call("on_step_end", info)

    # ---------------------------------------------------------------------------------- epoch end
    def _end_epoch(self, epoch: int, accum: dict, generators) -> dict:
        cfg = self.config
        loss_sum, loss_count, gnorm_sum, gnorm_count, skipped = distributed.all_reduce_sum(
            [accum["loss_sum"], accum["loss_count"], accum["gnorm_sum"], accum["gnorm_count"], accum["skipped"]],
            self.device,
        )
        if loss_count == 0:
            raise NonFiniteLossError(
                f"every step of epoch {epoch} had a non-finite loss or gradient (last step {self.step}); "
                "lower the learning rate or check the data",
                epoch=epoch, step=self.step,
            )
        row = {"epoch": epoch, "train_loss": loss_sum / loss_count}
        if self.val_loader is not None:
            values = evaluate(self.model, self.val_loader, self.loss_fn, self.metrics, device=self.device,
                              uses_state=cfg.uses_state, carry_state=cfg.carry_state)
            row.update({f"val_{name}": value for name, value in values.items()})
        row.update({
            "lr": current_lr(self.optimizer),
            "grad_norm_mean": gnorm_sum / gnorm_count,
            "grad_norm_max": accum["gnorm_max"],  # this process's; equal across processes (averaged grads)
            "skipped_steps": int(skipped),
            "seconds": accum["seconds"],
        })
        self._update_best(epoch, row)
        if self._interval == "epoch":
            self.scheduler.step(row[cfg.monitor])
        self.history.append(row)
        self.epoch = epoch
        if self.dist.is_main:
            # The progress bar shows the same numbers; the log line is for runs without a terminal.
            logger.log(logging.DEBUG if self._show_progress() else logging.INFO, "epoch %d/%d %s", epoch, cfg.epochs,
                       " ".join(f"{k}={v:.4g}" for k, v in row.items() if k != "epoch" and isinstance(v, float)))
        last = epoch == cfg.epochs or self.early_stopping.stopped
        if not last and epoch % cfg.checkpoint_every_epochs == 0:
            self._checkpoint(generators=generators)
        self._call("on_epoch_end", row)
        return row

    def _update_best(self, epoch: int, row: dict) -> None:
        cfg, stopper = self.config, self.early_stopping
        if not self._track_best:
            return
        if stopper.update(row[cfg.monitor], epoch):
            if cfg.restore_best:
                self.best_weights = _clone_weights(self.model)
        elif stopper.stopped:
            logger.info("early stopping after epoch %d: %s has not improved for %d epochs (best %.6g at epoch %d)",
                        epoch, cfg.monitor, stopper.bad_epochs, stopper.best, stopper.best_epoch)

    def _finish(self) -> None:
        last_weights = _clone_weights(self.model) if self.run_dir is not None else None
        if self.config.restore_best and self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
            logger.info("restored the weights of epoch %d (best %s %.6g)", self.early_stopping.best_epoch,
                        self.config.monitor, self.early_stopping.best)
        self._checkpoint(finished=True, model_weights=last_weights, generators=_loader_generators(self.train_loader))

    # -------------------------------------------------------------------------------- checkpoints
    def _checkpoint(self, *, batch_in_epoch: int = 0, epoch_rng: dict | None = None, accum: dict | None = None,
                    carried=None, finished: bool = False, model_weights: dict | None = None,
                    generators=()) -> None:
        if self.run_dir is None:
            return
        # Weights are equal on every process (DDP), so every process takes this branch alike.
        if not _all_finite(self.model):
            raise NonFiniteLossError(
                f"refusing to overwrite the checkpoint in {self.run_dir} with non-finite weights "
                f"(epoch {self.epoch}, step {self.step})", epoch=self.epoch, step=self.step,
            )
        # What differs between processes (RNG streams, their share of the epoch's sums, the carried state
        # of their rows) is gathered so that each process resumes with its own.
        ranks = distributed.gather_objects({
            "rng": capture_rng_state(generators),
            "epoch_rng": epoch_rng,
            "epoch_accum": accum,
            "carried_state": detach_state(to_device(carried, torch.device("cpu"))),
        })
        if not self.dist.is_main:
            return
        state = {
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "batch_in_epoch": batch_in_epoch,
            "model": model_weights if model_weights is not None else _clone_weights(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "ranks": ranks,
            "early_stopping": self.early_stopping.state_dict(),
            "best_weights": self.best_weights,
            "history": self.history,
            "step_log": _step_log_to_columns(self.step_log),
            "skipped_steps": self.skipped_steps,
            "finished": finished,
        }
        # The trainer state first: it alone is what resume reads, and it is complete by itself.
        save_trainer_state(self.run_dir / TRAINER_STATE, state)
        save_model(self.model, self.run_dir, extra_config={"train": self.config.to_dict()})
        write_csv(self.run_dir / HISTORY_CSV, self.history)
        atomic_write_text(self.run_dir / STEPS_CSV, self._steps_csv(self.step_log))

    def _restore(self, state: dict) -> dict | None:
        saved = state["config"]
        current = self.config.to_dict()
        changed = sorted(k for k in set(saved) | set(current)
                         if saved.get(k) != current.get(k) and k not in _RESUMABLE_CHANGES)
        if changed:
            logger.warning("resuming with a different config (%s): the result will differ from an uninterrupted run",
                           ", ".join(f"{k}: {saved.get(k)!r} -> {current.get(k)!r}" for k in changed))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.step, self.skipped_steps = state["epoch"], state["step"], state["skipped_steps"]
        self.early_stopping.load_state_dict(state["early_stopping"])
        self.best_weights = state["best_weights"]
        self.history = list(state["history"])
        self.step_log = _step_log_from_columns(state["step_log"])
        self._steps_csv = CsvText(STEP_COLUMNS)  # a new step log: render it all at the next checkpoint
        logger.info("resuming %s after epoch %d, step %d", self.run_dir, self.epoch, self.step)
        if len(state["ranks"]) != self.dist.world_size:
            raise CheckpointError(
                f"the checkpoint was written by {len(state['ranks'])} process(es) and this run has "
                f"{self.dist.world_size}: resume with the same number of processes"
            )
        mine = state["ranks"][self.dist.rank]
        if state["batch_in_epoch"] == 0:
            restore_rng_state(mine["rng"], _loader_generators(self.train_loader))
            return None
        return {"batch_in_epoch": state["batch_in_epoch"], **mine}


def fit(
    model: torch.nn.Module,
    train_data,
    val_data=None,
    *,
    loss_fn: LossFn,
    config: TrainConfig | None = None,
    metrics: dict[str, MetricFn] | None = None,
    callbacks: Iterable[Any] = (),
    run_dir: str | Path | None = None,
    resume: bool = False,
) -> Trainer:
    """Build a :class:`Trainer`, run it, return it (``.history``, ``.step_log``, ``.model``)."""
    trainer = Trainer(model, loss_fn, config, metrics=metrics, callbacks=callbacks, run_dir=run_dir)
    trainer.fit(train_data, val_data, resume=resume)
    return trainer


def resume(
    run_dir: str | Path,
    train_data,
    val_data=None,
    *,
    loss_fn: LossFn,
    model: torch.nn.Module | None = None,
    config: TrainConfig | None = None,
    metrics: dict[str, MetricFn] | None = None,
    callbacks: Iterable[Any] = (),
) -> Trainer:
    """Continue the run in ``run_dir`` from its last checkpoint.

    ``model`` defaults to the architecture in ``config.json`` (rebuilt through the registry; its weights
    are then replaced by the checkpoint's), ``config`` to its ``"train"`` section.
    """
    if config is None:
        config = TrainConfig.from_saved(read_config(run_dir)["train"])
    if model is None:
        model = load_model(run_dir).train()
    return fit(model, train_data, val_data, loss_fn=loss_fn, config=config, metrics=metrics,
               callbacks=callbacks, run_dir=run_dir, resume=True)
