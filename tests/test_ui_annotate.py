"""Annotating in a real browser, by mouse and by keyboard, checked through the REST API."""

from __future__ import annotations

from tests.test_jobs_support import wait_until
from tests.test_ui_harness import browser, login, server, token  # noqa: F401 (fixtures)

NER_LABELS = [{"name": "PER", "kind": "span", "color": "#1f77b4", "shortcut": "p"},
              {"name": "LOC", "kind": "span", "color": "#2ca02c", "shortcut": "l"}]
NER_DOCS = ["Yesterday Barack Obama said in Paris that he liked the city .",
            "Angela Merkel visited Berlin on Monday ."]


def offsets(text: str, word: str) -> dict:
    start = text.index(word)
    return {"start": start, "end": start + len(word)}


def annotations(rest, project_id: int, document_id: int) -> list[dict]:
    return rest("GET", f"/projects/{project_id}/documents/{document_id}/annotations")["items"]


def drag(page, first, last) -> None:
    first.hover()
    page.mouse.down()
    last.hover()
    page.mouse.up()


def test_ner_spans_with_triggers_by_mouse_then_keyboard(server, browser):
    pid = server.project("ner", "trigger", NER_LABELS, NER_DOCS)
    docs = server.rest["admin"]("GET", f"/projects/{pid}/documents")["items"]
    page = login(browser, server.url, "anna")
    page.goto(f"{server.url}/#/projects/{pid}/annotate")
    entities = page.locator("[data-testid=entities]")

    # Mouse: drag over "Barack Obama", click the label, click a trigger word, save it.
    drag(page, token(page, "Barack"), token(page, "Obama"))
    page.click("[data-label=PER]")
    entities.get_by_text("Barack Obama").wait_for()
    token(page, "said").click()
    page.click("[data-testid=save-trigger]")
    entities.get_by_text("⚑ said").wait_for()
    [span] = annotations(server.rest["anna"], pid, docs[0]["id"])
    assert (span["label"], span["start"], span["end"]) == ("PER", *offsets(NER_DOCS[0], "Barack Obama").values())
    assert span["explanations"] == [{"id": span["explanations"][0]["id"], "kind": "trigger",
                                     "spans": [offsets(NER_DOCS[0], "said")]}]

    # Keyboard: "]" finishes the document and opens the next one.
    page.keyboard.press("]")
    token(page, "Angela").wait_for()
    page.keyboard.press("Space")            # cursor on "Angela": select it
    page.keyboard.press("Shift+ArrowRight")  # ... and extend to "Merkel"
    page.keyboard.press("p")                 # label PER
    entities.get_by_text("Angela Merkel").wait_for()
    for key in ("ArrowRight", "Space", "ArrowRight", "ArrowRight", "ArrowRight", "Space", "Enter"):
        page.keyboard.press(key)             # one trigger, discontinuous: "visited" ... "Monday"
    entities.get_by_text("⚑ visited … Monday").wait_for()
    for key in ("ArrowLeft", "ArrowLeft", "Space", "Enter"):
        page.keyboard.press(key)             # a second trigger: "Berlin"
    entities.get_by_text("⚑ Berlin").wait_for()
    page.keyboard.press("Escape")

    [span] = annotations(server.rest["anna"], pid, docs[1]["id"])
    text = NER_DOCS[1]
    assert (span["start"], span["end"]) == tuple(offsets(text, "Angela Merkel").values())
    assert [e["spans"] for e in span["explanations"]] == [
        [offsets(text, "visited"), offsets(text, "Monday")], [offsets(text, "Berlin")]]
    finished = server.rest["anna"](
        "GET", f"/projects/{pid}/documents?status=finished&annotator={span['user_id']}")["items"]
    assert [d["id"] for d in finished] == [docs[0]["id"]]

    # Undo (Ctrl+Z) takes back the last trigger, then the span itself.
    page.keyboard.press("Control+z")
    entities.get_by_text("⚑ Berlin").wait_for(state="detached")
    assert len(annotations(server.rest["anna"], pid, docs[1]["id"])[0]["explanations"]) == 1


