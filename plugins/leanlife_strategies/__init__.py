"""Built-in query strategies: which unlabeled documents teach the model most.

Classifiers (one row of class probabilities per document): modAL's uncertainty, margin and
entropy measures. Sequences (one row per token): MNLP (also with a minimum length), least
confidence and mean token entropy. And random order, the baseline every strategy must beat.
"""

from __future__ import annotations

import pluggy

from leanlife_server.plugin_api import QueryStrategyDefinition
from leanlife_strategies.sequence import MNLP_MIN_TOKENS

hookimpl = pluggy.HookimplMarker("leanlife")

CLASSIFIER_TASKS = ("sa", "re")
SEQUENCE_TASKS = ("ner",)

# The first strategy listed for a task is its default. NER's, mnlp_min_length, was chosen on
# CoNLL-2003's dev split, never the test split (docs/performance.md, "Copies demoted, a dev
# split, and MNLP with a minimum length").
STRATEGIES = [
    QueryStrategyDefinition("mnlp_min_length", SEQUENCE_TASKS, "leanlife_strategies.sequence:mnlp_min_length",
                            f"MNLP with a length of at least {MNLP_MIN_TOKENS} tokens, so one-word "
                            "lines do not outrank sentences"),
    QueryStrategyDefinition("mnlp", SEQUENCE_TASKS, "leanlife_strategies.sequence:mnlp",
                            "maximum normalized log-probability (Shen et al. 2017): least sure "
                            "per token, on average"),
    QueryStrategyDefinition("least_confidence", SEQUENCE_TASKS,
                            "leanlife_strategies.sequence:least_confidence",
                            "1 - probability of the most likely tag sequence"),
    QueryStrategyDefinition("token_entropy", SEQUENCE_TASKS, "leanlife_strategies.sequence:mean_token_entropy",
                            "mean entropy of the per-token tag distributions"),
    QueryStrategyDefinition("uncertainty", CLASSIFIER_TASKS, "leanlife_strategies.classifier:uncertainty",
                            "modAL uncertainty sampling: 1 - the top class probability"),
    QueryStrategyDefinition("margin", CLASSIFIER_TASKS, "leanlife_strategies.classifier:margin",
                            "modAL margin sampling: a small gap between the two top classes"),
    QueryStrategyDefinition("entropy", CLASSIFIER_TASKS, "leanlife_strategies.classifier:entropy",
                            "modAL entropy sampling: the entropy of the class distribution"),
    QueryStrategyDefinition("random", SEQUENCE_TASKS + CLASSIFIER_TASKS, "leanlife_strategies.baseline:random_order",
                            "random order (the baseline)"),
]


@hookimpl
def leanlife_query_strategies() -> list[QueryStrategyDefinition]:
    return STRATEGIES
