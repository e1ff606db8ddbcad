"""The run skeleton every application stands on: config + typed state, the run directory, save/load.

An application is a subclass of :class:`Application` that names its config and state dataclasses
and writes three things: how to read and check its input (:meth:`Application.check_input`), how to
fit (preprocessing, then :meth:`Application.train_model` with its model, loss and data), and how to
evaluate against its baselines. Everything else is here, once:

* ``config.json`` sections: ``{"task": {"name": ..., **config}, "data": state, "train": TrainConfig,
  "model_type": ..., "model": ...}``, written before training (so a killed run can be resumed from
  its directory alone) and after it;
* :meth:`Application.save` / :meth:`Application.load`, with the refusal messages for a directory
  that holds no model, another application's model, or a damaged config;
* the wrapper around :class:`lstmkit.train.Trainer` (:meth:`Application.train_model`);
* :func:`train_run`: refuse a non-empty output directory, check the input before writing anything,
  fit, save, evaluate, write ``metrics.json`` and the application's own files.

The state is what fitting learned from the training data (scaler parameters, the season chosen,
a vocabulary, thresholds): a dataclass, saved as ``config.json["data"]``, so a model can be rebuilt
and used without the training data.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, ClassVar

import torch

from lstmkit.config import DictConfig
from lstmkit.errors import ConfigError, InputFileError, ModelFileError
from lstmkit.files import check_run_dir, write_json
from lstmkit.train import TrainConfig, Trainer, load_model, read_config, save_model, write_task_config
from lstmkit.train.progress import EpochProgress

logger = logging.getLogger(__name__)


class Application:
    """Base of every application's fit/evaluate/predict object (``Forecaster``, ``AnomalyDetector``, ...).

    Subclasses set the class attributes and implement :meth:`check_input`, :meth:`fit` and
    :meth:`evaluate`; :meth:`write_results` when a run writes more than ``metrics.json``.
    """

    name: ClassVar[str]  # config.json["task"]["name"], e.g. "forecast"
    config_class: ClassVar[type[DictConfig]]
    state_class: ClassVar[type[DictConfig]]
    description: ClassVar[str] = "an lstmkit model"  # for messages: "does not hold <description>"
    train_command: ClassVar[str] = ""  # e.g. "lstmkit forecast train", named in refusals

    def __init__(self, config: DictConfig):
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} takes a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config
        self.model: torch.nn.Module | None = None
        self.state: Any = None  # a state_class instance once fitted or loaded
        self.history: list[dict] = []  # one row per epoch, as in history.csv
        self.callbacks: list = []  # extra Trainer callbacks, e.g. lstmkit.train.EpochProgress

    # ---- what an application writes ------------------------------------------------------------
    def check_input(self, data) -> None:
        """Read and check ``data`` as :meth:`fit` will, raising a :class:`~lstmkit.errors.UserError`
        for bad input. :func:`train_run` calls it before writing anything."""
        raise NotImplementedError

    def fit(self, data, *, run_dir: str | Path | None = None, resume: bool = False):
        raise NotImplementedError

    def evaluate(self, data) -> dict:
        """``{"model": {...}, "baselines": {name: {...}}, "split": {...}}`` with the same metric names for
        the model and every baseline, computed on the same held-out part; values that are not JSON
        (tables of predictions) may ride along for :meth:`write_results` to write and remove."""
        raise NotImplementedError

    def write_results(self, out: Path, result: dict, data) -> None:
        """Write the run's own files (predictions, plots) into ``out`` and remove from ``result`` what
        ``metrics.json`` cannot hold. Default: nothing."""

    # ---- provided ------------------------------------------------------------------------------
    @property
    def fitted(self) -> bool:
        return self.model is not None and self.state is not None

    def require_fitted(self) -> None:
        if not self.fitted:
            name = type(self).__name__
            raise RuntimeError(f"this {name} is not fitted yet: call fit() or {name}.load()")

    def train_model(self, model: torch.nn.Module, loss: Callable, train_config: TrainConfig, train_data,
                    val_data=None, *, run_dir: str | Path | None = None, resume: bool = False,
                    metrics: dict[str, Callable] | None = None) -> torch.nn.Module:
        """Train ``model`` with a :class:`~lstmkit.train.Trainer` and keep it (in eval mode) and its history.

        With ``run_dir``, ``config.json`` is written before training, so that an interrupted run can be
        resumed from its directory alone (``resume=True``; on CPU the result equals an uninterrupted
        run), and again after it; the Trainer writes the checkpoints, ``model.safetensors`` and
        ``history.csv`` there. ``self.state`` must hold the fitted preprocessing by then.
        """
        self.model = model
        if run_dir is not None:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            self.write_config(run_dir, train_config)
        trainer = Trainer(model, loss, train_config, run_dir=run_dir, metrics=metrics, callbacks=self.callbacks)
        self.history = trainer.fit(train_data, val_data, resume=resume)
        self.model = trainer.model.eval()
        if run_dir is not None:
            self.write_config(run_dir, train_config)
        return self.model

    def state_dict(self) -> dict:
        """The fitted state as ``config.json["data"]`` holds it."""
        return self.state.to_dict()

    def write_config(self, directory: str | Path, train_config: TrainConfig | None = None) -> dict:
        """Record the task's config and fitted state in ``directory/config.json``, keeping the other sections."""
        return write_task_config(directory, self.name, self.config, self.state_dict(), train_config)

    def save(self, directory: str | Path) -> Path:
        """``config.json`` (task, fitted state, model) + ``model.safetensors``."""
        self.require_fitted()
        directory = Path(directory)
        save_model(self.model, directory)
        self.write_config(directory)
        return directory

    @classmethod
    def read_run_config(cls, directory: str | Path) -> tuple[DictConfig, dict]:
        """(the task's config, the ``data`` section) of a run directory, refused with a
        :class:`~lstmkit.errors.ModelFileError` when it holds another application's model."""
        directory = Path(directory)
        if not directory.is_dir():
            raise InputFileError(f"{directory}: no such model directory"
                                 + (f"; train one with `{cls.train_command}`" if cls.train_command else ""))
        saved = read_config(directory)
        task = dict(saved.get("task") or {})
        found = task.pop("name", None)
        if found != cls.name or not isinstance(saved.get("data"), dict):
            what = f"a {found!r} task" if found else f"no {cls.name} task"
            hint = f"; train one with `{cls.train_command}`" if cls.train_command else ""
            raise ModelFileError(f"{directory} does not hold {cls.description} (its config.json has {what}){hint}")
        try:
            config = cls.config_class.from_saved(task)
        except (ConfigError, TypeError) as error:
            raise ModelFileError(f"{directory}/config.json: the task section does not fit this lstmkit version: "
                                 f"{error}") from None
        return config, saved["data"]

    @classmethod
    def load(cls, directory: str | Path):
        """Rebuild a fitted application from a directory written by :meth:`save` or a training run."""
        config, data = cls.read_run_config(directory)
        app = cls(config)
        app.state = cls.load_state(data, directory)
        app.model = load_model(directory).eval()
        return app

    @classmethod
    def load_state(cls, data: dict, directory: str | Path):
        """``config.json["data"]`` -> a ``state_class`` instance (override for state holding objects)."""
        try:
            return cls.state_class.from_dict(data)
        except (ConfigError, TypeError) as error:
            raise ModelFileError(f"{directory}/config.json: the data section does not fit this lstmkit version: "
                                 f"{error}") from None


