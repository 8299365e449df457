"""Relation recommendations in the RE workspace (issue 16, item 3), in Chromium: a model
version of NExT (``next.v1``) serves relation recommendations whose evidence is NExT's (the
explanations that fired and the words they cite); the workspace lists them with that evidence,
outlines the highlighted one's subject and object, and Enter accepts / Delete rejects it.

The version and its recommendations are written straight into the database (``seed_version``),
so the test needs neither torch nor a training run.

``LEANLIFE_SCREENSHOTS=docs/images`` keeps the screenshot of the workspace (re-recommendations.png).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import sqlalchemy as sa

from leanlife_server.db.models import ModelVersion, Recommendation
from tests.test_ui_annotate import RE_DOC, RE_LABELS, annotations, offsets
from tests.test_ui_harness import VIEWPORT, browser, login, server, token  # noqa: F401 (fixtures)

WAIT_MS = 8000
EXPLANATION = 'SUBJ and OBJ sandwich the word "leads"'
OPEN = "Yesterday Satya Nadella leads Microsoft and Sundar Pichai leads Google in California ."


def seed_version(database_url: str, project_id: int, model: str, metrics: Mapping[str, Any],
                 data_counts: Mapping[str, Any], active: bool = True,
                 recommendations: Mapping[int, list[dict]] | None = None) -> int:
    """A model version row, numbered after the project's others (no files: enough to serve
    recommendations and to be listed), and its recommendations per document id; returns the
    version's id."""
    engine = sa.create_engine(database_url)
    table = ModelVersion.__table__
    try:
        with engine.begin() as connection:
            number = 1 + connection.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.number), 0))
                                            .where(table.c.project_id == project_id)).scalar_one()
            if active:
                connection.execute(sa.update(ModelVersion.__table__).where(
                    ModelVersion.__table__.c.project_id == project_id).values(is_active=False))
            version_id = connection.execute(sa.insert(ModelVersion.__table__).values(
                project_id=project_id, number=number, model=model, config={}, metrics=dict(metrics),
                data_counts=dict(data_counts), is_active=active).returning(ModelVersion.__table__.c.id)).scalar_one()
            rows = [{"model_version_id": version_id, "document_id": document_id, "payload": payload,
                     "confidence": payload["confidence"]}
                    for document_id, payloads in (recommendations or {}).items() for payload in payloads]
            if rows:
                connection.execute(sa.insert(Recommendation.__table__), rows)
    finally:
        engine.dispose()
    return version_id


def _evidence(text: str, *words: str) -> dict:
    """NExT's evidence: the explanation that fired and the words of ``text`` it cites."""
    return {"source": "next", "explanations": [EXPLANATION],
            "triggers": [{"text": w, **offsets(text, w)} for w in words]}


def _project_with_recommendations(server, database_url) -> tuple[int, list[dict]]:
    """An RE project: OPEN carries anna's four entities and no relation, and the serving
    next.v1 version recommends two works_for relations on it."""
    pid = server.project("re", "natural_language", RE_LABELS, [RE_DOC, OPEN])
    anna = server.rest["anna"]
    # No cheap recommender (NExT's rules) retraining on anna's saves: the seeded version serves.
    server.rest["admin"]("PATCH", f"/projects/{pid}/settings", {
        "model": "next.v1", "recommenders": ["next.v1"], "retrain_policy": {"mode": "manual"}})
    docs = anna("GET", f"/projects/{pid}/documents")["items"]
    ids = {word: anna("POST", f"/projects/{pid}/documents/{docs[1]['id']}/annotations",
                      {"label": label, **offsets(OPEN, word)})["id"]
           for label, word in (("PER", "Satya Nadella"), ("ORG", "Microsoft"), ("PER", "Sundar Pichai"),
                               ("ORG", "Google"))}
    seed_version(database_url, pid, "next.v1", {"train": {}, "heldout": {}}, {"labeled": 1}, recommendations={
        docs[1]["id"]: [
            {"kind": "relation", "label": "works_for", "subject": ids["Satya Nadella"], "object": ids["Microsoft"],
             "confidence": 0.91, "evidence": _evidence(OPEN, "leads")},
            {"kind": "relation", "label": "works_for", "subject": ids["Sundar Pichai"], "object": ids["Google"],
             "confidence": 0.84, "evidence": {**_evidence(OPEN), "triggers": [
                 {"text": "leads", "start": OPEN.rindex("leads"), "end": OPEN.rindex("leads") + 5}]}},
        ]})
    assert len(anna("GET", f"/projects/{pid}/model/recommendations/{docs[1]['id']}")["items"]) == 2
    return pid, docs


