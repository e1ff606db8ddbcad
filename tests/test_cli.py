"""The command-line front end: help, exit codes, the demo."""
import subprocess
import sys

from lstmkit.cli import main


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "<task>" in capsys.readouterr().err


def test_python_dash_m_works():
    result = subprocess.run([sys.executable, "-m", "lstmkit", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("lstmkit ")
