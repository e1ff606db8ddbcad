import pytest
from tiny_runs import monthly_table, train_action, train_anomaly, train_forecast, train_text, train_translator


@pytest.fixture(scope="module")
def action_dir(tmp_path_factory):
    """A tiny sensor action run directory, one per test module (the tests write graphs into it)."""
    return train_action(tmp_path_factory.mktemp("action") / "action_run")


@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    """A tiny text-classifier run directory, one per test module."""
    return train_text(tmp_path_factory.mktemp("text") / "text_run")


# The runs below are trained once for the session: tests may write graphs beside their files, never change them.
@pytest.fixture(scope="session")
def forecast_run(tmp_path_factory):
    """(a tiny forecaster's run directory, the table it was trained on)."""
    return train_forecast(tmp_path_factory.mktemp("forecast") / "run"), monthly_table()


@pytest.fixture(scope="session")
def anomaly_runs(tmp_path_factory):
    """One tiny run per anomaly method: {"prediction": dir, "reconstruction": dir}."""
    return {method: train_anomaly(tmp_path_factory.mktemp("anomaly") / method, method)
            for method in ("prediction", "reconstruction")}


@pytest.fixture(scope="session")
def translator_dir(tmp_path_factory):
    """A tiny word-level translator with random weights (tiny_runs.train_translator)."""
    pytest.importorskip("num2words", reason="pip install 'lstmkit[translate]'")
    return train_translator(tmp_path_factory.mktemp("translate") / "run")
