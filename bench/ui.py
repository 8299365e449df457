"""Browser timing: from opening a 500-token document to its first possible interaction (every
token rendered and clickable), in headless Debian Chromium against a real ``leanlife serve``.

    python bench/ui.py [--runs 20]

Two figures: a cold open (a full page load of the document's address, logged in) and a warm
open (moving to the document inside the running app, as "next" does). Goal: under 300 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from leanlife_server.app import create_app  # noqa: E402
from leanlife_server.auth import create_user, issue_token  # noqa: E402
from leanlife_server.db import db  # noqa: E402
from leanlife_server.db.migrate import upgrade  # noqa: E402
from tests.conftest import PASSWORD  # noqa: E402
from tests.test_ui_harness import CHROMIUM, CHROMIUM_FLAGS, Rest, login, serve  # noqa: E402

WORDS = "the annotator reads a long news story about Paris , Berlin and Barack Obama".split()


def five_hundred_tokens(seed: int) -> str:
    return " ".join(WORDS[(i * 7 + seed) % len(WORDS)] for i in range(500))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url_db = f"sqlite:///{tmp}/bench.sqlite3"
        app = create_app({"database_url": url_db, "data_dir": Path(tmp) / "data"})
        upgrade(app)
        with app.app_context():
            user = create_user("owner", PASSWORD)
            token = issue_token(user, "bench")[1]
            db.session.commit()
        with serve(url_db, Path(tmp) / "served") as url:
            rest = Rest(url, token)
            project = rest("POST", "/projects", {"name": "bench", "task": "ner", "explanation_kind": "trigger"})
            pid = project["id"]
            rest("POST", f"/projects/{pid}/labels", {"name": "PER", "kind": "span", "shortcut": "p"})
            docs = rest("POST", f"/projects/{pid}/documents",
                        {"documents": [{"text": five_hundred_tokens(i)} for i in range(args.runs + 1)]})["items"]
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
                page = login(browser, url, "owner")
                last_token = "[data-testid=doctext] .tok[data-i='499']"
                cold, warm = [], []
                for doc in docs[1:]:
                    start = time.perf_counter()
                    page.goto(f"{url}/#/projects/{pid}/annotate/{doc['id']}")
                    page.reload()
                    page.wait_for_selector(last_token)
                    cold.append((time.perf_counter() - start) * 1000)
                for doc in docs[1:]:
                    page.evaluate(f"location.hash = '#/projects/{pid}/annotate/{docs[0]['id']}'")
                    page.wait_for_function(f"document.querySelector(\"[data-testid=doctext]\") && location.hash.endsWith('/{docs[0]['id']}')")
                    page.wait_for_selector(last_token)
                    start = time.perf_counter()
                    page.evaluate(f"location.hash = '#/projects/{pid}/annotate/{doc['id']}'")
                    page.wait_for_function(
                        f"(() => {{ const t = document.querySelector(\"{last_token}\"); "
                        f"return t && t.closest('[data-testid=doctext]').textContent.startsWith({doc['text'][:40]!r}); }})()")
                    warm.append((time.perf_counter() - start) * 1000)
                browser.close()
    for name, values in (("cold open (page load)", cold), ("warm open (in-app)", warm)):
        print(f"{name:24} median {statistics.median(values):6.1f} ms   p90 "
              f"{sorted(values)[int(0.9 * (len(values) - 1))]:6.1f} ms   (n={len(values)}, 500 tokens)")
    print("pushed recommendation: not measured here (needs a trained model and a worker)")


if __name__ == "__main__":
    main()
