"""A training run killed part-way, for the resume tests of every application (tests/ is on sys.path)."""


class Crash(Exception):
    """What the callback raises: a stand-in for a killed process."""


class CrashAfterEpoch:
    """A Trainer callback that raises :class:`Crash` once epoch ``epoch`` has been checkpointed."""

    def __init__(self, epoch: int = 2):
        self.epoch = epoch

    def on_epoch_end(self, trainer, row):
        if row["epoch"] == self.epoch:
            raise Crash
