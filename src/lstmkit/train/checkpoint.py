"""RNG state capture and the trainer state file (resume).

Run directory (everything written by rank 0 only)::

    run_dir/
      config.json        {"model_type", "format_version": 1, "model": {...}, "train": {...}, ...}
      model.safetensors  weights (after fit: the best epoch's when restore_best, else the last)
      trainer_state.pt   everything resume needs, see save_trainer_state(); torch.save of plain data
      history.csv        one row per epoch
      steps.csv          one row per optimiser step: loss, pre-clip grad norm, lr, skipped
      lr_finder.csv/png  when lr_find() is given the run_dir

Every file is written through :mod:`lstmkit.files` (temporary name, fsync, rename): a crash leaves
either the old file or the new one, never half of one.
"""
from __future__ import annotations

import csv
import io
import os
import random
from pathlib import Path

import numpy as np
import torch

from lstmkit.errors import CheckpointError
from lstmkit.files import TRAINER_STATE, atomic_write

HISTORY_CSV = "history.csv"
STEPS_CSV = "steps.csv"
STEP_COLUMNS = ["epoch", "step", "loss", "grad_norm", "lr", "skipped"]
STATE_FORMAT_VERSION = 1


class CsvText:
    """The text :func:`lstmkit.files.write_csv` writes for a list of rows that only grows (the step log),
    each row rendered once: rewriting steps.csv at every checkpoint stays atomic, but rendering every
    row again each epoch would make a run's checkpoints cost quadratic time (300 epochs of 50 steps:
    4.5 million rows rendered)."""

    def __init__(self, columns: list[str]):
        self.columns = list(columns)
        self.rendered = 0  # rows in self.text
        self.text = ""

    def __call__(self, rows: list[dict]) -> str:
        if len(rows) < self.rendered:  # not the list seen before: start again
            self.rendered, self.text = 0, ""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
        if not self.rendered:
            writer.writeheader()
        writer.writerows(rows[self.rendered:])
        self.text += buffer.getvalue()
        self.rendered = len(rows)
        return self.text


def capture_rng_state(generators: list[torch.Generator] = ()) -> dict:
    """RNG states of torch (CPU and CUDA), NumPy, Python and the given generators, as tensors and
    plain containers so that ``torch.load(weights_only=True)`` can read them back."""
    np_state = np.random.get_state()  # ("MT19937", uint32[624], pos, has_gauss, cached_gaussian)
    py_version, py_internal, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "name": str(np_state[0]),
            "keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {
            "version": int(py_version),
            "internal": torch.tensor(py_internal, dtype=torch.int64),  # 625 values < 2**32
            "gauss_next": py_gauss,
        },
        "generators": [g.get_state() for g in generators],
    }


def restore_rng_state(state: dict, generators: list[torch.Generator] = ()) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state((
        np_state["name"],
        np_state["keys"].numpy().astype(np.uint32),
        np_state["pos"],
        np_state["has_gauss"],
        np_state["cached_gaussian"],
    ))
    py_state = state["python"]
    random.setstate((py_state["version"], tuple(int(v) for v in py_state["internal"].tolist()), py_state["gauss_next"]))
    saved = state["generators"]
    if len(saved) != len(generators):
        raise CheckpointError(
            f"the checkpoint holds {len(saved)} DataLoader generator state(s) but the loader now has "
            f"{len(generators)}: resume with a DataLoader built the same way"
        )
    for generator, generator_state in zip(generators, saved):
        generator.set_state(generator_state)


# --------------------------------------------------------------------------------- trainer state
def save_trainer_state(path: str | os.PathLike, state: dict) -> Path:
    """Atomically ``torch.save`` a dict of plain data and tensors (no objects, no code).

    The Trainer stores: ``format_version``, ``config`` (TrainConfig as dict), ``epoch`` (completed
    epochs), ``step`` (optimiser steps so far, skipped ones included), ``batch_in_epoch`` (batches done
    in the unfinished epoch; 0 at an epoch end), ``model`` (current weights), ``optimizer``,
    ``scheduler``, ``ranks`` (one dict per process: ``rng`` now, ``epoch_rng`` at the start of the
    unfinished epoch, ``epoch_accum`` its running sums, ``carried_state``), ``early_stopping``,
    ``best_weights``, ``history``, ``step_log`` (column tensors), ``skipped_steps`` and ``finished``.
    """
    payload = {"format_version": STATE_FORMAT_VERSION, **state}

    def write(tmp: Path) -> None:
        torch.save(payload, tmp)

    return atomic_write(path, write)


def load_trainer_state(path: str | os.PathLike) -> dict:
    """Read a file written by :func:`save_trainer_state` with ``weights_only=True`` (no unpickling of
    arbitrary objects); tensors land on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no trainer state at {path}: nothing to resume (was a checkpoint ever written?)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupted zip, foreign pickle with objects, ...
        raise CheckpointError(f"{path} is not a readable trainer state file: {error}") from error
    if not isinstance(state, dict) or state.get("format_version") != STATE_FORMAT_VERSION:
        version = state.get("format_version") if isinstance(state, dict) else None
        raise CheckpointError(
            f"{path} has trainer state format_version {version!r}; this lstmkit reads {STATE_FORMAT_VERSION}"
        )
    return state
