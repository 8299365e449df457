"""Overlapping entities (issue 16, item 11). The rule (docs/user-guide.md, "Overlapping
entities"): in a NER project one annotator's entities on a document never overlap, whatever
their labels (a word takes one label, as in BIO); other annotators' and the gold layer are
layers of their own. The API refuses an overlapping span with 409 naming the annotation it
overlaps, an import that gives one annotator overlapping spans fails (file, line, field) and
stores nothing, and the CoNLL export's message for two annotators' overlaps names a fix that
works. RE keeps nested entities."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from leanlife_server.cli import main
from leanlife_server.db import db
from leanlife_server.db.models import Annotation, Document
from leanlife_server.formats.exporter import export_file
from leanlife_server.formats.importer import import_file
from leanlife_server.formats.reader import ExportFilters
from leanlife_server.plugin_api import FormatError
from tests.conftest import add_document, create_project
from tests.formats_helpers import new_project
from tests.test_ui_annotate import NER_DOCS, NER_LABELS, annotations, drag, offsets
from tests.test_ui_harness import browser, login, server, token  # noqa: F401 (fixtures)

TEXT = "New York City is big ."  # New York [0, 8), York City [4, 13), York [4, 8), City [9, 13)
LABELS = (("LOC", "span"), ("ORG", "span"))


def _ner_project(make_caller):
    owner, anna, bob = make_caller("owner"), make_caller("anna"), make_caller("bob")
    project = create_project(owner, "ner", labels=LABELS)
    for name in ("anna", "bob"):
        owner.post(f"/api/v1/projects/{project['id']}/members", json={"username": name, "role": "annotator"})
    document = add_document(owner, project["id"], TEXT)
    return owner, anna, bob, project["id"], document["id"]


def test_one_annotators_overlapping_entities_are_refused_naming_the_first(make_caller):
    owner, anna, bob, pid, did = _ner_project(make_caller)
    url = f"/api/v1/projects/{pid}/documents/{did}/annotations"
    new_york = anna.post(url, json={"label": "LOC", "start": 0, "end": 8}).get_json()

    for span in ({"label": "LOC", "start": 4, "end": 13},   # crossing, same label
                 {"label": "ORG", "start": 4, "end": 8},    # nested, another label
                 {"label": "ORG", "start": 0, "end": 8},    # the same words, another label
                 {"label": "LOC", "start": 0, "end": 13}):  # around it
        refused = anna.post(url, json=span)
        assert refused.status_code == 409, (span, refused.get_json())
        error = refused.get_json()["error"]
        assert error["details"]["annotation_id"] == new_york["id"]
        assert f"annotation {new_york['id']}" in error["message"] and "“New York”" in error["message"]
        assert "may not overlap" in error["message"]

    # Touching is not overlapping; a PUT that would make one overlap is refused the same way.
    city = anna.post(url, json={"label": "LOC", "start": 9, "end": 13})
    assert city.status_code == 201, city.get_json()
    moved = anna.put(f"/api/v1/projects/{pid}/annotations/{city.get_json()['id']}",
                     json={"label": "LOC", "start": 4, "end": 13})
    assert moved.status_code == 409 and moved.get_json()["error"]["details"]["annotation_id"] == new_york["id"]
    relabeled = anna.put(f"/api/v1/projects/{pid}/annotations/{new_york['id']}",
                         json={"label": "ORG", "start": 0, "end": 8})
    assert relabeled.status_code == 200, relabeled.get_json()  # itself does not count

    # Another annotator's layer, and the gold layer, are their own.
    assert bob.post(url, json={"label": "LOC", "start": 4, "end": 13}).status_code == 201
    gold = f"/api/v1/projects/{pid}/documents/{did}/gold"
    assert owner.post(gold, json={"label": "LOC", "start": 0, "end": 13}).status_code == 201
    nested_gold = owner.post(gold, json={"label": "LOC", "start": 4, "end": 8})
    assert nested_gold.status_code == 409, nested_gold.get_json()
    assert len(anna.get(url).get_json()["items"]) == 2


def test_relation_projects_keep_nested_entities(make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "re", labels=LABELS)
    document = add_document(owner, project["id"], TEXT)
    url = f"/api/v1/projects/{project['id']}/documents/{document['id']}/annotations"
    assert owner.post(url, json={"label": "LOC", "start": 0, "end": 13}).status_code == 201
    assert owner.post(url, json={"label": "LOC", "start": 4, "end": 8}).status_code == 201


def test_an_import_with_one_annotators_overlapping_entities_fails_naming_file_and_line(app, tmp_path):
    fine = {"text": "Paris is nice .", "annotations": [{"label": "LOC", "start": 0, "end": 5}]}
    overlapping = {"text": TEXT, "annotations": [
        {"label": "LOC", "start": 0, "end": 8, "annotator": "anna"},
        {"label": "LOC", "start": 0, "end": 8, "annotator": "anna"},  # given twice: one span
        {"label": "LOC", "start": 4, "end": 13, "annotator": "bob"},  # bob's own layer
        {"label": "ORG", "start": 4, "end": 8, "annotator": "anna"}]}
    path = tmp_path / "people.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (fine, overlapping)) + "\n", encoding="utf-8")
    with app.app_context():
        project = new_project("ner")
        with pytest.raises(FormatError) as failure:
            import_file(project, path)
        assert str(failure.value).startswith("people.jsonl, line 2: annotations[3]: ")
        assert "annotator 'anna'" in str(failure.value) and "may not overlap" in str(failure.value)
        assert db.session.query(Document).count() == 0 and db.session.query(Annotation).count() == 0

        # Without anna's nested ORG the file imports: bob's overlapping span is his own.
        overlapping["annotations"].pop()
        path.write_text("\n".join(json.dumps(r) for r in (fine, overlapping)) + "\n", encoding="utf-8")
        assert import_file(project, path).annotations == 3


def test_the_conll_exports_advice_for_overlapping_entities_works(app, make_caller, tmp_path):
    owner, anna, bob, pid, did = _ner_project(make_caller)
    url = f"/api/v1/projects/{pid}/documents/{did}/annotations"
    assert anna.post(url, json={"label": "LOC", "start": 0, "end": 8}).status_code == 201
    assert bob.post(url, json={"label": "LOC", "start": 4, "end": 13}).status_code == 201
    env = {"LEANLIFE_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "LEANLIFE_DATA_DIR": str(tmp_path / "data"), "LEANLIFE_SECRET_KEY": "test"}
    runner = CliRunner()
    out = tmp_path / "out.conll"

    failed = runner.invoke(main, ["export", str(pid), "--format", "conll", "-o", str(out)], env=env)
    assert failed.exit_code != 0
    message = " ".join(failed.output.split())
    assert "“New York” [0, 8) LOC by anna and “York City” [4, 13) LOC by bob overlap" in message, message
    assert "--annotator NAME" in message and "--layer gold" in message, message

    # Following the advice: one annotator at a time ...
    for name, expected in (("anna", "New B-LOC\nYork I-LOC\nCity O\n"), ("bob", "New O\nYork B-LOC\nCity I-LOC\n")):
        result = runner.invoke(main, ["export", str(pid), "--format", "conll", "--annotator", name, "-o", str(out)],
                               env=env)
        assert result.exit_code == 0, result.output
        assert out.read_text(encoding="utf-8").startswith(expected)
    # ... (the API's "annotator" too) ...
    job = owner.post(f"/api/v1/projects/{pid}/exports", json={"format": "conll", "annotator": anna.user_id})
    assert job.status_code == 202, job.get_json()
    # ... or the gold layer, once curated.
    owner.post(f"/api/v1/projects/{pid}/documents/{did}/gold", json={"label": "LOC", "start": 0, "end": 13})
    result = runner.invoke(main, ["export", str(pid), "--format", "conll", "--layer", "gold", "-o", str(out)], env=env)
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("New B-LOC\nYork I-LOC\nCity I-LOC\n")


def test_one_annotators_old_overlaps_are_named_with_a_fix_that_works(app, tmp_path):
    """Overlaps stored before the rule (here written straight to the database) make the export
    say to delete one of them; deleting it lets the export through."""
    with app.app_context():
        project = new_project("ner")
        import_file(project, _write(tmp_path, "a.jsonl", {"text": TEXT, "annotations": [
            {"label": "LOC", "start": 0, "end": 8}]}))
        first = db.session.query(Annotation).one()
        db.session.add(Annotation(project_id=project.id, document_id=first.document_id, label_id=first.label_id,
                                  kind="span", start=4, end=13, source="import"))
        db.session.commit()
        with pytest.raises(FormatError) as failure:
            export_file(tmp_path / "out.conll", project, "conll", ExportFilters())
        assert "delete or shorten one of the two" in str(failure.value)
        db.session.delete(first)
        db.session.commit()
        export_file(tmp_path / "out.conll", project, "conll", ExportFilters())
        assert (tmp_path / "out.conll").read_text(encoding="utf-8").startswith("New O\nYork B-LOC\nCity I-LOC\n")


def _write(tmp_path, name: str, record: dict):
    path = tmp_path / name
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    return path


def test_the_ner_view_says_why_an_overlapping_entity_is_not_made(server, browser):
    pid = server.project("ner", "trigger", NER_LABELS, NER_DOCS)
    anna = server.rest["anna"]
    did = anna("GET", f"/projects/{pid}/documents")["items"][0]["id"]
    anna("POST", f"/projects/{pid}/documents/{did}/annotations", {"label": "PER", **offsets(NER_DOCS[0], "Barack Obama")})
    page = login(browser, server.url, "anna")
    page.set_default_timeout(8000)
    page.goto(f"{server.url}/#/projects/{pid}/annotate/{did}")
    token(page, "said").wait_for()
    drag(page, token(page, "Obama"), token(page, "said"))
    page.keyboard.press("l")
    page.locator("[data-testid=status]").get_by_text(
        "“Obama said” overlaps your PER “Barack Obama”: your entities may not overlap").wait_for()
    assert page.locator("[data-testid=held-entity]").count() == 0  # not held for a trigger
    assert [(a["label"], a["start"]) for a in annotations(anna, pid, did)] == [("PER", 10)]