def test_ner_entity_and_its_trigger_are_saved_in_one_request(server, browser):
    """The new entity waits in the browser until its trigger is chosen, then one POST carries
    both: a retraining policy counts it once and never trains on it without its trigger."""
    pid = server.project("ner", "trigger", NER_LABELS, NER_DOCS)
    docs = server.rest["admin"]("GET", f"/projects/{pid}/documents")["items"]
    page = login(browser, server.url, "anna")
    writes: list[tuple[str, str]] = []
    page.on("request", lambda r: writes.append((r.method, r.url))
            if "/annotations" in r.url and r.method != "GET" else None)
    page.goto(f"{server.url}/#/projects/{pid}/annotate")
    entities = page.locator("[data-testid=entities]")

    drag(page, token(page, "Barack"), token(page, "Obama"))
    page.click("[data-label=PER]")
    entities.get_by_text("Barack Obama").wait_for()
    token(page, "said").click()
    assert writes == [], "nothing is saved before the trigger is chosen"
    assert annotations(server.rest["anna"], pid, docs[0]["id"]) == []
    page.keyboard.press("Enter")
    entities.get_by_text("⚑ said").wait_for()

    # A held entity is also saved, as it is, when the annotator moves on: here without a trigger.
    page.keyboard.press("Escape")  # leave the saved entity's trigger mode
    token(page, "Paris").click()
    page.keyboard.press("l")
    entities.get_by_text("Paris").wait_for()
    page.keyboard.press("]")
    token(page, "Angela").wait_for()

    posts = [url for method, url in writes if method == "POST"]
    assert len(posts) == 2 and all(url.endswith(f"/documents/{docs[0]['id']}/annotations") for url in posts), writes
    assert [method for method, _ in writes] == ["POST", "POST"], "no PUT: each annotation went in one request"
    stored = sorted(annotations(server.rest["anna"], pid, docs[0]["id"]), key=lambda a: a["start"])
    assert [(a["label"], a["start"], a["end"]) for a in stored] == [
        ("PER", *offsets(NER_DOCS[0], "Barack Obama").values()), ("LOC", *offsets(NER_DOCS[0], "Paris").values())]
    assert [[e["spans"] for e in a["explanations"]] for a in stored] == [[[offsets(NER_DOCS[0], "said")]], []]


RE_LABELS = [{"name": "PER", "kind": "span", "color": "#1f77b4", "shortcut": "p"},
             {"name": "ORG", "kind": "span", "color": "#ff7f0e", "shortcut": "o"},
             {"name": "works_for", "kind": "relation", "color": "#d62728", "shortcut": "w"}]
RE_DOC = "Tim Cook leads Apple from Cupertino ."


def test_re_relation_with_explanation_by_mouse_and_keyboard(server, browser):
    pid = server.project("re", "natural_language", RE_LABELS, [RE_DOC])
    page = login(browser, server.url, "anna")
    page.goto(f"{server.url}/#/projects/{pid}/annotate")
    state = page.locator("[data-testid=re-state]")

    drag(page, token(page, "Tim"), token(page, "Cook"))
    page.click("[data-label=PER]")
    page.locator(".chip", has_text="PER").wait_for()
    token(page, "Apple").click()  # a click selects one word; its entity key labels it
    page.keyboard.press("o")
    page.locator(".chip", has_text="ORG").wait_for()

    # Mouse: subject, object, relation, explanation, save.
    token(page, "Tim").click()
    token(page, "Apple").click()
    page.click("[data-label=works_for]")
    assert "Subject: Tim Cook · Object: Apple · Relation: works_for" in state.inner_text()
    page.fill("[data-testid=explanation]", "The word leads sits between the person and the company.")
    page.click("text=Save relation")
    page.locator("[data-testid=relations] li").first.wait_for()

    # Keyboard: focus the entities with arrows, Space picks, the relation key, Ctrl+Enter saves.
    for key in ("Space", "ArrowLeft", "Space", "w"):  # focus is on Apple, the last entity clicked
        page.keyboard.press(key)
    page.keyboard.type("Apple is led by Tim Cook.")
    page.keyboard.press("Control+Enter")
    page.locator("[data-testid=relations] li").nth(1).wait_for()

    rows = annotations(server.rest["anna"], pid, server.rest["anna"]("GET", f"/projects/{pid}/documents")["items"][0]["id"])
    spans = {r["id"]: RE_DOC[r["start"]:r["end"]] for r in rows if r["kind"] == "span"}
    relations = [(spans[r["subject"]], r["label"], spans[r["object"]], r["explanations"][0]["text"])
                 for r in rows if r["kind"] == "relation"]
    assert sorted(relations) == sorted([
        ("Tim Cook", "works_for", "Apple", "The word leads sits between the person and the company."),
        ("Apple", "works_for", "Tim Cook", "Apple is led by Tim Cook.")])


SA_LABELS = [{"name": "positive", "kind": "document", "color": "#2ca02c", "shortcut": "1"},
             {"name": "negative", "kind": "document", "color": "#d62728", "shortcut": "2"}]
SA_DOCS = ["A warm , funny and moving film .", "Dull , long and badly acted ."]


