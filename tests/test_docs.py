"""Keeps docs/plugins.md honest: every hook is documented with its signature and an example,
every hook is named in a test, and the guide's Python examples run as the plugin they describe."""

from __future__ import annotations

import inspect
import json
import logging
import re
import sys
import types
from pathlib import Path
from typing import Callable

import pytest

from leanlife_server import hookspecs
from leanlife_server.events import (
    AnnotationDeleted,
    AnnotationSaved,
    GoldChanged,
    ModelTrained,
    QueueRanked,
    RecommendationsMade,
    TrainingFinished,
)
from leanlife_server.formats.sources import FileSource
from leanlife_server.plugin_api import (
    SPAN,
    AnnotationData,
    Dataset,
    DocumentPrediction,
    Example,
    FormatContext,
    FormatError,
    load_object,
)
from leanlife_server.plugins import load_plugins
from tests.conftest import add_document, create_project

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"
EXAMPLE_MODULE = "leanlife_keyphrase"
# The guide's Python blocks between these headings are the example module; later ones use it.
MODULE_START, USAGE_START = "## The worked example", "## Testing a plugin"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def hook_specs() -> dict[str, Callable]:
    return {name: f for name, f in vars(hookspecs).items()
            if callable(f) and hasattr(f, f"{hookspecs.PROJECT_NAME}_spec")}


def rendered_signature(spec: Callable) -> str:
    """``name(arg: type, ...) -> type`` as written in hookspecs.py."""
    def text(annotation) -> str:
        return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)

    annotations = inspect.get_annotations(spec)
    params = ", ".join(f"{name}: {text(annotation)}" for name, annotation in annotations.items()
                       if name != "return")
    return f"{spec.__name__}({params}) -> {text(annotations['return'])}"


def guide_sections(markdown: str) -> dict[str, str]:
    """Level-3 sections by heading line."""
    parts = re.split(r"^(###? .*)$", markdown, flags=re.MULTILINE)
    return {heading: body for heading, body in zip(parts[1::2], parts[2::2]) if heading.startswith("### ")}


def python_blocks(markdown: str, start: int, end: int) -> list[tuple[int, str]]:
    """(line number of the first code line, code) of the blocks in markdown[start:end]."""
    return [(markdown.count("\n", 0, m.start(1)) + 1, m.group(1))
            for m in PYTHON_BLOCK.finditer(markdown, start, end)]


def run_blocks(blocks: list[tuple[int, str]], namespace: dict) -> None:
    for line, code in blocks:
        # Padding keeps traceback line numbers equal to the guide's.
        exec(compile("\n" * (line - 1) + code, str(GUIDE), "exec"), namespace)


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text()


@pytest.fixture
def keyphrase(guide, monkeypatch) -> types.ModuleType:
    """The guide's example plugin, importable as ``leanlife_keyphrase`` like an installed one."""
    module = types.ModuleType(EXAMPLE_MODULE)
    module.__file__ = str(GUIDE)
    monkeypatch.setitem(sys.modules, EXAMPLE_MODULE, module)
    run_blocks(python_blocks(guide, guide.index(MODULE_START), guide.index(USAGE_START)), module.__dict__)
    return module


def test_every_hook_is_documented_with_its_signature_and_an_example(guide):
    sections = guide_sections(guide)
    missing = []
    for name, spec in hook_specs().items():
        heading = f"### `{rendered_signature(spec)}`"
        if heading not in sections:
            missing.append(f"{name}: no section headed {heading!r}")
            continue
        body = sections[heading]
        if not re.search(rf"```python\n(.*\n)*?@hookimpl\ndef {name}\(", body):
            missing.append(f"{name}: its section has no ```python example implementing it")
        if name.startswith("leanlife_") and "Returns" not in body and "Called" not in body:
            missing.append(f"{name}: its section says neither what it returns nor when it is called")
    assert not missing, "docs/plugins.md is out of date:\n" + "\n".join(missing)


