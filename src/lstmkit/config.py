"""What every dataclass config shares: a JSON-able dict out, and back in with unknown fields refused."""
from __future__ import annotations

import dataclasses

from lstmkit.errors import ConfigError


class DictConfig:
    """Mixin for ``@dataclass`` configs (TrainConfig, the tasks' configs).

    ``to_dict()`` gives plain JSON-able values; ``from_dict()`` rebuilds the config and names any field
    it does not know, so a typo in a saved or hand-edited config.json fails loudly instead of vanishing.
    """

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{cls.__name__}: unknown fields {unknown}; known fields: {sorted(known)}")
        return cls(**values)
