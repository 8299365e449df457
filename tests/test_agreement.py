"""GET /projects/{id}/agreement: the figures equal scikit-learn's and krippendorff's on
hand-made fixtures (expected values come from calling the libraries on hand-written
matrices), for document labels, relations and spans; and the disagreement listing."""

from __future__ import annotations

import re

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, f1_score

from leanlife_server.agreement import tokenize
from leanlife_server.db import db
from leanlife_server.db.models import Annotation
from tests.conftest import add_document, create_project

nan = np.nan


def alpha(matrix) -> float:
    return float(krippendorff.alpha(reliability_data=np.array(matrix, dtype=float),
                                    level_of_measurement="nominal"))


def kappa(a, b) -> float:
    return float(cohen_kappa_score(a, b))


def close(actual, expected) -> bool:
    return actual is not None and actual == pytest.approx(expected)


NAMES = ("ann", "bob", "cat")


@pytest.fixture
def team(make_caller):
    """An owner and three annotators, as a function building a project of theirs."""
    owner = make_caller("owner")
    annotators = [make_caller(name) for name in NAMES]

    def build(task: str, labels, **extra):
        project = create_project(owner, task, labels=labels, **extra)
        for name in NAMES:
            r = owner.post(f"/api/v1/projects/{project['id']}/members",
                           json={"username": name, "role": "annotator"})
            assert r.status_code == 201, r.get_json()
        return project

    build.owner, build.annotators = owner, annotators
    return build


