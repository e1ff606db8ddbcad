import numpy as np
import pandas as pd
import pytest

from lstmkit.data import DataError, infer_frequency, read_table, seasonal_period


def _daily(n=10, start="2020-01-01"):
    dates = pd.date_range(start, periods=n, freq="D")
    return pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "a": np.arange(n, dtype=float), "b": np.arange(n) * 10})


def _csv(tmp_path, frame, name="table.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_reads_a_csv_into_a_time_indexed_numeric_table(tmp_path):
    path = _csv(tmp_path, _daily())
    table = read_table(path, time_column="date")
    assert list(table.columns) == ["a", "b"]
    assert isinstance(table.index, pd.DatetimeIndex) and table.index.name == "date"
    assert table.index.freqstr == "D" and table.index[0] == pd.Timestamp("2020-01-01")
    assert table["b"].tolist() == [10 * i for i in range(10)]
    assert table.attrs == {"source": str(path), "time_column": "date", "freq": "D"}
    only_b = read_table(path, time_column="date", columns=["b"])
    assert list(only_b.columns) == ["b"]


def test_never_mutates_the_callers_frame():
    frame = _daily().iloc[[0, 1, 3, 2, 4, 6, 7]].copy()
    frame.loc[6, "a"] = np.nan
    before = frame.copy(deep=True)
    table = read_table(frame, time_column="date", sort=True, fill="interpolate")
    pd.testing.assert_frame_equal(frame, before)
    # sorted, the gap at 2020-01-06 inserted, both filled linearly in time
    assert table.index.strftime("%d").tolist() == ["01", "02", "03", "04", "05", "06", "07", "08"]
    assert table["a"].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]


def test_unsorted_timestamps_error_or_sort(tmp_path):
    path = _csv(tmp_path, _daily().iloc[[0, 1, 3, 2, 4]])
    with pytest.raises(
        DataError,
        match=r"time column 'date' is not sorted: row 3 \(2020-01-03 00:00:00\) comes before row 2 "
        r"\(2020-01-04 00:00:00\); pass sort=True",
    ):
        read_table(path, time_column="date")
    table = read_table(path, time_column="date", sort=True)
    assert table.index.is_monotonic_increasing and table["a"].tolist() == [0, 1, 2, 3, 4]


def test_duplicate_timestamps_name_both_rows():
    frame = _daily().iloc[[0, 1, 2, 2, 3]]
    with pytest.raises(DataError, match=r"duplicate timestamp 2020-01-03 00:00:00 at rows 2 and 3"):
        read_table(frame, time_column="date")
    # rows are numbered as read, also after sorting
    with pytest.raises(DataError, match=r"duplicate timestamp 2020-01-02 00:00:00 at rows 0 and 3"):
        read_table(_daily().iloc[[1, 0, 2, 1]], time_column="date", sort=True)


def test_gaps_error_or_fill():
    frame = _daily().drop(index=[4, 5])
    with pytest.raises(
        DataError,
        match=r"has gaps: 2 missing 'D' timestamp\(s\), the first 2020-01-05 00:00:00 between row 3 "
        r"\(2020-01-04 00:00:00\) and row 4 \(2020-01-07 00:00:00\); pass fill=",
    ):
        read_table(frame, time_column="date")
    ffilled = read_table(frame, time_column="date", fill="ffill")
    assert len(ffilled) == 10 and ffilled["a"].tolist() == [0, 1, 2, 3, 3, 3, 6, 7, 8, 9]
    interpolated = read_table(frame, time_column="date", fill="interpolate")
    assert interpolated["b"].tolist() == [10.0 * i for i in range(10)]
    irregular = read_table(frame, time_column="date", freq=None)
    assert len(irregular) == 8 and irregular.attrs["freq"] is None


def test_monthly_gap_is_found_by_inferring_the_frequency():
    frame = pd.DataFrame({"month": pd.date_range("2000-01-01", periods=30, freq="MS"), "v": np.arange(30.0)})
    with pytest.raises(DataError, match=r"1 missing 'MS' timestamp\(s\), the first 2000-06-01"):
        read_table(frame.drop(index=[5]), time_column="month")
    assert infer_frequency(frame["month"].drop(index=[5, 17])) == "MS"


