"""Event-level precision, recall and F1 (lstmkit.metrics.events), on labels and flags counted by hand."""
import numpy as np
import pytest

from lstmkit.metrics.events import event_metrics, runs


def test_event_metrics_on_hand_made_labels():
    labels = np.zeros(40, dtype=int)
    labels[5:10] = 1  # event A
    labels[20:22] = 1  # event B
    labels[30] = 1  # event C
    flags = np.zeros(40, dtype=bool)
    flags[8:12] = True  # inside A, running past it: A found, not a false positive
    flags[15:17] = True  # outside every event: one false positive
    flags[25] = True  # a second false positive
    m = event_metrics(labels, flags)
    assert (m["events"], m["found"], m["false_positives"], m["flagged_intervals"]) == (3, 1, 2, 3)
    assert m["precision"] == pytest.approx(1 / 3) and m["recall"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(1 / 3)
    perfect = event_metrics(labels, labels.astype(bool))
    assert perfect["precision"] == perfect["recall"] == perfect["f1"] == 1.0
    silent = event_metrics(labels, np.zeros(40, dtype=bool))
    assert (silent["precision"], silent["recall"], silent["f1"]) == (0.0, 0.0, 0.0)
    assert event_metrics(np.zeros(5), np.zeros(5))["f1"] is None  # nothing to find, nothing flagged
    with pytest.raises(ValueError, match="differ in length"):
        event_metrics(labels, flags[:-1])


def test_a_random_flagger_does_not_look_good():
    rng = np.random.default_rng(0)
    labels = np.zeros(2000, dtype=int)
    for start in (300, 900, 1500):
        labels[start:start + 100] = 1  # three long events
    flags = rng.random(2000) < 0.05
    event = event_metrics(labels, flags)
    assert event["recall"] == 1.0 and event["f1"] < 0.2  # every event "found", but ~80 false alarms


def test_one_lucky_point_per_event_and_many_false_alarms_score_low():
    # Counted by hand: 3 events of 100 points, each hit by one flagged point (3 found); 27 isolated
    # flags outside every event (27 false positives). Precision 3/30 = 0.1, recall 3/3 = 1,
    # F1 = 2 * 0.1 * 1 / 1.1 = 2/11. (Point-adjusted F1 would credit all 300 event points:
    # 300/327 precision, F1 0.96: why lstmkit does not report it.)
    labels = np.zeros(2000, dtype=int)
    flags = np.zeros(2000, dtype=bool)
    for start in (300, 900, 1500):
        labels[start:start + 100] = 1
        flags[start + 50] = True
    outside = [10 + 40 * i for i in range(7)] + [450 + 40 * i for i in range(10)] + [1050 + 40 * i for i in range(10)]
    assert not labels[outside].any() and len(outside) == 27
    flags[outside] = True
    m = event_metrics(labels, flags)
    assert (m["events"], m["found"], m["false_positives"], m["flagged_intervals"]) == (3, 3, 27, 30)
    assert m["precision"] == pytest.approx(0.1) and m["recall"] == 1.0 and m["f1"] == pytest.approx(2 / 11)
    # A flagged interval that touches an event is not a false positive, however far it runs past it.
    wide = np.zeros(2000, dtype=bool)
    wide[250:1000] = True  # covers event 1 and part of event 2: one interval, two events found
    m = event_metrics(labels, wide)
    assert (m["found"], m["false_positives"], m["flagged_intervals"]) == (2, 0, 1)
    assert m["precision"] == 1.0 and m["recall"] == pytest.approx(2 / 3) and m["f1"] == pytest.approx(0.8)


def test_runs_are_maximal_and_half_open():
    assert runs([0, 1, 1, 0, 1]) == [(1, 3), (4, 5)]
    assert runs([True, True]) == [(0, 2)] and runs([False, False]) == [] and runs([]) == []
    assert runs(np.array([[1, 0], [1, 1]])) == [(0, 1), (2, 4)]  # flattened in C order