def test_sa_labels_with_explanations_and_privacy_between_annotators(server, browser):
    pid = server.project("sa", "natural_language", SA_LABELS, SA_DOCS)
    docs = server.rest["admin"]("GET", f"/projects/{pid}/documents")["items"]
    anna = login(browser, server.url, "anna")
    anna.goto(f"{server.url}/#/projects/{pid}/annotate")
    mine = anna.locator("[data-testid=doc-labels]")

    anna.click("[data-label=positive]")  # mouse
    anna.fill("[data-testid=explanation]", "warm and funny are praise")
    anna.click("text=Save positive")
    mine.get_by_text("positive").wait_for()
    anna.keyboard.press("]")
    anna.get_by_text("Dull , long").wait_for()
    anna.keyboard.press("2")  # keyboard: the label key moves focus to the explanation box
    anna.keyboard.type("SECRET-anna-reason badly acted")
    anna.keyboard.press("Control+Enter")
    mine.get_by_text("negative").wait_for()

    stored = {d["id"]: annotations(server.rest["anna"], pid, d["id"]) for d in docs}
    assert [(a["label"], a["explanations"][0]["text"]) for a in stored[docs[0]["id"]]] == [
        ("positive", "warm and funny are praise")]
    assert [(a["label"], a["explanations"][0]["text"]) for a in stored[docs[1]["id"]]] == [
        ("negative", "SECRET-anna-reason badly acted")]

    # Bob, another annotator of the same project, sees none of it, on either document.
    bob = login(browser, server.url, "bob")
    for doc in docs:
        bob.goto(f"{server.url}/#/projects/{pid}/annotate/{doc['id']}")
        bob.get_by_text(doc["text"][:10]).wait_for()
        bob.locator("[data-testid=doc-labels]").wait_for(state="attached")
        assert bob.locator("[data-testid=doc-labels] li").count() == 0
        assert "SECRET-anna" not in bob.content()
    bob.keyboard.press("?")  # his settings panel offers no "other annotators' work" switch
    bob.locator("[data-testid=settings]").wait_for()
    assert "other annotators" not in bob.locator("[data-testid=settings]").inner_text()


def test_skip_leaves_the_document_unfinished_and_opens_the_next(server, browser):
    pid = server.project("ner", "none", NER_LABELS, NER_DOCS + ["Rome was quiet ."])
    docs = server.rest["admin"]("GET", f"/projects/{pid}/documents")["items"]
    anna = server.rest["anna"]
    page = login(browser, server.url, "anna")
    page.goto(f"{server.url}/#/projects/{pid}/annotate")
    token(page, "Barack").wait_for()  # the queue starts with the first document
    page.locator("[data-testid=progress]", has_text="0 / 3 finished · 0 skipped").wait_for()

    page.keyboard.press("}")  # skip by key
    token(page, "Angela").wait_for()
    page.locator("[data-testid=progress]", has_text="0 / 3 finished · 1 skipped").wait_for()
    first = anna("GET", f"/projects/{pid}/documents/{docs[0]['id']}")
    assert (first["skipped"], first["finished"]) == (True, False)
    assert anna("GET", f"/projects/{pid}/documents?status=skipped&count=true")["total"] == 1
    assert anna("GET", f"/projects/{pid}/documents?status=finished&count=true")["total"] == 0

    page.click("[data-testid=skip]")  # and by the button
    token(page, "Rome").wait_for()
    page.locator("[data-testid=progress]", has_text="0 / 3 finished · 2 skipped").wait_for()
    assert [d["id"] for d in anna("GET", f"/projects/{pid}/documents?status=skipped")["items"]] == \
        [docs[0]["id"], docs[1]["id"]]

    page.keyboard.press("?")  # the key help lists the skip key
    help_row = page.locator("[data-testid=settings] tr", has_text="skip this document")
    assert help_row.locator("kbd").inner_text() == "}"


def test_a_dictionary_recommendation_shows_the_example_it_copies(server, browser):
    texts = ["Angela Merkel visited Berlin on Monday .", "Later Berlin was calm ."]
    pid = server.project("ner", "none", NER_LABELS, texts)
    docs = server.rest["admin"]("GET", f"/projects/{pid}/documents")["items"]
    anna = server.rest["anna"]
    anna("POST", f"/projects/{pid}/documents/{docs[0]['id']}/annotations", {"label": "LOC", **offsets(texts[0], "Berlin")})
    wait_until(lambda: anna("GET", f"/projects/{pid}/model/recommendations/{docs[1]['id']}")["items"], 20,
               "the dictionary's recommendation")
    page = login(browser, server.url, "anna")
    page.goto(f"{server.url}/#/projects/{pid}/annotate/{docs[1]['id']}")
    example = page.locator("[data-testid=recommendations] [data-testid=rec-example]")
    example.wait_for()
    assert example.inner_text() == f"as in: “Berlin” (#{docs[0]['id']})"
