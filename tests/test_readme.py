"""Every Python example in the README runs as written (in a scratch directory)."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = BLOCKS[index]
    if "airpassengers" in code:
        pytest.importorskip("pmdarima", reason="the example reads AirPassengers from pmdarima (lstmkit[data])")
        code = code.replace('time_column="date")', 'time_column="date", epochs=20, ensemble=1)')
    from lstmkit.data.errors import MissingDependencyError

    try:
        exec(compile(code, f"README.md[python block {index}]", "exec"), {"__name__": f"readme_{index}"})
    except MissingDependencyError as error:  # an optional data package (an extra) is not installed
        pytest.skip(str(error))
