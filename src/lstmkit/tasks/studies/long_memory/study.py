r"""Why an LSTM: the long-memory study against the vanilla RNN (``lstmkit study long-memory``).

For each problem of :mod:`lstmkit.tasks.studies.long_memory.problems` (the adding and temporal-order
problems of Hochreiter & Schmidhuber 1997) and each sequence length T, a vanilla RNN
(``lstmkit.nn.RNN``, tanh) and an LSTM (``lstmkit.nn.LSTM``) with about the same number of parameters
(the RNN gets more units: one weight block instead of four) are trained with the same optimiser,
learning rate, clipping, batch size, step budget and data stream, for several seeds. Both read the
answer from their last hidden state through a linear head
(:class:`~lstmkit.tasks.studies.long_memory.model.LongMemoryNet`).

Training draws a fresh batch at every step (the 1997 protocol: data is unlimited, so there is no
overfitting to speak of) through :class:`lstmkit.train.Trainer`; every ``eval_every`` steps a fixed
validation set decides whether the run is *solved* (adding: MSE < 0.01, 6 % of the constant
baseline's 0.167; temporal order: accuracy >= 99 %), and training stops there (``stop_when_solved``).
The reported error is that of a separate fixed test set at the end of training, next to a constant
baseline on the same test set. The gradient flow before and after training is measured with
:func:`~lstmkit.tasks.studies.long_memory.model.hidden_gradient_norms`.

The study is not an :class:`~lstmkit.tasks.base.Application`: it trains many models and keeps no
single one. Its output directory follows the same rule as every run directory (missing or empty,
:func:`lstmkit.files.check_run_dir`) and every file goes through :mod:`lstmkit.files`.

Output directory: ``results.json`` (everything), ``results.md`` (the tables), ``summary.png``,
``learning_curves.png``, ``gradient_flow.png``, ``gates_<task>.png`` (the trained LSTM of the longest
length on one test sequence), ``models/<task>-T<T>-<model>/`` (the first seed's trained models, loadable
with :func:`lstmkit.train.load_model`) and ``samples/<task>-T<T>.csv`` (one test sequence), so that
``lstmkit inspect --model models/adding-T200-lstm samples/adding-T200.csv`` works on them.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from lstmkit.files import atomic_write_text, check_run_dir, write_json
from lstmkit.runtime import seed_everything
from lstmkit.tasks.studies.long_memory.config import INPUT_COLUMNS, LongMemoryConfig
from lstmkit.tasks.studies.long_memory.model import (
    LongMemoryNet,
    build_model,
    gradient_summary,
    hidden_gradient_norms,
    parameter_count,
)
from lstmkit.tasks.studies.long_memory.problems import ORDER_CLASSES, PROBLEMS, Problem
from lstmkit.tasks.studies.long_memory.report import markdown_report, summarize
from lstmkit.train import NonFiniteLossError, TrainConfig, Trainer, predict, save_model

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------- training
def _stream_seed(*parts) -> int:
    """A 63-bit seed from any labels: every (task, length, seed, purpose) gets its own stream."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class _BatchStream(torch.utils.data.IterableDataset):
    """``batches`` fresh (x, y) batches per pass, drawn from one generator that runs on across passes."""

    def __init__(self, problem: Problem, length: int, batch_size: int, batches: int, seed: int):
        self.problem, self.length, self.batch_size, self.batches = problem, length, batch_size, batches
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return self.batches

    def __iter__(self):
        for _ in range(self.batches):
            yield self.problem.generate(self.batch_size, self.length, generator=self.generator)


class _SolveMonitor:
    """Trainer callback: after every "epoch" of ``eval_every`` steps, score the validation set."""

    def __init__(self, problem: Problem, x_val: Tensor, y_val: Tensor, stop_when_solved: bool):
        self.problem, self.x_val, self.y_val, self.stop = problem, x_val, y_val, stop_when_solved
        self.curve: list[dict] = []
        self.solved_step: int | None = None

    def on_train_begin(self, trainer) -> None:
        self._score(trainer, float("nan"))  # step 0: the untrained model

    def on_epoch_end(self, trainer, row: dict) -> None:
        self._score(trainer, row["train_loss"])

    def _score(self, trainer, train_loss: float) -> None:
        prediction = predict(trainer.model, [(self.x_val, self.y_val)])
        metrics = self.problem.metrics(prediction, self.y_val)
        self.curve.append({"step": trainer.step, "train_loss": train_loss, **metrics})
        if self.solved_step is None and self.problem.is_solved(metrics):
            self.solved_step = trainer.step
            if self.stop:
                trainer.should_stop = True


@dataclass
class StudyData:
    """The fixed evaluation sets of one (task, length)."""

    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor


def make_data(problem: Problem, length: int, config: LongMemoryConfig) -> StudyData:
    """The validation and test sets of (problem, length), each from its own seeded stream."""
    def draw(n: int, purpose: str):
        generator = torch.Generator().manual_seed(_stream_seed(config.seed, problem.name, length, purpose))
        return problem.generate(n, length, generator=generator)

    return StudyData(*draw(config.val_size, "validation"), *draw(config.test_size, "test"))


