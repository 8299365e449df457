"""Latency of live explanation feedback (POST .../explanations/parse) on a relation project of
10,000 documents in SQLite: the first request (tokenises and caches the project) and the
median and worst of the following ones.

    python bench/next_feedback.py [--documents 10000] [--requests 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from leanlife_server.app import create_app
from leanlife_server.auth import create_user, issue_token
from leanlife_server.db import db
from leanlife_server.db.migrate import upgrade

SENTENCES = ["The {} was caused by the {} last year.", "A {} was put inside a {} .",
             "The {} is part of the {} we built.", "Our {} arrived with the {} on Monday."]
WORDS = ["fire", "spark", "coin", "box", "engine", "car", "letter", "parcel", "flood", "rain"]


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--documents", type=int, default=10_000)
    args.add_argument("--requests", type=int, default=20)
    options = args.parse_args()
    folder = Path(tempfile.mkdtemp())
    app = create_app({"database_url": f"sqlite:///{folder / 'bench.sqlite3'}", "data_dir": folder,
                      "secret_key": "bench"})
    upgrade(app)
    with app.app_context():
        user = create_user("bench", "bench password", is_admin=True)
        _, token = issue_token(user, "bench")
        db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    pid = client.post("/api/v1/projects", headers=headers, json={
        "name": "bench", "task": "re", "explanation_kind": "natural_language", "model": "next.v1"}).get_json()["id"]
    for name, kind in (("O", "span"), ("Cause-Effect", "relation")):
        client.post(f"/api/v1/projects/{pid}/labels", headers=headers, json={"name": name, "kind": kind})
    texts = [SENTENCES[i % 4].format(WORDS[i % 10], WORDS[(i * 7 + 3) % 10]) for i in range(options.documents)]
    documents = []
    for start in range(0, len(texts), 1000):
        documents += client.post(f"/api/v1/projects/{pid}/documents", headers=headers,
                                 json={"documents": [{"text": t} for t in texts[start:start + 1000]]}).get_json()["items"]
    with app.app_context():  # entity spans straight into the table: setting up, not measured
        from leanlife_server.db.models import Annotation, Label
        label_id = db.session.scalar(db.select(Label.id).where(Label.project_id == pid, Label.name == "O"))
        rows = []
        for doc in documents:
            for word in doc["text"].split()[1:2] + doc["text"].split()[-3:-2]:
                begin = doc["text"].index(word)
                rows.append(Annotation(project_id=pid, document_id=doc["id"], user_id=user.id,
                                       label_id=label_id, kind="span", start=begin, end=begin + len(word)))
        db.session.add_all(rows)
        db.session.commit()
    first = client.get(f"/api/v1/projects/{pid}/documents/{documents[0]['id']}", headers=headers).get_json()
    spans = [a["id"] for a in first["annotations"]]
    body = {"text": 'SUBJ and OBJ sandwich the phrase "caused by the"', "document_id": documents[0]["id"],
            "label": "Cause-Effect", "subject": spans[0], "object": spans[1]}
    timings = []
    for _ in range(options.requests + 1):
        started = time.perf_counter()
        response = client.post(f"/api/v1/projects/{pid}/explanations/parse", headers=headers, json=body)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_json()
    result = response.get_json()
    print(f"documents {options.documents}; matches {result['matches']}; holds {result['holds']}")
    print(f"first request (tokenise + cache): {timings[0]:.0f} ms")
    print(f"cached requests: median {statistics.median(timings[1:]):.1f} ms, "
          f"worst {max(timings[1:]):.1f} ms over {options.requests}")


if __name__ == "__main__":
    main()
