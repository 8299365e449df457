"""The live loop seen from the browser: annotations fire the retraining policy, a real
``leanlife worker`` (RQ on Redis) trains a real (toy) tagger, and the recommendations it
pushes appear in the annotator's open page without a reload and are accepted with one key.

Also takes the screenshot of a pushed recommendation (``LEANLIFE_SCREENSHOTS=docs/images``;
see tests/test_ui_console.py); the model page's is tests/test_ui_model_page.py's.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from leanlife_server.auth import create_user, issue_token
from leanlife_server.db import db
from leanlife_server.web import DEFAULT_DIST
from tests.test_jobs_support import redis_prefix  # noqa: F401 (a fixture used below)
from tests.conftest import PASSWORD
from tests.test_jobs_support import REDIS_URL, Process, process_env, start_server, start_worker, wait_until
from tests.test_ui_harness import VIEWPORT, Rest, browser, login  # noqa: F401 (fixtures)

LABELS = [{"name": "PER", "kind": "span", "color": "#1f77b4", "shortcut": "p"},
          {"name": "LOC", "kind": "span", "color": "#2ca02c", "shortcut": "l"}]
# (text, [(word, label)]): the tagger learns a person after "mr"/"ms" and a place after "to"/"in".
LABELED = [("mr smith went to paris", [("smith", "PER"), ("paris", "LOC")]),
           ("mr jones flew to rome", [("jones", "PER"), ("rome", "LOC")]),
           ("ms brown lives in oslo", [("brown", "PER"), ("oslo", "LOC")])]
OPEN = "mr green went to rome"
UNLABELED = [OPEN, "ms white drove to oslo"]
EVERY_N = sum(len(entities) for _, entities in LABELED)
# More of the same, for the owner's later runs: with 10 labeled documents and more, a fifth
# is held out and the model page draws a learning curve.
MORE = [(f"{title} {name} {verb} {place}", [(name, "PER"), (place, "LOC")]) for title, name, verb, place in zip(
    ["mr", "ms", "mr", "ms"] * 6,
    ["adams", "baker", "clark", "davis", "evans", "ford", "grant", "hill", "irwin", "king", "lewis", "moore",
     "nash", "owen", "price", "quinn", "reed", "shaw", "todd", "usher", "vance", "wood"],
    ["went to", "flew to", "lives in", "drove to"] * 6,
    ["berlin", "cairo", "delhi", "lima", "madrid", "nairobi", "prague", "quito", "seoul", "tokyo", "vienna",
     "warsaw", "athens", "bern", "dublin", "kyiv", "lisbon", "minsk", "oslo", "riga", "sofia", "tunis"])]


@pytest.fixture
def live_stack(app, database_url, tmp_path, redis_prefix):  # noqa: F811 (the fixture imported above)
    """``leanlife serve`` and one ``leanlife worker`` on Redis with the toy models installed;
    yields the URL, the worker, and REST clients for ``admin`` (the owner) and ``anna`` (an
    annotator)."""
    if not (DEFAULT_DIST / "index.html").is_file():
        pytest.fail(f"the UI is not built ({DEFAULT_DIST}); run: make install", pytrace=False)
    with app.app_context():
        tokens = {name: issue_token(create_user(name, PASSWORD, is_admin=name == "admin"),
                                    "push test")[1] for name in ("admin", "anna")}
        db.session.commit()
    env = process_env(tmp_path, {"database_url": database_url, "data_dir": tmp_path / "data",
                                 "secret_key": "push-test-secret", "redis_url": REDIS_URL,
                                 "redis_prefix": redis_prefix})
    started: list[Process] = []
    try:
        server, url = start_server(env, tmp_path)
        started.append(server)
        worker = start_worker(env, tmp_path)
        started.append(worker)
        yield url, worker, {name: Rest(url, token) for name, token in tokens.items()}
    finally:
        for process in reversed(started):
            process.kill()


def ner_project(admin: Rest) -> tuple[int, dict[str, int]]:
    """A project on the toy tagger that retrains after every EVERY_N annotations; returns its
    id and its documents' ids by text."""
    project = admin("POST", "/projects", {"name": "people and places", "task": "ner"})
    pid = project["id"]
    for label in LABELS:
        admin("POST", f"/projects/{pid}/labels", label)
    admin("PATCH", f"/projects/{pid}/settings", {  # the tagger alone, without the dictionary
        "model": "toy.tagger.v1", "recommenders": ["toy.tagger.v1"],
        "retrain_policy": {"mode": "every_n", "n": EVERY_N}})
    documents = admin("POST", f"/projects/{pid}/documents",
                      {"documents": [{"text": t} for t, _ in LABELED] + [{"text": t} for t in UNLABELED]})
    admin("POST", f"/projects/{pid}/members", {"username": "anna", "role": "annotator"})
    return pid, {d["text"]: d["id"] for d in documents["items"]}


