"""The non-neural baseline any user could run: 1-NN DTW against one template per word.

The vocabulary is every transcript of the training part said by at least a tenth of its speakers (and
at least two; files stand in for speakers when the corpus names none): the words, not the phrases that
a few speakers happen to share, which no other utterance could match anyway.
Each word's first training file (in corpus order) is its template (every distinct transcript's, when
no transcript repeats); every evaluated utterance takes the transcript of the template nearest under dynamic time
warping of the same normalised features the network reads (:func:`lstmkit.metrics.dtw.dtw_distances`,
squared Euclidean local cost, no band). This is the isolated-word recogniser of the 1970s (Sakoe &
Chiba 1978): it needs no training, and with one template per word it shows how far a single voice's
recording carries to other voices.
"""
from __future__ import annotations

import numpy as np

__all__ = ["dtw_template_baseline", "MAX_TEMPLATES"]

MAX_TEMPLATES = 2000  # beyond this many distinct transcripts (sentences, not words) the baseline is skipped


def dtw_template_baseline(app, corpus, train_rows: np.ndarray, features: list) -> tuple[list[str], dict]:
    """(the nearest template's transcript for each utterance in ``features``, {"templates": count})."""
    from lstmkit.metrics.dtw import dtw_distances

    first: dict[str, int] = {}
    sayers: dict[str, set] = {}
    for i in train_rows:
        text = corpus.transcripts[i]
        first.setdefault(text, int(i))
        sayers.setdefault(text, set()).add(corpus.speakers[i] if corpus.speakers is not None else int(i))
    speakers = len(set().union(*sayers.values())) if sayers else 0
    vocabulary = {text: i for text, i in first.items() if len(sayers[text]) >= max(2, speakers / 10)}
    first = vocabulary or first
    if len(first) > MAX_TEMPLATES:
        return [""] * len(features), {"templates": len(first), "skipped": f"more than {MAX_TEMPLATES} distinct transcripts"}
    words = list(first)
    templates = app.features_of_files([corpus.paths[first[w]] for w in words])
    distances = dtw_distances([f.double().numpy() for f in features], [t.double().numpy() for t in templates])
    nearest = distances.argmin(axis=1)
    return [words[k] for k in nearest], {"templates": len(words)}
