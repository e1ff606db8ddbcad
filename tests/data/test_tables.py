import warnings

import numpy as np
import pandas as pd
import pytest
from pandas.tseries.frequencies import to_offset

from lstmkit.data import DataError, infer_frequency, infer_season, read_table, seasonal_period


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
        match=r"time column 'date' is not sorted: line 5 \(2020-01-03 00:00:00\) is earlier than line 4 "
        r"\(2020-01-04 00:00:00\) before it; pass --sort to sort the rows by time \(sort=True in Python\)$",
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
        r"\(2020-01-04 00:00:00\) and row 4 \(2020-01-07 00:00:00\); pass --fill ffill or --fill interpolate to "
        r"insert and fill the missing timestamps \(fill= in Python, or freq=None to keep the series irregular\)$",
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
    with pytest.raises(DataError, match="cannot infer a regular frequency .*; put them on a regular grid first, or run "
                       "anomaly without --fill.* freq=None"):
        read_table(frame, time_column="t")
    with pytest.raises(DataError, match=r"is irregular: row 1 \(2020-01-02 05:00:00\) is not on the 'D' grid .*; "
                       r"correct or drop that row, or run anomaly without --fill, .*\(freq=None in Python"):
        read_table(frame, time_column="t", freq="D")
    assert len(read_table(frame, time_column="t", freq=None)) == 5


def test_missing_values_error_or_fill():
    frame = _daily()
    frame.loc[4, "a"] = np.nan
    frame.loc[7, "a"] = np.nan
    with pytest.raises(DataError, match=r"column 'a' has a missing value at row 4 \(2 missing in that column\); "
                       r"pass --fill ffill or --fill interpolate \(fill= in Python\), or clean the data first$"):
        read_table(frame, time_column="date")
    assert read_table(frame, time_column="date", fill="ffill")["a"].tolist() == [0, 1, 2, 3, 3, 5, 6, 6, 8, 9]
    assert read_table(frame, time_column="date", fill="interpolate")["a"].tolist() == list(range(10))

    leading = _daily()
    leading.loc[[0, 1], "b"] = np.nan
    with pytest.raises(DataError, match=r"column 'b' starts with 2 missing value\(s\) \(from row 0\); --fill ffill "
                       r"\(fill='ffill' in Python\) has no earlier value"):
        read_table(leading, time_column="date", fill="ffill")
    trailing = _daily()
    trailing.loc[9, "a"] = np.nan
    with pytest.raises(DataError, match=r"column 'a' ends with missing values \(from row 9\); --fill interpolate needs "
                       r"a later value: use --fill ffill \(fill='ffill' in Python\) or drop those rows$"):
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
    with pytest.raises(DataError, match=r"time column 'step' is not sorted: row 3 \(2\) is earlier than row 2 \(3\)"):
        read_table(frame, time_column="step")
    assert read_table(frame, time_column="step", sort=True).index.tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (lambda f: f.assign(weather=["rain"] * 10), {}, r"column 'weather' is not numeric: row 0 has 'rain', not a number; leave it out of --columns"),
        (lambda f: f, {"columns": ["a", "c"]}, r"column 'c' not found; columns are: date, a, b"),
        (lambda f: f, {"time_column": "when"}, r"time column 'when' not found; columns are: date, a, b"),
        (lambda f: f, {"columns": ["date"]}, r"'date' is the time column; it cannot also be a value column"),
        (lambda f: f.assign(date=f["date"].where(f.index != 2, "notadate")), {}, r"time column 'date': row 2 has 'notadate', not a date/time in the format of the rows before it; parse"),
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