def test_the_guide_documents_discovery_and_leanlife_plugins(guide):
    assert "[options.entry_points]\nleanlife =\n" in guide
    assert "LEANLIFE_PLUGINS" in guide


def test_every_hook_is_named_in_a_test():
    sources = {path.name: path.read_text() for path in Path(__file__).parent.glob("test_*.py")
               if path.name != Path(__file__).name}
    untested = [name for name in hook_specs() if not any(name in text for text in sources.values())]
    assert not untested, f"hooks that no test file names: {untested}"


def test_the_worked_example_implements_every_hook(keyphrase):
    implemented = {name for name, value in vars(keyphrase).items()
                   if hasattr(value, f"{hookspecs.PROJECT_NAME}_impl")}
    assert implemented == set(hook_specs())


def test_the_worked_example_registers_as_a_plugin(keyphrase):
    plugins = load_plugins([], extra=[keyphrase])
    assert [t.name for t in plugins.tasks] == ["keyphrase"]
    assert [m.name for m in plugins.models] == ["keyphrase.lexicon.v1"]
    assert [f.name for f in plugins.formats] == ["keyphrase_tsv"]
    assert [q.name for q in plugins.query_strategies] == ["keyphrase.fewest_known"]
    assert {row["plugin"] for row in plugins.describe()} == {EXAMPLE_MODULE}
    # Every dotted path the definitions name resolves.
    paths = [plugins.models.get("keyphrase.lexicon.v1").factory,
             plugins.formats.get("keyphrase_tsv").importer,
             plugins.formats.get("keyphrase_tsv").exporter,
             plugins.query_strategies.get("keyphrase.fewest_known").factory]
    assert all(callable(load_object(path)) for path in paths)


def test_the_testing_examples_run(guide, keyphrase):
    # Up to the walk through the example distribution (tests/test_docs_absa.py checks that).
    end = guide.find("## A whole task")
    blocks = python_blocks(guide, guide.index(USAGE_START), len(guide) if end < 0 else end)
    assert blocks, "the Testing a plugin section lost its example"
    run_blocks(blocks, {"__name__": "guide_usage"})


def test_the_example_model_trains_predicts_saves_and_loads(keyphrase, tmp_path):
    plugins = load_plugins([], extra=[keyphrase])
    definition = plugins.models.get("keyphrase.lexicon.v1")
    model = load_object(definition.factory)(dict(definition.default_config), {"KEY": SPAN}, "cpu")
    text = "Active learning saves labels."
    gold = Example(1, text, (AnnotationData(SPAN, "KEY", start=0, end=15),))
    progress = []
    metrics = model.train(Dataset("keyphrase", {"KEY": SPAN}, "none", [gold]),
                          lambda fraction, details: progress.append(fraction))
    assert metrics == {"phrases": 1.0} and progress == [1.0]

    unseen = Example(2, "Why ACTIVE LEARNING works.")
    [prediction] = model.predict([unseen])
    assert [(a.label, a.start, a.end, a.confidence) for a in prediction.annotations] == [("KEY", 4, 19, 1.0)]
    model.save(tmp_path)
    loaded = type(model).load(tmp_path)
    assert loaded.predict([unseen]) == [prediction]
    evaluate = plugins.tasks.get("keyphrase").evaluate
    assert evaluate([gold], model.predict([Example(1, text)]))["f1"] == 1.0


def test_the_example_format_reads_and_writes(keyphrase, tmp_path):
    plugins = load_plugins([], extra=[keyphrase])
    tsv = plugins.formats.get("keyphrase_tsv")
    context = FormatContext("keyphrase", (SPAN,), options={"label": "KEY"})
    path = tmp_path / "phrases.tsv"
    path.write_text("Active learning saves labels.\tActive learning\tlabels\n")
    records = list(load_object(tsv.importer)(FileSource(path, context)))
    assert [(a.label, a.start, a.end) for a in records[0].annotations] == [("KEY", 0, 15), ("KEY", 22, 28)]
    assert "".join(load_object(tsv.exporter)(records, context)) == path.read_text()

    path.write_text("Fine.\tFine\nBroken line.\tmissing\n")
    with pytest.raises(FormatError) as error:
        list(load_object(tsv.importer)(FileSource(path, context)))
    assert (error.value.location, error.value.field) == ("line 2", "keyphrases")