def test_irregular_timestamps_need_an_explicit_choice():
    times = ["2020-01-01", "2020-01-02 05:00", "2020-01-05", "2020-01-09 03:00", "2020-01-10"]
    frame = pd.DataFrame({"t": pd.to_datetime(times, format="ISO8601"), "v": range(5)})
    with pytest.raises(DataError, match="cannot infer a regular frequency .* freq=None"):
        read_table(frame, time_column="t")
    with pytest.raises(DataError, match=r"is irregular: row 1 \(2020-01-02 05:00:00\) is not on the 'D' grid"):
        read_table(frame, time_column="t", freq="D")
    assert len(read_table(frame, time_column="t", freq=None)) == 5


def test_missing_values_error_or_fill():
    frame = _daily()
    frame.loc[4, "a"] = np.nan
    frame.loc[7, "a"] = np.nan
    with pytest.raises(DataError, match=r"column 'a' has a missing value at row 4 \(2 missing in that column\); pass fill="):
        read_table(frame, time_column="date")
    assert read_table(frame, time_column="date", fill="ffill")["a"].tolist() == [0, 1, 2, 3, 3, 5, 6, 6, 8, 9]
    assert read_table(frame, time_column="date", fill="interpolate")["a"].tolist() == list(range(10))

    leading = _daily()
    leading.loc[[0, 1], "b"] = np.nan
    with pytest.raises(DataError, match=r"column 'b' starts with 2 missing value\(s\) \(from row 0\); ffill"):
        read_table(leading, time_column="date", fill="ffill")
    trailing = _daily()
    trailing.loc[9, "a"] = np.nan
    with pytest.raises(DataError, match="column 'a' ends with missing values; 'interpolate' needs a later value"):
        read_table(trailing, time_column="date", fill="interpolate")
    assert read_table(trailing, time_column="date", fill="ffill")["a"].iloc[-1] == 8


def test_infinite_values_are_an_error_even_with_fill():
    frame = _daily()
    frame["b"] = frame["b"].astype(float)
    frame.loc[6, "b"] = np.inf
    with pytest.raises(DataError, match=r"column 'b' has an infinite value \(inf\) at row 6"):
        read_table(frame, time_column="date", fill="ffill")


def test_table_without_time_column_keeps_the_callers_index():
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0]}, index=[10, 20, 30])
    frame.attrs["license"] = "CC0"
    table = read_table(frame, fill="interpolate")
    assert table.index.tolist() == [10, 20, 30] and table["x"].tolist() == [1, 2, 3]
    assert table.attrs == {"license": "CC0", "time_column": None, "freq": None}
    with pytest.raises(TypeError, match="columns must be a list of column names, got the string 'x'"):
        read_table(frame, columns="x")


def test_datetime_index_is_the_time_axis():
    frame = pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=pd.DatetimeIndex(["2021-03-01", "2021-02-01", "2021-01-01"], name="when"))
    with pytest.raises(DataError, match="time column 'when' is not sorted: row 1"):
        read_table(frame)
    assert read_table(frame, sort=True)["v"].tolist() == [3, 2, 1]


def test_timezone_aware_times_keep_their_zone():
    times = pd.date_range("2021-03-27 22:00", periods=8, freq="h", tz="Europe/Berlin")  # spans a DST change
    frame = pd.DataFrame({"t": times, "v": np.arange(8.0)}).iloc[[0, 1, 2, 4, 3, 5, 7]]
    table = read_table(frame, time_column="t", sort=True, fill="interpolate")
    assert str(table.index.tz) == "Europe/Berlin" and table.attrs["freq"] == "h"
    assert table["v"].tolist() == list(range(8))


