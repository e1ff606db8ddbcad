import pytest
from tiny_runs import train_action, train_text


@pytest.fixture(scope="module")
def action_dir(tmp_path_factory):
    """A tiny sensor action run directory, one per test module (the tests write graphs into it)."""
    return train_action(tmp_path_factory.mktemp("action") / "action_run")


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    """A tiny text-classifier run directory, one per test module."""
    return train_text(tmp_path_factory.mktemp("text") / "text_run")
