"""The registry imports only what a saved model needs, and finds every application's models."""
import subprocess
import sys
import textwrap

from lstmkit import registry


def test_loading_a_plain_lstm_imports_no_application(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import lstmkit.nn
        from lstmkit.train import load_model, save_model
        save_model(lstmkit.nn.LSTM(3, 4), {str(tmp_path)!r})
        model = load_model({str(tmp_path)!r})
        assert type(model).__name__ == "LSTM", model
        tasks = sorted(m for m in sys.modules if m.startswith("lstmkit.tasks."))
        print(tasks)
        assert not tasks, tasks
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_every_application_model_is_in_the_table_at_its_module():
    names = registry.registered_models()  # imports every module under lstmkit.tasks, sub-packages too
    builtin = {name for name in names if registry.get_model_class(name).__module__.startswith("lstmkit.")}
    assert builtin == set(registry.BUILTIN_MODELS)
    for name in builtin:
        assert registry.get_model_class(name).__module__ == registry.BUILTIN_MODELS[name]


def test_a_model_in_a_subpackage_is_found_by_name_alone():
    code = "from lstmkit.registry import get_model_class; print(get_model_class('long_memory_net').__module__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lstmkit.tasks.studies.long_memory.model"
