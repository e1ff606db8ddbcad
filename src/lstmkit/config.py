"""What every dataclass config shares: a JSON-able dict out, and back in with unknown fields refused;
the check every config's ``__post_init__`` makes of its counts (:func:`check_positive_ints`)."""
from __future__ import annotations

import dataclasses
from typing import ClassVar

from lstmkit.errors import ConfigError


class DictConfig:
    """Mixin for ``@dataclass`` configs (TrainConfig, the tasks' configs).

    ``to_dict()`` gives plain JSON-able values; ``from_dict()`` rebuilds the config and names any field
    it does not know, so a typo in a saved or hand-edited config.json fails loudly instead of vanishing.
    """

    #: Values for fields that a config saved by an older lstmkit lacks, where a new config's default
    #: would change what the saved run does (a resumed run must go on as it started).
    saved_defaults: ClassVar[dict] = {}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown fields {unknown}; known fields: {sorted(known)}")
        return cls(**values)

    @classmethod
    def from_saved(cls, values: dict):
        """:meth:`from_dict` of a config read back from a run directory: the fields it lacks take
        ``saved_defaults`` before the dataclass defaults."""
        return cls.from_dict({**cls.saved_defaults, **values})


def check_positive_ints(config, names, *, optional: bool = False) -> None:
    """:class:`~lstmkit.errors.ConfigError` naming the first of ``names`` that is not an integer >= 1
    (a bool is not an integer here: ``epochs=True`` is a mistake, not 1). ``optional``: None passes too
    (a value left to be chosen from the data)."""
    for name in names:
        value = getattr(config, name)
        if optional and value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