# -- where a message points: a CSV's line, a DataFrame's row; the flag first, Python in parentheses ------
# The CSV below has its header on line 1, data rows 0-2 on lines 2-4, then a blank line (5), a line of
# spaces (6), row 3 with a quoted note spanning lines 7-8, another blank line (9), and row 4 on line 10:
# pandas skips the blank lines, so data row 4 is on line 10, not line 6.
_LAYOUT = [("2020-01-01 00:00", "1", "a"), ("2020-01-02 00:00", "2", "b"), ("2020-01-03 00:00", "3", "c"), None,
           "   ", ("2020-01-04 00:00", "4", '"two\nlines"'), None, ("2020-01-05 00:00", "5", "e")]
_LINES = [2, 3, 4, 7, 10]  # the line each data row starts on


def _layout_csv(tmp_path, change=None, newline="\n"):
    """The _LAYOUT CSV, with ``change`` {data row: (date, value)} applied."""
    lines, row = ["date,value,note"], 0
    for entry in _LAYOUT:
        if entry is None or isinstance(entry, str):
            lines.append(entry or "")
            continue
        date, value, note = entry
        date, value = (change or {}).get(row, (date, value))
        lines.append(f"{date},{value},{note}")
        row += 1
    path = tmp_path / "layout.csv"
    path.write_bytes(("\n".join(lines) + "\n").replace("\n", newline).encode())  # the note's line break too
    return path


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_the_layout_csv_reads_as_five_rows_on_known_lines(tmp_path, monkeypatch, newline):
    from lstmkit.data import csv_lines

    path = _layout_csv(tmp_path, newline=newline)
    assert csv_lines.csv_line_numbers(str(path), None, 5).tolist() == _LINES
    assert csv_lines.csv_line_numbers(str(path), None, 4) is None  # rows that do not add up: no line numbers
    # A table without errors is read once: the line numbers are looked for only to word an error.
    monkeypatch.setattr(csv_lines, "csv_line_numbers", lambda *args: pytest.fail("read the file twice"))
    table = read_table(path, time_column="date", columns=["value"])
    assert table["value"].tolist() == [1, 2, 3, 4, 5] and table.attrs["freq"] == "D"


