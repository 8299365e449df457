"""The aspect-based sentiment plugin's view (examples/plugins/leanlife-absa, a plain ES module
with no build step) in Chromium: aspect terms picked by selecting words, with a polarity by key
or button and a category by its button; the polarity changed in the list; and the suggestions
of its cheap lexicon (retrained on every save, pushed over Socket.IO) accepted from the list.
Everything the page saves is checked through the REST API."""

from __future__ import annotations

import time

import pytest

from tests.test_jobs_support import wait_until
from tests.test_ui_annotate import annotations, offsets
from tests.test_ui_harness import browser, login, server  # noqa: F401 (fixtures)

pytest.importorskip("leanlife_absa", reason="pip install -e examples/plugins/leanlife-absa")

WAIT_MS = 10000  # a missing element fails the test in seconds, not Playwright's 30
LABELS = [{"name": "FOOD", "kind": "span", "color": "#2ca02c"},
          {"name": "SERVICE", "kind": "span", "color": "#1f77b4"}]
# The third has a character outside the BMP before its term: the view counts code points, as
# the server does, not the UTF-16 units of the DOM.
DOCS = ["The pasta was great but the waiter was rude.", "Great pasta, slow waiter.", "The 🍝 pasta is cold."]

# Selects the n-th occurrence of a word of the view's text with a DOM Range over its text nodes
# (wherever the view split them), then sends the mouseup the view reads the selection on.
SELECT = """([word, nth]) => {
  const box = document.querySelector("[data-testid=absa-text]");
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  const nodes = [];
  let text = "";
  while (walker.nextNode()) { nodes.push([walker.currentNode, text.length]); text += walker.currentNode.data; }
  let start = -1;
  for (let i = 0; i <= nth; i++) start = text.indexOf(word, start + 1);
  if (start < 0) throw new Error(`no ${word} in ${text}`);
  const at = (position, end) => {
    for (const [node, first] of nodes) {
      const last = first + node.data.length;
      if (position >= first && (end ? position <= last : position < last)) return [node, position - first];
    }
  };
  const range = document.createRange();
  range.setStart(...at(start, false));
  range.setEnd(...at(start + word.length, true));
  getSelection().removeAllRanges();
  getSelection().addRange(range);
  box.dispatchEvent(new MouseEvent("mouseup", { bubbles: true }));
}"""

# The viewport box of a word of the view's text, for a real mouse drag.
WORD_BOX = """(word) => {
  const box = document.querySelector("[data-testid=absa-text]");
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const at = walker.currentNode.data.indexOf(word);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(walker.currentNode, at);
    range.setEnd(walker.currentNode, at + word.length);
    const r = range.getBoundingClientRect();
    return { left: r.left, right: r.right, y: r.top + r.height / 2 };
  }
  throw new Error(`no ${word}`);
}"""


def code_point_offsets(text: str, word: str) -> tuple[int, int]:
    return offsets(text, word)["start"], offsets(text, word)["end"]  # Python counts code points


def terms(rest, pid: int, document_id: int) -> list[tuple]:
    return sorted((a["label"], a["start"], a["end"], a.get("attributes"), a["source"])
                  for a in annotations(rest, pid, document_id))


def wait_for_term(page, word: str) -> None:
    """The view lists ``word`` among my terms (a failure says what the status line said)."""
    try:
        page.locator("[data-testid=absa-mine] li", has_text=word).wait_for()
    except Exception as error:  # Playwright's TimeoutError
        pytest.fail(f"{word} was not saved: {error}\nstatus line: "
                    f"{page.locator('[data-testid=status]').inner_text()!r}", pytrace=False)


def settled(rest, pid: int) -> None:
    """Waits until no retraining is queued or running and the serving version stays the same
    for a moment: the lexicon retrains after every save, so until then a page and a GET may
    see different versions' suggestions."""
    def quiet():
        first = rest("GET", f"/projects/{pid}/model")
        time.sleep(0.5)
        second = rest("GET", f"/projects/{pid}/model")
        serving = [(m["active_version"] or {}).get("id") for m in (first, second)]
        return not first["jobs"] and not second["jobs"] and serving[0] == serving[1] is not None
    wait_until(quiet, 30, "the lexicon's retraining to settle")


def wait_for_selection(page, word: str) -> None:
    """The view marks exactly ``word`` as selected (in however many pieces)."""
    page.wait_for_function("word => Array.from(document.querySelectorAll('[data-testid=absa-selection]'), "
                           "e => e.textContent).join('') === word", arg=word)


def select_by_drag(page, word: str, key_midway: str) -> None:
    """Presses the mouse at the word's first letter and lets go at its last: Chromium selects
    the characters whose middle the pointer passed, and the mouseup reaches the view. Halfway,
    ``key_midway`` is pressed: a polarity key, which redraws the view, as a push arriving does."""
    box = page.evaluate(WORD_BOX, word)
    page.mouse.move(box["left"] + 1, box["y"])
    page.mouse.down()
    page.mouse.move((box["left"] + box["right"]) / 2, box["y"], steps=3)
    page.keyboard.press(key_midway)
    page.mouse.move(box["right"] - 1, box["y"], steps=3)
    page.mouse.up()


