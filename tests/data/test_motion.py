"""The .ts reader, the motion data sets (from a fake package directory, and the real files when sktime
or aeon is installed) and the long-table-to-sequences helper."""
import types

import numpy as np
import pandas as pd
import pytest

from lstmkit.data import datasets, list_datasets, load_dataset
from lstmkit.data.motion import load_basic_motions, load_gunpoint, load_japanese_vowels, read_ts, sequences_from_frame
from lstmkit.errors import DataError, InputFileError, MissingDependencyError

UNIVARIATE = """\
# A comment, kept in the header
#   and another
@problemName Tiny
@timeStamps false
@missing false
@univariate true
@equalLength true
@seriesLength 3
@classLabel true up down
@data
1,2,3:up
3.5,-2,1e-3:down
"""

MULTIVARIATE_UNEQUAL = """\
@problemName Ragged
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength false
@classLabel true a b

@data
1,2,3:4,5,6:a
7,?:NaN,8:b
"""


def _write(tmp_path, text, name="x.ts"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_ts_univariate_equal_length(tmp_path):
    cases, labels, header = read_ts(_write(tmp_path, UNIVARIATE))
    assert labels == ["up", "down"]
    assert [c.shape for c in cases] == [(3, 1), (3, 1)] and cases[0].dtype == np.float64
    np.testing.assert_array_equal(cases[1][:, 0], [3.5, -2, 1e-3])
    assert header["problemName"] == "Tiny" and header["univariate"] is True and header["seriesLength"] == 3
    assert header["classLabel"] is True and header["classes"] == ["up", "down"]
    assert header["comments"] == ["A comment, kept in the header", "and another"]


def test_read_ts_multivariate_unequal_lengths_and_missing_values(tmp_path):
    cases, labels, header = read_ts(_write(tmp_path, MULTIVARIATE_UNEQUAL))
    assert labels == ["a", "b"] and header["dimensions"] == 2 and header["equalLength"] is False
    np.testing.assert_array_equal(cases[0], [[1, 4], [2, 5], [3, 6]])
    assert cases[1].shape == (2, 2)
    np.testing.assert_array_equal(np.isnan(cases[1]), [[False, True], [True, False]])
    assert cases[1][0, 0] == 7 and cases[1][1, 1] == 8


def test_read_ts_tags_are_case_insensitive(tmp_path):
    text = UNIVARIATE.replace("@classLabel", "@CLASSLABEL").replace("@data", "@DATA")
    assert read_ts(_write(tmp_path, text))[1] == ["up", "down"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (MULTIVARIATE_UNEQUAL.replace("7,?:NaN,8:b", "1,2:3,4:a\n7,8:9,10:a\n1,2,3:4,5:b"),
         r"x\.ts: case 3 \(line 13\): channel 1 has 2 values, channel 0 has 3"),
        (MULTIVARIATE_UNEQUAL.replace("7,?:NaN,8:b", "7,8:9,10:c"),
         r"case 1 \(line 11\): label 'c' is not in @classLabel \(a b\)"),
        (UNIVARIATE.replace("@timeStamps false", "@timeStamps true"),
         r"x\.ts, line 10: @timeStamps true .* is not supported"),
        (UNIVARIATE.replace("3.5,-2,", "(0,3.5),(1,-2),"), r"case 1 \(line 12\): a \(time, value\) pair"),
        (MULTIVARIATE_UNEQUAL.replace("7,?:NaN,8:b", "7,8:b"),
         r"case 1 \(line 11\): 1 channels, expected 2 \(@dimensions\)"),
        (UNIVARIATE.replace("3.5,-2,", "3.5,abc,"), r"case 1 \(line 12\): channel 0, value 1: 'abc' is not a number"),
        (UNIVARIATE.replace("3.5,-2,1e-3", "3.5,-2"),
         r"case 1 has 2 steps under @equalLength true \(@seriesLength 3\)"),
        (UNIVARIATE.replace("@classLabel true up down", "@classLabel false"), "has no class labels"),
        (UNIVARIATE.replace("@univariate true", "@univariate maybe"), r"line 6: @univariate needs true or false"),
        (UNIVARIATE.replace("@data\n", ""), "expected an @tag or @data before the values"),
        (UNIVARIATE.split("@data")[0], "no @data line"),
        (UNIVARIATE.split("@data")[0] + "@data\n", "no cases after @data"),
    ],
)
def test_read_ts_errors_name_the_file_and_line(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_ts(_write(tmp_path, text))


def test_read_ts_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="no such .ts file"):
        read_ts(tmp_path / "absent.ts")


