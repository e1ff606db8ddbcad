"""Settings of the long-memory study (:class:`LongMemoryConfig`) and the constants every part shares."""
from __future__ import annotations

from dataclasses import dataclass, field

from lstmkit.config import DictConfig
from lstmkit.errors import ConfigError
from lstmkit.tasks.cells import CELL_NAMES

# The problems' names (the keys of problems.PROBLEMS, which a test keeps equal): named here so that the
# command line can list them without importing torch.
PROBLEM_NAMES = ("adding", "temporal-order")
MODELS = ("rnn", "lstm")  # the study's models by default; any of CELL_NAMES may be compared (--models)
MODEL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "peephole": "peephole LSTM", "cifg": "CIFG LSTM",
               "layernorm": "layer-norm LSTM", "gru": "GRU"}
# Adam's step size per problem, the same for both models. Chosen on a few pilot runs (seed 0, T = 50
# and 100): 1e-2 lets the LSTM find the adding solution 2-3x sooner than 3e-3, while on the
# temporal-order problem 1e-2 kept the LSTM at chance at T = 100 and 3e-3 solved it in 300 steps.
DEFAULT_LR = {"adding": 1e-2, "temporal-order": 3e-3}
INPUT_COLUMNS = {"adding": ["value", "marker"], "temporal-order": ["a", "b", "c", "d", "X", "Y"]}


@dataclass
class LongMemoryConfig(DictConfig):
    """Settings of one study. The defaults are the README's run (about 15 minutes on 2 busy cores)."""

    tasks: list[str] = field(default_factory=lambda: list(PROBLEM_NAMES))
    # The recurrent cells compared (lstmkit.tasks.cells.CELL_NAMES); the LSTM is always one: the others get the
    # unit count that matches its parameter count, and its gates are drawn.
    models: list[str] = field(default_factory=lambda: list(MODELS))
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
        unknown = [t for t in self.tasks if t not in PROBLEM_NAMES]
        if unknown or not self.tasks:
            raise ConfigError(f"unknown task(s) {unknown}; choose from {', '.join(PROBLEM_NAMES)}")
        self.tasks = list(dict.fromkeys(self.tasks))
        if isinstance(self.models, str):
            self.models = [self.models]
        unknown = [m for m in self.models if m not in CELL_NAMES]
        if unknown:
            raise ConfigError(f"unknown model(s) {unknown}; choose from {', '.join(CELL_NAMES)}")
        if "lstm" not in self.models:
            raise ConfigError(f"models must include lstm (the others are matched to it in parameters), "
                              f"got {self.models}")
        self.models = list(dict.fromkeys(self.models))
        if not self.lengths:
            raise ConfigError("at least one sequence length is needed")
        for length in self.lengths:
            minimum = 10 if "temporal-order" in self.tasks else 2
            if not isinstance(length, int) or isinstance(length, bool) or length < minimum:
                raise ConfigError(f"sequence lengths must be integers >= {minimum} "
                                  f"(the temporal-order problem needs 10), got {length!r}")
        self.lengths = sorted(set(self.lengths))
        for name in ("seeds", "steps", "hidden_size", "batch_size", "eval_every", "val_size", "test_size",
                     "gradient_batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.lr is not None and not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer, got {self.seed!r}")

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
