"""The owner console in a real browser, the page served when the UI is not built, and the
screenshots of every view at 1366x768.

Regenerate docs/images: ``LEANLIFE_SCREENSHOTS=docs/images python -m pytest tests/test_ui_console.py``
(without it the screenshots go to a temporary folder and are only checked to be taken).
"""

from __future__ import annotations

import os
from pathlib import Path

from leanlife_server.web import DEFAULT_DIST
from tests.test_ui_annotate import NER_DOCS, NER_LABELS, RE_DOC, RE_LABELS, SA_LABELS, offsets
from tests.test_ui_harness import VIEWPORT, browser, login, server, token  # noqa: F401 (fixtures)


def test_unbuilt_ui_answers_with_build_instructions(make_app, tmp_path):
    client = make_app({"web_dist": tmp_path / "missing"}).test_client()
    page = client.get("/")
    assert page.status_code == 503
    assert "make install" in page.get_data(as_text=True)
    assert client.get("/api/v1/health").status_code == 200


def test_built_ui_is_served(make_app):
    client = make_app().test_client()
    index = client.get("/")
    assert index.status_code == 200 and b'id="app"' in index.data
    script = next(p for p in (DEFAULT_DIST / "assets").iterdir() if p.suffix == ".js")
    asset = client.get(f"/assets/{script.name}")
    assert asset.status_code == 200 and "max-age=31536000" in asset.headers["Cache-Control"]
    assert client.get("/assets/nothing.js").status_code == 404


def test_owner_creates_project_adds_and_imports_documents_and_members(server, browser, tmp_path):
    shots = Path(os.environ.get("LEANLIFE_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)

    def shot(page, name: str) -> None:
        assert page.viewport_size == VIEWPORT
        page.screenshot(path=str(shots / f"{name}.png"))

    context = browser.new_context(viewport=VIEWPORT)
    first = context.new_page()
    first.goto(server.url + "/")
    first.locator("input[name=username]").wait_for()
    shot(first, "login")
    context.close()

    owner = login(browser, server.url, "admin")
    form = owner.locator("[data-testid=create-project]")
    form.locator("input[name=name]").fill("News entities")
    form.locator("select[name=task]").select_option("ner")
    form.locator("select[name=explanation_kind]").select_option("trigger")
    for i, label in enumerate(NER_LABELS):
        if i:
            form.get_by_text("+ label").click()
        row = form.locator(".labelfields").nth(i)
        row.get_by_label("label name").fill(label["name"])
        row.get_by_label("label colour").fill(label["color"])
        row.get_by_label("label shortcut").fill(label["shortcut"])
    form.get_by_label("Retrain after every").fill("5")
    shot(owner, "projects")
    form.get_by_text("Create project").click()

    owner.locator("[data-testid=labels-section]").wait_for()
    owner.get_by_label("documents, one per line").fill("\n".join(NER_DOCS))
    owner.get_by_text("Add documents").click()
    owner.get_by_text(f"Added {len(NER_DOCS)} documents.").wait_for()
    upload = tmp_path / "more.txt"
    upload.write_text("Imported first line .\nImported second line .\n")
    owner.get_by_label("file to import").set_input_files(str(upload))
    owner.locator("[data-testid=import-form] button").click()
    owner.get_by_text("Import finished.").wait_for()
    owner.get_by_label("member username").fill("anna")
    owner.get_by_text("Add member").click()
    owner.get_by_text("Added anna.").wait_for()
    owner.get_by_label("retraining policy").select_option("every_n")
    owner.get_by_label("confidence threshold").fill("0.9")
    owner.get_by_label("suggestions shown from confidence").fill("0.6")
    owner.get_by_text("Save settings").click()
    owner.get_by_text("Learning settings saved.").wait_for()
    shot(owner, "console")

    admin = server.rest["admin"]
    [project] = admin("GET", "/projects")["items"]
    assert (project["name"], project["task"], project["explanation_kind"]) == ("News entities", "ner", "trigger")
    # The form's retraining interval, and the model suggested for NER with triggers.
    assert project["settings"]["retrain_policy"] == {"mode": "every_n", "n": 5}
    assert project["settings"]["model"] == "triggerner.v1"
    assert project["settings"]["confidence_threshold"] == 0.9
    assert project["settings"]["min_recommendation_confidence"] == 0.6
    labels = admin("GET", f"/projects/{project['id']}/labels")["items"]
    assert [(l["name"], l["color"], l["shortcut"]) for l in labels] == [
        (l["name"], l["color"], l["shortcut"]) for l in NER_LABELS]
    assert [d["text"] for d in admin("GET", f"/projects/{project['id']}/documents")["items"]] == [
        *NER_DOCS, "Imported first line .", "Imported second line ."]
    roles = {m["user"]["username"]: m["role"] for m in admin("GET", f"/projects/{project['id']}/members")["items"]}
    assert roles == {"admin": "owner", "anna": "annotator"}

    # The annotator's views, for the user guide.
    anna = login(browser, server.url, "anna")
    anna.goto(f"{server.url}/#/projects/{project['id']}/annotate")
    token(anna, "Barack").click()
    anna.keyboard.press("Shift+ArrowRight")
    anna.keyboard.press("p")
    anna.locator("[data-testid=entities]").get_by_text("Barack Obama").wait_for()
    token(anna, "said").click()
    shot(anna, "ner")
    anna.keyboard.press("?")
    anna.locator("[data-testid=settings]").wait_for()
    shot(anna, "settings")

    sa = server.project("sa", "natural_language", SA_LABELS, ["A warm , funny and moving film ."], ("anna",))
    anna.goto(f"{server.url}/#/projects/{sa}/annotate")
    anna.locator("[data-label=positive]").wait_for()  # the task's view is loaded
    anna.keyboard.press("1")
    anna.keyboard.type("warm and funny are praise")
    shot(anna, "sa")

    re = server.project("re", "natural_language", RE_LABELS, [RE_DOC], ("anna",))
    [re_doc] = server.rest["anna"]("GET", f"/projects/{re}/documents")["items"]
    for words, label in (("Tim Cook", "PER"), ("Apple", "ORG")):
        server.rest["anna"]("POST", f"/projects/{re}/documents/{re_doc['id']}/annotations",
                            {"label": label, **offsets(RE_DOC, words)})
    anna.goto(f"{server.url}/#/projects/{re}/annotate/{re_doc['id']}")
    token(anna, "Tim").click()
    token(anna, "Apple").click()
    anna.click("[data-label=works_for]")
    anna.fill("[data-testid=explanation]", "The word 'leads' is between SUBJ and OBJ")
    anna.locator("[data-testid=parse]").wait_for()
    shot(anna, "re")
