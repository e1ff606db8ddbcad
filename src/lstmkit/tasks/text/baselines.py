"""The classifier's baseline: TF-IDF of word 1- and 2-grams + logistic regression (scikit-learn).

Fitted on the same training rows as the LSTM with the same tokeniser, its C chosen on the same
validation rows, scored on the same test rows. (The language model's baselines are the Kneser-Ney
n-gram models of :mod:`lstmkit.tasks.text.ngram`.)
"""
from __future__ import annotations

import numpy as np

from lstmkit.errors import MissingDependencyError

__all__ = ["tfidf_logreg_baseline"]


def tfidf_logreg_baseline(tokenizer, train_texts, train_y, val_texts, val_y, test_texts) -> tuple[np.ndarray, dict]:
    """TF-IDF of word 1- and 2-grams (the model's tokeniser, sublinear tf) + logistic regression; C chosen
    on the validation rows from 0.25, 1, 4, 16. Returns test predictions and the chosen settings.

    Raises :class:`~lstmkit.errors.MissingDependencyError` (an ``ImportError``) without scikit-learn.
    """
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise MissingDependencyError("the TF-IDF baseline needs scikit-learn: pip install 'lstmkit[text]'") from None

    def analyzer(text: str) -> list[str]:
        tokens = tokenizer(text)
        return tokens + [f"{a} {b}" for a, b in zip(tokens, tokens[1:])]

    vectorizer = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True, min_df=1)
    x_train = vectorizer.fit_transform(train_texts)
    x_val, x_test = vectorizer.transform(val_texts), vectorizer.transform(test_texts)
    best = None
    for C in (0.25, 1.0, 4.0, 16.0):
        clf = LogisticRegression(C=C, max_iter=2000).fit(x_train, train_y)
        accuracy = float((clf.predict(x_val) == val_y).mean())
        if best is None or accuracy > best[0]:
            best = (accuracy, C, clf)
    accuracy, C, clf = best
    return clf.predict(x_test), {"C": C, "val_accuracy": accuracy, "features": int(x_train.shape[1])}
