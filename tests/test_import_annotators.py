"""Imported annotators (issue 17): a Label Studio task annotated by two people imports as two
annotators' work, members matched by name and the others kept apart by imported_annotator;
Label Studio and doccano exports write the annotators back, and read them again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from leanlife_server.auth import create_user
from leanlife_server.db import db
from leanlife_server.db.migrate import upgrade
from leanlife_server.db.models import Annotation, Label
from leanlife_server.formats.exporter import export_file
from leanlife_server.formats.importer import import_file
from leanlife_server.formats.reader import ExportFilters
from leanlife_server.plugin_api import FormatError
from tests.conftest import PASSWORD, app_with_one_old_sa_annotation
from tests.formats_helpers import content, new_project


def _choice(label: str) -> dict:
    return {"id": "c", "from_name": "sentiment", "to_name": "text", "type": "choices",
            "value": {"choices": [label]}}


# Label Studio user 7 and 8 disagree; user 12 is "alice", a member of the project.
DISAGREEING = [{"id": 1, "data": {"text": "The film was fine, I guess"}, "annotations": [
    {"id": 1, "completed_by": 7, "result": [_choice("pos")]},
    {"id": 2, "completed_by": 8, "result": [_choice("neg")]},
    {"id": 3, "completed_by": {"id": 12, "email": "alice@example.org", "username": "alice"},
     "result": [_choice("neg")]}]}]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def exported(tmp_path: Path, project, format_name: str) -> str:
    path = tmp_path / f"out-{format_name}"
    export_file(path, project, format_name, ExportFilters())
    return path.read_text(encoding="utf-8")


def stored(project_id: int) -> set[tuple]:
    return set(db.session.execute(
        sa.select(Annotation.user_id, Annotation.imported_annotator, Label.name)
        .join(Label, Label.id == Annotation.label_id).where(Annotation.project_id == project_id)).all())


def test_two_label_studio_annotators_on_one_task_land_as_two_annotators_work(app, tmp_path):
    with app.app_context():
        alice = create_user("alice", PASSWORD)
        project = new_project("sa", owner_id=alice.id)  # single-label
        result = import_file(project, write(tmp_path, "ls.json", json.dumps(DISAGREEING)))
        assert (result.documents, result.annotations) == (1, 3)
        assert result.unknown_annotators == ["7", "8"]
        assert stored(project.id) == {(None, "7", "pos"), (None, "8", "neg"), (alice.id, None, "neg")}


def test_label_studio_export_writes_completed_by_and_reads_it_back(app, tmp_path):
    with app.app_context():
        alice = create_user("alice", PASSWORD)
        project = new_project("sa", owner_id=alice.id)
        import_file(project, write(tmp_path, "ls.json", json.dumps(DISAGREEING)))
        out = json.loads(exported(tmp_path, project, "label_studio"))
        by = {json.dumps(a["completed_by"]): a["result"][0]["value"]["choices"] for a in out[0]["annotations"]}
        assert by == {"7": ["pos"], "8": ["neg"], '{"username": "alice"}': ["neg"]}
        again = new_project("sa", owner_id=alice.id)
        import_file(again, write(tmp_path, "again.json", json.dumps(out)))
        assert stored(again.id) == stored(project.id)
        assert content(again.id) == content(project.id)


def test_doccano_export_writes_each_labels_user_and_reads_it_back(app, tmp_path):
    with app.app_context():
        alice = create_user("alice", PASSWORD)
        project = new_project("sa", owner_id=alice.id)
        import_file(project, write(tmp_path, "ls.json", json.dumps(DISAGREEING)))
        lines = exported(tmp_path, project, "doccano").splitlines()
        assert len(lines) == 1  # one document, one line
        assert sorted(json.loads(lines[0])["label"], key=repr) == [
            {"label": "neg", "user": "8"}, {"label": "neg", "user": "alice"}, {"label": "pos", "user": "7"}]
        again = new_project("sa", owner_id=alice.id)
        import_file(again, write(tmp_path, "again.jsonl", lines[0] + "\n"))
        assert stored(again.id) == stored(project.id)


def test_doccano_line_user_and_span_users_round_trip(app, tmp_path):
    records = [{"text": "Ann met Bob", "user": 3, "label": [[0, 3, "PER"], [8, 11, "PER"]]},
               {"text": "Acme hired Cy", "label": [[0, 4, "ORG", 3], [0, 4, "PER", "bob"], [11, 13, "PER"]]}]
    with app.app_context():
        project = new_project("ner")
        import_file(project, write(tmp_path, "d.jsonl", "".join(json.dumps(r) + "\n" for r in records)))
        assert [[(a[0], a[1], a[5]) for a in annotations] for _text, annotations in content(project.id)] == [
            [("PER", 0, "3"), ("PER", 8, "3")],
            [("ORG", 0, "3"), ("PER", 0, "bob"), ("PER", 11, None)]]
        out = [json.loads(line) for line in exported(tmp_path, project, "doccano").splitlines()]
        assert out[0] == {"text": "Ann met Bob", "user": "3", "label": [[0, 3, "PER"], [8, 11, "PER"]]}
        again = new_project("ner")
        import_file(again, write(tmp_path, "again.jsonl", "".join(json.dumps(r) + "\n" for r in out)))
        assert content(again.id) == content(project.id)


def test_one_annotator_giving_two_labels_is_still_refused(app, tmp_path):
    task = [{"data": {"text": "Meh"}, "annotations": [
        {"completed_by": 7, "result": [_choice("pos"), _choice("neg")]}]}]
    with app.app_context():
        project = new_project("sa")
        with pytest.raises(FormatError, match="2 document labels by 7"):
            import_file(project, write(tmp_path, "ls.json", json.dumps(task)))


def test_the_migration_leaves_old_annotations_without_an_imported_annotator(empty_database, tmp_path):
    app = app_with_one_old_sa_annotation(empty_database, tmp_path / "data", "0011")
    upgrade(app, "0012")
    with app.app_context():
        assert db.session.execute(db.text("SELECT imported_annotator FROM annotations")).scalar_one() is None
        db.engine.dispose()
