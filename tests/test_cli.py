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


# --------------------------------------------------------------------------- shared options
import argparse  # noqa: E402
import logging  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lstmkit.cli import build_parser  # noqa: E402
from lstmkit.cli.common import parse_threads  # noqa: E402
from lstmkit.errors import DataError  # noqa: E402


@pytest.mark.parametrize("text, expected", [("auto", "auto"), ("AUTO", "auto"), ("1", 1), (" 3 ", 3)])
def test_threads_accepts_auto_and_positive_integers(text, expected):
    assert parse_threads(text) == expected


@pytest.mark.parametrize("text", ["abc", "0", "-2", "1.5", ""])
def test_threads_refuses_anything_else(text):
    with pytest.raises(argparse.ArgumentTypeError, match="positive integer or 'auto'"):
        parse_threads(text)


def test_bad_threads_flag_exits_2_and_names_it(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["forecast", "train", "data.csv", "--target", "y", "--threads", "abc"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--threads" in err and "'abc'" in err


@pytest.mark.parametrize("argv", [["-v", "datasets", "list"], ["datasets", "-v", "list"], ["datasets", "list", "-v"]])
def test_verbose_and_debug_are_accepted_before_and_after_the_task(argv):
    args = build_parser().parse_args(argv)
    assert args.verbose is True and args.debug is False
    assert build_parser().parse_args(argv + ["--debug"]).debug is True


def test_flags_default_off_whatever_the_position():
    args = build_parser().parse_args(["datasets", "list"])
    assert args.verbose is False and args.debug is False


# ------------------------------------------------------------------------- user error or bug
def _fail_with(monkeypatch, error):
    import lstmkit.data.datasets as datasets

    def boom():
        raise error

    monkeypatch.setattr(datasets, "list_datasets", boom)


def test_a_user_error_is_one_line_and_exit_2(monkeypatch, capsys):
    _fail_with(monkeypatch, DataError("column 'x' has text at line 7"))
    assert main(["datasets", "list"]) == 2
    err = capsys.readouterr().err
    assert err == "lstmkit: error: column 'x' has text at line 7\n"


def test_debug_shows_the_traceback_of_a_user_error(monkeypatch, capsys):
    _fail_with(monkeypatch, DataError("bad column"))
    assert main(["datasets", "list", "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().endswith("lstmkit: error: bad column")


def test_a_bug_keeps_its_traceback_and_exits_1(monkeypatch, capsys):
    # A ValueError from inside lstmkit (say, NumPy on shapes it should never see) is not the user's fault.
    _fail_with(monkeypatch, ValueError("operands could not be broadcast together"))
    assert main(["datasets", "list"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ValueError: operands could not be broadcast together" in err
    assert "internal error" in err and "lstmkit: error:" not in err


def test_a_missing_file_is_the_users_error(tmp_path, capsys):
    code = main(["anomaly", "detect", str(tmp_path / "nope.csv"), "--model", str(tmp_path), "--out",
                 str(tmp_path / "o")])
    assert code == 2
    assert "nope.csv" in capsys.readouterr().err


# --------------------------------------------------------------------------------- datasets
def test_datasets_list_names_each_set_with_its_source(capsys):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("seattle_weather", "airpassengers", "shakespeare"):
        assert name in out
    assert out.count("source:") >= 9


def test_datasets_export_writes_the_table(tmp_path, capsys):
    path = tmp_path / "weather.csv"
    assert main(["datasets", "export", "seattle_weather", str(path)]) == 0
    frame = pd.read_csv(path)
    assert len(frame) == 1461 and {"date", "temp_max", "precipitation"} <= set(frame.columns)
    assert frame["date"].iloc[0] == "2012-01-01"
    assert "wrote 1461 rows" in capsys.readouterr().out


def test_datasets_export_refuses_an_unknown_name(tmp_path, capsys):
    assert main(["datasets", "export", "weathr", str(tmp_path / "w.csv")]) == 2
    err = capsys.readouterr().err
    assert "unknown data set 'weathr'" in err and "seattle_weather" in err
    assert not (tmp_path / "w.csv").exists()


def test_task_without_verb_prints_its_help(capsys):
    assert main(["datasets"]) == 2
    assert "export" in capsys.readouterr().err


def test_verbose_logs_at_info(monkeypatch):
    seen = {}
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: seen.update(kw))
    main(["datasets", "list", "-v"])
    assert seen["level"] == logging.INFO


def test_the_parser_is_built_without_torch_or_pandas():
    # Every `lstmkit` call builds the whole parser; `lstmkit --help` must not wait seconds for torch.
    code = ("import sys; from lstmkit.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'pandas', 'numpy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_names_kept_apart_from_torch_agree_with_their_owners():
    from lstmkit.nn import CELLS
    from lstmkit.nn.pooling import POOLINGS
    from lstmkit.tasks.cells import CELL_NAMES
    from lstmkit.tasks.studies.long_memory.config import PROBLEM_NAMES
    from lstmkit.tasks.studies.long_memory.problems import PROBLEMS
    from lstmkit.tasks.text.config import POOLINGS as TEXT_POOLINGS

    assert tuple(PROBLEMS) == PROBLEM_NAMES
    assert TEXT_POOLINGS == POOLINGS
    assert CELL_NAMES == tuple(CELLS)  # every train command's --cell choices
