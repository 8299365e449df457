"""modAL's classifier measures on probabilities a model already computed.

modAL's measures take a fitted scikit-learn classifier and call its ``predict_proba``. The
adapter below is such a classifier whose "features" are the probabilities themselves, so
modAL's own code ranks our models' outputs (only its measure functions are used: its
``ActiveLearner`` does not work with scikit-learn 1.8 and later).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
from modAL.uncertainty import classifier_entropy, classifier_margin, classifier_uncertainty
from sklearn.base import BaseEstimator, ClassifierMixin

from leanlife_server.plugin_api import DocumentPrediction


class ProbabilityAdapter(ClassifierMixin, BaseEstimator):
    """A "classifier" whose input rows are class probabilities: ``predict_proba(X) == X``."""

    def fit(self, X, y=None) -> "ProbabilityAdapter":
        return self

    def predict_proba(self, X) -> np.ndarray:
        return np.asarray(X, dtype=float)


def _scorer(measure: Callable, transform: Callable[[np.ndarray], np.ndarray]):
    adapter = ProbabilityAdapter()

    def score(predictions: Sequence[DocumentPrediction]) -> list[float]:
        # Documents without probabilities (nothing to measure) rank last.
        scores = np.zeros(len(predictions))
        rows = [i for i, p in enumerate(predictions) if len(p.probabilities)]
        if rows:
            matrix = np.array([predictions[i].probabilities[0] for i in rows], dtype=float)
            scores[rows] = transform(measure(adapter, matrix))
        return scores.tolist()

    return score


def uncertainty():
    return _scorer(classifier_uncertainty, lambda values: values)


def margin():
    # modAL's margin is small when the model hesitates: rank by 1 - margin.
    return _scorer(classifier_margin, lambda values: 1.0 - values)


def entropy():
    return _scorer(classifier_entropy, lambda values: values)
