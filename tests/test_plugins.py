"""The plugin contract: discovery through the ``leanlife`` entry point group (a third-party
distribution written into a temporary site directory), LEANLIFE_PLUGINS, start-up failures,
and every hook in leanlife_server/hookspecs.py."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pluggy
import pytest

from leanlife_server.app import create_app
from leanlife_server.auth import create_user, issue_token
from leanlife_server.db import db
from leanlife_server.db.models import Job
from leanlife_server.events import (
    AnnotationDeleted,
    AnnotationSaved,
    GoldChanged,
    ModelTrained,
    QueueRanked,
    RecommendationsMade,
    TrainingFinished,
)
from leanlife_server.plugin_api import (
    SPAN,
    FormatDefinition,
    ModelDefinition,
    QueryStrategyDefinition,
    TaskDefinition,
)
from leanlife_server.plugins import PluginError, load_plugins
from tests.conftest import PASSWORD, Caller, add_document, create_project
from tests.test_jobs_support import REPO, wait_until

hookimpl = pluggy.HookimplMarker("leanlife")
BUILT_IN_TASKS = {"ner", "re", "sa"}

# A task that LeanLife does not ship: phrase chunking, written as a third party would.
CHUNKING_PLUGIN = '''
"""Phrase chunking (NP, VP, ...) for LeanLife."""
import pluggy

from leanlife_server.plugin_api import (SPAN, AnnotationData, TaskDefinition, ValidationError,
                                        read_label, read_span)

hookimpl = pluggy.HookimplMarker("leanlife")


def parse_chunk(payload, doc):
    span = read_span(payload, doc.text)
    if doc.text[span.start:span.end] != doc.text[span.start:span.end].strip():
        raise ValidationError("span", "a chunk does not start or end with white space")
    return AnnotationData(SPAN, read_label(payload, doc, SPAN), start=span.start, end=span.end)


@hookimpl
def leanlife_tasks():
    return [TaskDefinition(name="chunking", title="Phrase chunking", label_kinds=(SPAN,),
                           explanation_kinds=(), ui_component="ner", parse_annotation=parse_chunk)]
'''

MISSPELLED_PLUGIN = '''
import pluggy

hookimpl = pluggy.HookimplMarker("leanlife")


@hookimpl
def leanlife_taskz():
    return []
'''


def write_distribution(site: Path, module: str, source: str, entry_name: str,
                       distribution: str = "thirdparty_task", version: str = "0.1") -> None:
    """What ``pip install`` leaves behind: the module and its ``.dist-info`` with entry points."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{distribution}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[leanlife]\n{entry_name} = {module}\n")


@pytest.fixture
def site(tmp_path, monkeypatch) -> Path:
    """A site-packages directory on sys.path, where importlib.metadata finds distributions."""
    directory = tmp_path / "site-packages"
    directory.mkdir()
    monkeypatch.syspath_prepend(str(directory))
    before = set(sys.modules)
    yield directory
    for name in set(sys.modules) - before:  # the plugin modules imported from it
        if getattr(sys.modules[name], "__file__", "").startswith(str(directory)):
            del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def chunking(site) -> Path:
    write_distribution(site, "thirdparty_task", CHUNKING_PLUGIN, "chunking")
    return site


