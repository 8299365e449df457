"""The effort benchmark's accounting, on a hand-made example (no server)."""

from bench.effort import Item, Run, account, item_of, step_of, unassisted_actions_per_label

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
