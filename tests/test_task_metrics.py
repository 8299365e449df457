"""The task plugins' evaluation functions, on cases small enough to score by hand."""

from __future__ import annotations

import pytest

from leanlife_server.plugin_api import DOCUMENT, RELATION, SPAN, AnnotationData, DocumentPrediction, Example
from leanlife_server.plugins import load_plugins
from leanlife_ner.metrics import evaluate as evaluate_entities
from leanlife_re.metrics import evaluate as evaluate_relations
from leanlife_sa.metrics import evaluate as evaluate_document_labels


def entity(start: int, end: int, label: str = "PER", id: int | None = None) -> AnnotationData:
    return AnnotationData(SPAN, label, start=start, end=end, id=id)


def relation(subject: int, obj: int, label: str) -> AnnotationData:
    return AnnotationData(RELATION, label, subject_id=subject, object_id=obj, confidence=0.9)


def document(*labels: str) -> tuple[AnnotationData, ...]:
    return tuple(AnnotationData(DOCUMENT, label) for label in labels)


# NER ---------------------------------------------------------------------------------------

def test_entities_count_only_with_exact_span_and_label():
    gold = [Example(1, "x" * 40, (entity(0, 5), entity(10, 15, "LOC"), entity(20, 25))),
            Example(2, "x" * 40, (entity(0, 5),))]
    predicted = [DocumentPrediction(1, (entity(0, 5),            # right
                                        entity(10, 15, "ORG"),   # wrong label
                                        entity(20, 24),          # one character short
                                        entity(30, 35))),        # not an entity
                 DocumentPrediction(2, (entity(0, 5),))]         # right (the same span in doc 1 is no help)
    metrics = evaluate_entities(gold, predicted)
    assert metrics["precision"] == pytest.approx(2 / 5)
    assert metrics["recall"] == pytest.approx(2 / 4)
    assert metrics["f1"] == pytest.approx(2 * (2 / 5) * (2 / 4) / (2 / 5 + 2 / 4))
    assert (metrics["gold"], metrics["predicted"], metrics["correct"]) == (4, 5, 2)


def test_entities_matched_in_the_wrong_document_do_not_count():
    gold = [Example(1, "abcdef", (entity(0, 3),)), Example(2, "abcdef", ())]
    predicted = [DocumentPrediction(1, ()), DocumentPrediction(2, (entity(0, 3),))]
    assert evaluate_entities(gold, predicted)["f1"] == 0.0


def test_no_predictions_score_zero_rather_than_failing():
    metrics = evaluate_entities([Example(1, "abc", (entity(0, 3),))], [DocumentPrediction(1, ())])
    assert (metrics["precision"], metrics["recall"], metrics["f1"]) == (0.0, 0.0, 0.0)


def test_predictions_must_pair_up_with_the_gold_documents():
    with pytest.raises(ValueError, match="2 gold examples but 1 predictions"):
        evaluate_entities([Example(1, "a"), Example(2, "b")], [DocumentPrediction(1, ())])
    with pytest.raises(ValueError, match="item 1 pairs gold document 2 with a prediction for document 3"):
        evaluate_document_labels([Example(1, "a"), Example(2, "b")],
                                 [DocumentPrediction(1, ()), DocumentPrediction(3, ())])


# RE ----------------------------------------------------------------------------------------

def relation_gold() -> list[Example]:
    entities = (entity(0, 4, id=1), entity(10, 14, id=2), entity(20, 24, id=3))
    return [Example(7, "x" * 30, entities + (relation(1, 2, "likes"), relation(2, 3, "hates"),
                                             relation(1, 3, "Other")))]


def test_relations_match_on_subject_span_object_span_and_label():
    predicted = [DocumentPrediction(7, (relation(1, 2, "likes"),    # right
                                        relation(3, 2, "hates"),    # direction reversed
                                        relation(1, 3, "likes")))]  # gold says Other: no relation
    metrics = evaluate_relations(relation_gold(), predicted)
    assert (metrics["gold"], metrics["predicted"], metrics["correct"]) == (2, 3, 1)
    assert metrics["precision"] == pytest.approx(1 / 3)
    assert metrics["recall"] == pytest.approx(1 / 2)
    assert metrics["f1"] == pytest.approx(0.4)


def test_relations_compare_spans_not_annotation_ids():
    """A prediction that brings its own entities (other ids, the same spans) still matches."""
    own_entities = (entity(0, 4, id=101), entity(10, 14, id=102), entity(20, 24, id=103))
    predicted = [DocumentPrediction(7, own_entities + (relation(101, 102, "likes"), relation(102, 103, "hates"),
                                                       relation(101, 103, "Other")))]
    metrics = evaluate_relations(relation_gold(), predicted)
    assert metrics["f1"] == 1.0 and metrics["gold"] == 2


def test_the_no_relation_label_is_configurable():
    predicted = [DocumentPrediction(7, (relation(1, 2, "likes"), relation(2, 3, "hates"), relation(1, 3, "Other")))]
    assert evaluate_relations(relation_gold(), predicted)["f1"] == 1.0
    counted = evaluate_relations(relation_gold(), predicted, no_relation_labels=("hates",))
    assert (counted["gold"], counted["predicted"], counted["correct"]) == (2, 2, 2)  # likes and Other


def test_a_relation_naming_an_unknown_entity_is_reported():
    predicted = [DocumentPrediction(7, (relation(1, 99, "likes"),))]
    with pytest.raises(ValueError, match="predicted item 0: relation 'likes' names object 99"):
        evaluate_relations(relation_gold(), predicted)


# SA ----------------------------------------------------------------------------------------

def test_document_labels_accuracy_and_macro_f1():
    gold_labels, predicted_labels = ["a", "a", "b", "b", "c"], ["a", "b", "b", "b", "a"]
    gold = [Example(i, "t", document(label)) for i, label in enumerate(gold_labels)]
    predicted = [DocumentPrediction(i, document(label)) for i, label in enumerate(predicted_labels)]
    metrics = evaluate_document_labels(gold, predicted)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    # a: P 1/2 R 1/2 -> 0.5; b: P 2/3 R 1 -> 0.8; c: never predicted -> 0
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_multi_label_documents_need_the_exact_label_set_for_accuracy():
    gold = [Example(1, "t", document("a", "b")), Example(2, "t", document("a"))]
    predicted = [DocumentPrediction(1, document("b", "a")), DocumentPrediction(2, document("b"))]
    metrics = evaluate_document_labels(gold, predicted)
    assert metrics["accuracy"] == 0.5
    assert metrics["macro_f1"] == pytest.approx(2 / 3)  # a: P 1 R 1/2; b: P 1/2 R 1


def test_every_task_registers_its_evaluation():
    tasks = load_plugins(["ner", "re", "sa"]).tasks
    assert tasks.get("ner").evaluate is evaluate_entities
    assert tasks.get("re").evaluate is evaluate_relations
    assert tasks.get("sa").evaluate is evaluate_document_labels
