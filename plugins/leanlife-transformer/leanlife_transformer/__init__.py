"""Plain transformer models for the three built-in tasks (Hugging Face ``transformers``).

- ``transformer_sa.v1``: a sequence classifier for document labels (multi-label when the
  documents carry several labels),
- ``transformer_ner.v1``: a BIO token classifier over word pieces, decoded to character spans,
- ``transformer_re.v1``: an entity-marker classifier for the relation between two entity spans,
- ``sentence_embedding_sa.v1``: a logistic regression on frozen, cached sentence embeddings
  for document labels (fast to retrain on a CPU).

This module only registers the models; torch and transformers are imported when a model is
built or loaded (the factories are dotted paths), never when the web app starts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pluggy

from leanlife_server.plugin_api import EXPLANATION_NONE, ModelDefinition, load_object
from leanlife_transformer.config import SHARED_DEFAULTS

hookimpl = pluggy.HookimplMarker("leanlife")

SA_MODEL = "transformer_sa.v1"
NER_MODEL = "transformer_ner.v1"
RE_MODEL = "transformer_re.v1"
SENTENCE_EMBEDDING_SA_MODEL = "sentence_embedding_sa.v1"
SAVED_MODEL_FILE = "leanlife_model.json"  # written by every saved model: its name and config

MODELS = (
    ModelDefinition(
        name=SA_MODEL, tasks=("sa",), factory="leanlife_transformer.classify:DocumentClassifier",
        default_config={**SHARED_DEFAULTS, "multi_label": None},
        description="Transformer sequence classifier (mean-pooled encoder, softmax or sigmoid head).",
    ),
    ModelDefinition(
        name=NER_MODEL, tasks=("ner",), factory="leanlife_transformer.tag:TokenTagger",
        # A fresh per-piece head learns slowly from few sentences at 5e-5 (CoNLL-2003, 400
        # sentences, 4 epochs: F1 0.56 at 1e-4).
        default_config={**SHARED_DEFAULTS, "learning_rate": 1e-4},
        description="Transformer token classifier: BIO tags over word pieces, decoded to spans.",
    ),
    ModelDefinition(
        name=RE_MODEL, tasks=("re",), factory="leanlife_transformer.relate:RelationClassifier",
        default_config={**SHARED_DEFAULTS, "no_relation_label": "no_relation"},
        suggested_for=(EXPLANATION_NONE,),
        description="Transformer relation classifier over entity markers (entity-start pooling).",
    ),
    ModelDefinition(
        name=SENTENCE_EMBEDDING_SA_MODEL, tasks=("sa",),
        factory="leanlife_transformer.sentence_embedding:SentenceEmbeddingClassifier",
        default_config={key: SHARED_DEFAULTS[key] for key in (
            "checkpoint", "max_length", "predict_batch_tokens", "predict_batch_size", "inference_precision")}
        | {"multi_label": None, "regularization": 10.0},
        suggested_for=(EXPLANATION_NONE,),  # the live loop's fastest SA model on a CPU
        # Encodings are cached per process, so a retrain is a logistic regression on a few
        # hundred vectors: SA's suggestions from the first labels (issue 15).
        cheap=True,
        description="Logistic regression on frozen, mean-pooled MiniLM sentence embeddings (cached per "
                    "process): retrains in a fraction of a second once the documents are encoded.",
    ),
)


def default_config(model_name: str) -> Mapping[str, Any]:
    """The registered default config of one of this plugin's models."""
    return next(definition.default_config for definition in MODELS if definition.name == model_name)


@hookimpl
def leanlife_models() -> list[ModelDefinition]:
    return list(MODELS)


def load(directory: str | Path, device: str | None = "cpu"):
    """Load any model of this plugin that ``save`` wrote, without the server: the saved file
    names the model, and the model's definition names its class."""
    saved = json.loads((Path(directory) / SAVED_MODEL_FILE).read_text(encoding="utf-8"))
    by_name = {definition.name: definition for definition in MODELS}
    if saved.get("model") not in by_name:
        raise ValueError(f"{Path(directory) / SAVED_MODEL_FILE}: model {saved.get('model')!r} "
                         f"is not one of {sorted(by_name)}")
    return load_object(by_name[saved["model"]].factory).load(Path(directory), device)