class RecordingPlugin:
    """A plugin object implementing the remaining hooks; it records the events it receives."""

    def __init__(self) -> None:
        self.__name__ = "recording"  # pluggy names a plugin object by its __name__
        self.events: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def leanlife_models(self) -> list[ModelDefinition]:
        # Registration only: these tests never build the model (tests/test_docs.py trains one),
        # but its factory must name something that exists.
        return [ModelDefinition(name="testing.lexicon.v1", tasks=("ner",),
                                factory="tests.test_jobs_toy_models:make_tagger", default_config={"min_count": 1})]

    @hookimpl
    def leanlife_formats(self) -> list[FormatDefinition]:
        return [FormatDefinition(name="testing.chunk_tsv", tasks=("chunking",), exporter="csv:writer",
                                 extensions=(".tsv",))]

    @hookimpl
    def leanlife_query_strategies(self) -> list[QueryStrategyDefinition]:
        return [QueryStrategyDefinition(name="testing.shortest_first", tasks=("ner",), factory="builtins:len")]

    @hookimpl
    def leanlife_annotation_saved(self, project: dict, annotation: dict) -> None:
        self.events.append(("annotation_saved", {"project": project, "annotation": annotation}))

    @hookimpl
    def leanlife_model_trained(self, project: dict, version: dict) -> None:
        self.events.append(("model_trained", {"project": project, "version": version}))

    # The hooks that came with typed events take the event alone.
    @hookimpl
    def leanlife_annotation_deleted(self, event: AnnotationDeleted) -> None:
        self.events.append(("annotation_deleted", event))

    @hookimpl
    def leanlife_gold_changed(self, event: GoldChanged) -> None:
        self.events.append(("gold_changed", event))

    @hookimpl
    def leanlife_recommendations_made(self, event: RecommendationsMade) -> None:
        self.events.append(("recommendations_made", event))

    @hookimpl
    def leanlife_training_finished(self, event: TrainingFinished) -> None:
        self.events.append(("training_finished", event))

    @hookimpl
    def leanlife_queue_ranked(self, event: QueueRanked) -> None:
        self.events.append(("queue_ranked", event))

    def named(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]


@pytest.fixture
def recorder() -> RecordingPlugin:
    return RecordingPlugin()


@pytest.fixture
def app(make_app, chunking, recorder):
    """Apps in this module see the chunking distribution installed and ``recorder`` registered."""
    return make_app(extra_plugins=[recorder])


def plain_app(tmp_path: Path, extra_plugins=()):
    """An app that never touches its database: enough to see which plugins load."""
    return create_app({"data_dir": tmp_path / "data", "secret_key": "x",
                       "database_url": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}, extra_plugins)


def task_plugin(*definitions: Any, name: str = "broken") -> object:
    """A plugin object whose ``leanlife_tasks`` returns ``definitions`` as given."""

    class Plugin:
        __name__ = name

        @hookimpl
        def leanlife_tasks(self):
            return list(definitions)

    return Plugin()


def task(name: str) -> TaskDefinition:
    return TaskDefinition(name=name, title=name, label_kinds=(SPAN,), explanation_kinds=(),
                          ui_component="ner", parse_annotation=lambda payload, doc: None)


# Discovery -------------------------------------------------------------------------------

def test_a_third_party_distribution_registers_through_the_entry_point_group(chunking):
    plugins = load_plugins()
    assert {t.name for t in plugins.tasks} >= BUILT_IN_TASKS | {"chunking"}
    row = next(r for r in plugins.describe() if r["name"] == "chunking")
    assert (row["kind"], row["plugin"], row["version"]) == ("task", "chunking", "0.1")
    # Built-ins come through the same group, from the leanlife distribution.
    assert {r["plugin"] for r in plugins.describe() if r["name"] in BUILT_IN_TASKS} == BUILT_IN_TASKS


def test_a_third_party_task_is_usable_through_the_api(make_caller):
    owner = make_caller("owner")
    listed = owner.get("/api/v1/plugins").get_json()
    assert {"kind": "task", "name": "chunking", "plugin": "chunking", "version": "0.1",
            "description": ""} in listed["registrations"]
    assert "chunking" in {t["name"] for t in listed["tasks"]}

    project = create_project(owner, "chunking", labels=(("NP", "span"),))
    assert project["task"] == "chunking"
    doc = add_document(owner, project["id"], "The quick fox jumps.")
    url = f"/api/v1/projects/{project['id']}/documents/{doc['id']}/annotations"
    r = owner.post(url, json={"label": "NP", "start": 0, "end": 13})
    assert r.status_code == 201, r.get_json()
    # The plugin's own rule applies, with the core's error envelope.
    r = owner.post(url, json={"label": "NP", "start": 0, "end": 14})
    assert r.status_code == 422 and r.get_json()["error"]["details"] == {"field": "span"}
    saved = owner.get(f"/api/v1/projects/{project['id']}/documents/{doc['id']}").get_json()
    assert [(a["label"], a["start"], a["end"]) for a in saved["annotations"]] == [("NP", 0, 13)]


