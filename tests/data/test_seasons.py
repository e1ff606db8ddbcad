"""infer_seasons: every season a frequency implies that the data holds two full cycles of."""
import pandas as pd
import pytest

from lstmkit.data.frequency import infer_season, infer_seasons


@pytest.mark.parametrize(("freq", "n", "seasons"), [
    ("30min", 2822, [48, 336]),  # 12 weeks of half-hourly demand, 70% for training: a day and a week
    ("30min", 671, [48]),  # one row short of two weeks
    ("30min", 672, [48, 336]),
    ("h", 5000, [24, 168]),
    ("15min", 2000, [96, 672]),
    ("D", 1022, [7, 365]),  # the Seattle weather's training part: 2.8 years
    ("D", 729, [7]),
    ("B", 1000, [5]),
    ("W", 200, [52]),
    ("MS", 100, [12]),
    ("MS", 23, []),  # less than two years of months
    ("QS", 40, [4]),
    ("YS", 300, []),  # yearly data: no calendar season
    ("bh", 500, []),  # no rule for business hours
])
def test_seasons_with_two_cycles_in_the_data(freq, n, seasons):
    assert infer_seasons(freq, n)[0] == seasons


def test_length_not_given_keeps_every_candidate_and_timestamps_give_the_frequency():
    assert infer_seasons("30min")[0] == [48, 336]
    assert infer_seasons("D")[0] == [7, 365]
    times = pd.date_range("2000-06-05", periods=2822, freq="30min")
    assert infer_seasons(times)[0] == [48, 336]  # n = len(times)
    assert infer_seasons(times, 600)[0] == [48]


def test_three_cycles_when_asked_and_the_reason_names_what_was_left_out():
    seasons, reason = infer_seasons("D", 1022, cycles=3)
    assert seasons == [7]
    assert reason == ("'D' data, 1022 rows: weekly season 7 (each >= 3 full cycles); "
                      "yearly 365 left out (needs 1095 rows)")
    assert infer_seasons(None) == ([], "no regular frequency (irregular or numeric time axis): no season")


def test_the_main_season_is_always_one_of_them_when_the_data_holds_it():
    for freq, n in (("30min", 4032), ("h", 2000), ("D", 1461), ("D", 500), ("MS", 144), ("B", 3000)):
        main, _ = infer_season(freq, n)
        assert main in infer_seasons(freq, n)[0], (freq, n)
