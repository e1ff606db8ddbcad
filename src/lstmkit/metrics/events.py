"""Event-level scores of a 0/1 detector: did it find each labelled event, and how many false alarms?

Event scoring
-------------
An *event* is a maximal run of labelled points. An event is found if any flagged point falls inside
it; every flagged interval that touches no event is one false positive. Precision = found / (found +
false positives), recall = found / events. No point-adjusted F1: it credits a whole event for one
lucky point, which lets random scores look good.
"""
from __future__ import annotations

import numpy as np

__all__ = ["event_metrics", "runs"]


def runs(mask) -> list[tuple[int, int]]:
    """Maximal runs of True in a 1-D mask, as (start, stop) with stop exclusive."""
    mask = np.asarray(mask, dtype=bool).ravel()
    if mask.size == 0:
        return []
    edges = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def event_metrics(labels, flags) -> dict:
    """Event-level precision, recall and F1 (see the module docstring); None where undefined.

    Returns ``{"precision", "recall", "f1", "events", "found", "false_positives", "flagged_intervals"}``.
    """
    labels = np.asarray(labels).astype(bool).ravel()
    flags = np.asarray(flags).astype(bool).ravel()
    if labels.shape != flags.shape:
        raise ValueError(f"event_metrics: labels and flags differ in length ({labels.size} vs {flags.size})")
    events, intervals = runs(labels), runs(flags)
    found = sum(bool(flags[a:b].any()) for a, b in events)
    false_positives = sum(not labels[a:b].any() for a, b in intervals)
    precision = found / (found + false_positives) if found + false_positives else None
    recall = found / len(events) if events else None
    if precision is None and recall is not None:
        precision = 0.0 if recall == 0 else None  # nothing flagged: no precision to speak of
    f1 = None
    if precision is not None and recall is not None:
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "events": len(events), "found": found,
            "false_positives": false_positives, "flagged_intervals": len(intervals)}