def test_leanlife_plugins_limits_which_load(chunking, tmp_path, monkeypatch):
    monkeypatch.setenv("LEANLIFE_PLUGINS", "ner, chunking")
    assert {t.name for t in plain_app(tmp_path).extensions["leanlife"].tasks} == {"ner", "chunking"}
    monkeypatch.setenv("LEANLIFE_PLUGINS", "sa")
    assert {t.name for t in plain_app(tmp_path).extensions["leanlife"].tasks} == {"sa"}
    monkeypatch.delenv("LEANLIFE_PLUGINS")
    assert {t.name for t in plain_app(tmp_path).extensions["leanlife"].tasks} >= BUILT_IN_TASKS | {"chunking"}


def test_naming_a_plugin_that_is_not_installed_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("LEANLIFE_PLUGINS", "ner,chunkin")
    installed = ", ".join(sorted({ep.name for ep in entry_points(group="leanlife")}))
    with pytest.raises(PluginError, match=rf"LEANLIFE_PLUGINS names 'chunkin'.*\(installed: {installed}\)"):
        plain_app(tmp_path)


# Failures at start-up ----------------------------------------------------------------------

def test_an_unknown_hook_name_fails_at_start_up(site, tmp_path):
    class Misspelled:
        __name__ = "misspelled"

        @hookimpl
        def leanlife_taskz(self):
            return []

    with pytest.raises(PluginError, match="unknown hook.*leanlife_taskz"):
        load_plugins(extra=[Misspelled()])
    # The same mistake in an installed distribution stops the app from starting.
    write_distribution(site, "thirdparty_misspelled", MISSPELLED_PLUGIN, "misspelled",
                       distribution="thirdparty_misspelled")
    with pytest.raises(PluginError, match="leanlife_taskz"):
        plain_app(tmp_path)


LAZY_MODEL_PLUGIN = '''
import pluggy

from leanlife_server.plugin_api import ModelDefinition

hookimpl = pluggy.HookimplMarker("leanlife")


@hookimpl
def leanlife_models():
    return [ModelDefinition(name="lazy.v1", tasks=("ner",), factory="thirdparty_lazy_model:{factory}")]
'''

# Imported only when a model is built: the start-up check must not run it.
LAZY_MODEL_MODULE = '''
raise RuntimeError("the start-up check imported the model module")


def build_model(config, labels, device="cpu"):
    raise NotImplementedError
'''


def model_plugin(factory: str, name: str = "typo") -> object:
    class Plugin:
        __name__ = name

        @hookimpl
        def leanlife_models(self):
            return [ModelDefinition(name="typo.v1", tasks=("sa",), factory=factory)]

    return Plugin()


@pytest.mark.parametrize("factory, problem", [
    ("tests.test_jobs_toy_models:make_clasifier", "module 'tests.test_jobs_toy_models' has no attribute 'make_clasifier'"),
    ("tests.test_jobs_toy_model:make_classifier", "cannot find module 'tests.test_jobs_toy_model'"),
    ("tests.test_jobs_toy_models.make_classifier", "is not a 'package.module:attribute' path"),
])
def test_a_dotted_path_that_names_nothing_fails_at_start_naming_the_plugin(factory, problem):
    with pytest.raises(PluginError, match=re.escape(f"plugin 'typo': model 'typo.v1': factory {factory!r} {problem}")):
        load_plugins(extra=[model_plugin(factory)])
    load_plugins(extra=[model_plugin("tests.test_jobs_toy_models:make_classifier")])