# ------------------------------------------------------------------------------- the data sets
def _archive_file(problem, labels, cases):
    rows = "\n".join(":".join(",".join(map(str, channel)) for channel in case) + f":{label}"
                     for case, label in zip(cases, labels))
    return (f"#fake\n@problemName {problem}\n@timeStamps false\n@univariate false\n@dimensions {len(cases[0])}\n"
            f"@equalLength false\n@classLabel true {' '.join(sorted(set(labels)))}\n@data\n{rows}\n")


def _fake_package(root, module, problem):
    """``<root>/<module>/datasets/data/<problem>/`` with a 3-case train file and a 2-case test file."""
    folder = root / module / "datasets" / "data" / problem
    folder.mkdir(parents=True)
    train = [[[1, 2, 3], [4, 5, 6]], [[7, 8], [9, 10]], [[0], [1]]]
    (folder / f"{problem}_TRAIN.ts").write_text(_archive_file(problem, ["walk", "run", "walk"], train))
    (folder / f"{problem}_TEST.ts").write_text(_archive_file(problem, ["run", "walk"], [[[5, 5], [6, 6]], [[1], [2]]]))
    return root / module


@pytest.fixture
def packages(monkeypatch):
    """find_spec answers for 'sktime' and 'aeon' from this dict of module -> directory (None: not installed)."""
    found = {"sktime": None, "aeon": None}
    real = datasets.importlib.util.find_spec

    def find_spec(name, *args):
        if name in found:
            return None if found[name] is None else types.SimpleNamespace(submodule_search_locations=[str(found[name])])
        return real(name, *args)

    monkeypatch.setattr(datasets.importlib.util, "find_spec", find_spec)
    return found


def test_loader_builds_the_long_table_from_sktime(tmp_path, packages):
    packages["sktime"] = _fake_package(tmp_path, "sktime", "BasicMotions")
    frame = load_basic_motions()
    assert list(frame.columns) == ["sequence", "split", "label", "step", "dim_0", "dim_1"]
    assert frame["sequence"].tolist()[:6] == ["train_0000"] * 3 + ["train_0001"] * 2 + ["train_0002"]
    assert frame["split"].tolist() == ["train"] * 6 + ["test"] * 3
    assert frame["label"].tolist() == ["walk"] * 3 + ["run"] * 2 + ["walk", "run", "run", "walk"]
    assert frame["step"].tolist() == [0, 1, 2, 0, 1, 0, 0, 1, 0]
    assert frame["step"].dtype == np.int64 and frame["dim_0"].dtype == np.float64
    assert frame["dim_1"].tolist() == [4, 5, 6, 9, 10, 1, 6, 6, 2]
    assert frame.attrs["name"] == "basic_motions" and "UEA & UCR" in frame.attrs["source"]
    # and back to arrays
    x, labels, ids = sequences_from_frame(frame, id_column="sequence", label_column="label",
                                          channels=["dim_0", "dim_1"], step_column="step")
    assert ids == ["train_0000", "train_0001", "train_0002", "test_0000", "test_0001"]
    assert labels == ["walk", "run", "walk", "run", "walk"]
    np.testing.assert_array_equal(x[1], [[7, 9], [8, 10]])


def test_loader_falls_back_to_aeon(tmp_path, packages):
    packages["aeon"] = _fake_package(tmp_path, "aeon", "GunPoint")
    assert load_gunpoint()["sequence"].nunique() == 5
    packages["sktime"] = tmp_path / "sktime-without-data"  # installed, but without the files
    packages["sktime"].mkdir()
    assert load_dataset("gunpoint")["sequence"].nunique() == 5


def test_loader_names_what_to_install(tmp_path, packages):
    with pytest.raises(MissingDependencyError, match=r"sktime is not installed, aeon is not installed: "
                                                     r"pip install 'lstmkit\[motion-data\]'"):
        load_japanese_vowels()
    packages["sktime"] = tmp_path / "sktime"
    packages["sktime"].mkdir()
    with pytest.raises(MissingDependencyError, match="the installed sktime does not ship it"):
        load_japanese_vowels()


