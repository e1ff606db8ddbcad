"""forecast.png and anomalies.png are readable: dates on the time axes, axis labels, legends off the
data, the test start and the end of training marked, plain titles, the quantile band in both panels,
and one labelled line when epsilon equals the trigger.

The figures are drawn from small synthetic tables through the public functions; ``save_figure`` is
wrapped to keep the figure for inspection (it still writes the PNG)."""
import re

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D

import lstmkit.plots
from lstmkit.plots import forecast_plot
from lstmkit.tasks.anomaly.plots import anomalies_plot
from lstmkit.tasks.anomaly.thresholds import Calibration

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plotting functions save, drawn (so tick labels exist) and kept for inspection."""
    figures = []
    real = lstmkit.plots.save_figure

    def keep(fig, path):
        fig.canvas.draw()
        fig.kept_renderer = fig.canvas.get_renderer()  # saving closes the figure and drops its canvas
        figures.append(fig)
        return real(fig, path)

    monkeypatch.setattr(lstmkit.plots, "save_figure", keep)
    return figures


def _history(n=120, start="2015-09-01", freq="D", name="temp_max", index_name="date"):
    t = pd.date_range(start, periods=n, freq=freq, name=index_name)
    rng = np.random.default_rng(0)
    return pd.Series(20 + 5 * np.sin(np.arange(n) / 9) + rng.normal(0, 1, n), index=t, name=name)


def _forecasts(history, K=3, test=30, quantiles=True, iso=True):
    """forecast.csv for the last ``test`` rows: every window whose horizon lies in them."""
    labels = [t.isoformat() for t in history.index] if iso else list(history.index)
    values = history.to_numpy()
    n = len(history)
    rows = []
    for origin in range(n - test - 1, n - K):
        for step in range(1, K + 1):
            actual = values[origin + step]
            forecast = actual + 0.5 * step
            row = {"origin": labels[origin], "time": labels[origin + step], "step": step,
                   "target": history.name, "actual": actual, "forecast": forecast}
            if quantiles:
                row["q0.1"], row["q0.9"] = forecast - 2, forecast + 2
            row["naive"] = values[origin]
            row["seasonal_naive"] = values[origin + step - 7]
            rows.append(row)
    return pd.DataFrame(rows)


def _data_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def _tick_texts(ax):
    return [t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]


def _assert_date_axis(ax):
    texts = _tick_texts(ax)
    assert len(texts) >= 3, f"no visible x tick labels: {texts}"
    assert isinstance(ax.xaxis.get_major_formatter(), (mdates.ConciseDateFormatter, mdates.DateFormatter,
                                                       mdates.AutoDateFormatter))
    words = " ".join(texts + [ax.xaxis.get_offset_text().get_text()])
    assert any(m in words for m in MONTHS) or re.search(r"\b(19|20)\d\d\b", words), texts

    def number(text):
        try:
            float(text.replace("\u2212", "-"))
            return True
        except ValueError:
            return False

    years = all(re.fullmatch(r"(19|20)\d\d", t) for t in texts)  # a long range: the years alone
    assert years or not all(number(t) for t in texts), f"raw numbers on a time axis: {texts}"


def _assert_legend_off_the_data(ax):
    legend = ax.get_legend()
    assert legend is not None and legend.get_texts()
    renderer = ax.figure.kept_renderer
    assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer)), \
        "the legend lies over the data area"


def _assert_labels(ax, xlabel=True):
    assert ax.get_ylabel().strip()
    if xlabel:
        assert ax.get_xlabel().strip()


def _assert_plain_title(ax):
    title = ax.get_title()
    assert title and "T00:00:00" not in title and "(s)" not in title, title


def _bands(ax):
    return [c for c in ax.collections if isinstance(c, PolyCollection) and "interval" in (c.get_label() or "")]


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_forecast_plot_daily_with_quantiles(tmp_path, drawn):
    history = _history()
    forecasts = _forecasts(history, K=7)
    path = forecast_plot(history, forecasts, tmp_path / "forecast.png", title="temp_max: test part",
                         quantile_columns=("q0.1", "q0.9"), target="temp_max", time_label="date", freq="D")
    assert path == tmp_path / "forecast.png" and path.read_bytes()[:8] == PNG_MAGIC
    (fig,) = drawn
    top, bottom = _data_axes(fig)
    for ax in (top, bottom):
        _assert_labels(ax)
        assert ax.get_ylabel() == "temp_max" and ax.get_xlabel() == "date"
        _assert_date_axis(ax)
        _assert_legend_off_the_data(ax)
        _assert_plain_title(ax)
        assert len(_bands(ax)) == 1, "the quantile band must be drawn in both panels"
        assert any("80% interval (q0.1-q0.9)" in text for text in _legend_texts(ax))
    last_origin = pd.Timestamp(forecasts["origin"].iloc[-1]).strftime("%Y-%m-%d")
    assert f"forecast from {last_origin}" in bottom.get_title() and "7 days ahead" in bottom.get_title()
    assert "1 day ahead" in " ".join(_legend_texts(top)) and "7 days ahead" in " ".join(_legend_texts(top))
    assert "test part starts" in _legend_texts(top)
    starts = [line for line in top.get_lines() if line.get_label() == "test part starts"]
    first = mdates.date2num(pd.Timestamp(forecasts["time"].iloc[0]))
    assert starts and np.allclose(starts[0].get_xdata(orig=False), first)


def test_forecast_plot_monthly_titles_and_no_band_without_quantiles(tmp_path, drawn):
    history = _history(n=96, start="1953-01-01", freq="MS", name="passengers")
    forecasts = _forecasts(history, K=12, test=24, quantiles=False)
    forecast_plot(history, forecasts, tmp_path / "forecast.png")  # names and frequency from the series
    (fig,) = drawn
    top, bottom = _data_axes(fig)
    for ax in (top, bottom):
        assert ax.get_ylabel() == "passengers" and ax.get_xlabel() == "date"
        _assert_date_axis(ax)
        _assert_legend_off_the_data(ax)
        _assert_plain_title(ax)
        assert not _bands(ax)
    last_origin = pd.Timestamp(forecasts["origin"].iloc[-1]).strftime("%Y-%m")
    assert bottom.get_title() == f"last test window: forecast from {last_origin}, 12 months ahead"
    assert "LSTM, 1 month ahead" in _legend_texts(top)


def test_forecast_plot_without_a_time_column_counts_steps(tmp_path, drawn):
    history = _history(n=80).reset_index(drop=True)
    forecasts = _forecasts(history, K=1, test=20, iso=False)
    forecast_plot(history, forecasts, tmp_path / "forecast.png", time_label="row")
    (fig,) = drawn
    top, bottom = _data_axes(fig)
    assert top.get_xlabel() == "row" and top.get_ylabel() == "temp_max"
    assert bottom.get_title() == f"last test window: forecast from {forecasts['origin'].iloc[-1]}, 1 step ahead"
    assert "LSTM, 1 step ahead" in _legend_texts(top)
    assert min(top.get_xlim()) > -10 and max(top.get_xlim()) < 100  # row numbers, not nanoseconds since 1970
    for ax in (top, bottom):
        _assert_legend_off_the_data(ax)
        _assert_plain_title(ax)


def _scores(n=200, flagged=((120, 130),)):
    t = pd.date_range("2013-01-01", periods=n, freq="D")
    rng = np.random.default_rng(1)
    score = np.abs(rng.normal(0.3, 0.1, n)) + 0.01
    score[:2] = np.nan  # the warm-up is unscored
    flags = np.zeros(n, bool)
    for a, b in flagged:
        flags[a:b] = True
        score[a:b] = 1.5
    return pd.DataFrame({"time": [x.isoformat() for x in t], "temp_max": 10 + rng.normal(0, 3, n),
                         "error": score, "score": score, "is_anomaly": flags})


def _calibration(epsilon, trigger):
    return Calibration(span=5.0, epsilon=epsilon, trigger=trigger, z=3.0, mean=0.3, std=0.1, reference=0.7,
                       min_decrease=0.13, calibration_runs=[])


def test_anomalies_plot_marks_training_end_and_both_levels(tmp_path, drawn):
    scores = _scores()
    labels = np.zeros(len(scores), bool)
    labels[122:128] = True
    path = anomalies_plot(scores, ["temp_max"], _calibration(0.6, 0.9), tmp_path / "anomalies.png", labels=labels,
                          title="prediction detector", time_label="date", train_end=scores["time"].iloc[99])
    assert path.read_bytes()[:8] == PNG_MAGIC
    (fig,) = drawn
    top, bottom = _data_axes(fig)
    _assert_labels(top, xlabel=False)
    _assert_labels(bottom)
    assert top.get_ylabel() == "temp_max" and bottom.get_xlabel() == "date"
    _assert_date_axis(bottom)
    for ax in (top, bottom):
        _assert_legend_off_the_data(ax)
        assert "training part ends" in _legend_texts(ax)
        end = mdates.date2num(pd.Timestamp(scores["time"].iloc[99]))
        marks = [line for line in ax.get_lines() if np.allclose(line.get_xdata(orig=False), end)]
        assert marks, "the end of the training part is not marked"
    texts = _legend_texts(bottom)
    assert any(text.startswith("epsilon 0.6") for text in texts)
    assert any(text.startswith("trigger 0.9") for text in texts)
    assert any("labelled anomaly" in text for text in _legend_texts(top))
    assert any("flagged as anomalous (1 interval)" in text for text in _legend_texts(top))


def test_anomalies_plot_one_labelled_line_when_epsilon_equals_trigger(tmp_path, drawn):
    scores = _scores()
    anomalies_plot(scores, ["temp_max"], _calibration(0.8, 0.8), tmp_path / "anomalies.png",
                   train_end="2012-06-01T00:00:00")  # before the data: not drawn
    (fig,) = drawn
    top, bottom = _data_axes(fig)
    levels = [line for line in bottom.get_lines() if np.allclose(line.get_ydata(orig=False), 0.8)]
    assert len(levels) == 1 and "epsilon = trigger" in levels[0].get_label()
    assert any("epsilon = trigger" in text for text in _legend_texts(bottom))
    assert "training part ends" not in _legend_texts(top)
    assert bottom.get_xlabel() == "time"  # no time column name given
    _assert_legend_off_the_data(bottom)


def test_anomalies_plot_with_row_numbers(tmp_path, drawn):
    scores = _scores(flagged=()).assign(time=lambda f: np.arange(len(f)))
    anomalies_plot(scores, ["temp_max"], _calibration(0.6, 0.9), tmp_path / "anomalies.png", time_label="row",
                   train_end=149)
    (fig,) = drawn
    top, bottom = _data_axes(fig)
    assert bottom.get_xlabel() == "row"
    marks = [line for line in top.get_lines() if isinstance(line, Line2D)
             and np.allclose(line.get_xdata(orig=False), 149)]
    assert marks, "the end of the training part is not marked at row 149"
    assert "flagged as anomalous (0 intervals)" in _legend_texts(top)
