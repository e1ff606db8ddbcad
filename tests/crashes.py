"""A training run killed part-way, for the resume tests of the trainer and every application (tests/ is on sys.path)."""


class Crash(Exception):
    """What the callback raises: a stand-in for a killed process."""


class CrashAfterEpoch:
    """A Trainer callback that raises :class:`Crash` once epoch ``epoch`` has been checkpointed."""

    def __init__(self, epoch: int = 2):
        self.epoch = epoch

    def on_epoch_end(self, trainer, row):
        if row["epoch"] == self.epoch:
            raise Crash


class CrashAtStep:
    """A Trainer callback that raises :class:`Crash` at the end of optimiser step ``step`` (mid-epoch)."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, trainer, info):
        if info["step"] == self.step:
            raise Crash
