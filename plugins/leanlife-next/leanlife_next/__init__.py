"""NExT (Wang et al., ICLR 2020): natural-language explanations parsed into executable
rules, matched strictly and softly against unlabeled sentences, and learned from.

Importing this package imports no torch: the model loads through its dotted factory path.
"""

from __future__ import annotations

import pluggy

from leanlife_server.plugin_api import EXPLANATION_NATURAL_LANGUAGE, ModelDefinition

hookimpl = pluggy.HookimplMarker("leanlife")
# next_rules.v1: rules whose estimated precision falls below this are not used.
RULES_CONFIG = {"min_confidence": 0.3}

NEXT = ModelDefinition(
    name="next.v1",
    tasks=("re", "sa"),
    factory="leanlife_next.model:build_model",
    explanation_kinds=(EXPLANATION_NATURAL_LANGUAGE,),
    default_config={"classifier": "bilstm", "mode": "next", "epochs": 10, "batch_size": 32,
                    "learning_rate": None, "alpha": 0.5, "beta": 0.1, "gamma": 0.1,
                    "soft_matcher": "glove", "soft_threshold": 0.5, "soft_quantile": 0.99,
                    "trigram_weight": 0.5},
    description="Learns from natural-language explanations parsed into rules, matched "
                "strictly and softly (NExT, Wang et al. 2020).",
    explanation_parser="leanlife_next.feedback:explanation_feedback",
    suggested_for=(EXPLANATION_NATURAL_LANGUAGE,),
)

# NExT's strict rule matching alone (leanlife_next/rules.py): no torch, trains in
# milliseconds, so a cheap recommender of relation projects that collect explanations.
RULES = ModelDefinition(
    name="next_rules.v1",
    tasks=("re",),
    factory="leanlife_next.rules:build_rules",
    explanation_kinds=(EXPLANATION_NATURAL_LANGUAGE,),
    default_config=RULES_CONFIG,
    description="NExT's strict rule matching: every explanation parsed into a rule; a candidate "
                "pair gets the label of its most confident rule that holds on it exactly.",
    explanation_parser="leanlife_next.feedback:explanation_feedback",
    cheap=True,
)


@hookimpl
def leanlife_models() -> list[ModelDefinition]:
    return [NEXT, RULES]