def test_re_workspace_shows_recommendations_with_their_explanations_and_takes_them_by_key(
        server, browser, database_url, tmp_path):
    pid, docs = _project_with_recommendations(server, database_url)
    anna = server.rest["anna"]
    page = login(browser, server.url, "anna")
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{server.url}/#/projects/{pid}/annotate/{docs[1]['id']}")
    token(page, "Satya").wait_for()
    rows = page.locator("[data-testid=recommendations] li")
    rows.first.wait_for()
    texts = rows.all_inner_texts()
    assert any("Satya Nadella" in t and "works_for" in t and "Microsoft" in t for t in texts), texts
    assert all(EXPLANATION in t for t in texts), texts  # the explanation that fired
    # The highlighted recommendation's subject and object are marked in the text.
    assert "rec-subj" in token(page, "Satya").get_attribute("class")
    assert "rec-obj" in token(page, "Microsoft").get_attribute("class")

    shots = Path(os.environ.get("LEANLIFE_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    assert page.viewport_size == VIEWPORT
    page.screenshot(path=str(shots / "re-recommendations.png"))

    # ↓ highlights the second; Delete rejects it, and only it (a rejection names the relation,
    # not just its label).
    page.keyboard.press("ArrowDown")
    page.locator("[data-testid=recommendations] li.sel", has_text="Sundar Pichai").wait_for()
    assert "rec-subj" in token(page, "Sundar").get_attribute("class")
    page.keyboard.press("Delete")
    rows.filter(has_text="Sundar Pichai").wait_for(state="detached")
    assert rows.count() == 1 and "Satya Nadella" in rows.first.inner_text()

    # Enter accepts the highlighted one: a relation saved as taken from the model.
    page.keyboard.press("Enter")
    page.locator("[data-testid=relations] li").first.wait_for()
    rows.first.wait_for(state="detached")  # accepted: no longer recommended
    saved = annotations(anna, pid, docs[1]["id"])
    spans = {a["id"]: OPEN[a["start"]:a["end"]] for a in saved if a["kind"] == "span"}
    assert [(spans[a["subject"]], a["label"], spans[a["object"]], a["source"]) for a in saved
            if a["kind"] == "relation"] == [("Satya Nadella", "works_for", "Microsoft", "recommendation")]


def test_a_recommendation_on_another_annotators_entities_is_shown_on_mine(server, browser, database_url):
    """The model names the first entity on those words, here bob's, which anna cannot see: the
    endpoint adds the entities' words, and anna's view puts her own entities in their place."""
    pid = server.project("re", "natural_language", RE_LABELS, [OPEN])
    server.rest["admin"]("PATCH", f"/projects/{pid}/settings", {
        "model": "next.v1", "recommenders": ["next.v1"], "retrain_policy": {"mode": "manual"}})
    [doc] = server.rest["anna"]("GET", f"/projects/{pid}/documents")["items"]
    ids = {}
    for name in ("bob", "anna"):  # bob first: his entities have the lower ids
        for label, word in (("PER", "Satya Nadella"), ("ORG", "Microsoft")):
            ids[name, word] = server.rest[name]("POST", f"/projects/{pid}/documents/{doc['id']}/annotations",
                                                {"label": label, **offsets(OPEN, word)})["id"]
    seed_version(database_url, pid, "next.v1", {"train": {}, "heldout": {}}, {"labeled": 1}, recommendations={
        doc["id"]: [{"kind": "relation", "label": "works_for", "subject": ids["bob", "Satya Nadella"],
                     "object": ids["bob", "Microsoft"], "confidence": 0.9, "evidence": _evidence(OPEN, "leads")}]})
    anna = server.rest["anna"]
    [served] = anna("GET", f"/projects/{pid}/model/recommendations/{doc['id']}")["items"]
    assert (served["subject_span"], served["object_span"]) == (
        {**offsets(OPEN, "Satya Nadella"), "label": "PER"}, {**offsets(OPEN, "Microsoft"), "label": "ORG"})

    page = login(browser, server.url, "anna")
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{server.url}/#/projects/{pid}/annotate/{doc['id']}")
    row = page.locator("[data-testid=recommendations] li")
    row.first.wait_for()
    assert "Satya Nadella" in row.first.inner_text() and "Microsoft" in row.first.inner_text()
    page.keyboard.press("Enter")
    page.locator("[data-testid=relations] li").first.wait_for()
    [relation] = [a for a in annotations(anna, pid, doc["id"]) if a["kind"] == "relation"]
    assert (relation["subject"], relation["object"]) == (ids["anna", "Satya Nadella"], ids["anna", "Microsoft"])