def test_absa_terms_by_selection_polarity_change_and_accepted_suggestions(server, browser):
    pid = server.project("absa", "none", LABELS, DOCS)
    docs = server.rest["admin"]("GET", f"/projects/{pid}/documents")["items"]
    assert [d["text"] for d in docs] == DOCS
    anna = server.rest["anna"]
    page = login(browser, server.url, "anna")
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

    page.goto(f"{server.url}/#/projects/{pid}/annotate/{docs[0]['id']}")
    text_box = page.locator("[data-testid=absa-text]")
    text_box.get_by_text("waiter", exact=False).wait_for()
    mine = page.locator("[data-testid=absa-mine]")

    # "pasta": a DOM selection, key 1 (positive), the FOOD button.
    page.evaluate(SELECT, ["pasta", 0])
    wait_for_selection(page, "pasta")
    page.keyboard.press("1")
    page.locator("[data-polarity=positive][aria-pressed=true]").wait_for()
    page.click("[data-label=FOOD]")
    wait_for_term(page, "pasta")
    start, end = code_point_offsets(DOCS[0], "pasta")
    assert terms(anna, pid, docs[0]["id"]) == [("FOOD", start, end, {"polarity": "positive"}, "manual")]

    # "waiter": a real mouse drag (key 3, neutral, pressed during it), the negative button,
    # the SERVICE button.
    select_by_drag(page, "waiter", "3")
    wait_for_selection(page, "waiter")
    page.locator("[data-polarity=neutral][aria-pressed=true]").wait_for()
    page.click("[data-polarity=negative]")
    page.click("[data-label=SERVICE]")
    wait_for_term(page, "waiter")
    assert terms(anna, pid, docs[0]["id"]) == sorted([
        ("FOOD", start, end, {"polarity": "positive"}, "manual"),
        ("SERVICE", *code_point_offsets(DOCS[0], "waiter"), {"polarity": "negative"}, "manual")])
    assert page.locator("[data-testid=absa-term]").all_inner_texts() == ["pasta", "waiter"]

    # The first term's polarity, changed in the list.
    mine.locator("li", has_text="pasta").locator("select[aria-label=polarity]").select_option("neutral")
    wait_until(lambda: {"polarity": "neutral"} in [a.get("attributes") for a in annotations(anna, pid, docs[0]["id"])],
               10, "the new polarity of pasta")
    [pasta] = [a for a in annotations(anna, pid, docs[0]["id"]) if a["label"] == "FOOD"]
    assert (pasta["start"], pasta["end"], pasta["attributes"]) == (start, end, {"polarity": "neutral"})
    assert len(annotations(anna, pid, docs[0]["id"])) == 2, "the change updated the term, it added none"

    # The second document, once the lexicon has retrained on those saves: its suggestions show
    # in the list and as dashed marks in the text.
    settled(anna, pid)
    page.goto(f"{server.url}/#/projects/{pid}/annotate/{docs[1]['id']}")
    text_box.get_by_text("slow", exact=False).wait_for()
    suggestions = page.locator("[data-testid=absa-suggestions] li")
    pasta_suggestion = suggestions.filter(has_text="pasta")
    pasta_suggestion.wait_for(timeout=30000)
    assert "FOOD" in pasta_suggestion.inner_text()
    assert "pasta" in page.locator("[data-testid=absa-suggested]").all_inner_texts()
    [recommended] = [r for r in anna("GET", f"/projects/{pid}/model/recommendations/{docs[1]['id']}")["items"]
                     if r["label"] == "FOOD"]
    assert (recommended["start"], recommended["end"]) == code_point_offsets(DOCS[1], "pasta")
    polarity = recommended["attributes"]["polarity"]
    assert polarity in ("positive", "negative", "neutral", "conflict")
    assert pasta_suggestion.locator(".absa-polarity").inner_text() == polarity

    # The pointer on a suggestion marks its cue words in the text, and only the text is
    # redrawn: the row under the pointer stays (a whole redraw replaced it, the new row got
    # mouseenter again, and so on).
    row = pasta_suggestion.element_handle()
    pasta_suggestion.hover()
    cues = [c["text"] for c in recommended["evidence"]["triggers"]]
    page.wait_for_function("n => document.querySelectorAll('[data-testid=absa-cue]').length === n", arg=len(cues))
    page.wait_for_timeout(300)
    assert row.evaluate("row => row.isConnected")
    assert page.locator("[data-testid=absa-cue]").all_inner_texts() == cues

    pasta_suggestion.locator("[data-action=accept]").click()
    wait_for_term(page, "pasta")
    [accepted] = [a for a in annotations(anna, pid, docs[1]["id"]) if a["label"] == "FOOD"]
    assert (accepted["start"], accepted["end"], accepted["source"], accepted["attributes"]) == (
        *code_point_offsets(DOCS[1], "pasta"), "recommendation", {"polarity": polarity})
    # An accepted suggestion is a term: drawn solid, no longer dashed nor listed.
    page.locator("[data-testid=absa-term]", has_text="pasta").wait_for()
    assert "pasta" not in page.locator("[data-testid=absa-suggested]").all_inner_texts()
    assert suggestions.filter(has_text="pasta").count() == 0

    # After an emoji: the suggestion's mark covers "pasta", and a selected word is saved at
    # its code-point offsets.
    page.goto(f"{server.url}/#/projects/{pid}/annotate/{docs[2]['id']}")
    text_box.get_by_text("cold", exact=False).wait_for()
    page.locator("[data-testid=absa-suggested]", has_text="pasta").wait_for(timeout=30000)
    assert page.locator("[data-testid=absa-suggested]").all_inner_texts() == ["pasta"]
    page.evaluate(SELECT, ["cold", 0])
    wait_for_selection(page, "cold")
    page.keyboard.press("2")
    page.click("[data-label=FOOD]")
    wait_for_term(page, "cold")
    assert terms(anna, pid, docs[2]["id"]) == [
        ("FOOD", *code_point_offsets(DOCS[2], "cold"), {"polarity": "negative"}, "manual")]

    assert errors == []