def annotate(user, project_id: int, document_id: int, **body) -> int:
    r = user.post(f"/api/v1/projects/{project_id}/documents/{document_id}/annotations", json=body)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def agreement(owner, project_id: int, query: str = "") -> dict:
    r = owner.get(f"/api/v1/projects/{project_id}/agreement{query}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def pair_of(figures: dict, a, b) -> dict:
    return next(p for p in figures["pairs"] if p["annotators"] == sorted([a.user_id, b.user_id]))


# Document labels ---------------------------------------------------------------------------

# Rows: ann, bob, cat; columns: documents; None: that annotator left the document unlabelled.
SA_LABELS = [
    ["pos", "pos", "neg", "neu", "pos", None, "neg"],
    ["pos", "neg", "neg", "neu", None, "pos", "neg"],
    [None, "neg", "neg", "pos", "pos", "pos", None],
]
CODES = {"pos": 0, "neg": 1, "neu": 2}


def label_sa(team, table) -> tuple[dict, list[int]]:
    project = team("sa", labels=(("pos", "document"), ("neg", "document"), ("neu", "document")))
    docs = [add_document(team.owner, project["id"], f"review {i}")["id"] for i in range(len(table[0]))]
    for user, row in zip(team.annotators, table):
        for doc, label in zip(docs, row):
            if label is not None:
                annotate(user, project["id"], doc, label=label)
    return project, docs


def expected_pair(table, i, j, label=None):
    shared = [(a, b) for a, b in zip(table[i], table[j]) if a is not None and b is not None]
    if label is not None:
        shared = [(a == label, b == label) for a, b in shared]
    return kappa([a for a, _ in shared], [b for _, b in shared]), len(shared)


def test_document_labels_match_the_libraries_with_missing_items(team):
    project, _ = label_sa(team, SA_LABELS)
    figures = agreement(team.owner, project["id"])
    ann, bob, cat = team.annotators
    assert figures["kind"] == "document"

    matrix = [[nan if v is None else CODES[v] for v in row] for row in SA_LABELS]
    assert close(figures["overall"]["alpha"], alpha(matrix))
    assert figures["overall"]["items"] == 7  # every document has two labels or more
    pair_kappas = []
    for (i, a), (j, b) in [((0, ann), (1, bob)), ((0, ann), (2, cat)), ((1, bob), (2, cat))]:
        expected, items = expected_pair(SA_LABELS, i, j)
        pair = pair_of(figures, a, b)
        assert close(pair["kappa"], expected) and pair["items"] == items
        pair_kappas.append(expected)
        for label in CODES:
            k, _ = expected_pair(SA_LABELS, i, j, label)
            assert close(pair["labels"][label]["kappa"], k)
    assert close(figures["overall"]["kappa"], np.mean(pair_kappas))

    for label in CODES:
        binary = [[nan if v is None else float(v == label) for v in row] for row in SA_LABELS]
        assert close(figures["labels"][label]["alpha"], alpha(binary))


def test_perfect_and_total_disagreement(team):
    perfect = [["pos", "neg", "neu", "pos"], ["pos", "neg", "neu", "pos"], [None] * 4]
    project, _ = label_sa(team, perfect)
    figures = agreement(team.owner, project["id"])
    assert figures["overall"]["kappa"] == 1.0 and figures["overall"]["alpha"] == 1.0
    assert [p["kappa"] for p in figures["pairs"]] == [1.0]  # cat labelled nothing: no pair

    opposite = [["pos", "neg", "pos", "neg"], ["neg", "pos", "neg", "pos"], [None] * 4]
    project, _ = label_sa(team, opposite)
    figures = agreement(team.owner, project["id"])
    matrix = [[CODES[v] for v in row] for row in opposite[:2]]
    assert close(figures["overall"]["kappa"], kappa(*matrix)) and figures["overall"]["kappa"] == -1.0
    assert close(figures["overall"]["alpha"], alpha(matrix))
    assert figures["labels"]["neu"]["alpha"] is None  # nobody used it: undefined, not 1


def test_no_shared_items_give_undefined_figures(team):
    project, _ = label_sa(team, [["pos", None], [None, "neg"], [None, None]])
    figures = agreement(team.owner, project["id"])
    assert figures["overall"] == {"kappa": None, "alpha": None, "items": 0}
    assert figures["pairs"] == []  # nobody shares a document with anybody
    assert figures["labels"] == {name: {"kappa": None, "alpha": None, "items": 0} for name in CODES}


def test_multi_label_documents_compare_label_sets(team):
    project = team("sa", labels=(("pos", "document"), ("funny", "document")), multi_label=True)
    docs = [add_document(team.owner, project["id"], f"review {i}")["id"] for i in range(3)]
    ann, bob, _ = team.annotators
    sets = [[{"pos", "funny"}, {"pos"}, {"funny"}], [{"pos", "funny"}, {"pos", "funny"}, {"funny"}]]
    for user, row in zip((ann, bob), sets):
        for doc, labels in zip(docs, row):
            for label in sorted(labels):
                annotate(user, project["id"], doc, label=label)
    figures = agreement(team.owner, project["id"])
    as_text = [[",".join(sorted(s)) for s in row] for row in sets]
    assert close(figures["pairs"][0]["kappa"], kappa(*as_text))
    codes = {"funny,pos": 0, "pos": 1, "funny": 2}
    assert close(figures["overall"]["alpha"], alpha([[codes[v] for v in row] for row in as_text]))
    for label in ("pos", "funny"):
        has_label = [[float(label in s) for s in row] for row in sets]
        assert close(figures["labels"][label]["alpha"], alpha(has_label))
        assert close(figures["pairs"][0]["labels"][label]["kappa"], kappa(*has_label))


def test_imported_annotations_do_not_count(team, app):
    project, docs = label_sa(team, [["pos", "neg"], ["pos", "neg"], [None, None]])
    with app.app_context():
        label_id = db.session.scalar(db.text("SELECT id FROM labels WHERE name = 'neg' AND project_id = :p"),
                                     {"p": project["id"]})
        db.session.add(Annotation(project_id=project["id"], document_id=docs[0], user_id=None,
                                  label_id=label_id, kind="document"))
        db.session.commit()
    figures = agreement(team.owner, project["id"])
    assert figures["overall"]["alpha"] == 1.0 and len(figures["pairs"]) == 1


def test_disagreeing_documents_are_listed_in_pages(team):
    project, docs = label_sa(team, SA_LABELS)
    ann, bob, cat = team.annotators
    base = f"?pair={bob.user_id},{ann.user_id}"
    # ann and bob both labelled documents 0-3 and 6; they differ on document 1 only.
    assert agreement(team.owner, project["id"], base)["items"] == [{"document_id": docs[1]}]
    # ann and cat share 1-4; they differ on 1 (pos/neg) and 3 (neu/pos).
    pair = f"?pair={ann.user_id},{cat.user_id}"
    first = agreement(team.owner, project["id"], pair + "&limit=1")
    assert first == {"items": [{"document_id": docs[1]}], "next_cursor": docs[1]}
    second = agreement(team.owner, project["id"], pair + f"&limit=1&cursor={docs[1]}")
    assert second == {"items": [{"document_id": docs[3]}], "next_cursor": None}
    assert agreement(team.owner, project["id"], pair + "&label=neu")["items"] == [{"document_id": docs[3]}]
    assert agreement(team.owner, project["id"], pair + "&label=neg")["items"] == [{"document_id": docs[1]}]


def test_documents_any_two_annotators_disagree_on_a_label(team):
    project, docs = label_sa(team, SA_LABELS)
    # Document 1: pos, neg, neg; document 3: neu, neu, pos; the others agree where labelled.
    assert agreement(team.owner, project["id"], "?label=pos")["items"] == [
        {"document_id": docs[1]}, {"document_id": docs[3]}]
    assert agreement(team.owner, project["id"], "?label=neg")["items"] == [{"document_id": docs[1]}]
    first = agreement(team.owner, project["id"], "?label=neu&limit=1")
    assert first == {"items": [{"document_id": docs[3]}], "next_cursor": None}
    assert agreement(team.owner, project["id"], f"?label=pos&limit=1&cursor={docs[1]}")["items"] == [
        {"document_id": docs[3]}]


@pytest.mark.parametrize("query, field", [("?pair=1", "pair"), ("?pair=1,1", "pair"), ("?pair=a,2", "pair"),
                                          ("?pair=1,2&label=nope", "label"), ("?label=nope", "label"),
                                          ("?pair=1,2&limit=0", "limit")])
def test_bad_queries_name_the_field(team, query, field):
    project, _ = label_sa(team, [["pos"], ["pos"], [None]])
    r = team.owner.get(f"/api/v1/projects/{project['id']}/agreement{query}")
    assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == field


def test_only_owners_read_agreement(team, make_caller):
    project, _ = label_sa(team, [["pos"], ["pos"], [None]])
    path = f"/api/v1/projects/{project['id']}/agreement"
    assert team.annotators[0].get(path).status_code == 403
    assert make_caller("outsider").get(path).status_code == 404  # outsiders see no project at all
    assert team.owner.get("/api/v1/projects/999999/agreement").status_code == 404
    assert make_caller(None).get(path).status_code == 401


# Relations ---------------------------------------------------------------------------------

def test_relations_compare_shared_entity_pairs_by_offsets(team):
    project = team("re", labels=(("PER", "span"), ("LOC", "span"), ("born_in", "relation"),
                                 ("lives_in", "relation")))
    pid = project["id"]
    text = "Ann was born in Rome and Bob lives in Oslo ."
    doc = add_document(team.owner, pid, text)["id"]
    ann, bob, cat = team.annotators
    entities = [(0, 3, "PER"), (16, 20, "LOC"), (25, 28, "PER"), (38, 42, "LOC")]
    ids = {user.user_id: [annotate(user, pid, doc, label=label, start=s, end=e) for s, e, label in entities]
           for user in (ann, bob, cat)}
    # (subject, object) by entity index -> label; missing pairs: that annotator related nothing there.
    relations = {"ann": {(0, 1): "born_in", (2, 3): "lives_in", (0, 3): "lives_in"},
                 "bob": {(0, 1): "born_in", (2, 3): "born_in", (2, 1): "lives_in"},
                 "cat": {(0, 1): "lives_in", (2, 3): "lives_in"}}
    for user, name in zip(team.annotators, NAMES):
        for (s, o), label in relations[name].items():
            annotate(user, pid, doc, label=label, subject=ids[user.user_id][s], object=ids[user.user_id][o])
    figures = agreement(team.owner, pid)
    assert figures["kind"] == "relation"
    units = [(0, 1), (2, 3), (0, 3), (2, 1)]
    table = [[relations[name].get(unit) for unit in units] for name in NAMES]
    codes = {"born_in": 0, "lives_in": 1}
    assert close(figures["overall"]["alpha"], alpha([[nan if v is None else codes[v] for v in row] for row in table]))
    for (i, a), (j, b) in [((0, ann), (1, bob)), ((0, ann), (2, cat)), ((1, bob), (2, cat))]:
        expected, items = expected_pair(table, i, j)
        assert close(pair_of(figures, a, b)["kappa"], expected) and pair_of(figures, a, b)["items"] == items
    listed = agreement(team.owner, pid, f"?pair={ann.user_id},{bob.user_id}&label=lives_in")
    assert listed["items"] == [{"document_id": doc}]
    assert agreement(team.owner, pid, "?label=born_in")["items"] == [{"document_id": doc}]


# Spans -------------------------------------------------------------------------------------

def test_tokenizer_matches_the_pattern():
    texts = {5: "Dr. Müller-Lüdenscheidt met O'Neil, 2x_y!", 2: "", 9: "  a\u0301b \tc"}
    documents, starts, ends = tokenize(texts)
    expected = [(d, m.start(), m.end()) for d in sorted(texts) for m in re.finditer(r"\w+|[^\w\s]", texts[d])]
    assert list(zip(documents.tolist(), starts.tolist(), ends.tolist())) == expected


NER_TEXT = "Ann Lee flew from New York to Oslo ."
# Tokens: Ann(0) Lee(1) flew(2) from(3) New(4) York(5) to(6) Oslo(7) .(8)
NER_SPANS = {
    "ann": [(0, 7, "PER"), (18, 26, "LOC"), (30, 34, "LOC")],      # Ann Lee, New York, Oslo
    "bob": [(0, 3, "PER"), (18, 26, "LOC"), (30, 34, "PER")],      # Ann, New York, Oslo as PER
    "cat": [],                                                    # finished: found nothing
}
# Hand-made BIO tags per token (O=0, B-PER=1, I-PER=2, B-LOC=3, I-LOC=4).
NER_TAGS = {
    "ann": [1, 2, 0, 0, 3, 4, 0, 3, 0],
    "bob": [1, 0, 0, 0, 3, 4, 0, 1, 0],
    "cat": [0] * 9,
}


def test_spans_give_exact_span_f1_and_token_alpha(team):
    project = team("ner", labels=(("PER", "span"), ("LOC", "span")))
    pid = project["id"]
    doc = add_document(team.owner, pid, NER_TEXT)["id"]
    unseen = add_document(team.owner, pid, "Only Ann saw this one .")["id"]
    ann, bob, cat = team.annotators
    for user, name in zip(team.annotators, NAMES):
        for start, end, label in NER_SPANS[name]:
            annotate(user, pid, doc, label=label, start=start, end=end)
    assert cat.put(f"/api/v1/projects/{pid}/documents/{doc}/finished").status_code == 204
    annotate(ann, pid, unseen, label="PER", start=5, end=8)  # covered by ann alone: not compared

    figures = agreement(team.owner, pid)
    assert figures["kind"] == "span"
    assert close(figures["overall"]["alpha"], alpha([NER_TAGS[n] for n in NAMES]))
    assert figures["overall"]["items"] == 9
    for label, tags in (("PER", (1, 2)), ("LOC", (3, 4))):
        binary = [[float(t in tags) for t in NER_TAGS[n]] for n in NAMES]
        assert close(figures["labels"][label]["alpha"], alpha(binary))

    def expected_f1(a, b, label=None):
        spans = {n: {s for s in NER_SPANS[n] if label in (None, s[2])} for n in (a, b)}
        union = sorted(spans[a] | spans[b])
        if not union:
            return None, 0
        return f1_score([s in spans[a] for s in union], [s in spans[b] for s in union]), len(union)

    f1s = []
    for (a, ua), (b, ub) in [(("ann", ann), ("bob", bob)), (("ann", ann), ("cat", cat)), (("bob", bob), ("cat", cat))]:
        pair = pair_of(figures, ua, ub)
        f1, items = expected_f1(a, b)
        assert close(pair["f1"], f1) and pair["items"] == items
        f1s.append(f1)
        for label in ("PER", "LOC"):
            f1, items = expected_f1(a, b, label)
            assert pair["labels"][label]["items"] == items
            assert (pair["labels"][label]["f1"] is None) if f1 is None else close(pair["labels"][label]["f1"], f1)
    assert close(figures["overall"]["f1"], np.mean(f1s))

    pair = f"?pair={ann.user_id},{bob.user_id}"
    assert agreement(team.owner, pid, pair)["items"] == [{"document_id": doc}]
    assert agreement(team.owner, pid, pair + "&label=LOC")["items"] == [{"document_id": doc}]
    assert agreement(team.owner, pid, "?label=LOC")["items"] == [{"document_id": doc}]
    # bob and cat: bob's three spans against none on the one document both covered.
    assert agreement(team.owner, pid, f"?pair={bob.user_id},{cat.user_id}")["items"] == [{"document_id": doc}]


def test_identical_spans_agree_perfectly(team):
    project = team("ner", labels=(("PER", "span"), ("LOC", "span")))
    pid = project["id"]
    doc = add_document(team.owner, pid, NER_TEXT)["id"]
    for user in team.annotators[:2]:
        for start, end, label in NER_SPANS["ann"]:
            annotate(user, pid, doc, label=label, start=start, end=end)
    figures = agreement(team.owner, pid)
    assert figures["overall"] == {"f1": 1.0, "alpha": 1.0, "items": 9}
    assert agreement(team.owner, pid, f"?pair={team.annotators[0].user_id},{team.annotators[1].user_id}")["items"] == []
    assert agreement(team.owner, pid, "?label=PER")["items"] == []