def test_the_example_query_strategy_prefers_documents_with_few_known_phrases(keyphrase):
    plugins = load_plugins([], extra=[keyphrase])
    scorer = load_object(plugins.query_strategies.get("keyphrase.fewest_known").factory)()
    known = DocumentPrediction(1, (AnnotationData(SPAN, "KEY", start=0, end=3, confidence=0.9),))
    unknown = DocumentPrediction(2, ())
    assert scorer([known, unknown]) == [0.5, 1.0]


def test_the_example_event_hooks_are_called(keyphrase, caplog):
    plugins = load_plugins([], extra=[keyphrase])
    project = {"id": 4, "task": "keyphrase"}
    with caplog.at_level(logging.INFO, logger=EXAMPLE_MODULE):
        plugins.notify(AnnotationSaved(project=project, annotation={"label": "KEY", "user_id": 9},
                                       document_id=2, user_id=9))
        plugins.notify(AnnotationDeleted(project=project, annotation_id=5, document_id=2, user_id=9))
        plugins.notify(GoldChanged(project=project, document_id=2))
        plugins.notify(ModelTrained(project=project, version={"id": 8, "model": "keyphrase.lexicon.v1",
                                                              "metrics": {"f1": 0.5}}, serving_version_id=8))
    assert caplog.messages == ["keyphrase 'KEY' saved in project 4 by user 9",
                               "keyphrase annotation 5 deleted in project 4 by user 9",
                               "project 4: gold changed on document 2",
                               'project 4: keyphrase.lexicon.v1 trained, metrics {"f1": 0.5}']
    plugins.notify(RecommendationsMade(project=project, model_version_id=8, model="keyphrase.lexicon.v1",
                                       documents=[{"document_id": 2}, {"document_id": 3}]))
    plugins.notify(TrainingFinished(project=project, job_id=1, model_version_ids=[8]))
    plugins.notify(QueueRanked(project=project, user_id=9, documents=[{"document_id": 3}]))
    assert (keyphrase.SUGGESTED, keyphrase.LATEST_VERSIONS, keyphrase.NEXT_UP) == ({4: 2}, {4: (8,)}, {(4, 9): 3})


@pytest.fixture
def app(make_app, keyphrase):
    """Apps in this module run with the guide's example plugin registered."""
    return make_app(extra_plugins=[keyphrase])


def test_the_example_plugin_works_through_the_api(make_caller, caplog):
    owner = make_caller("owner")
    project = create_project(owner, "keyphrase", labels=(("KEY", "span"),))
    doc = add_document(owner, project["id"], "Active learning saves labels.")
    url = f"/api/v1/projects/{project['id']}/documents/{doc['id']}/annotations"
    with caplog.at_level(logging.INFO, logger=EXAMPLE_MODULE):
        assert owner.post(url, json={"label": "KEY", "start": 0, "end": 15}).status_code == 201
    assert caplog.messages == [f"keyphrase 'KEY' saved in project {project['id']} by user {owner.user_id}"]
    r = owner.post(url, json={"label": "KEY", "start": 0, "end": 16})
    assert r.status_code == 422 and r.get_json()["error"]["details"] == {"field": "span"}
    r = owner.patch(f"/api/v1/projects/{project['id']}/settings",
                    json={"model": "keyphrase.lexicon.v1", "query_strategy": "keyphrase.fewest_known"})
    assert r.status_code == 200, r.get_json()
    assert json.loads(r.get_data())["model"] == "keyphrase.lexicon.v1"
