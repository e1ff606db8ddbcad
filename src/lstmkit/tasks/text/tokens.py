"""What both text applications share on top of the run skeleton: the fitted tokeniser and vocabulary."""
from __future__ import annotations

from lstmkit.data.text import Vocabulary
from lstmkit.tasks.base import Application


class TextApplication(Application):
    """An :class:`~lstmkit.tasks.base.Application` whose state holds a ``tokenizer`` and a ``vocabulary``
    (saved as JSON in ``config.json["data"]``)."""

    @property
    def tokenizer(self):
        """The fitted (or loaded) tokeniser; before fitting, the config's."""
        return self.state.tokenizer if self.state is not None else self.config.tokenizer()

    @property
    def vocab(self) -> Vocabulary:
        self.require_fitted()
        return self.state.vocabulary
