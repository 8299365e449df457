"""Import and export on small hand-written files: each format, all-or-nothing, duplicates,
annotators, filters and format detection."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from leanlife_server.auth import create_user
from leanlife_server.db import db
from leanlife_server.db.models import Annotation, Document, DocumentCompletion, Label, Membership
from leanlife_server.formats import sources
from leanlife_server.formats.detect import detect_format
from leanlife_server.formats.exporter import export_file
from leanlife_server.formats.importer import import_file
from leanlife_server.formats.reader import ExportFilters
from leanlife_server.plugin_api import FormatError
from tests.conftest import PASSWORD
from tests.formats_helpers import content, new_project


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def exported(tmp_path: Path, project, format_name: str, filters: ExportFilters = ExportFilters()) -> str:
    path = tmp_path / f"out-{format_name}"
    export_file(path, project, format_name, filters)
    return path.read_text(encoding="utf-8")


CONLL = ("-DOCSTART- -X- -X- O\n\n"
         "Peter\tB-PER\nBlackburn\tI-PER\nsaid\tO\n\n"
         "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP I-MISC\n")


def test_conll_detokenizes_with_exact_offsets_and_exports_the_same(app, tmp_path):
    with app.app_context():
        project = new_project("ner")
        result = import_file(project, write(tmp_path, "a.conll", CONLL))
        assert (result.format, result.documents, result.annotations) == ("conll", 2, 3)
        assert result.labels_created == ["PER", "ORG", "MISC"]
        docs = content(project.id)
        assert docs[0] == ("Peter Blackburn said", [("PER", 0, 15, (), (), None, "import")])
        # I-MISC after O opens an entity (IOB1, as conlleval reads it)
        assert docs[1][1] == [("MISC", 11, 17, (), (), None, "import"), ("ORG", 0, 2, (), (), None, "import")]
        assert exported(tmp_path, project, "conll") == (
            "Peter B-PER\nBlackburn I-PER\nsaid O\n\nEU B-ORG\nrejects O\nGerman B-MISC\n\n")


def test_conll_export_cuts_tokens_at_entity_boundaries(app, tmp_path):
    with app.app_context():
        project = new_project("ner")
        import_file(project, write(tmp_path, "a.jsonl", json.dumps(
            {"text": "Mr. Smith's car", "annotations": [{"label": "PER", "start": 4, "end": 9}]}) + "\n"))
        assert exported(tmp_path, project, "conll") == "Mr. O\nSmith B-PER\n's O\ncar O\n\n"


def test_conll_export_refuses_overlapping_entities(app, tmp_path):
    with app.app_context():
        project = new_project("ner")
        import_file(project, write(tmp_path, "a.jsonl", json.dumps(
            {"text": "New York City", "annotations": [{"label": "LOC", "start": 0, "end": 8, "annotator": "ann"},
                                                  {"label": "LOC", "start": 4, "end": 13, "annotator": "bo"}]}) + "\n"))
        with pytest.raises(FormatError, match="overlap") as failure:
            exported(tmp_path, project, "conll")
        assert failure.value.field == "annotations"
        assert "export one annotator's work at a time" in failure.value.message  # tests/test_span_overlaps.py


def test_a_malformed_record_fails_the_import_naming_file_line_and_field(app, tmp_path):
    lines = [{"text": "Good one", "annotations": [{"label": "PER", "start": 0, "end": 4}]}] * 3
    lines.append({"text": "Bad one", "annotations": [{"label": "PER", "start": 5, "end": 99}]})
    path = write(tmp_path, "data.jsonl", "\n".join(json.dumps(l) for l in lines) + "\n")
    with app.app_context():
        project = new_project("ner")
        with pytest.raises(FormatError) as failure:
            import_file(project, path, batch_size=2)
        error = failure.value
        assert (error.file, error.location, error.field) == ("data.jsonl", "line 4", "annotations[0].span")
        assert str(error).startswith("data.jsonl, line 4: annotations[0].span: span [5, 99)")
        assert count(Document) == count(Label) == count(Annotation) == 0


def test_an_error_in_the_write_pass_rolls_back_every_batch(app, tmp_path):
    """Duplicates are found while writing: earlier batches are already inserted, and go."""
    path = write(tmp_path, "a.txt", "one\ntwo\nthree\nfour\none\n")
    with app.app_context():
        project = new_project("ner")
        with pytest.raises(FormatError) as failure:
            import_file(project, path, duplicates="fail", batch_size=2)
        assert (failure.value.location, failure.value.field) == ("line 5", "text")
        assert count(Document) == 0


def test_duplicates_keep_skip_and_fail(app, tmp_path):
    with app.app_context():
        project = new_project("ner")
        import_file(project, write(tmp_path, "a.txt", "alpha\nbeta\n"))
        again = write(tmp_path, "b.txt", "beta\ngamma\ngamma\n")
        assert import_file(project, again, duplicates="skip").skipped_duplicates == 2
        assert [d[0] for d in content(project.id)] == ["alpha", "beta", "gamma"]
        with pytest.raises(FormatError, match="duplicates=fail"):
            import_file(project, again, duplicates="fail")
        assert import_file(project, again).documents == 3  # keep is the default
        assert count(Document) == 6


def test_json_array_streams_values_split_across_chunks(monkeypatch, tmp_path):
    monkeypatch.setattr(sources, "CHUNK_CHARS", 3)
    text = ' [ {"text": "a, b", "n": 12345},\n{"text": "c"} , 678901 ] '
    values = list(sources._array_values(io.StringIO(text.strip()[1:])))
    assert values == [("record 1", {"text": "a, b", "n": 12345}), ("record 2", {"text": "c"}),
                      ("record 3", 678901)]
    with pytest.raises(FormatError) as failure:
        list(sources._array_values(io.StringIO('{"text": "a"} {"text": "b"}]')))
    assert failure.value.location == "record 2"


def test_csv_keeps_other_columns_as_metadata_and_reads_labels_for_classification(app, tmp_path):
    csv_text = 'text,label,explanation,source\n"Great, really",pos,The word great,web\nDull,neg,,mail\n'
    with app.app_context():
        raw = new_project("ner")
        import_file(raw, write(tmp_path, "a.csv", csv_text))
        assert content(raw.id, meta=True)[0] == ("Great, really", [], {"label": "pos", "explanation": "The word great", "source": "web"})
        sa_project = new_project("sa", "natural_language")
        import_file(sa_project, write(tmp_path, "b.csv", csv_text))
        first = content(sa_project.id, meta=True)[0]
        assert first[1] == [("pos", None, None, (), (("natural_language", "The word great", ()),), None, "import")]
        assert first[2] == {"source": "web"}
        assert exported(tmp_path, sa_project, "csv").splitlines() == [
            "document,text,label,explanation,annotator", '1,"Great, really",pos,The word great,', "2,Dull,neg,,"]


def test_triggers_merge_instances_of_a_sentence_into_one_document(app, tmp_path):
    triggers = ("Alice\tB-PER\nmet\tT-3\nBob\tO\nin\tO\nParis\tO\n\n"
                "Alice\tO\nmet\tO\nBob\tB-PER\nin\tT-1\nParis\tT-1\n\n"
                "Alice\tT-0\nmet\tO\nBob\tO\nin\tT-7\nParis\tB-LOC\n\n")
    with app.app_context():
        project = new_project("ner", "trigger")
        result = import_file(project, write(tmp_path, "t.txt", triggers))
        assert (result.format, result.documents, result.annotations, result.explanations) == ("triggers", 1, 3, 4)
        text, annotations = content(project.id)[0]
        assert text == "Alice met Bob in Paris"
        by_label = {(a[0], a[1]): a[4] for a in annotations}
        assert by_label[("PER", 0)] == (("trigger", None, ((6, 9),)),)
        assert by_label[("PER", 10)] == (("trigger", None, ((14, 22),)),)  # adjacent tokens: one span
        assert by_label[("LOC", 17)] == (("trigger", None, ((0, 5),)), ("trigger", None, ((14, 16),)))
        assert exported(tmp_path, project, "triggers").split("\n\n")[2] == \
            "Alice\tT-0\nmet\tO\nBob\tO\nin\tT-1\nParis\tB-LOC"


SEMEVAL = ('7\t"The <e1>author</e1> of a keygen uses a <e2>disassembler</e2>."\n'
           'Instrument-Agency(e2,e1)\nComment: tool\n\n'
           '8\t"A <e1>child</e1> in a <e2>cradle</e2>."\nOther\nComment:\n\n')


def test_semeval_relations_with_direction(app, tmp_path):
    with app.app_context():
        project = new_project("re", "natural_language")
        result = import_file(project, write(tmp_path, "TRAIN.TXT", SEMEVAL))
        assert (result.format, result.documents, result.annotations) == ("semeval2010", 2, 6)
        text, annotations = content(project.id)[0]
        assert text == "The author of a keygen uses a disassembler."
        relation = [a for a in annotations if a[3]][0]
        assert relation[0] == "Instrument-Agency"
        assert relation[3] == ((30, 42, "entity"), (4, 10, "entity"))  # subject e2, object e1
        assert exported(tmp_path, project, "semeval2010") == SEMEVAL


def test_relations_csv_and_triplets(app, tmp_path):
    with app.app_context():
        project = new_project("re", "natural_language")
        import_file(project, write(tmp_path, "r.jsonl", json.dumps({"text": "Ann founded Acme", "annotations": [
            {"label": "PER", "start": 0, "end": 3}, {"label": "ORG", "start": 12, "end": 16},
            {"label": "founder_of", "subject": 0, "object": 1,
             "explanation": "The word founded links SUBJ and OBJ"}]}) + "\n"))
        csv_text = exported(tmp_path, project, "relations_csv")
        assert csv_text.splitlines()[1] == "1,Ann founded Acme,founder_of,0,3,PER,12,16,ORG,The word founded links SUBJ and OBJ,"
        again = new_project("re", "natural_language")
        assert import_file(again, write(tmp_path, "r.csv", csv_text)).format == "relations_csv"
        assert content(again.id) == content(project.id)
        triplet = json.loads(exported(tmp_path, project, "triplets"))
        assert triplet == {"datapoint": {"text": "Ann founded Acme",
                                         "subject": {"start": 0, "end": 3, "text": "Ann", "label": "PER"},
                                         "object": {"start": 12, "end": 16, "text": "Acme", "label": "ORG"}},
                           "label": "founder_of", "explanation": "The word founded links SUBJ and OBJ",
                           "annotator": None}


def test_a_relation_naming_a_missing_entity_fails(app, tmp_path):
    with app.app_context():
        project = new_project("re")
        with pytest.raises(FormatError) as failure:
            import_file(project, write(tmp_path, "r.jsonl", json.dumps({"text": "Ann and Bob", "annotations": [
                {"label": "PER", "start": 0, "end": 3}, {"label": "knows", "subject": 0, "object": 5}]}) + "\n"))
        assert (failure.value.location, failure.value.field) == ("line 1", "annotations[1].object")


# doccano, following its documented JSONL export -----------------------------------------

DOCCANO_NER = [{"id": 1, "text": "EU rejects German call", "label": [[0, 2, "ORG"], [11, 17, "MISC"]]},
               {"id": 2, "text": "Peter Blackburn", "label": [[0, 15, "PER"]], "Comments": []}]
DOCCANO_CLASSIFICATION = [{"id": 3, "text": "Terrific movie", "label": ["positive"]}]
DOCCANO_RELATIONS = [{"id": 4, "text": "Ann founded Acme", "Comments": [],
                      "entities": [{"id": 11, "label": "PER", "start_offset": 0, "end_offset": 3},
                                   {"id": 12, "label": "ORG", "start_offset": 12, "end_offset": 16}],
                      "relations": [{"id": 5, "from_id": 11, "to_id": 12, "type": "founder_of"}]}]


@pytest.mark.parametrize("task, records", [("ner", DOCCANO_NER), ("sa", DOCCANO_CLASSIFICATION),
                                           ("re", DOCCANO_RELATIONS)])
def test_doccano_both_ways(app, tmp_path, task, records):
    path = write(tmp_path, "doccano.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    with app.app_context():
        project = new_project(task)
        assert detect_format(app.extensions["leanlife"], path, task).name == "doccano"
        import_file(project, path)
        out = [json.loads(line) for line in exported(tmp_path, project, "doccano").splitlines()]
        if task == "re":  # entity and relation ids are the export's own
            assert [e["label"] for e in out[0]["entities"]] == ["PER", "ORG"]
            relation = out[0]["relations"][0]
            ids = {e["id"]: e["label"] for e in out[0]["entities"]}
            assert (ids[relation["from_id"]], ids[relation["to_id"]], relation["type"]) == ("PER", "ORG", "founder_of")
            assert out[0]["text"] == records[0]["text"] and out[0]["Comments"] == []
        else:
            assert out == records


# Label Studio, following its documented JSON export --------------------------------------

LABEL_STUDIO_NER = [{
    "id": 1, "data": {"text": "Ann founded Acme", "site": "news"},
    "annotations": [{"id": 9, "completed_by": 1, "was_cancelled": False, "result": [
        {"id": "a1", "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": 0, "end": 3, "text": "Ann", "labels": ["PER"]}},
        {"id": "a2", "from_name": "label", "to_name": "text", "type": "labels",
         "value": {"start": 12, "end": 16, "text": "Acme", "labels": ["ORG"]}},
        {"from_id": "a2", "to_id": "a1", "type": "relation", "direction": "left", "labels": ["founder_of"]}]},
        {"id": 10, "completed_by": 2, "was_cancelled": True, "result": []}],
    "predictions": []}]
LABEL_STUDIO_SA = [{"id": 2, "data": {"text": "Terrific movie"}, "annotations": [{"completed_by": 1, "result": [
    {"id": "c1", "from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["positive"]}},
    {"id": "t1", "from_name": "why", "to_name": "text", "type": "textarea",
     "value": {"text": ["The word terrific"]}}]}]}]


def test_label_studio_spans_and_relations_both_ways(app, tmp_path):
    path = write(tmp_path, "export.json", json.dumps(LABEL_STUDIO_NER))
    with app.app_context():
        project = new_project("re")
        assert import_file(project, path).format == "label_studio"
        before = content(project.id, meta=True)
        text, annotations, meta = before[0]
        assert meta == {"site": "news"}
        relation = [a for a in annotations if a[3]][0]
        assert relation[:4] == ("founder_of", None, None, ((0, 3, "PER"), (12, 16, "ORG")))  # "left": to -> from
        again = new_project("re")
        import_file(again, write(tmp_path, "again.json", exported(tmp_path, project, "label_studio")))
        assert content(again.id, meta=True) == before


def test_label_studio_choices_with_explanations_both_ways(app, tmp_path):
    with app.app_context():
        project = new_project("sa", "natural_language")
        import_file(project, write(tmp_path, "ls.json", json.dumps(LABEL_STUDIO_SA)))
        before = content(project.id)
        assert before[0][1] == [("positive", None, None, (), (("natural_language", "The word terrific", ()),),
                                 "1", "import")]  # completed_by 1
        out = json.loads(exported(tmp_path, project, "label_studio"))
        assert [r["type"] for r in out[0]["annotations"][0]["result"]] == ["choices", "textarea"]
        again = new_project("sa", "natural_language")
        import_file(again, write(tmp_path, "again.json", json.dumps(out)))
        assert content(again.id) == before


# Annotators and export filters ------------------------------------------------------------

def test_annotators_who_are_members_keep_their_annotations_and_filters_apply(app, tmp_path):
    records = [
        {"text": "Good film", "annotations": [
            {"label": "pos", "annotator": "alice", "source": "manual", "explanation": "good"},
            {"label": "pos", "annotator": "bob", "source": "recommendation"}]},
        {"text": "Bad film", "annotations": [{"label": "neg", "annotator": "mallory"}]}]
    with app.app_context():
        alice, bob = create_user("alice", PASSWORD), create_user("bob", PASSWORD)
        project = new_project("sa", "natural_language", owner_id=alice.id)
        db.session.add(Membership(project_id=project.id, user_id=bob.id, role="annotator", settings={}))
        db.session.commit()
        result = import_file(project, write(tmp_path, "a.jsonl", "".join(json.dumps(r) + "\n" for r in records)))
        assert result.unknown_annotators == ["mallory"]
        owners = dict(db.session.execute(sa.select(Annotation.source, Annotation.user_id)).all())
        assert owners == {"manual": alice.id, "recommendation": bob.id, "import": None}
        first_doc = db.session.scalar(sa.select(Document.id).order_by(Document.id))
        db.session.add(DocumentCompletion(document_id=first_doc, user_id=bob.id))
        db.session.commit()

        def labels(filters):
            return [(text, [(a[0], a[5]) for a in annotations]) for text, annotations in content(project.id, filters)]

        assert labels(ExportFilters(annotator=alice.id)) == [("Good film", [("pos", "alice")]), ("Bad film", [])]
        assert labels(ExportFilters(include_recommendations=False)) == [
            ("Good film", [("pos", "alice")]), ("Bad film", [("neg", "mallory")])]  # kept by name
        assert labels(ExportFilters(finished_only=True)) == [("Good film", [("pos", "alice"), ("pos", "bob")])]
        assert labels(ExportFilters(annotator=alice.id, finished_only=True)) == []
        line = json.loads(exported(tmp_path, project, "jsonl").splitlines()[0])
        assert line["annotations"][0] == {"label": "pos", "explanations": [{"kind": "natural_language", "text": "good"}],
                                          "annotator": "alice", "source": "manual"}


def test_single_label_projects_refuse_two_labels_by_one_annotator(app, tmp_path):
    with app.app_context():
        project = new_project("sa")
        with pytest.raises(FormatError, match="one label per document"):
            import_file(project, write(tmp_path, "a.jsonl", json.dumps(
                {"text": "Meh", "annotations": [{"label": "pos"}, {"label": "neg"}]}) + "\n"))


def test_unknown_label_kinds_and_formats_are_refused(app, tmp_path):
    with app.app_context():
        project = new_project("ner")
        with pytest.raises(FormatError, match="would be a document label"):
            import_file(project, write(tmp_path, "a.jsonl", json.dumps({"text": "x", "annotations": [{"label": "pos"}]}) + "\n"))
        with pytest.raises(FormatError, match="not a format that can import 'ner'") as failure:
            import_file(project, tmp_path / "a.jsonl", "semeval2010")
        assert failure.value.field == "format"


def test_format_detection_by_extension_and_content(app, tmp_path):
    plugins = app.extensions["leanlife"]
    cases = {("a.txt", "ner", "one document\nanother\n"): "text",
             ("b.txt", "ner", CONLL): "conll",
             ("c.txt", "ner", "Alice\tB-PER\nmet\tT-0\n"): "triggers",
             ("d.TXT", "re", SEMEVAL): "semeval2010",
             ("e.jsonl", "ner", '{"text": "x", "annotations": []}\n'): "jsonl",
             ("f.json", "ner", json.dumps(LABEL_STUDIO_NER)): "label_studio",
             ("g.json", "sa", '[{"term": "food", "exp": "x", "sent": "$T$", "label": 1}]'): "next",
             ("h.json", "ner", '[{"text": "x"}]'): "json"}
    for (name, task, text), expected in cases.items():
        assert detect_format(plugins, write(tmp_path, name, text), task).name == expected, name
    (tmp_path / "classes").mkdir()
    assert detect_format(plugins, tmp_path / "classes", "sa").name == "class_folders"
