"""TriggerNER (Lin et al., ACL 2020) and a plain BiLSTM-CRF as LeanLife model plugins.

Only registers the definitions: torch is imported when a factory builds a model.
"""

from __future__ import annotations

import pluggy

from leanlife_server.plugin_api import EXPLANATION_NONE, EXPLANATION_TRIGGER, ModelDefinition

from .defaults import DEFAULT_CONFIG

hookimpl = pluggy.HookimplMarker("leanlife")

TRIGGERNER = ModelDefinition(
    name="triggerner.v1",
    tasks=("ner",),
    factory="leanlife_triggerner.model:build_triggerner",
    explanation_kinds=(EXPLANATION_TRIGGER,),
    default_config=DEFAULT_CONFIG,
    suggested_for=(EXPLANATION_TRIGGER,),
    description="Trigger matching network and trigger-enhanced BiLSTM-CRF tagger over GloVe "
                "(Lin et al., ACL 2020); predictions name the triggers they matched.",
)

BILSTM_CRF = ModelDefinition(
    name="bilstm_crf.v1",
    tasks=("ner",),
    factory="leanlife_triggerner.model:build_bilstm_crf",
    default_config=DEFAULT_CONFIG,
    suggested_for=(EXPLANATION_NONE,),  # small and fast on a CPU, unlike the transformer tagger
    description="Character + word BiLSTM-CRF over GloVe; learns from labels only.",
)


@hookimpl
def leanlife_models() -> list[ModelDefinition]:
    return [TRIGGERNER, BILSTM_CRF]
