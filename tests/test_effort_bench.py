"""The effort benchmark's accounting, on a hand-made example (no server)."""

import tempfile
from pathlib import Path

import pytest

from bench.effort import Item, Run, account, item_of, load_task, step_of, unassisted_actions_per_label

PER = Item("span", "PER", 0, 5)
LOC = Item("span", "LOC", 10, 15)
WRONG_LOC = Item("span", "ORG", 10, 15)  # LOC's span with the wrong label


def test_two_documents_with_known_recommendations():
    # Document 1: nothing shown; both gold spans are created, 3 actions each.
    first = account([PER, LOC], [])
    assert (first.accepted, first.rejected, first.created) == ([], [], [PER, LOC])
    assert first.actions == 6

    # Document 2: PER shown and right (accept, 1); WRONG_LOC shown twice (rejected once, 1),
    # so the gold LOC is created (3).
    second = account([PER, LOC], [PER, WRONG_LOC, WRONG_LOC])
    assert (second.accepted, second.rejected, second.created) == ([PER], [WRONG_LOC], [LOC])
    assert second.actions == 1 + 1 + 3

    run = Run([step_of(0, [PER, LOC], []),
               step_of(2, [PER, LOC], [(PER, 0.9), (WRONG_LOC, 0.4), (WRONG_LOC, 0.6)])])
    assert [s.actions(0.0) for s in run.steps] == [first.actions, second.actions]
    assert run.actions_per_label() == (6 + 5) / 4
    assert run.first_correct_after() == 2
    assert run.precision() == 0.5
    assert run.recall() == 0.25
    assert unassisted_actions_per_label([[PER, LOC], [PER, LOC]]) == 3.0

    # An annotator who hides suggestions below 0.7 sees only PER (the repeat counts at its
    # highest confidence, 0.6): accept 1, create LOC 3.
    assert run.steps[1].actions(0.7) == account([PER, LOC], [PER]).actions == 4
    assert run.precision(0.7) == 1.0
    assert run.actions_per_label(0.7) == (6 + 4) / 4
    assert run.first_correct_after(0.95) is None
    assert run.precision(0.95) is None


def test_document_labels_and_explanations():
    pos, neg = Item("document", "pos"), Item("document", "neg")
    assert account([pos], [pos]).actions == 1  # accept
    assert account([pos], [neg]).actions == 2  # reject, then pick the label
    assert step_of(0, [pos], [(neg, 0.8)]).actions(0.0) == 2
    assert account([pos], [], explanations=True).actions == 1 + 2
    assert account([PER], [], explanations=True).actions == 3 + 2
    assert step_of(0, [PER], [(PER, 0.9)], explanations=True).actions(0.5) == 1
    assert unassisted_actions_per_label([[pos], [neg]]) == 1.0


def test_recommendation_payloads_become_items():
    assert item_of({"kind": "span", "label": "PER", "start": 0, "end": 5, "confidence": 0.9}) == PER
    assert item_of({"label": "pos", "confidence": 0.7}) == Item("document", "pos")


# RE: relations between given entities, with the explanations the annotator types ---------

def test_relations_with_explanations_cost_five_to_create():
    founded = Item("relation", "founder_of", 0, 12)  # named by subject's and object's starts
    backwards = Item("relation", "founder_of", 12, 0)
    assert account([founded], [], explanations=True).actions == 3 + 2  # subject, object, label; explanation
    assert account([founded], [founded], explanations=True).actions == 1  # accepting types nothing
    assert account([founded], [backwards], explanations=True).actions == 1 + 5
    assert item_of({"kind": "relation", "label": "founder_of", "subject": 7, "object": 8, "confidence": 0.6},
                   {7: 0, 8: 12}) == founded
    assert unassisted_actions_per_label([[founded]], explanations=True) == 5.0


DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (DATA / "semeval2010_task8").is_dir(), reason="no shared data folder")
def test_semeval_documents_and_the_rule_matcher_on_them():
    from leanlife_next.rules import build_rules
    from leanlife_server.plugin_api import RELATION, SPAN, AnnotationData, Dataset, Example, ExplanationIn

    task = load_task("re", DATA, 6)
    assert len(task.texts) == len(task.gold) == len(task.entities) == len(task.explanations) == 6
    assert task.labels[0] == ("entity", "span") and all(kind == "relation" for _, kind in task.labels[1:])
    # The first explained training sentence (SemEval id 14; NExT explanation "collected in this").
    text, (gold,) = task.texts[0], task.gold[0]
    assert "<e1>" not in text and text[10:16] == "essays" and text[35:41] == "volume"
    assert gold == Item("relation", "Member-Collection(e1,e2)", 10, 35)
    assert '"collected in this"' in task.explanations[0][gold]

    def example(j: int, labeled: bool) -> Example:
        (_, s1, e1), (_, s2, e2) = task.entities[j]
        spans = (AnnotationData(SPAN, "entity", s1, e1, id=100 * j + 1),
                 AnnotationData(SPAN, "entity", s2, e2, id=100 * j + 2))
        if not labeled:
            return Example(j, task.texts[j], spans)
        (item,) = task.gold[j]
        relation = AnnotationData(RELATION, item.label, subject_id=100 * j + 1, object_id=100 * j + 2,
                                  explanations=(ExplanationIn("natural_language", task.explanations[j][item]),))
        return Example(j, task.texts[j], spans + (relation,))

    labels = dict(task.labels)
    model = build_rules({}, labels)
    metrics = model.train(Dataset("re", labels, "natural_language", [example(j, True) for j in range(6)]),
                          lambda *_: None)
    assert metrics["rules"] >= 5  # (nearly) every explanation parses into a rule that holds
    # Each labeled pair is recommended its own relation, in the right direction, with the
    # words that made the rule hold.
    predictions = model.predict([example(j, False) for j in range(6)])
    right = 0
    for j, prediction in enumerate(predictions):
        (item,) = task.gold[j]
        for a in prediction.annotations:
            if (a.label, a.subject_id, a.object_id) == (item.label, 100 * j + 1, 100 * j + 2):
                right += 1
                assert a.confidence >= 0.5
                assert all(task.texts[j][t["start"]:t["end"]] == t["text"] for t in a.evidence["triggers"])
    assert right >= 5
    saved = Path(tempfile.mkdtemp()) / "rules"
    model.save(saved)
    again = type(model).load(saved)
    assert [p.annotations for p in again.predict([example(0, False)])] == [predictions[0].annotations]
