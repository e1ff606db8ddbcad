r"""Why an LSTM: the long-memory study against the vanilla RNN (``lstmkit study long-memory``).

For each problem of :mod:`lstmkit.tasks.long_memory_problems` (the adding and temporal-order problems
of Hochreiter & Schmidhuber 1997) and each sequence length T, a vanilla RNN (``lstmkit.nn.RNN``,
tanh) and an LSTM (``lstmkit.nn.LSTM``) with about the same number of parameters (the RNN gets more
units: one weight block instead of four) are trained with the same optimiser, learning rate,
clipping, batch size, step budget and data stream, for several seeds. Both read the answer from
their last hidden state through a linear head (:class:`LongMemoryNet`).

Training draws a fresh batch at every step (the 1997 protocol: data is unlimited, so there is no
overfitting to speak of) through :class:`lstmkit.train.Trainer`; every ``eval_every`` steps a fixed
validation set decides whether the run is *solved* (adding: MSE < 0.01, 6 % of the constant
baseline's 0.167; temporal order: accuracy >= 99 %), and training stops there (``stop_when_solved``).
The reported error is that of a separate fixed test set at the end of training, next to a constant
baseline on the same test set.

**Gradient flow.** :func:`hidden_gradient_norms` returns, for every step t, the mean over sequences of
:math:`\lVert \partial L_n / \partial h_t \rVert` (total derivative through the recurrence, :math:`L_n`
the loss of sequence n), by running the recurrent layer one step per call with its state carried, so
each :math:`h_t` is a tensor of the graph, and asking autograd for the gradient with respect to all of
them. A vanilla RNN's :math:`\partial h_t / \partial h_{t-1} = \mathrm{diag}(1 - h_t^2) W_{hh}` shrinks
the signal geometrically with the distance from the end; the LSTM's cell path
:math:`\partial c_t / \partial c_{t-1} = \mathrm{diag}(f_t)` need not.

Output directory: ``results.json`` (everything), ``results.md`` (the tables), ``summary.png``,
``learning_curves.png``, ``gradient_flow.png``, ``gates_<task>.png`` (the trained LSTM of the longest
length on one test sequence), ``models/<task>-T<T>-<model>/`` (the first seed's trained models, loadable
with :func:`lstmkit.train.load_model`) and ``samples/<task>-T<T>.csv`` (one test sequence), so that
``lstmkit inspect --model models/adding-T200-lstm samples/adding-T200.csv`` works on them.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from lstmkit.nn import LSTM, RNN
from lstmkit.registry import register_model
from lstmkit.runtime import seed_everything
from lstmkit.tasks.long_memory_problems import ORDER_CLASSES, PROBLEMS, Problem
from lstmkit.train import NonFiniteLossError, TrainConfig, Trainer, predict, save_model
from lstmkit.train.checkpoint import atomic_write_text, write_json

logger = logging.getLogger(__name__)

MODELS = ("rnn", "lstm")
MODEL_NAMES = {"rnn": "RNN", "lstm": "LSTM"}
# Adam's step size per problem, the same for both models. Chosen on a few pilot runs (seed 0, T = 50
# and 100): 1e-2 lets the LSTM find the adding solution 2-3x sooner than 3e-3, while on the
# temporal-order problem 1e-2 kept the LSTM at chance at T = 100 and 3e-3 solved it in 300 steps.
DEFAULT_LR = {"adding": 1e-2, "temporal-order": 3e-3}
INPUT_COLUMNS = {"adding": ["value", "marker"], "temporal-order": ["a", "b", "c", "d", "X", "Y"]}


# ---------------------------------------------------------------------------------------- config
@dataclass
class LongMemoryConfig:
    """Settings of one study. The defaults are the README's run (about 15 minutes on 2 busy cores)."""

    tasks: list[str] = field(default_factory=lambda: list(PROBLEMS))
    lengths: list[int] = field(default_factory=lambda: [10, 50, 100, 200])
    seeds: int = 2  # runs per (task, length, model), seeded seed, seed + 1, ...
    steps: int = 2000  # optimiser steps per run at most (the budget, the same for both models; rounded up to
    # a multiple of eval_every)
    seed: int = 0
    hidden_size: int = 32  # LSTM units; the RNN gets the unit count that matches its parameter count
    batch_size: int = 64
    lr: float | None = None  # Adam's step size; None: DEFAULT_LR of the task
    clip_grad_norm: float | None = 1.0  # Pascanu et al. (2013); keeps the RNN's exploding steps bounded
    eval_every: int = 50  # steps between validation checks (the resolution of "steps to solve")
    val_size: int = 1000
    test_size: int = 2000
    gradient_batch: int = 256  # sequences averaged in the gradient-flow curves
    stop_when_solved: bool = True  # as in 1997: a run ends when it meets the criterion

    def __post_init__(self) -> None:
        if isinstance(self.tasks, str):
            self.tasks = [self.tasks]
        unknown = [t for t in self.tasks if t not in PROBLEMS]
        if unknown or not self.tasks:
            raise ValueError(f"unknown task(s) {unknown}; choose from {', '.join(PROBLEMS)}")
        self.tasks = list(dict.fromkeys(self.tasks))
        if not self.lengths:
            raise ValueError("at least one sequence length is needed")
        for length in self.lengths:
            minimum = 10 if "temporal-order" in self.tasks else 2
            if not isinstance(length, int) or isinstance(length, bool) or length < minimum:
                raise ValueError(f"sequence lengths must be integers >= {minimum} "
                                 f"(the temporal-order problem needs 10), got {length!r}")
        self.lengths = sorted(set(self.lengths))
        for name in ("seeds", "steps", "hidden_size", "batch_size", "eval_every", "val_size", "test_size",
                     "gradient_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    @classmethod
    def quick(cls, **overrides) -> "LongMemoryConfig":
        """The reduced study of ``--quick`` (tests, README): T = 10 and 50, one seed, 800 steps.

        About 25 s on an idle core. With seed 0 the LSTM solves the adding problem at T = 50 after 500
        steps and the RNN stays at the constant baseline (seeds 0-3 solved it in 300-600 steps).
        """
        values = dict(lengths=[10, 50], seeds=1, steps=800, val_size=500, test_size=500, gradient_batch=128)
        values.update(overrides)
        return cls(**values)

    def lr_for(self, task: str) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[task]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ----------------------------------------------------------------------------------------- model
@register_model("long_memory_net")
class LongMemoryNet(torch.nn.Module):
    """A recurrent layer (``lstmkit.nn.LSTM`` or ``RNN``) and a linear head on its last hidden state.

    ``forward(x)``: x (N, T, input_size) -> (N, output_size).
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, output_size: int, *, backend: str = "auto"):
        super().__init__()
        if cell not in MODELS:
            raise ValueError(f"cell must be one of {MODELS}, got {cell!r}")
        self.cell, self.input_size, self.hidden_size, self.output_size = cell, input_size, hidden_size, output_size
        self.backend = backend
        layer = LSTM if cell == "lstm" else RNN
        self.rnn = layer(input_size, hidden_size, batch_first=True, backend=backend)
        self.head = torch.nn.Linear(hidden_size, output_size)

    def get_config(self) -> dict:
        return {"cell": self.cell, "input_size": self.input_size, "hidden_size": self.hidden_size,
                "output_size": self.output_size, "backend": self.backend}

    @classmethod
    def from_config(cls, config: dict) -> "LongMemoryNet":
        config = dict(config)
        return cls(config.pop("cell"), **config)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)  # (N, T, H)
        return self.head(out[:, -1])

    def unrolled(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """``forward`` one step per call: (prediction, [h_1, ..., h_T]), each h_t (N, H) a node of the graph.

        The state goes from each call to the next, so ``h_t`` is exactly the tensor ``h_{t+1}`` is
        computed from and the gradient with respect to it is the total derivative through time.
        """
        state = None
        hidden: list[Tensor] = []
        for x_t in x.unbind(1):  # T x (N, F)
            _, state = self.rnn(x_t.unsqueeze(1), state)
            if isinstance(state, tuple):  # LSTM: (h, c), each (1, N, H)
                h = state[0][0]
                state = (h.unsqueeze(0), state[1])
            else:
                h = state[0]
                state = h.unsqueeze(0)
            hidden.append(h)  # (N, H), the very tensor the next step reads
        return self.head(hidden[-1]), hidden


def parameter_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def matched_rnn_hidden_size(problem: Problem, lstm_hidden: int) -> int:
    """RNN units whose parameter count (layer + head) is closest to that of the LSTM with ``lstm_hidden``."""
    I, O = problem.input_size, problem.output_size

    def count_lstm(h: int) -> int:
        return 4 * h * (I + h) + 8 * h + h * O + O

    def count_rnn(h: int) -> int:
        return h * (I + h) + 2 * h + h * O + O

    target = count_lstm(lstm_hidden)
    # h^2 + (I + 2 + O) h + O = target, and the integers either side of the root
    b = I + 2 + O
    root = (-b + math.sqrt(b * b + 4 * (target - O))) / 2
    return min((max(1, math.floor(root)), math.ceil(root)), key=lambda h: abs(count_rnn(h) - target))


def build_model(cell: str, problem: Problem, lstm_hidden: int) -> LongMemoryNet:
    hidden = lstm_hidden if cell == "lstm" else matched_rnn_hidden_size(problem, lstm_hidden)
    return LongMemoryNet(cell, problem.input_size, hidden, problem.output_size)


# --------------------------------------------------------------------------------- gradient flow
def hidden_gradient_norms(model: LongMemoryNet, x: Tensor, y: Tensor,
                          loss_fn: Callable[..., Tensor]) -> Tensor:
    r"""(T,) float64: entry t is the mean over the batch of :math:`\lVert \partial L_n / \partial h_t \rVert_2`.

    :math:`L_n` is sequence n's own loss (``loss_fn(prediction, y, reduction="sum")`` is
    differentiated, and :math:`h_t^{(n)}` affects only :math:`L_n`); the derivative is the total one,
    through every later step. Parameters get no gradient.
    """
    with torch.enable_grad():
        prediction, hidden = model.unrolled(x)
        loss = loss_fn(prediction, y, reduction="sum")
        grads = torch.autograd.grad(loss, hidden)  # T x (N, H)
    return torch.stack([g.detach().double().norm(dim=-1).mean() for g in grads])


def _gradient_summary(norms: Tensor) -> dict:
    last = float(norms[-1])
    return {"first_over_last": float(norms[0]) / last if last > 0 else float("nan"),
            "norms": [float(v) for v in norms]}


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
class _Data:
    """The fixed evaluation sets of one (task, length)."""

    x_val: Tensor
    y_val: Tensor
    x_test: Tensor
    y_test: Tensor


def _make_data(problem: Problem, length: int, config: LongMemoryConfig) -> _Data:
    def draw(n: int, purpose: str):
        generator = torch.Generator().manual_seed(_stream_seed(config.seed, problem.name, length, purpose))
        return problem.generate(n, length, generator=generator)

    return _Data(*draw(config.val_size, "validation"), *draw(config.test_size, "test"))


def train_model(problem: Problem, cell: str, length: int, seed: int, config: LongMemoryConfig,
                data: _Data) -> tuple[LongMemoryNet, dict]:
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
        "gradient_init": _gradient_summary(grad_init), "gradient_trained": _gradient_summary(grad_trained),
    }
    return model, record


def baseline_metrics(problem: Problem, data: _Data) -> dict:
    return problem.metrics(problem.baseline(data.y_test), data.y_test)


# ---------------------------------------------------------------------------------------- summary
def _mean_sd(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return float("nan"), float("nan")
    return statistics.fmean(finite), (statistics.stdev(finite) if len(finite) > 1 else 0.0)


def summarize(runs: list[dict]) -> list[dict]:
    """One row per (task, length, model): solved seeds, steps to solve, test metrics over seeds."""
    rows = []
    keys = list(dict.fromkeys((r["task"], r["length"], r["model"]) for r in runs))
    for task, length, cell in keys:
        group = [r for r in runs if (r["task"], r["length"], r["model"]) == (task, length, cell)]
        solved = [r["steps_to_solve"] for r in group if r["solved"]]
        row = {"task": task, "length": length, "model": cell, "hidden_size": group[0]["hidden_size"],
               "parameters": group[0]["parameters"], "seeds": len(group), "solved": len(solved),
               "steps_to_solve": solved, "median_steps_to_solve": statistics.median(solved) if solved else None,
               "diverged": sum(r["diverged"] for r in group)}
        for metric in group[0]["test"]:
            row[f"{metric}_mean"], row[f"{metric}_sd"] = _mean_sd([r["test"][metric] for r in group])
        for when in ("init", "trained"):
            row[f"gradient_ratio_{when}"] = statistics.median(r[f"gradient_{when}"]["first_over_last"] for r in group)
        rows.append(row)
    return rows


def _fmt(value: float, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) < 10 ** -digits or abs(value) >= 1e4):
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def markdown_report(results: dict) -> str:
    """``results.md``: per task, one table with a row per length and model and the baseline."""
    config = results["config"]
    lines = ["# Long-memory study: vanilla RNN against LSTM", ""]
    lines.append(
        f"Settings: lengths {config['lengths']}, {config['seeds']} seed(s) from {config['seed']}, at most "
        f"{config['steps']} Adam steps of {config['batch_size']} fresh sequences, gradient norm clipped at "
        f"{config['clip_grad_norm']}, LSTM {config['hidden_size']} units, RNN matched in parameters; "
        f"validation every {config['eval_every']} steps; test set of {config['test_size']} sequences. "
        f"Wall time {results['wall_seconds'] / 60:.1f} min."
    )
    lines.append("")
    for task in config["tasks"]:
        problem = PROBLEMS[task]
        rows = [r for r in results["summary"] if r["task"] == task]
        lr = results["learning_rates"][task]
        if task == "adding":
            criterion = f"solved: validation MSE < {problem.solved_at}"
            cols = [("test MSE", "mse", 4), ("share with error < 0.04", "within_0.04", 3)]
        else:
            criterion = f"solved: validation accuracy >= {problem.solved_at:.0%}"
            cols = [("test accuracy", "accuracy", 3), ("test cross-entropy", "cross_entropy", 3)]
        lines += [f"## {task} ({problem.description})", "",
                  f"Adam lr {lr}; {criterion}. Gradient ratio: median over seeds of "
                  "‖∂L/∂h₁‖ / ‖∂L/∂h_T‖ (how much of the loss gradient reaches the first step), "
                  "at initialisation → after training.", ""]
        header = ["T", "model", "params", "solved", "steps to solve", *(c[0] for c in cols), "gradient ratio"]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "|".join(["---"] * len(header)) + "|")
        for length in config["lengths"]:
            for row in (r for r in rows if r["length"] == length):
                steps = ("—" if not row["steps_to_solve"] else
                         f"{row['median_steps_to_solve']:g}" + (f" ({', '.join(map(str, row['steps_to_solve']))})"
                                                               if len(row["steps_to_solve"]) > 1 else ""))
                solved = f"{row['solved']}/{row['seeds']}"
                if row["diverged"]:
                    solved += f" ({row['diverged']} diverged)"
                values = []
                for _, key, digits in cols:
                    mean, sd = row[f"{key}_mean"], row[f"{key}_sd"]
                    values.append(_fmt(mean, digits) + (f" ± {_fmt(sd, digits)}" if row["seeds"] > 1 else ""))
                ratio = f"{_fmt(row['gradient_ratio_init'])} → {_fmt(row['gradient_ratio_trained'])}"
                name = f"{MODEL_NAMES[row['model']]} ({row['hidden_size']} units)"
                lines.append(f"| {length} | {name} | {row['parameters']:,} | {solved} | {steps} | "
                             + " | ".join(values) + f" | {ratio} |")
            base = results["baselines"][task][str(length)]
            lines.append(f"| {length} | {problem.baseline_name} | 0 | — | — | "
                         + " | ".join(_fmt(base[key], digits) for _, key, digits in cols) + " | — |")
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ study
def run_study(config: LongMemoryConfig, out: str | Path, *, on_run: Callable[[dict], None] | None = None) -> dict:
    """Run the whole study and write its files to ``out``; returns what ``results.json`` holds.

    ``on_run(record)`` is called after each trained model (the CLI prints a progress line from it).
    """
    from lstmkit.plots import gates
    from lstmkit.tasks import long_memory_plots as lmp

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not empty; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    runs, baselines, kept = [], {}, {}
    for task in config.tasks:
        problem = PROBLEMS[task]
        baselines[task] = {}
        for length in config.lengths:
            data = _make_data(problem, length, config)
            baselines[task][str(length)] = baseline_metrics(problem, data)
            for index in range(config.seeds):
                for cell in MODELS:
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
    lmp.summary_plot(results, out / "summary.png")
    lmp.learning_curves(results, out / "learning_curves.png")
    lmp.gradient_flow_plot(results, out / "gradient_flow.png")
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
            (out / "samples").mkdir(exist_ok=True)
            frame = pd.DataFrame(data.x_test[0].numpy(), columns=columns)
            atomic_write_text(out / "samples" / f"{task}-T{length}.csv", frame.to_csv(index_label="step"))


