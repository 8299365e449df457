"""The rough edges a new user hit in the browser (issue 16), each in Chromium: focus after
saving a relation, readable explanation feedback, the console for annotators, the model and
format lists for the project's task, and the workspace's bar and status line."""

from __future__ import annotations

import re

import pytest
import requests

from leanlife_server.plugins import load_plugins
from tests.test_jobs_support import wait_until
from tests.test_ui_annotate import NER_DOCS, NER_LABELS, RE_DOC, RE_LABELS, annotations, drag, offsets
from tests.test_ui_harness import browser, login, server, token  # noqa: F401 (fixtures)

WAIT_MS = 8000  # a missing element fails the test in seconds, not Playwright's 30


@pytest.fixture
def as_user(server, browser):
    """``as_user(name)``: a logged-in page that gives up waiting after WAIT_MS."""
    def open_page(name: str):
        page = login(browser, server.url, name)
        page.set_default_timeout(WAIT_MS)
        return page
    return open_page


def test_ctrl_enter_saves_the_relation_and_gives_the_keys_back_to_the_document(server, as_user):
    second = "Satya Nadella runs Microsoft ."
    pid = server.project("re", "natural_language", RE_LABELS, [RE_DOC, second])
    anna = server.rest["anna"]
    docs = anna("GET", f"/projects/{pid}/documents")["items"]
    for label, word in (("PER", "Tim Cook"), ("ORG", "Apple")):
        anna("POST", f"/projects/{pid}/documents/{docs[0]['id']}/annotations", {"label": label, **offsets(RE_DOC, word)})
    page = as_user("anna")
    page.goto(f"{server.url}/#/projects/{pid}/annotate/{docs[0]['id']}")
    box, parse = page.locator("[data-testid=explanation]"), page.locator("[data-testid=parse]")

    # Written before the relation is chosen: a sentence saying what is missing, no raw error.
    box.fill("The word leads sits between them.")
    parse.get_by_text("Choose the subject, the object and the relation first").wait_for()
    page.wait_for_timeout(600)  # longer than the box's pause before it asks the server
    assert "NoneType" not in parse.inner_text() and "must be" not in parse.inner_text()
    box.fill("")

    token(page, "Tim").click()
    token(page, "Apple").click()
    page.keyboard.press("w")  # the relation key moves focus to the explanation box
    page.keyboard.type("xq zzv")  # what the parser says, as a sentence
    parse.get_by_text("No reading of 'xq zzv' covers the whole explanation.").wait_for()
    box.fill("The word leads sits between them.")
    page.keyboard.press("Control+Enter")
    page.locator("[data-testid=relations] li").first.wait_for()
    assert page.evaluate("document.activeElement.tagName") != "TEXTAREA"

    page.keyboard.press("]")  # Next, not a "]" typed into the box
    token(page, "Satya").wait_for()
    assert box.input_value() == ""
    [relation] = [a for a in annotations(anna, pid, docs[0]["id"]) if a["kind"] == "relation"]
    assert relation["explanations"][0]["text"] == "The word leads sits between them."
    assert anna("GET", f"/projects/{pid}/documents/{docs[0]['id']}")["finished"] is True


def test_an_annotator_opening_the_console_gets_an_owners_only_page(server, as_user):
    pid = server.project("ner", "none", NER_LABELS, NER_DOCS)
    page = as_user("anna")
    page.goto(f"{server.url}/#/projects/{pid}/console")
    notice = page.locator("[data-testid=owners-only]")
    notice.wait_for()
    assert "for the project's owners" in notice.inner_text() and "an annotator" in notice.inner_text()
    for owner_part in ("labels-section", "members-section", "documents-section", "learning-section"):
        assert page.locator(f"[data-testid={owner_part}]").count() == 0, owner_part
    notice.get_by_text("Annotate this project").click()
    token(page, "Barack").wait_for()

    owner = as_user("admin")  # the owner still gets the console
    owner.goto(f"{server.url}/#/projects/{pid}/console")
    owner.locator("[data-testid=learning-section]").wait_for()


