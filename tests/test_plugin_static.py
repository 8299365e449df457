"""A plugin's static/ folder, served at /plugins/<plugin>/static/<path>: where a task's view
module comes from (docs/plugins.md, "Writing a task view")."""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from leanlife_server.auth import create_user, issue_token
from leanlife_server.db import db
from leanlife_server.plugin_api import TaskDefinition
from tests.conftest import PASSWORD

PLUGIN = "leanlife_static_example"
VIEW = "export default { contract: 1, keyHelp: [], mount() { return { update() {}, unmount() {} }; } };\n"


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """A task plugin package on disk with a view module and a stylesheet in its static/ folder,
    and a file beside static/ that must never be served."""
    package = tmp_path / PLUGIN
    (package / "static" / "css").mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent("""
        import pluggy
        from leanlife_server.plugin_api import DOCUMENT, AnnotationData, TaskDefinition, read_label

        hookimpl = pluggy.HookimplMarker("leanlife")
        SECRET = "not for the browser"

        def task(name, ui_component, view=None):
            return TaskDefinition(name=name, title=name, label_kinds=(DOCUMENT,), explanation_kinds=(),
                                  ui_component=ui_component, view=view,
                                  parse_annotation=lambda p, d: AnnotationData(DOCUMENT, read_label(p, d, DOCUMENT)))

        @hookimpl
        def leanlife_tasks():
            return [task("topic", "topic", "view.js"), task("subtopic", "topic"), task("spans", "ner"),
                    task("bare", "custom")]
    """))
    (package / "static" / "view.js").write_text(VIEW)
    (package / "static" / "css" / "view.css").write_text(".topic { color: red }\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module(PLUGIN)
    sys.modules.pop(PLUGIN, None)


@pytest.fixture
def client(make_app, plugin):
    app = make_app(extra_plugins=[plugin])
    with app.app_context():
        _, token = issue_token(create_user("viewer", PASSWORD), "tests")
        db.session.commit()
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def test_the_task_list_names_each_view_by_its_url(client, plugin):
    views = {t["name"]: t["view_url"] for t in client.get("/api/v1/plugins").get_json()["tasks"]}
    # The URL names the file's version, so a new build is a new URL.
    path, version = views["topic"].split("?v=")
    assert path == f"/plugins/{PLUGIN}/static/view.js" and version
    view = Path(plugin.__file__).parent / "static" / "view.js"
    view.write_text(VIEW + "// rebuilt\n")
    rebuilt = {t["name"]: t["view_url"] for t in client.get("/api/v1/plugins").get_json()["tasks"]}
    assert rebuilt["topic"].split("?v=")[0] == path and rebuilt["topic"] != views["topic"]
    assert views["ner"].split("?v=")[0] == "/plugins/ner/static/view.js"
    # Without a view of its own a task borrows one with its ui_component, else it has none.
    assert views["subtopic"] == views["topic"] and views["spans"] == views["ner"]
    assert views["bare"] is None


def test_a_plugin_file_is_served_with_its_content_type(client):
    response = client.get(f"/plugins/{PLUGIN}/static/view.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"  # a module script needs a JavaScript type
    assert response.get_data(as_text=True) == VIEW
    assert response.headers["Cache-Control"] == "no-cache"
    versioned = client.get(f"/plugins/{PLUGIN}/static/view.js?v=1")
    assert versioned.get_data(as_text=True) == VIEW and "immutable" in versioned.headers["Cache-Control"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    css = client.get(f"/plugins/{PLUGIN}/static/css/view.css")
    assert (css.status_code, css.mimetype) == (200, "text/css")


@pytest.mark.parametrize("path", ["../__init__.py", "css/../../__init__.py", "%2e%2e/__init__.py",
                                  "..%2f__init__.py", "/etc/passwd", "css/./view.css", "missing.js"])
def test_paths_that_leave_the_static_folder_or_name_nothing_are_404(client, path):
    # (A doubled slash is first redirected to the single-slash path, which is then refused.)
    response = client.get(f"/plugins/{PLUGIN}/static/{path}", follow_redirects=True)
    assert response.status_code == 404
    assert b"not for the browser" not in response.data


def test_unknown_plugins_are_404(client):
    assert client.get("/plugins/no_such_plugin/static/view.js").status_code == 404
    # A loaded plugin whose package has no static/ folder.
    assert client.get("/plugins/strategies/static/__init__.py").status_code == 404


@pytest.mark.parametrize("view", ["../view.js", "/abs/view.js", "a/../../view.js", "a\\view.js", ""])
def test_a_task_view_must_be_a_path_inside_static(view):
    with pytest.raises(ValueError, match="view"):
        TaskDefinition(name="t", title="T", label_kinds=(), explanation_kinds=(), ui_component="t",
                       parse_annotation=lambda p, d: None, view=view)