def test_the_motion_sets_are_registered():
    infos = {i.name: i for i in list_datasets() if i.task == "motion"}
    assert sorted(infos) == ["basic_motions", "gunpoint", "japanese_vowels"]
    for info in infos.values():
        assert info.requirement == "sktime==1.2.0" and "lstmkit[motion-data]" in info.install
        assert "UEA & UCR" in info.source and info.license and info.description


# ------------------------------------------------------------------------------- the real files
@pytest.mark.extra
@pytest.mark.parametrize(
    ("name", "sizes", "channels", "lengths", "classes"),
    [
        ("basic_motions", (40, 40), 6, (100, 100), 4),
        ("gunpoint", (50, 150), 1, (150, 150), 2),
        ("japanese_vowels", (270, 370), 12, (7, 29), 9),
    ],
)
def test_the_real_files(name, sizes, channels, lengths, classes):
    try:
        frame = load_dataset(name)
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    per_sequence = frame.groupby("sequence", sort=False).agg(split=("split", "first"), steps=("step", "size"))
    assert tuple(per_sequence["split"].value_counts()[["train", "test"]]) == sizes
    assert [c for c in frame.columns if c.startswith("dim_")] == [f"dim_{k}" for k in range(channels)]
    assert (per_sequence["steps"].min(), per_sequence["steps"].max()) == lengths
    assert frame["label"].nunique() == classes and not frame.isna().any().any()


# ------------------------------------------------------------------------------- sequences_from_frame
def _table():
    return pd.DataFrame({
        "id": ["b", "b", "a", "a", "b"], "label": ["x", "x", "y", "y", "x"], "t": [2, 0, 0, 1, 1],
        "v": [2.0, 0.0, 10.0, 11.0, 1.0], "w": [20.0, 0.0, 0.0, 1.0, 10.0],
    })  # fmt: skip


def test_sequences_in_order_of_first_appearance_sorted_by_step():
    x, labels, ids = sequences_from_frame(_table(), id_column="id", label_column="label", channels=["v", "w"],
                                          step_column="t")
    assert ids == ["b", "a"] and labels == ["x", "y"]
    np.testing.assert_array_equal(x[0], [[0, 0], [1, 10], [2, 20]])
    np.testing.assert_array_equal(x[1], [[10, 0], [11, 1]])
    # without a step column the rows keep their order
    x, _, _ = sequences_from_frame(_table(), id_column="id", label_column="label", channels=["v"])
    np.testing.assert_array_equal(x[0][:, 0], [2, 0, 1])


def test_ids_and_labels_come_back_as_strings():
    frame = _table().assign(id=[7, 7, 3, 3, 7], label=[1, 1, 2, 2, 1])
    _, labels, ids = sequences_from_frame(frame, id_column="id", label_column="label", channels=["v"])
    assert ids == ["7", "3"] and labels == ["1", "2"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="w"), r"data\.csv: no column 'w'; available: id, label, t, v"),
        (lambda f: f.assign(w=[1.0, 2.0, 3.0, np.nan, 5.0]),
         r"data\.csv: sequence 'a': column 'w' is missing a value at row 3"),
        (lambda f: f.assign(v=["1", "2", "oops", "4", "5"]),
         r"sequence 'a': column 'v' has 'oops', not a finite number"),
        (lambda f: f.assign(label=["x", "x", "y", "y", "z"]),
         r"sequence 'b' has two labels in column 'label': 'x' \(row 0\) and 'z' \(row 4\)"),
        (lambda f: f.assign(label=["x", "x", None, "y", "x"]),
         r"sequence 'a': column 'label' is missing a value at row 2"),
        (lambda f: f.assign(id=["b", None, "a", "a", "b"]), r"column 'id' is missing a value at row 1"),
        (lambda f: f.assign(t=[2, 0, 0, 1, 0]), r"sequence 'b' has t 0 twice \(rows 1 and 4\)"),
    ],
)
def test_sequences_from_frame_errors(change, message):
    with pytest.raises(DataError, match=message):
        sequences_from_frame(change(_table()), id_column="id", label_column="label", channels=["v", "w"],
                             step_column="t", source="data.csv")
