"""NExT (Wang et al., ICLR 2020): natural-language explanations parsed into executable
rules, matched strictly and softly against unlabeled sentences, and learned from.

Importing this package imports no torch: the model loads through its dotted factory path.
"""

from __future__ import annotations

import pluggy

from leanlife_server.plugin_api import EXPLANATION_NATURAL_LANGUAGE, ModelDefinition

hookimpl = pluggy.HookimplMarker("leanlife")

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


@hookimpl
def leanlife_models() -> list[ModelDefinition]:
    return [NEXT]
