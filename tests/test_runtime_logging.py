"""lstmkit.runtime.quiet_loggers: a block that silences chatty loggers and gives their levels back."""
import logging

import pytest

from lstmkit.runtime import quiet_loggers


def test_loggers_are_held_at_error_inside_the_block_and_restored_after(caplog):
    chatty, loud = logging.getLogger("lstmkit.test.chatty"), logging.getLogger("lstmkit.test.loud")
    chatty.setLevel(logging.NOTSET)
    loud.setLevel(logging.CRITICAL)  # already quieter than ERROR: stays so
    root_level = logging.getLogger().level
    with caplog.at_level(logging.DEBUG):
        with quiet_loggers("lstmkit.test.chatty", "lstmkit.test.loud", ""):
            chatty.warning("hidden")
            chatty.error("shown")
            assert loud.level == logging.CRITICAL and logging.getLogger().level == logging.ERROR
        chatty.warning("after")
    assert [r.getMessage() for r in caplog.records] == ["shown", "after"]
    assert chatty.level == logging.NOTSET and loud.level == logging.CRITICAL
    assert logging.getLogger().level == root_level


def test_levels_come_back_when_the_block_raises():
    logger = logging.getLogger("lstmkit.test.raising")
    logger.setLevel(logging.INFO)
    with pytest.raises(ValueError):
        with quiet_loggers("lstmkit.test.raising"):
            raise ValueError
    assert logger.level == logging.INFO
