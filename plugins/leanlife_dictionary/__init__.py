"""The dictionary matcher for NER: every occurrence of an already annotated entity text is
suggested with its label, from the first annotation on. It retrains in milliseconds, so it
is a *cheap* recommender: retrained on every save and served until a learned model beats
it on held-out data (docs/models.md, "Several recommenders")."""

from __future__ import annotations

import pluggy

from leanlife_server.plugin_api import ModelDefinition

hookimpl = pluggy.HookimplMarker("leanlife")
# Entries whose estimated precision, (annotated + 1) / (occurrences + 2), falls below this
# are not suggested (a word annotated once but left alone four times: 2/7).
DEFAULT_CONFIG = {"min_confidence": 0.3}

DICTIONARY = ModelDefinition(
    name="dictionary.v1",
    tasks=("ner",),
    factory="leanlife_dictionary.model:build_matcher",
    default_config=DEFAULT_CONFIG,
    cheap=True,
    description="String matcher: suggests every occurrence of an annotated entity text (case- and "
                "whitespace-normalised, whole words, longest match first) with its label.",
)


@hookimpl
def leanlife_models() -> list[ModelDefinition]:
    return [DICTIONARY]