def label_and_train(admin: Rest, pid: int, labeled: list[tuple[str, list[tuple[str, str]]]]) -> None:
    """The owner adds labeled documents and trains now; returns when the worker is done."""
    documents = admin("POST", f"/projects/{pid}/documents", {"documents": [{"text": t} for t, _ in labeled]})
    for document, (text, entities) in zip(documents["items"], labeled):
        for word, label in entities:
            start = text.index(word)
            admin("POST", f"/projects/{pid}/documents/{document['id']}/annotations",
                  {"label": label, "start": start, "end": start + len(word)})
    job = admin("POST", f"/projects/{pid}/model/train", status=202)
    wait_until(lambda: admin("GET", f"/projects/{pid}/jobs/{job['id']}")["state"] == "finished", 30, "training")


def cited_words(page) -> list[tuple[int, str]]:
    """The document's tokens marked as a recommendation's cited trigger words: (offset, text)."""
    return [tuple(x) for x in page.locator("[data-testid=doctext] .tok.rec-trig").evaluate_all(
        "els => els.map(e => [Number(e.dataset.start), e.textContent])")]


def test_a_worker_pushes_recommendations_that_are_accepted_with_one_key(live_stack, browser, tmp_path):
    url, worker, rest = live_stack
    shots = Path(os.environ.get("LEANLIFE_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    pid, ids = ner_project(rest["admin"])

    page = login(browser, url, "anna")
    page.goto(f"{url}/#/projects/{pid}/annotate/{ids[OPEN]}")
    page.locator("[data-testid=live]", has_text="live").wait_for()
    assert page.locator("[data-testid=recommendations] li").count() == 0, "no model yet"
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads

    for text, entities in LABELED:  # the annotator's other work, saved through the API
        for word, label in entities:
            start = text.index(word)
            rest["anna"]("POST", f"/projects/{pid}/documents/{ids[text]}/annotations",
                         {"label": label, "start": start, "end": start + len(word)})
    policy_fired = time.monotonic()

    pushed = page.locator("[data-testid=recommendations] li").first
    pushed.wait_for(timeout=30_000)
    shown_after = time.monotonic() - policy_fired
    assert page.evaluate("window.loadedOnce") is True, "the recommendations came without a reload"
    assert page.locator("[data-testid=doctext] .tok.rec").count() > 0, "dashed spans in the text"
    # Recommendations are pushed as they are stored; the version is activated just after.
    page.locator("[data-testid=training]", has_text="model v").wait_for()
    version = rest["admin"]("GET", f"/projects/{pid}/model")["active_version"]
    assert version is not None and version["data_counts"]["annotations"] == EVERY_N, version
    assert "leanlife_server.pipeline.retrain:run" in worker.output(), "the worker ran the training job"
    stored = rest["anna"]("GET", f"/projects/{pid}/model/recommendations/{ids[OPEN]}")["items"]
    first = stored[0]
    assert (first["label"], OPEN[first["start"]:first["end"]]) == ("PER", "green"), "the model learned"
    assert f"PER {round(first['confidence'] * 100)}%" in pushed.inner_text()
    assert first["evidence"] == {"triggers": [{"text": "mr", "start": 0, "end": 2, "weight": 1.0}]}
    assert "⚑ mr" in pushed.inner_text()
    for item in stored:  # hovering a recommendation marks the words it cites, where they are
        row = page.locator("[data-testid=recommendations] li").filter(has_text=OPEN[item["start"]:item["end"]])
        row.hover()
        cited = [(t["start"], t["text"]) for t in item["evidence"]["triggers"]]
        assert all(OPEN[start:start + len(text)] == text for start, text in cited), cited
        wait_until(lambda: cited_words(page) == cited, 5, f"the words {item['label']} cites marked")
    page.mouse.move(0, 0)  # the highlighted (first) recommendation's words stay marked
    wait_until(lambda: cited_words(page) == [(0, "mr")], 5, "the focused recommendation's words marked")
    assert f"model v{version['number']}" in page.locator("[data-testid=training]").inner_text()
    page.screenshot(path=str(shots / "recommendation.png"))

    page.keyboard.press("Enter")  # accepts the highlighted (first) recommendation
    page.locator("[data-testid=entities]").get_by_text("green").wait_for()
    [accepted] = rest["anna"]("GET", f"/projects/{pid}/documents/{ids[OPEN]}/annotations")["items"]
    assert (accepted["label"], accepted["start"], accepted["end"], accepted["source"]) == \
        ("PER", first["start"], first["end"], "recommendation")

    admin = rest["admin"]
    admin("PATCH", f"/projects/{pid}/settings", {"retrain_policy": {"mode": "manual"}})
    label_and_train(admin, pid, MORE[:10])
    label_and_train(admin, pid, MORE[10:])
    owner = login(browser, url, "admin")
    owner.goto(f"{url}/#/projects/{pid}/model")
    owner.locator("[data-testid=versions] tbody tr").nth(2).wait_for()
    assert owner.locator("[data-testid=learning-curve] [data-series=f1] circle").count() == 2, \
        "two versions were scored on held-out documents"
    print(f"recommendation shown {shown_after:.2f} s after the policy's last annotation")