def train_model(problem: Problem, cell: str, length: int, seed: int, config: LongMemoryConfig,
                data: StudyData) -> tuple[LongMemoryNet, dict]:
    """Train one model; returns it and its record (solved, steps, test metrics, curve, gradient flow)."""
    seed_everything(seed)
    model = build_model(cell, problem, config.hidden_size)
    g = config.gradient_batch
    x_grad, y_grad = data.x_test[:g], data.y_test[:g]
    grad_init = hidden_gradient_norms(model, x_grad, y_grad, problem.loss)
    epochs = math.ceil(config.steps / config.eval_every)
    # Both models of a seed see the same stream of batches.
    stream = _BatchStream(problem, length, config.batch_size, config.eval_every,
                          _stream_seed(seed, problem.name, length, "train"))
    loader = torch.utils.data.DataLoader(stream, batch_size=None)
    train_config = TrainConfig(epochs=epochs, optimizer="adam", lr=config.lr_for(problem.name),
                               clip_grad_norm=config.clip_grad_norm, on_nan="skip", restore_best=False,
                               monitor="train_loss", seed=seed, device="cpu", progress=False)
    monitor = _SolveMonitor(problem, data.x_val, data.y_val, config.stop_when_solved)
    start = time.perf_counter()
    diverged = False
    trainer = Trainer(model, problem.loss, train_config, callbacks=[monitor])
    try:
        trainer.fit(loader)
    except NonFiniteLossError as error:  # every step of an eval period was non-finite: give up on this run
        logger.warning("%s T=%d %s seed %d diverged: %s", problem.name, length, cell, seed, error)
        diverged = True
    seconds = time.perf_counter() - start
    model.eval()
    test = problem.metrics(predict(model, [(data.x_test, data.y_test)]), data.y_test)
    grad_trained = hidden_gradient_norms(model, x_grad, y_grad, problem.loss)
    record = {
        "task": problem.name, "length": length, "model": cell, "seed": seed,
        "hidden_size": model.hidden_size, "parameters": parameter_count(model),
        "solved": monitor.solved_step is not None, "steps_to_solve": monitor.solved_step,
        "steps": trainer.step, "diverged": diverged, "seconds": seconds,
        "test": test, "curve": monitor.curve,
        "gradient_init": gradient_summary(grad_init), "gradient_trained": gradient_summary(grad_trained),
    }
    return model, record


def baseline_metrics(problem: Problem, data: StudyData) -> dict:
    return problem.metrics(problem.baseline(data.y_test), data.y_test)


# ------------------------------------------------------------------------------------------ study
def run_study(config: LongMemoryConfig, out: str | Path, *, on_run: Callable[[dict], None] | None = None) -> dict:
    """Run the whole study and write its files to ``out``; returns what ``results.json`` holds.

    ``out`` must be missing or empty (:class:`~lstmkit.errors.RunDirError` otherwise, before any
    training). ``on_run(record)`` is called after each trained model (the CLI prints a progress line
    from it).
    """
    from lstmkit.plots import gates
    from lstmkit.tasks.studies.long_memory import plots

    out = check_run_dir(out, resumable=False)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    runs, baselines, kept = [], {}, {}
    for task in config.tasks:
        problem = PROBLEMS[task]
        baselines[task] = {}
        for length in config.lengths:
            data = make_data(problem, length, config)
            baselines[task][str(length)] = baseline_metrics(problem, data)
            for index in range(config.seeds):
                for cell in config.models:
                    model, record = train_model(problem, cell, length, config.seed + index, config, data)
                    runs.append(record)
                    if index == 0:
                        kept[(task, length, cell)] = (model, data)
                    if on_run is not None:
                        on_run(record)
    results = {
        "config": config.to_dict(),
        "learning_rates": {task: config.lr_for(task) for task in config.tasks},
        "problems": {task: {"description": PROBLEMS[task].description,
                            "solved_metric": PROBLEMS[task].solved_metric, "solved_at": PROBLEMS[task].solved_at,
                            "baseline": PROBLEMS[task].baseline_name} for task in config.tasks},
        "baselines": baselines,
        "summary": summarize(runs),
        "runs": runs,
        "torch_threads": torch.get_num_threads(),
    }
    _write_models_and_samples(kept, config, out)
    results["wall_seconds"] = time.perf_counter() - start
    write_json(out / "results.json", results)
    atomic_write_text(out / "results.md", markdown_report(results) + "\n")
    plots.summary_plot(results, out / "summary.png")
    plots.learning_curves(results, out / "learning_curves.png")
    plots.gradient_flow_plot(results, out / "gradient_flow.png")
    longest = config.lengths[-1]
    for task in config.tasks:
        model, data = kept[(task, longest, "lstm")]
        labels = INPUT_COLUMNS[task]
        with torch.no_grad():
            first = model(data.x_test[:1])
        answer = (f"target {float(data.y_test[0]):.3f}, LSTM says {float(first):.3f}"
                  if task == "adding" else
                  f"class {ORDER_CLASSES[int(data.y_test[0])]}, LSTM says "
                  f"{ORDER_CLASSES[int(first.argmax())]}")
        gates(model.rnn, data.x_test[:1], path=out / f"gates_{task}.png", input_labels=labels,
              title=f"{task}, T = {longest}: the trained LSTM on one test sequence ({answer})")
    return results


def _write_models_and_samples(kept: dict, config: LongMemoryConfig, out: Path) -> None:
    """The first seed's models of every (task, length), and one test sequence per (task, length) as CSV."""
    import pandas as pd

    for (task, length, cell), (model, data) in kept.items():
        columns = INPUT_COLUMNS[task]
        save_model(model, out / "models" / f"{task}-T{length}-{cell}",
                   extra_config={"task": {"name": "long-memory", "problem": task, "length": length,
                                          "seed": config.seed},
                                 "data": {"columns": columns}})
        if cell == "lstm":
            frame = pd.DataFrame(data.x_test[0].numpy(), columns=columns)
            atomic_write_text(out / "samples" / f"{task}-T{length}.csv", frame.to_csv(index_label="step"))