LINE_CASES = [  # (change to the layout's rows, read_table options, message for the CSV file, for its DataFrame)
    ({4: ("2020-01-05 00:00", "oops")}, {},
     r"column 'value' is not numeric: line 10 has 'oops', not a number; leave it out of --columns/--targets/--features "
     r"\(columns= in Python\) or encode it as numbers first$",
     r"column 'value' is not numeric: row 4 has 'oops', not a number; leave it out of --columns"),
    ({4: ("2020-01-05 00:00", "")}, {},
     r"column 'value' has a missing value at line 10 \(1 missing in that column\); pass --fill ffill or --fill "
     r"interpolate \(fill= in Python\), or clean the data first$",
     r"column 'value' has a missing value at row 4 \(1 missing in that column\); pass --fill ffill"),
    ({4: ("2020-01-05 00:00", "inf")}, {"fill": "ffill"},
     r"column 'value' has an infinite value \(inf\) at line 10, where a finite number was expected; replace it or "
     r"drop that row$",
     r"column 'value' has an infinite value \(inf\) at row 4, where a finite number"),
    ({4: ("2020-01-03 00:00", "5")}, {},
     r"time column 'date' is not sorted: line 10 \(2020-01-03 00:00:00\) is earlier than line 7 "
     r"\(2020-01-04 00:00:00\) before it; pass --sort to sort the rows by time \(sort=True in Python\)$",
     r"time column 'date' is not sorted: row 4 \(2020-01-03 00:00:00\) is earlier than row 3 "),
    ({4: ("2020-01-04 00:00", "5")}, {},
     r"time column 'date' has duplicate timestamp 2020-01-04 00:00:00 at lines 7 and 10, where one row per timestamp "
     r"was expected; aggregate or drop the duplicates first$",
     r"duplicate timestamp 2020-01-04 00:00:00 at rows 3 and 4, where"),
    ({4: ("2020-01-07 00:00", "5")}, {},
     r"time column 'date' has gaps: 2 missing 'D' timestamp\(s\), the first 2020-01-05 00:00:00 between line 7 "
     r"\(2020-01-04 00:00:00\) and line 10 \(2020-01-07 00:00:00\); pass --fill ffill or --fill interpolate to insert "
     r"and fill the missing timestamps \(fill= in Python, or freq=None to keep the series irregular\)$",
     r"between row 3 \(2020-01-04 00:00:00\) and row 4 \(2020-01-07 00:00:00\); pass --fill ffill"),
    ({4: ("2020-01-05 06:00", "5")}, {"freq": "D"},
     r"time column 'date' is irregular: line 10 \(2020-01-05 06:00:00\) is not on the 'D' grid that starts at "
     r"2020-01-01 00:00:00; correct or drop that row, or run anomaly without --fill, which accepts irregular "
     r"timestamps \(freq=None in Python skips this check\)$",
     r"is irregular: row 4 \(2020-01-05 06:00:00\) is not on the 'D' grid .*; correct or drop that row, or run "
     r"anomaly without --fill"),
    ({4: ("notadate", "5")}, {},
     r"time column 'date': line 10 has 'notadate', not a date/time in the format of the lines before it; correct it "
     r"in the file \(in Python: parse the column with pd.to_datetime\(\.\.\., format=\.\.\.\) and pass the "
     r"DataFrame\)$",
     r"time column 'date': row 4 has 'notadate', not a date/time in the format of the rows before it; parse the column "
     r"with pd.to_datetime\(\.\.\., format=\.\.\.\) first$"),
    ({4: ("", "5")}, {},
     r"time column 'date' has a missing timestamp at line 10, where a timestamp was expected; fill it in or drop "
     r"that row$",
     r"time column 'date' has a missing timestamp at row 4, where"),
    ({0: ("2020-01-01 00:00", "")}, {"fill": "ffill"},
     r"column 'value' starts with 1 missing value\(s\) \(from line 2\); --fill ffill \(fill='ffill' in Python\) has "
     r"no earlier value to start from: drop those rows first$",
     r"column 'value' starts with 1 missing value\(s\) \(from row 0\); --fill ffill"),
    ({3: ("2020-01-04 00:00", ""), 4: ("2020-01-05 00:00", "")}, {"fill": "interpolate"},
     r"column 'value' ends with missing values \(from line 7\); --fill interpolate needs a later value: use --fill "
     r"ffill \(fill='ffill' in Python\) or drop those rows$",
     r"column 'value' ends with missing values \(from row 3\); --fill interpolate"),
]


LINE_IDS = ["not-numeric", "missing-value", "infinite", "unsorted", "duplicate", "gaps", "off-grid", "not-a-date",
            "missing-timestamp", "leading-missing", "trailing-missing"]


@pytest.mark.parametrize(("change", "options", "csv_match", "frame_match"), LINE_CASES, ids=LINE_IDS)
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_a_csv_error_names_the_line_in_the_file(tmp_path, change, options, csv_match, frame_match, newline):
    path = _layout_csv(tmp_path, change, newline)
    with pytest.raises(DataError, match=csv_match) as info:
        read_table(path, time_column="date", columns=["value"], **options)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and " row " not in message.replace("one row", "")


@pytest.mark.parametrize(("change", "options", "csv_match", "frame_match"), LINE_CASES, ids=LINE_IDS)
def test_a_dataframe_error_names_the_row_from_0(tmp_path, change, options, csv_match, frame_match):
    frame = pd.read_csv(_layout_csv(tmp_path, change))  # the same rows, as a DataFrame
    with pytest.raises(DataError, match=frame_match) as info:
        read_table(frame, time_column="date", columns=["value"], **options)
    message = str(info.value)
    assert message.startswith("DataFrame: ") and "\n" not in message and "line" not in message.replace("lines", "")


