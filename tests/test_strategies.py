"""The built-in query strategies, checked against values computed by hand."""

from __future__ import annotations

import math

import pytest

from leanlife_server.plugins import load_plugins
from leanlife_server.plugin_api import DocumentPrediction, load_object


def scorer(name: str):
    definition = load_plugins(["strategies"]).query_strategies.get(name)
    return load_object(definition.factory)()


def documents(*rows) -> list[DocumentPrediction]:
    return [DocumentPrediction(i, (), probabilities) for i, probabilities in enumerate(rows)]


CLASSIFIED = documents([[0.9, 0.1]], [[0.5, 0.5]], [[0.7, 0.3]], [])


def test_modal_classifier_measures_rank_the_hesitant_document_first():
    uncertainty = scorer("uncertainty")(CLASSIFIED)
    assert uncertainty == pytest.approx([0.1, 0.5, 0.3, 0.0])
    margin = scorer("margin")(CLASSIFIED)
    assert margin == pytest.approx([1 - 0.8, 1 - 0.0, 1 - 0.4, 0.0])
    entropy = scorer("entropy")(CLASSIFIED)
    assert entropy[1] == pytest.approx(math.log(2)) and entropy[1] > entropy[2] > entropy[0]
    assert entropy[3] == 0.0, "a document without probabilities ranks last"


SEQUENCES = documents([[0.9, 0.1], [0.8, 0.2]], [[0.6, 0.4], [0.5, 0.5], [0.9, 0.1]])


def test_sequence_strategies():
    assert scorer("mnlp")(SEQUENCES) == pytest.approx(
        [-(math.log(0.9) + math.log(0.8)) / 2, -(math.log(0.6) + math.log(0.5) + math.log(0.9)) / 3])
    assert scorer("mnlp_min_length")(SEQUENCES) == pytest.approx(
        [-(math.log(0.9) + math.log(0.8)) / 20, -(math.log(0.6) + math.log(0.5) + math.log(0.9)) / 20])
    long = documents([[0.9, 0.1]] * 25, [[0.6, 0.4]])
    assert scorer("mnlp_min_length")(long) == pytest.approx([-math.log(0.9), -math.log(0.6) / 20]), \
        "MNLP from 20 tokens on; a one-token line no longer outranks a sentence for its one doubt"
    assert scorer("mnlp")(long)[1] > scorer("mnlp")(long)[0]
    assert scorer("least_confidence")(SEQUENCES) == pytest.approx([1 - 0.72, 1 - 0.27])
    entropy = lambda p: -sum(x * math.log(x) for x in p)  # noqa: E731
    assert scorer("token_entropy")(SEQUENCES) == pytest.approx(
        [(entropy([0.9, 0.1]) + entropy([0.8, 0.2])) / 2,
         (entropy([0.6, 0.4]) + entropy([0.5, 0.5]) + entropy([0.9, 0.1])) / 3])


def test_random_order_scores_every_document_differently():
    scores = scorer("random")(SEQUENCES * 50)
    assert len(scores) == 100 and len(set(scores)) == 100 and all(0 <= s < 1 for s in scores)


def test_each_task_has_an_informed_default_strategy():
    strategies = list(load_plugins(["strategies"]).query_strategies)
    first = {task: next(s.name for s in strategies if task in s.tasks) for task in ("ner", "re", "sa")}
    # NER: chosen on CoNLL-2003's dev split (docs/performance.md), not on its test split.
    assert first == {"ner": "mnlp_min_length", "re": "uncertainty", "sa": "uncertainty"}