def train_run(app: Application, data, out: str | Path, *, resume: bool = False, progress: bool = False,
              resumable: bool = True) -> dict:
    """``lstmkit <task> train``: fit, save, evaluate, and write the run directory ``out``.

    ``out`` must be missing or empty (``resume=True``: hold an interrupted run of the same
    application, whose saved config is then used). The input is read and checked before anything is
    written, so bad input leaves no files behind. Writes ``config.json``, ``model.safetensors``,
    ``history.csv`` (the Trainer), ``metrics.json`` (model next to baselines, the number of epochs)
    and whatever :meth:`Application.write_results` adds. ``progress=True`` prints a line per epoch on
    standard error once training has lasted a few seconds (the command line's default). Returns the
    evaluation result. ``resumable=False``: the caller offers no ``--resume`` (the refusal does not suggest it).
    """
    out = check_run_dir(out, resume=resume, resumable=resumable)
    if progress:
        app.callbacks.append(EpochProgress())
    if resume:
        app.config, _ = app.read_run_config(out)
    app.check_input(data)
    app.fit(data, run_dir=out, resume=resume)
    app.save(out)
    result = app.evaluate(data)
    result["epochs"] = len(app.history)
    app.write_results(out, result, data)
    write_json(out / "metrics.json", result)
    return result