def test_line_numbers_count_blank_lines_before_the_header_and_a_header_option(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("\n \nskip;me\ndate;a\n2020-01-01;1\n\n2020-01-02;two\n")  # header=1: line 4
    with pytest.raises(DataError, match=r"column 'a' is not numeric: line 7 has 'two'"):
        read_table(path, time_column="date", csv_options={"sep": ";", "header": 1})
    path.write_text("date\ta\n2020-01-01\t1\n\t\n2020-01-02\ttwo\n")  # with sep="\t" a line of one tab is a row
    with pytest.raises(DataError, match=r"column 'date' has a missing timestamp at line 3"):
        read_table(path, time_column="date", csv_options={"sep": "\t"})


def test_options_the_line_count_cannot_follow_fall_back_to_rows(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("# a comment\ndate,a\n2020-01-01,1\n\n2020-01-02,two\n")
    with pytest.raises(DataError, match=r"column 'a' is not numeric: row 1 has 'two'"):
        read_table(path, time_column="date", csv_options={"skiprows": 1})
    with pytest.raises(DataError, match=r"column 'a' is not numeric: row 1 has 'two'"):
        read_table(path, time_column="date", csv_options={"comment": "#"})


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
    hourly = pd.date_range("2020-01-01 00:00", periods=100, freq="h").delete([7, 50])
    assert infer_frequency(hourly) == "h"
    with pytest.raises(DataError, match="need at least 3"):
        infer_frequency(monthly[:2])


# -- the seasonal rule on every supported pandas ---------------------------------------------------
# pandas 3.0 made Day a calendar offset instead of a Tick (pd.Timedelta(Day()) raises there), and
# renamed aliases across 2.2/3.0 ("M" -> "ME", "H" -> "h", "SM" -> "SME", ...). The rule must give the
# same periods on 2.1, 2.2, 3.0 and 3.1.


def _alias(*names):
    """The first of ``names`` this pandas accepts without a warning (the newest spelling comes first)."""
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                to_offset(name)
            except (ValueError, Warning):
                continue
        return name
    raise AssertionError(f"this pandas accepts none of {names}")


DOCSTRING_TABLE = [  # (aliases, newest first; n; period)
    (("D",), None, 7),
    (("D",), 100, 7),
    (("D",), 729, 7),
    (("D",), 730, 365),
    (("D",), 1461, 365),
    (("2D",), None, 4),
    (("2D",), 363, 4),
    (("2D",), 364, 182),
    (("7D",), 103, 1),
    (("7D",), 104, 52),
    (("B",), None, 5),
    (("B",), 5000, 5),
    (("C",), None, 5),
    (("W",), None, 52),
    (("W-SUN",), None, 52),
    (("W-MON",), 1000, 52),
    (("2W",), None, 26),
    (("SME", "SM"), None, 24),
    (("SMS",), None, 24),
    (("MS",), None, 12),
    (("ME", "M"), None, 12),
    (("BMS",), None, 12),
    (("3MS",), None, 4),
    (("QS",), None, 4),
    (("QE", "Q"), None, 4),
    (("2QS",), None, 2),
    (("YS",), None, 1),
    (("YE", "Y", "A"), None, 1),
    (("h", "H"), None, 24),
    (("h", "H"), 10_000, 24),
    (("2h", "2H"), None, 12),
    (("15min", "15T"), None, 96),
    (("min", "T"), None, 1440),
    (("s", "S"), None, 86_400),
    (("24h", "24H"), 730, 365),
]


@pytest.mark.filterwarnings("error")  # no deprecation warning from pandas either (e.g. isinstance(.., DateOffset))
@pytest.mark.parametrize(
    ("aliases", "n", "period"), DOCSTRING_TABLE, ids=lambda v: "/".join(v) if isinstance(v, tuple) else repr(v)
)
def test_every_frequency_in_the_rule_gives_its_period(aliases, n, period):
    freq = _alias(*aliases)
    assert seasonal_period(freq, n=n) == period
    assert seasonal_period(to_offset(freq), n=n) == period  # an offset object gives the same answer
    season, reason = infer_season(freq, n)
    assert season == period and f"season {period}" in reason


def test_daily_offsets_are_daily_whether_or_not_day_is_a_tick():
    # pandas 2.x: Day is a Tick (fixed 24 h); pandas >= 3.0: a calendar day. Same periods either way.
    assert seasonal_period(pd.offsets.Day(), n=730) == 365
    assert seasonal_period(pd.offsets.Day(), n=729) == 7
    assert seasonal_period(pd.offsets.Day(2), n=400) == 182
    assert seasonal_period(pd.offsets.Hour(24), n=730) == 365
    assert seasonal_period(pd.offsets.Hour(), n=3) == 24


@pytest.mark.parametrize(("n", "period"), [(100, 7), (729, 7), (730, 365), (1461, 365)])
def test_daily_timestamps_give_yearly_season_from_two_years(n, period):
    days = pd.date_range("2012-01-01", periods=n, freq="D")
    assert seasonal_period(days) == period
    assert infer_season(days)[0] == period
    assert seasonal_period(days.delete([3, 50])) == (7 if n - 2 < 730 else 365)  # gappy: still daily


def test_infer_season_reasons():
    assert infer_season("D", 1461) == (365, "daily data ('D'), 1461 rows (>= 2 years): yearly season 365")
    assert infer_season("D", 500) == (
        7, "daily data ('D'), 500 rows (< 2 years; 730 needed for a yearly season): weekly season 7")
    assert infer_season("D") == (7, "daily data ('D'), length not given: weekly season 7")
    assert infer_season("2D", 400) == (182, "2-day data ('2D'), 400 rows (>= 2 years): yearly season 182")
    assert infer_season("MS", 144) == (12, "monthly data ('MS'): yearly season 12")
    assert infer_season("QS", 40) == (4, "quarterly data ('QS-JAN'): yearly season 4")
    yearly = to_offset("YS").freqstr  # 'AS-JAN' before pandas 2.2
    assert infer_season("YS", 40) == (1, f"yearly data ({yearly!r}): season 1 (no seasonality at yearly steps)")
    assert infer_season("W-SUN", 300) == (52, "weekly data ('W-SUN'): yearly season 52")
    assert infer_season("B", 300) == (5, "business-daily data ('B'): weekly (business week) season 5")
    hourly = to_offset(_alias("h", "H"))
    assert infer_season(hourly, 500) == (24, f"sub-daily data ({hourly.freqstr!r}): daily season 24")
    quarter_hour = to_offset(_alias("15min", "15T"))
    assert infer_season(quarter_hour) == (96, f"sub-daily data ({quarter_hour.freqstr!r}): daily season 96")


@pytest.mark.parametrize(
    "offset",
    [pd.offsets.BusinessHour(), pd.offsets.CustomBusinessHour(), pd.DateOffset(months=2), pd.DateOffset(days=3)],
    ids=["business-hour", "custom-business-hour", "DateOffset(months=2)", "DateOffset(days=3)"],
)
def test_a_frequency_without_a_rule_is_never_a_silent_season_1(offset):
    with pytest.raises(DataError, match=r"no seasonal rule for frequency .*pass --season N"):
        seasonal_period(offset, n=1000)
    season, reason = infer_season(offset, 1000)
    assert season == 1
    assert reason == (f"no seasonal rule for frequency {offset.freqstr!r}: season 1 (no seasonal baseline); "
                      "set --season to override")


def test_infer_season_without_a_frequency():
    season, reason = infer_season(None, 500)
    assert season == 1 and "no regular frequency" in reason and "--season" in reason


def test_seasonal_period_rejects_a_negative_frequency():
    with pytest.raises(ValueError, match="positive frequency"):
        seasonal_period("-1D")
