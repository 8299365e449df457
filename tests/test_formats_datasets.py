"""Round trips on the shared datasets: import, export, import the export again, and the
second project holds the same documents, spans, labels and explanations as the first."""

from __future__ import annotations

from pathlib import Path

import pytest

from leanlife_server.formats.exporter import export_file
from leanlife_server.formats.importer import import_file
from tests.formats_helpers import content, new_project

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

pytestmark = [pytest.mark.dataset,
              pytest.mark.skipif(not DATA.is_dir(), reason=f"{DATA} (the shared datasets) is absent")]


def round_trip(tmp_path: Path, task: str, explanation_kind: str, source: Path, export_format: str,
               suffix: str) -> tuple[list, list]:
    first = new_project(task, explanation_kind)
    import_file(first, source)
    exported = tmp_path / f"export.{suffix}"
    export_file(exported, first, export_format)
    second = new_project(task, explanation_kind)
    import_file(second, exported)
    return content(first.id), content(second.id)


def test_conll2003_train_round_trips_through_conll(app, tmp_path):
    with app.app_context():
        before, after = round_trip(tmp_path, "ner", "none", DATA / "conll2003" / "train.txt", "conll", "conll")
    assert len(before) == 14_041  # 14,986 blocks less the 945 -DOCSTART- lines
    assert sum(len(annotations) for _, annotations in before) > 23_000
    assert before[0] == ("EU rejects German call to boycott British lamb .",
                         [("MISC", 11, 17, (), (), None, "import"), ("MISC", 34, 41, (), (), None, "import"),
                          ("ORG", 0, 2, (), (), None, "import")])
    assert after == before


def _sentence_lines(text: str) -> list[str]:
    """Lines without -DOCSTART- and trailing spaces, one blank line between sentences."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith("-DOCSTART-") or (not line and (not out or not out[-1])):
            continue
        out.append(line)
    return out


def test_conll_export_gives_back_the_file(app, tmp_path):
    """Exact offsets: exporting an imported CoNLL file writes the same tokens and tags."""
    source = DATA / "conll2003" / "test.txt"
    with app.app_context():
        project = new_project("ner")
        import_file(project, source)
        export_file(tmp_path / "test.conll", project, "conll")
    assert _sentence_lines((tmp_path / "test.conll").read_text(encoding="utf-8")) == \
        _sentence_lines(source.read_text(encoding="utf-8"))


def test_bc5cdr_triggers_round_trip_with_their_triggers(app, tmp_path):
    with app.app_context():
        before, after = round_trip(tmp_path, "ner", "trigger", DATA / "bc5cdr" / "trigger_20.txt",
                                   "triggers", "txt")
    instances = sum(len(explanations) > 0 for _, annotations in before
                    for _, _, _, _, explanations, _, _ in annotations)
    assert instances > 1000
    assert after == before


def test_semeval2010_train_round_trips(app, tmp_path):
    with app.app_context():
        before, after = round_trip(tmp_path, "re", "natural_language",
                                   DATA / "semeval2010_task8" / "TRAIN_FILE.TXT", "semeval2010", "txt")
    assert len(before) == 8000
    assert after == before


def test_rt_polarity_class_folder_round_trips_through_csv(app, tmp_path):
    with app.app_context():
        before, after = round_trip(tmp_path, "sa", "natural_language", DATA / "rt_polarity", "csv", "csv")
    assert len(before) == 10_662
    assert {a[0] for _, annotations in before for a in annotations} == {"pos", "neg"}
    assert after == before


@pytest.mark.parametrize("name, task", [("semeval.json", "re"), ("tacred.json", "re"),
                                        ("restaurant.json", "sa"), ("laptop.json", "sa")])
def test_next_explanations_import_and_round_trip_through_jsonl(app, tmp_path, name, task):
    with app.app_context():
        before, after = round_trip(tmp_path, task, "natural_language", DATA / "next_explanations" / name,
                                   "jsonl", "jsonl")
    explained = [a for _, annotations in before for a in annotations if a[4]]
    assert explained and all(kind == "natural_language" and text for a in explained for kind, text, _ in a[4])
    assert after == before