def test_the_reference_check_does_not_import_model_modules(site, tmp_path):
    (site / "thirdparty_lazy_model.py").write_text(LAZY_MODEL_MODULE)
    write_distribution(site, "thirdparty_lazy", LAZY_MODEL_PLUGIN.format(factory="build_model"), "lazy",
                       distribution="thirdparty_lazy")
    assert "lazy.v1" in plain_app(tmp_path).extensions["leanlife"].models
    assert "thirdparty_lazy_model" not in sys.modules


def test_leanlife_plugins_and_serve_fail_on_a_typo_naming_the_plugin(site, tmp_path):
    (site / "thirdparty_lazy_model.py").write_text(LAZY_MODEL_MODULE)
    write_distribution(site, "thirdparty_lazy", LAZY_MODEL_PLUGIN.format(factory="build_modle"), "lazy",
                       distribution="thirdparty_lazy")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
           "LEANLIFE_DATA_DIR": str(tmp_path / "data")}
    for command in (["plugins"], ["serve", "--port", "0"]):
        run = subprocess.run([sys.executable, "-c", "from leanlife_server.cli import main; main()", *command],
                             env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert run.returncode != 0, command
        assert ("plugin 'lazy': model 'lazy.v1': factory 'thirdparty_lazy_model:build_modle' "
                "module 'thirdparty_lazy_model' defines no 'build_modle'") in run.stderr + run.stdout, run.stderr


def test_a_hook_implementation_asking_for_arguments_the_hook_lacks_fails():
    class WrongArguments:
        __name__ = "wrong_arguments"

        @hookimpl
        def leanlife_annotation_saved(self, project, annotation, user):
            pass

    with pytest.raises(PluginError, match="'wrong_arguments' for hook 'leanlife_annotation_saved'(.|\\n)*'user'"):
        load_plugins(extra=[WrongArguments()])


def test_two_plugins_registering_the_same_task_fail():
    with pytest.raises(PluginError,
                       match=r"task 'ner' is registered twice: by plugin 'ner' and by plugin 'copycat'"):
        load_plugins(extra=[task_plugin(task("ner"), name="copycat")])
    with pytest.raises(PluginError, match=r"task 'pos' is registered twice: by plugin 'one' and by plugin 'two'"):
        load_plugins([], extra=[task_plugin(task("pos"), name="one"), task_plugin(task("pos"), name="two")])


@pytest.mark.parametrize("returned, message", [
    ({"name": "pos"}, "leanlife_tasks\\(\\) must return a list of TaskDefinition objects, got dict"),
    (task("pos"), "leanlife_tasks\\(\\) must return a list of TaskDefinition objects, got TaskDefinition"),
    ([task("pos"), "pos"], "leanlife_tasks\\(\\) must return TaskDefinition objects, got str"),
    ([ModelDefinition(name="m.v1", tasks=("pos",), factory="x:y")],
     "leanlife_tasks\\(\\) must return TaskDefinition objects, got ModelDefinition"),
])
def test_a_hook_returning_the_wrong_type_fails(returned, message):
    class Plugin:
        __name__ = "wrong_type"

        @hookimpl
        def leanlife_tasks(self):
            return returned

    with pytest.raises(PluginError, match=f"plugin 'wrong_type': {message}"):
        load_plugins([], extra=[Plugin()])


# Every hook ---------------------------------------------------------------------------------

def test_leanlife_tasks_registers_tasks(chunking):
    plugins = load_plugins(["chunking"])
    chunk = plugins.tasks.get("chunking")
    assert isinstance(chunk, TaskDefinition) and chunk.label_kinds == (SPAN,)
    assert plugins.tasks.owners["chunking"] == "chunking"


def test_leanlife_models_registers_models_for_known_tasks(recorder):
    plugins = load_plugins(["ner"], extra=[recorder])
    model = plugins.models.get("testing.lexicon.v1")
    assert model.tasks == ("ner",) and plugins.models.owners["testing.lexicon.v1"] == "recording"
    # A model must serve a task that is registered.
    with pytest.raises(PluginError, match=r"model 'testing.lexicon.v1' serves unknown task\(s\) \['ner'\]"):
        load_plugins(["sa"], extra=[recorder])


def test_leanlife_models_and_query_strategies_are_chosen_in_project_settings(make_caller):
    owner = make_caller("owner")
    ner = create_project(owner, "ner")
    r = owner.patch(f"/api/v1/projects/{ner['id']}/settings",
                    json={"model": "testing.lexicon.v1", "query_strategy": "testing.shortest_first"})
    assert r.status_code == 200, r.get_json()
    chosen = r.get_json()
    assert (chosen["model"], chosen["query_strategy"]) == ("testing.lexicon.v1", "testing.shortest_first")
    # Neither serves sentiment.
    sentiment = create_project(owner, "sa")
    for change, field in (({"model": "testing.lexicon.v1"}, "model"),
                          ({"query_strategy": "testing.shortest_first"}, "query_strategy")):
        r = owner.patch(f"/api/v1/projects/{sentiment['id']}/settings", json=change)
        assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == field


def test_a_new_project_starts_with_the_model_suggested_for_its_task_and_explanations(make_caller):
    owner = make_caller("owner")
    for task, kind, suggested in (("ner", "trigger", "triggerner.v1"), ("ner", "none", "bilstm_crf.v1"),
                                  ("re", "natural_language", "next.v1"), ("re", "none", "transformer_re.v1"),
                                  ("sa", "none", "sentence_embedding_sa.v1")):
        project = create_project(owner, task, kind)
        settings = owner.get(f"/api/v1/projects/{project['id']}/settings").get_json()
        assert (settings["model"], settings["retrain_policy"]) == (suggested, {"mode": "manual"}), (task, kind)
    # The owner may name the model (or none) and the policy at creation instead.
    named = create_project(owner, "ner", model="transformer_ner.v1", retrain_policy={"mode": "every_n", "n": 5})
    settings = owner.get(f"/api/v1/projects/{named['id']}/settings").get_json()
    assert (settings["model"], settings["retrain_policy"]) == ("transformer_ner.v1", {"mode": "every_n", "n": 5})
    none = create_project(owner, "ner", model=None)
    assert owner.get(f"/api/v1/projects/{none['id']}/settings").get_json()["model"] is None
    # A model of another task, or a bad policy, is refused and no project is made.
    before = len(owner.get("/api/v1/projects").get_json()["items"])
    for body, field in (({"model": "next.v1"}, "model"), ({"retrain_policy": {"mode": "often"}}, "retrain_policy.mode")):
        r = owner.post("/api/v1/projects", json={"name": "x", "task": "ner", **body})
        assert r.status_code == 422 and r.get_json()["error"]["details"]["field"] == field
    assert len(owner.get("/api/v1/projects").get_json()["items"]) == before


def test_leanlife_formats_registers_formats(chunking, recorder):
    plugins = load_plugins(["ner", "chunking"], extra=[recorder])
    tsv = plugins.formats.get("testing.chunk_tsv")
    assert (tsv.tasks, tsv.exporter, tsv.extensions) == (("chunking",), "csv:writer", (".tsv",))
    row = next(r for r in plugins.describe() if r["name"] == "testing.chunk_tsv")
    assert row == {"kind": "format", "name": "testing.chunk_tsv", "plugin": "recording", "version": "",
                   "description": "", "tasks": ["chunking"], "imports": tsv.importer is not None,
                   "exports": True, "directories": tsv.directories}


def test_leanlife_query_strategies_registers_strategies(recorder):
    plugins = load_plugins(["ner"], extra=[recorder])
    strategy = plugins.query_strategies.get("testing.shortest_first")
    assert strategy.tasks == ("ner",)
    assert plugins.query_strategies.owners["testing.shortest_first"] == "recording"


def test_leanlife_annotation_saved_is_called_when_an_annotation_is_saved(make_caller, recorder):
    owner = make_caller("owner")
    project = create_project(owner, "ner", labels=(("PER", "span"), ("LOC", "span")))
    doc = add_document(owner, project["id"], "Ana lives in Lisbon.")
    url = f"/api/v1/projects/{project['id']}/documents/{doc['id']}/annotations"
    refused = owner.post(url, json={"label": "PER", "start": 0, "end": 99})
    assert refused.status_code == 422 and recorder.events == []

    created = owner.post(url, json={"label": "PER", "start": 0, "end": 3}).get_json()
    changed = owner.put(f"/api/v1/projects/{project['id']}/annotations/{created['id']}",
                        json={"label": "LOC", "start": 13, "end": 19}).get_json()
    expected_project = {"id": project["id"], "task": "ner"}
    assert recorder.named("annotation_saved") == [
        {"project": expected_project, "annotation": created},
        {"project": expected_project, "annotation": changed},
    ]


def test_leanlife_model_trained_implementations_are_called_through_the_manager(recorder):
    plugins = load_plugins(["ner"], extra=[recorder])
    project = {"id": 7, "task": "ner"}
    version = {"id": 3, "model": "testing.lexicon.v1", "metrics": {"f1": 0.5}}
    plugins.notify(ModelTrained(project=project, version=version, serving_version_id=3))
    assert recorder.events == [("model_trained", {"project": project, "version": version})]


def test_leanlife_annotation_deleted_is_called_when_an_annotator_deletes_one(make_caller, recorder):
    owner = make_caller("owner")
    project = create_project(owner, "ner", labels=(("PER", "span"),))
    doc = add_document(owner, project["id"], "Ana lives in Lisbon.")
    created = owner.post(f"/api/v1/projects/{project['id']}/documents/{doc['id']}/annotations",
                         json={"label": "PER", "start": 0, "end": 3}).get_json()
    assert owner.delete(f"/api/v1/projects/{project['id']}/annotations/{created['id']}").status_code == 204
    assert recorder.named("annotation_deleted") == [AnnotationDeleted(
        project={"id": project["id"], "task": "ner"}, annotation_id=created["id"], document_id=doc["id"],
        user_id=owner.user_id)]


def test_leanlife_gold_changed_is_called_on_gold_writes_and_review_states(make_caller, recorder):
    owner = make_caller("owner")
    project = create_project(owner, "ner", labels=(("PER", "span"),))
    doc = add_document(owner, project["id"], "Ana lives in Lisbon.")
    base = f"/api/v1/projects/{project['id']}"
    gold = owner.post(f"{base}/documents/{doc['id']}/gold", json={"label": "PER", "start": 0, "end": 3})
    assert gold.status_code == 201, gold.get_json()
    assert owner.patch(f"{base}/documents/{doc['id']}/curation", json={"state": "curated"}).status_code == 200
    assert owner.delete(f"{base}/gold/{gold.get_json()['id']}").status_code == 204
    event = GoldChanged(project={"id": project["id"], "task": "ner"}, document_id=doc["id"])
    assert recorder.named("gold_changed") == [event, event, event]
    assert recorder.named("annotation_saved") == [], "gold is no annotator's save"


def _first_cheap_training(make_caller, recorder) -> tuple[dict, dict, Any]:
    """An NER project with two documents; one annotation retrains the cheap dictionary
    matcher in the background. Returns the project, the unlabeled document and the owner."""
    owner = make_caller("owner")
    project = create_project(owner, "ner", labels=(("PER", "span"),))
    labeled = add_document(owner, project["id"], "Ana lives in Lisbon.")
    unlabeled = add_document(owner, project["id"], "Ana met Rui.")
    assert owner.post(f"/api/v1/projects/{project['id']}/documents/{labeled['id']}/annotations",
                      json={"label": "PER", "start": 0, "end": 3}).status_code == 201
    wait_until(lambda: recorder.named("queue_ranked"), what="the cheap retraining job and the queue it ranks")
    return project, unlabeled, owner


def test_leanlife_recommendations_made_carries_a_serving_versions_suggestions(make_caller, recorder):
    project, unlabeled, _ = _first_cheap_training(make_caller, recorder)
    [made] = recorder.named("recommendations_made")
    [trained] = recorder.named("model_trained")
    assert (made.project_id, made.model, made.model_version_id) == (project["id"], "dictionary.v1",
                                                                    trained["version"]["id"])
    assert [d["document_id"] for d in made.documents] == [unlabeled["id"]]


def test_leanlife_training_finished_follows_the_jobs_model_versions(make_caller, recorder):
    project, _, _ = _first_cheap_training(make_caller, recorder)
    [finished] = recorder.named("training_finished")
    [trained] = recorder.named("model_trained")
    assert finished.project == {"id": project["id"], "task": "ner"}
    assert list(finished.model_version_ids) == [trained["version"]["id"]]
    assert [name for name, _ in recorder.events if name != "annotation_saved"][-3:] == [
        "model_trained", "training_finished", "queue_ranked"]


def test_leanlife_queue_ranked_gives_each_member_their_queue(make_caller, recorder):
    project, unlabeled, owner = _first_cheap_training(make_caller, recorder)
    [ranked] = recorder.named("queue_ranked")
    assert (ranked.project_id, ranked.user_id) == (project["id"], owner.user_id)
    assert [d["document_id"] for d in ranked.documents] == [unlabeled["id"]]


class PolicyOfOurOwn:
    """Replaces the built-in retraining policy: records what it hears, queues nothing."""

    __name__ = "our_policy"

    def __init__(self) -> None:
        self.heard: list[Any] = []

    @hookimpl
    def leanlife_annotation_saved(self, event: AnnotationSaved) -> None:
        self.heard.append(event)


def test_a_built_in_reaction_is_replaced_like_any_plugin(make_app):
    policy = PolicyOfOurOwn()
    app = make_app({"blocked_plugins": "leanlife_server.pipeline.policy"}, extra_plugins=[policy])
    manager = app.extensions["leanlife"].manager
    names = {manager.get_name(plugin) for plugin in manager.get_plugins()}
    assert "leanlife_server.pipeline.policy" not in names
    assert {"leanlife_server.realtime.push", "leanlife_server.active.queue", "our_policy"} <= names
    with app.app_context():
        user = create_user("owner", PASSWORD)
        _, token = issue_token(user, "tests")
        db.session.commit()
        owner = Caller(app.test_client(), token, user.id)
    project = create_project(owner, "ner", labels=(("PER", "span"),))
    doc = add_document(owner, project["id"], "Ana lives in Lisbon.")
    assert owner.post(f"/api/v1/projects/{project['id']}/documents/{doc['id']}/annotations",
                      json={"label": "PER", "start": 0, "end": 3}).status_code == 201
    assert [(e.project_id, e.document_id) for e in policy.heard] == [(project["id"], doc["id"])]
    with app.app_context():
        assert db.session.scalars(db.select(Job)).all() == [], \
            "without the built-in policy no retraining job is queued, not even the cheap one"


def test_blocking_a_plugin_that_does_not_exist_stops_the_start(tmp_path):
    with pytest.raises(PluginError, match="LEANLIFE_BLOCKED_PLUGINS names 'leanlife_server.realtime.pushh'"):
        create_app({"data_dir": tmp_path / "data", "secret_key": "x", "blocked_plugins": "leanlife_server.realtime.pushh",
                    "database_url": f"sqlite:///{tmp_path / 'unused.sqlite3'}"})


def test_every_hook_has_a_test_here():
    """Guards this module: a new hook in hookspecs.py needs its test_leanlife_<hook> here."""
    from leanlife_server import hookspecs

    hooks = {name for name in dir(hookspecs) if name.startswith("leanlife_")}
    tested = {name for name, value in globals().items() if callable(value) and name.startswith("test_leanlife_")}
    untested = sorted(h for h in hooks if not any(t.startswith(f"test_{h}") for t in tested))
    assert not untested, f"hooks without a test_<hook>... test in {__name__}: {untested}"
