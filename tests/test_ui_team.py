"""Team annotation in a real browser: the agreement page (pair matrix, labels, the documents
behind a cell) and the curation page (annotators side by side, accepting into gold with the
keyboard, writing gold in the task's view, the review state), on SQLite and PostgreSQL.

Also takes the user guide's screenshots of both pages (``LEANLIFE_SCREENSHOTS=docs/images``;
see tests/test_ui_console.py).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from tests.conftest import PASSWORD
from tests.test_ui_annotate import NER_DOCS, NER_LABELS, offsets
from tests.test_ui_harness import Rest, browser, login, server, token  # noqa: F401 (fixtures)

TEAM_LABELS = [{"name": "positive", "kind": "document", "color": "#2ca02c", "shortcut": "1"},
               {"name": "negative", "kind": "document", "color": "#d62728", "shortcut": "2"},
               {"name": "neutral", "kind": "document", "color": "#7f7f7f", "shortcut": "3"}]
REVIEWS = ["A warm , funny and moving film .", "Long , but the ending pays off .", "Dull and badly acted .",
           "A film about a film festival .", "Great cast , thin plot .", "I left after an hour ."]
# Who gave which label to each review (None: left unlabelled).
TABLE = {"anna": ["positive", "positive", "negative", "neutral", "positive", "negative"],
         "bob": ["positive", "negative", "negative", "neutral", "negative", "negative"],
         "cat": ["positive", "negative", "negative", "positive", "positive", None]}


def shots_dir(tmp_path) -> Path:
    shots = Path(os.environ.get("LEANLIFE_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    return shots


def annotator(server, name: str) -> Rest:
    """A third annotator besides anna and bob, made by the site admin."""
    server.rest["admin"]("POST", "/users", {"username": name, "password": PASSWORD})
    issued = server.rest["admin"].session.post(f"{server.url}/api/v1/auth/token",
                                               json={"username": name, "password": PASSWORD, "name": "ui"})
    assert issued.status_code == 201, issued.text
    return Rest(server.url, issued.json()["token"])


def kappa(a: str, b: str, label: str | None = None) -> float:
    both = [(x, y) for x, y in zip(TABLE[a], TABLE[b]) if x is not None and y is not None]
    if label is not None:
        both = [(x == label, y == label) for x, y in both]
    return cohen_kappa_score([x for x, _ in both], [y for _, y in both])


def test_agreement_page_shows_the_pair_matrix_and_the_documents_behind_a_cell(server, browser, tmp_path):
    rest = {**server.rest, "cat": annotator(server, "cat")}
    pid = server.project("sa", "none", TEAM_LABELS, REVIEWS, ("anna", "bob", "cat"))
    docs = [d["id"] for d in rest["admin"]("GET", f"/projects/{pid}/documents")["items"]]
    for name, row in TABLE.items():
        for doc, label in zip(docs, row):
            if label is not None:
                rest[name]("POST", f"/projects/{pid}/documents/{doc}/annotations", {"label": label})

    owner = login(browser, server.url, "admin")
    owner.goto(f"{server.url}/#/projects/{pid}/console")
    owner.get_by_role("link", name="Agreement").click()
    matrix = owner.locator("[data-testid=pair-matrix]")
    matrix.wait_for()

    pairs = [("anna", "bob", 6), ("anna", "cat", 5), ("bob", "cat", 5)]
    for a, b, items in pairs:
        for first, second in ((a, b), (b, a)):  # the matrix is symmetric
            assert matrix.locator(f"[data-testid=cell-{first}-{second}]").inner_text() == f"{kappa(a, b):.2f} ({items})"
    codes = {"positive": 0, "negative": 1, "neutral": 2}
    reliability = [[np.nan if v is None else codes[v] for v in row] for row in TABLE.values()]
    alpha = krippendorff.alpha(reliability_data=reliability, level_of_measurement="nominal")
    overall = owner.locator("[data-testid=overall]").inner_text()
    assert f"kappa {np.mean([kappa(a, b) for a, b, _ in pairs]):.2f}" in overall
    assert f"alpha {alpha:.2f}" in overall and "6 items" in overall
    # Labels, lowest mean kappa first.
    mean = {label: np.mean([kappa(a, b, label) for a, b, _ in pairs]) for label in codes}
    rows = owner.locator("[data-testid=label-table] tbody tr th").all_inner_texts()
    assert rows == sorted(codes, key=lambda label: mean[label])

    # anna and bob differ on reviews 1 and 4.
    matrix.locator("[data-testid=cell-anna-bob] button").click()
    listed = owner.locator("[data-testid=disagreeing-documents]")
    listed.get_by_text(f"document #{docs[4]}").wait_for()
    assert listed.locator("li").all_inner_texts() == [f"document #{docs[i]}\n{REVIEWS[i]}" for i in (1, 4)]
    owner.screenshot(path=str(shots_dir(tmp_path) / "agreement.png"))
    # Any two annotators differ on "neutral" in review 3 only (anna and bob against cat).
    owner.locator("[data-testid=label-table]").get_by_role("button", name="neutral").click()
    listed.get_by_text("annotators disagree on label neutral").wait_for()
    listed.get_by_text(f"document #{docs[3]}").wait_for()
    assert listed.locator("li").all_inner_texts() == [f"document #{docs[3]}\n{REVIEWS[3]}"]

    # One click from a document to its curation.
    listed.get_by_text(f"document #{docs[3]}").click()
    owner.locator("[data-testid=annotator-cat]").get_by_text("positive").wait_for()
    assert owner.locator("[data-testid=review-state]").inner_text() == "annotated"
    assert owner.locator(".disagree").count() == 3  # the three answers on review 3 differ


def export_gold(admin: Rest, pid: int) -> list[dict]:
    job = admin("POST", f"/projects/{pid}/exports", {"format": "jsonl", "layer": "gold"}, status=202)
    deadline = time.monotonic() + 60
    while job["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
        job = admin("GET", f"/projects/{pid}/jobs/{job['id']}")
    assert job["state"] == "finished", job
    text = admin.session.get(f"{admin.url}/api/v1/projects/{pid}/exports/{job['id']}/file", timeout=10).text
    return [json.loads(line) for line in text.splitlines()]


def test_owner_curates_a_disagreement_with_the_keyboard(server, browser, tmp_path):
    pid = server.project("ner", "trigger", NER_LABELS, NER_DOCS)
    admin, text = server.rest["admin"], NER_DOCS[0]
    doc = admin("GET", f"/projects/{pid}/documents")["items"][0]["id"]
    said = {"kind": "trigger", "spans": [offsets(text, "said")]}
    spans = {"anna": [("PER", "Barack Obama", [said]), ("LOC", "Paris", [])],
             "bob": [("LOC", "Barack Obama", []), ("LOC", "Paris", [])]}
    ids = {name: [server.rest[name]("POST", f"/projects/{pid}/documents/{doc}/annotations",
                                    {"label": label, **offsets(text, words), "explanations": explanations})["id"]
                  for label, words, explanations in made] for name, made in spans.items()}

    owner = login(browser, server.url, "admin")
    owner.goto(f"{server.url}/#/projects/{pid}/curate")  # opens the first document not curated
    first = owner.locator(f"[data-testid=annotation-{ids['anna'][0]}]")
    first.wait_for()
    assert owner.locator("[data-testid=review-state]").inner_text() == "annotated"
    # PER against LOC on "Barack Obama" is a disagreement; both said LOC for "Paris".
    for name, (barack, paris) in ids.items():
        assert "disagree" in owner.locator(f"[data-testid=annotation-{barack}]").get_attribute("class")
        assert "disagree" not in owner.locator(f"[data-testid=annotation-{paris}]").get_attribute("class")

    owner.keyboard.press("?")      # the key help lists the page's keys and the task view's
    keys = owner.locator("[data-testid=keys]")
    keys.get_by_text("accept the highlighted annotation into the gold layer").wait_for()
    assert "LOC (span)" in keys.inner_text()
    owner.keyboard.press("?")
    keys.wait_for(state="detached")
    owner.keyboard.press("d")      # the next disagreement: bob's LOC
    owner.locator(f"[data-testid=annotation-{ids['bob'][0]}].sel").wait_for()
    owner.keyboard.press("d")      # ... and round again to anna's PER
    owner.locator(f"[data-testid=annotation-{ids['anna'][0]}].sel").wait_for()
    owner.keyboard.press("Enter")  # accept it into gold
    gold = owner.locator("[data-testid=gold]")
    gold.get_by_text("“Barack Obama”").wait_for()
    owner.locator("[data-testid=review-state]").get_by_text("in review").wait_for()
    owner.keyboard.press("ArrowDown")  # anna's Paris
    owner.keyboard.press("Enter")
    gold.get_by_text("“Paris”").wait_for()
    owner.screenshot(path=str(shots_dir(tmp_path) / "curation.png"))

    # Writing gold in the task's view: x takes the accepted Paris out, Tab hands the keys to
    # the NER view, which marks Paris again (no trigger) into the gold layer.
    owner.keyboard.press("x")
    gold.get_by_text("“Paris”").wait_for(state="detached")
    owner.keyboard.press("Tab")
    owner.locator("[data-testid=mode]").get_by_text("editing gold").wait_for()
    token(owner, "Paris").click()
    owner.keyboard.press("l")
    owner.keyboard.press("Enter")
    gold.get_by_text("“Paris”").wait_for()
    owner.keyboard.press("Tab")
    owner.keyboard.press("c")      # curated
    owner.locator("[data-testid=review-state]").get_by_text("curated").wait_for()

    curation = admin("GET", f"/projects/{pid}/documents/{doc}/curation")
    assert curation["state"] == "curated"
    assert sorted((g["label"], text[g["start"]:g["end"]], g["explanations"] and g["explanations"][0]["spans"])
                  for g in curation["gold"]) == [("LOC", "Paris", []), ("PER", "Barack Obama", said["spans"])]
    assert [d["id"] for d in admin("GET", f"/projects/{pid}/documents?review=curated")["items"]] == [doc]
    [record] = [r for r in export_gold(admin, pid) if r["text"] == text]
    assert sorted(a["label"] for a in record["annotations"]) == ["LOC", "PER"]  # gold only, no annotator's


@pytest.mark.parametrize("path, told", [("agreement", "only the project's owners may do this"),
                                        ("curate", "Curation is for the project's owners.")])
def test_annotators_are_told_the_team_pages_are_for_owners(server, browser, path, told):
    pid = server.project("sa", "none", TEAM_LABELS, REVIEWS[:1], ("anna",))
    page = login(browser, server.url, "anna")
    page.goto(f"{server.url}/#/projects/{pid}/{path}")
    page.get_by_text(told).wait_for()
    assert page.locator("[data-testid=pair-matrix], [data-testid=annotators]").count() == 0
