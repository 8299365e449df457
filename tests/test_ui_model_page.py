"""The model page (issue 16, item 7), in Chromium: each version's headline scores on the
held-out documents (F1, precision, recall, how many were held out) instead of raw metrics, a
learning curve with titled axes and values on hover, "make active" per version for owners
only, and the raw metrics behind a details toggle.

``LEANLIFE_SCREENSHOTS=docs/images`` keeps the screenshot of the page (model.png).
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.test_ui_annotate import NER_DOCS, NER_LABELS
from tests.test_ui_harness import VIEWPORT, browser, login, server  # noqa: F401 (fixtures)
from tests.test_ui_re_recommendations import seed_version

WAIT_MS = 8000


def _scores(precision: float, recall: float, gold: int) -> dict:
    f1 = 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "gold": float(gold),
            "predicted": round(gold * recall / precision), "correct": round(gold * recall)}


# (labeled documents, held-out documents, held-out scores or None): v1 had too few to hold out.
RUNS = [(6, 0, None), (12, 3, (0.50, 0.40, 10)), (20, 4, (0.70, 0.60, 15)), (30, 6, (0.85, 0.75, 19))]


def test_the_model_page_shows_scores_a_labelled_curve_and_rolls_back(server, browser, database_url, tmp_path):
    pid = server.project("ner", "trigger", NER_LABELS, NER_DOCS)
    ids = []
    for number, (labeled, heldout, scores) in enumerate(RUNS, start=1):
        ids.append(seed_version(
            database_url, pid, "triggerner.v1",
            {"train": {"loss": 0.5 / number, "pseudo_labeled_sentences": 0.0},
             "heldout": _scores(*scores) if scores else {}},
            {"labeled": labeled, "train": labeled - heldout, "heldout": heldout, "unlabeled": 40 - labeled},
            active=number == len(RUNS)))

    page = login(browser, server.url, "admin")
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{server.url}/#/projects/{pid}/model")
    rows = page.locator("[data-testid=versions] tbody tr")
    rows.nth(3).wait_for()

    # Newest first; the headline per version, not the raw dump.
    newest = rows.first
    assert newest.get_attribute("data-version") == "4" and newest.locator("[data-testid=active-badge]").count() == 1
    cells = {name: newest.locator(f"[data-testid={name}]").inner_text() for name in ("f1", "precision", "recall", "heldout")}
    assert cells == {"f1": "0.80", "precision": "0.85", "recall": "0.75", "heldout": "6"}, cells
    assert rows.nth(3).locator("[data-testid=f1]").inner_text() == "—"  # v1: nothing held out
    raw = newest.locator("[data-testid=raw-metrics]")
    assert not raw.get_by_text("heldout gold").is_visible()  # behind the toggle
    assert "pseudo_labeled_sentences" not in page.locator("main").inner_text()
    raw.locator("summary").click()
    raw.get_by_text("heldout gold").wait_for()
    assert "train pseudo_labeled_sentences" in raw.inner_text()
    raw.locator("summary").click()

    # The curve: three scored versions, titled axes with units, the values on hover.
    curve = page.locator("[data-testid=learning-curve]")
    assert curve.locator("[data-series=f1] circle").count() == 3
    text = curve.text_content()
    assert "labeled documents (count)" in text and "held-out score (0–1)" in text, text
    assert {"F1", "precision", "recall"} <= set(curve.locator("text").all_text_contents())
    curve.locator("[data-testid=curve-point]").nth(1).hover()  # the second scored version, v3
    tooltip = curve.locator("[data-testid=curve-tooltip]")
    tooltip.wait_for()
    assert tooltip.text_content() == ("v3 · 20 labeled" "F1 0.65" "precision 0.70 · recall 0.60" "4 held-out documents")

    shots = Path(os.environ.get("LEANLIFE_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    assert page.viewport_size == VIEWPORT
    page.screenshot(path=str(shots / "model.png"))

    # Roll back to v2: it serves from now on, and the page says so.
    page.mouse.move(0, 0)
    rows.nth(2).locator("[data-testid=make-active]").click()
    page.get_by_text("v2 (triggerner.v1) is active").wait_for()
    assert rows.nth(2).locator("[data-testid=active-badge]").count() == 1
    assert newest.locator("[data-testid=make-active]").count() == 1
    status = server.rest["admin"]("GET", f"/projects/{pid}/model")
    assert status["active_version"]["id"] == ids[1]

    # An annotator sees the scores but no "make active" (the API answers them 403).
    annotator = login(browser, server.url, "anna")
    annotator.set_default_timeout(WAIT_MS)
    annotator.goto(f"{server.url}/#/projects/{pid}/model")
    annotator.locator("[data-testid=versions] tbody tr").nth(3).wait_for()
    assert annotator.locator("[data-testid=make-active]").count() == 0
    server.rest["anna"]("POST", f"/projects/{pid}/model/versions/{ids[3]}/activate", status=403)
