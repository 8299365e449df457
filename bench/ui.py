"""Browser timing in headless Debian Chromium against a real ``leanlife serve`` and ``leanlife
worker`` (Redis, the toy tagger of tests/test_jobs_toy_models.py):

    python bench/ui.py [--runs 10]

Three figures, each measured inside the page (``performance.now()``), so Playwright's own
round trips do not count; "shown" is the first animation frame after the DOM change, the frame
that paints it:

- cold open: a new tab (logged in, warm HTTP cache) opens a 500-token document's address; from
  the navigation's start until its last token is shown (clickable). Goal: under 300 ms.
- reload: the open document's page is reloaded (F5), its live connection open; same end point.
- warm open: the running app moves to another 500-token document (as "next" does).
- pushed recommendation: a training job run by the worker pushes ``recommendations`` for the
  open 500-token document; from the push arriving in the page (the User Timing mark
  ``recommendations-arrived`` the socket handler sets) until the recommendation is shown.
  Goal: under 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from leanlife_server.app import create_app  # noqa: E402
from leanlife_server.auth import create_user, issue_token  # noqa: E402
from leanlife_server.db import db  # noqa: E402
from leanlife_server.db.migrate import upgrade  # noqa: E402
from tests.conftest import PASSWORD  # noqa: E402
from tests.test_jobs_support import REDIS_URL, process_env, start_server, start_worker, wait_until  # noqa: E402
from tests.test_ui_harness import CHROMIUM, CHROMIUM_FLAGS, Rest, login  # noqa: E402
from tests.test_ui_push import LABELS, MORE, label_and_train  # noqa: E402

WORDS = "the annotator reads a long news story about Paris , Berlin and Barack Obama".split()
# Sentences the toy tagger (trained on MORE) tags: a person after "mr", a place after "to".
SENTENCE = "mr {name} went to {place} and the annotator reads a long news story about it .".split()
NAMES = ["green", "black", "young", "stone", "brooks"]
PLACES = ["rome", "paris", "oslo", "lima", "kyiv"]
TOKENS = 500
LAST_TOKEN = f"[data-testid=doctext] .tok[data-i='{TOKENS - 1}']"
RECOMMENDATION = "[data-testid=recommendations] li"

# Installed in every page before its scripts: shownAt(test) resolves with performance.now() at
# the first animation frame after the DOM makes test() true; a page load times its last token.
PAGE_TIMER = """
window.shownAt = (test) => new Promise((resolve) => {
  const observer = new MutationObserver(() => check());
  const check = () => {
    if (!test()) return;
    observer.disconnect();
    requestAnimationFrame(() => resolve(performance.now()));
  };
  observer.observe(document, { childList: true, subtree: true, characterData: true });
  check();
});
window.lastTokenShown = shownAt(() => document.querySelector("%s") !== null);
""" % LAST_TOKEN


def five_hundred_tokens(seed: int) -> str:
    return " ".join(WORDS[(i * 7 + seed) % len(WORDS)] for i in range(TOKENS))


def five_hundred_tokens_with_entities(seed: int) -> str:
    words = []
    while len(words) < TOKENS:
        k = seed + len(words)
        words += [w.format(name=NAMES[k % len(NAMES)], place=PLACES[k % len(PLACES)]) for w in SENTENCE]
    return " ".join(words[:TOKENS])


def summary(name: str, values: list[float]) -> str:
    p90 = sorted(values)[round(0.9 * (len(values) - 1))]
    return f"{name:24} median {statistics.median(values):6.1f} ms   p90 {p90:6.1f} ms   (n={len(values)})"


def cold_opens(context, url: str, pid: int, docs: list[dict]) -> list[float]:
    times = []
    for doc in docs:
        page = context.new_page()
        page.goto(f"{url}/#/projects/{pid}/annotate/{doc['id']}")
        times.append(page.evaluate("window.lastTokenShown"))
        page.locator("[data-testid=live]", has_text="live").wait_for()  # the deferred requests are done
        page.close()
    return times


def reloads(page, url: str, pid: int, docs: list[dict]) -> list[float]:
    times = []
    for doc in docs:
        page.evaluate(f"location.hash = '#/projects/{pid}/annotate/{doc['id']}'")
        page.get_by_text(f"document #{doc['id']}").wait_for()
        page.locator("[data-testid=live]", has_text="live").wait_for()
        page.reload()
        times.append(page.evaluate("window.lastTokenShown"))
    return times


def warm_opens(page, pid: int, docs: list[dict]) -> list[float]:
    times = []
    for previous, doc in zip(docs, docs[1:]):
        page.evaluate(f"location.hash = '#/projects/{pid}/annotate/{previous['id']}'")
        page.get_by_text(f"document #{previous['id']}").wait_for()
        times.append(page.evaluate("""([hash, prefix]) => {
            const start = performance.now();
            const shown = shownAt(() => {
              const text = document.querySelector("[data-testid=doctext]");
              return text !== null && text.textContent.startsWith(prefix) && document.querySelector("%s") !== null;
            });
            location.hash = hash;
            return shown.then((t) => t - start);
        }""" % LAST_TOKEN, [f"#/projects/{pid}/annotate/{doc['id']}", doc["text"][:60]]))
    return times


def pushed_recommendations(page, url: str, admin: Rest, runs: int) -> list[float]:
    """Each run opens a new document (no recommendations yet), then trains: the job pushes the
    new model's recommendations for every unlabeled document, this one included."""
    project = admin("POST", "/projects", {"name": "push bench", "task": "ner", "explanation_kind": "trigger"})
    pid = project["id"]
    for label in LABELS:
        admin("POST", f"/projects/{pid}/labels", label)
    admin("PATCH", f"/projects/{pid}/settings", {"model": "toy.tagger.v1", "retrain_policy": {"mode": "manual"}})
    label_and_train(admin, pid, MORE[:10])
    times = []
    for run in range(runs):
        doc = admin("POST", f"/projects/{pid}/documents", {"text": five_hundred_tokens_with_entities(run)})
        page.goto(f"{url}/#/projects/{pid}/annotate/{doc['id']}")
        page.locator("[data-testid=live]", has_text="live").wait_for()
        page.get_by_text(f"document #{doc['id']}").wait_for()
        assert page.locator(RECOMMENDATION).count() == 0, "a new document has no recommendations yet"
        page.evaluate(f"() => {{ window.recommendationShown = shownAt(() => document.querySelector('{RECOMMENDATION}') !== null); }}")
        job = admin("POST", f"/projects/{pid}/model/train", status=202)
        wait_until(lambda: admin("GET", f"/projects/{pid}/jobs/{job['id']}")["state"] == "finished", 60, "training")
        times.append(page.evaluate("""async (id) => {
            const late = new Promise((_, reject) => setTimeout(() => reject(new Error("nothing shown in 10 s")), 10000));
            const shown = await Promise.race([window.recommendationShown, late]);
            const arrived = performance.getEntriesByName("recommendations-arrived").filter((m) => m.detail === id);
            if (!arrived.length) throw new Error(`no push for document ${id} arrived`);
            return shown - arrived[arrived.length - 1].startTime;
        }""", doc["id"]))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    prefix = f"leanlife-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        database_url = f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app({"database_url": database_url, "data_dir": tmp / "data"})
        upgrade(app)
        with app.app_context():
            token = issue_token(create_user("owner", PASSWORD, is_admin=True), "bench")[1]
            db.session.commit()
        env = process_env(tmp, {"database_url": database_url, "data_dir": tmp / "data",
                                "secret_key": "bench-secret", "redis_url": REDIS_URL, "redis_prefix": prefix})
        server, url = start_server(env, tmp)
        worker = start_worker(env, tmp)
        try:
            admin = Rest(url, token)
            project = admin("POST", "/projects", {"name": "bench", "task": "ner", "explanation_kind": "trigger"})
            pid = project["id"]
            admin("POST", f"/projects/{pid}/labels", {"name": "PER", "kind": "span", "shortcut": "p"})
            docs = admin("POST", f"/projects/{pid}/documents",
                         {"documents": [{"text": five_hundred_tokens(i)} for i in range(args.runs + 1)]})["items"]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
                context = login(browser, url, "owner").context
                context.add_init_script(PAGE_TIMER)
                cold_opens(context, url, pid, docs[:1])  # the first load fills the HTTP cache
                cold = cold_opens(context, url, pid, docs[1:])
                page = context.new_page()
                page.goto(f"{url}/#/projects/{pid}/annotate/{docs[0]['id']}")
                reloaded = reloads(page, url, pid, docs[1:])
                warm = warm_opens(page, pid, docs)
                pushed = pushed_recommendations(page, url, admin, args.runs)
                browser.close()
        finally:
            worker.kill()
            server.kill()
            connection = redis.Redis.from_url(REDIS_URL)
            keys = list(connection.scan_iter(match=f"*{prefix}*"))
            if keys:
                connection.delete(*keys)
    print(summary("cold open (new tab)", cold))
    print(summary("reload (F5)", reloaded))
    print(summary("warm open (in-app)", warm))
    print(summary("pushed recommendation", pushed))
    print(f"({TOKENS}-token documents; goals: cold open < 300 ms, pushed recommendation < 100 ms)")


if __name__ == "__main__":
    main()