def test_numeric_time_column_is_checked_for_order():
    frame = pd.DataFrame({"step": [0, 1, 3, 2], "v": [0.0, 1.0, 2.0, 3.0]})
    with pytest.raises(DataError, match=r"time column 'step' is not sorted: row 3 \(2\) comes before row 2 \(3\)"):
        read_table(frame, time_column="step")
    assert read_table(frame, time_column="step", sort=True).index.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (lambda f: f.assign(weather=["rain"] * 10), {}, r"column 'weather' is not numeric: row 0 has 'rain'; leave it out"),
        (lambda f: f, {"columns": ["a", "c"]}, r"column 'c' not found; columns are: date, a, b"),
        (lambda f: f, {"time_column": "when"}, r"time column 'when' not found; columns are: date, a, b"),
        (lambda f: f, {"columns": ["date"]}, r"'date' is the time column; it cannot also be a value column"),
        (lambda f: f.assign(date=f["date"].where(f.index != 2, "notadate")), {}, r"time column 'date': row 2 value 'notadate' is not a date/time"),
        (lambda f: f.assign(date=f["date"].where(f.index != 5, None)), {}, r"time column 'date' has a missing timestamp at row 5"),
        (lambda f: f.assign(a=f["a"].astype(str)), {}, r"column 'a' holds numbers stored as"),
        (lambda f: f.iloc[:0], {}, r"DataFrame: the table has no rows"),
        (lambda f: f, {"fill": "bfill"}, r"fill must be one of 'ffill', 'interpolate' or None, got 'bfill'"),
    ],
)
def test_read_table_errors(change, kwargs, match):
    options = {"time_column": "date", **kwargs}
    with pytest.raises(ValueError, match=match) as info:
        read_table(change(_daily()), **options)
    assert "\n" not in str(info.value)  # one line, printable by a CLI


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match="nope.csv: file not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty.csv: the file is empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("date,a\n")
    with pytest.raises(DataError, match="header.csv: the table has no rows"):
        read_table(tmp_path / "header.csv", time_column="date")
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path)
    with pytest.raises(TypeError, match="expects a CSV path or a pandas DataFrame, got list"):
        read_table([1, 2])
    (tmp_path / "semi.csv").write_text("date;a\n2020-01-01;1\n2020-01-02;2\n2020-01-03;3\n")
    assert read_table(tmp_path / "semi.csv", time_column="date", csv_options={"sep": ";"})["a"].tolist() == [1, 2, 3]


def test_real_table_with_a_text_column_is_a_clear_error():
    from lstmkit.data.datasets import MissingDependencyError, load_seattle_weather

    try:
        weather = load_seattle_weather()
    except MissingDependencyError as exc:
        pytest.skip(str(exc))
    with pytest.raises(DataError, match="column 'weather' is not numeric: row 0 has 'drizzle'"):
        read_table(weather, time_column="date")
    table = read_table(weather, time_column="date", columns=["temp_max", "temp_min"])
    assert table.shape == (1461, 2) and table.attrs["freq"] == "D"
    assert table.attrs["license"] == weather.attrs["license"]  # the data set's licence travels with it
    assert seasonal_period(table.index) == 365


@pytest.mark.parametrize(
    ("freq", "n", "period"),
    [
        ("h", None, 24),
        ("15min", None, 96),
        ("D", None, 7),
        ("D", 729, 7),
        ("D", 730, 365),
        ("B", None, 5),
        ("W", None, 52),
        ("2W", None, 26),
        ("MS", None, 12),
        ("ME", None, 12),
        ("QS", None, 4),
        ("YS", None, 1),
        ("7D", 104, 52),
    ],
)
def test_seasonal_period_rule(freq, n, period):
    assert seasonal_period(freq, n=n) == period


def test_seasonal_period_and_frequency_from_timestamps():
    monthly = pd.date_range("1949-01-01", periods=144, freq="MS")
    assert infer_frequency(monthly) == "MS"
    assert seasonal_period(monthly) == 12
    hourly = pd.date_range("2020-01-01", periods=100, freq="h").delete([7, 50])
    assert infer_frequency(hourly) == "h"
    with pytest.raises(DataError, match="need at least 3"):
        infer_frequency(monthly[:2])
