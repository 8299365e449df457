"""Random order: the baseline that an informed strategy must beat."""

from __future__ import annotations

import random
from typing import Sequence

from leanlife_server.plugin_api import DocumentPrediction


def random_order():
    generator = random.Random()

    def score(predictions: Sequence[DocumentPrediction]) -> list[float]:
        return [generator.random() for _ in predictions]

    return score