def test_the_console_offers_only_models_and_formats_of_the_projects_task(server, as_user, tmp_path):
    plugins = load_plugins()
    ner_models = {m.name for m in plugins.models if "ner" in m.tasks}
    assert ner_models and ner_models != {m.name for m in plugins.models}, "the check needs models of other tasks"
    importers = {f.name for f in plugins.formats if f.serves("ner") and f.importer and not f.directories}
    exporters = {f.name for f in plugins.formats if f.serves("ner") and f.exporter}
    pid = server.project("ner", "none", NER_LABELS, NER_DOCS)
    page = as_user("admin")
    page.goto(f"{server.url}/#/projects/{pid}/console")
    page.locator("[data-testid=learning-section]").wait_for()

    def options(label: str) -> list[tuple[str, str]]:
        select = page.get_by_label(label, exact=True)
        select.locator("option").last.wait_for(state="attached")
        assert select.evaluate("e => e.tagName") == "SELECT", f"{label} is a list"
        return select.locator("option").evaluate_all("os => os.map(o => [o.value, o.textContent])")

    assert {value for value, _ in options("model")} == ner_models | {""}
    imports = options("import format")
    assert imports[0] == ["", "guess from file"]
    assert {value for value, _ in imports[1:]} == importers
    assert {value for value, _ in options("export format")} == exporters

    # Both lists work: a CoNLL file imported as CoNLL, the project exported as CoNLL.
    upload = tmp_path / "more.conll"
    upload.write_text("Rome\tB-LOC\nwas\tO\nquiet\tO\n.\tO\n")
    page.get_by_label("file to import").set_input_files(str(upload))
    page.get_by_label("import format", exact=True).select_option("conll")
    page.locator("[data-testid=import-form] button").click()
    page.get_by_text("Import finished.").wait_for()
    texts = [d["text"] for d in server.rest["admin"]("GET", f"/projects/{pid}/documents")["items"]]
    assert texts == NER_DOCS + ["Rome was quiet ."]
    page.get_by_label("export format", exact=True).select_option("conll")
    page.locator("[data-testid=export-form] button").click()
    page.get_by_text("Export ready.").wait_for()
    exported = requests.get(server.url + page.locator("[data-testid=export-form] a").get_attribute("href"),
                            cookies={c["name"]: c["value"] for c in page.context.cookies()}, timeout=10)
    assert exported.ok and re.search(r"^Rome\s+B-LOC$", exported.text, re.M), exported.text


def _active_version(server, pid: int) -> dict:
    admin = server.rest["admin"]
    admin("PATCH", f"/projects/{pid}/settings", {"model": "dictionary.v1"})
    docs = admin("GET", f"/projects/{pid}/documents")["items"]
    admin("POST", f"/projects/{pid}/documents/{docs[0]['id']}/annotations", {"label": "PER", **offsets(NER_DOCS[0], "Barack Obama")})
    admin("POST", f"/projects/{pid}/model/train")
    # Trained, and no job left (the dictionary also retrains after each annotation) whose
    # push could change the bar while the page loads.
    status = wait_until(lambda: (s := admin("GET", f"/projects/{pid}/model"))["active_version"] and not s["jobs"] and s,
                        30, "a trained version")
    return {**status["active_version"], "document_id": docs[0]["id"]}


def test_a_fresh_page_shows_the_serving_model_version_and_one_line_bar(server, as_user):
    pid = server.project("ner", "none", NER_LABELS, NER_DOCS)
    long_name = "Reuters and Associated Press newswire entities, second annotation round, " * 2
    server.rest["admin"]("PATCH", f"/projects/{pid}", {"name": long_name.strip()})
    version = _active_version(server, pid)
    page = as_user("anna")
    responses: list[tuple[int, str]] = []
    page.on("response", lambda r: responses.append((r.status, r.url)))
    page.goto(f"{server.url}/#/projects/{pid}/annotate/{version['document_id']}")
    token(page, "Barack").wait_for()
    page.locator("[data-testid=training]", has_text=f"model v{version['number']}").wait_for()

    # The bar is one line at 1366 px: the long name gives way, with the whole of it on hover.
    bar = page.locator("header.bar")
    heights = bar.evaluate("b => [b.getBoundingClientRect().height, b.querySelector('button').getBoundingClientRect().height,"
                           " ...[...b.children].map(c => c.getBoundingClientRect().height)]")
    bar_height, button_height, *items = heights
    assert max(items) <= button_height + 1 and bar_height <= button_height + 16, heights
    assert bar.evaluate("b => b.scrollWidth <= b.clientWidth")
    assert page.locator("header.bar .name").get_attribute("title") == long_name.strip()

    icon = requests.get(f"{server.url}/favicon.ico", timeout=5)
    assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/")
    assert [r for r in responses if r[0] >= 400] == []


def test_the_status_line_is_cleared_when_another_document_opens(server, as_user):
    pid = server.project("ner", "trigger", NER_LABELS, NER_DOCS)
    page = as_user("anna")
    page.goto(f"{server.url}/#/projects/{pid}/annotate")
    status = page.locator("[data-testid=status]")
    for first, last, trigger in (("Barack", "Obama", "said"), ("Angela", "Merkel", "visited")):
        drag(page, token(page, first), token(page, last))
        page.click("[data-label=PER]")
        token(page, trigger).click()
        page.click("[data-testid=save-trigger]")
        status.get_by_text(f"trigger “{trigger}”").wait_for()
        page.keyboard.press("Escape")
        page.keyboard.press("]" if trigger == "said" else "[")  # to the next document, then back
        token(page, "Angela" if trigger == "said" else "Barack").wait_for()
        assert status.inner_text() == "", f"after leaving the document where {trigger!r} was saved"
