"""The live loop from a program, end to end, against a running LeanLife server:

create a sentiment project, upload reviews, annotate some with explanations, train while
watching progress over Socket.IO, predict online and in a batch job, then download the
model and load it in this process without the server.

    leanlife serve &                      # or any LeanLife server
    python examples/live_loop.py --url http://127.0.0.1:8000 --username admin --password ...

Reviews come from ../shared/data/rt_polarity when it is there (``--data`` to point
elsewhere), else from a few built-in sentences. Needs ``requests`` and
``python-socketio[client]`` (LeanLife's test extra installs both).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
from pathlib import Path

import requests
import socketio

from leanlife_server.extract import load

BUILT_IN = {"pos": ["a wonderful , moving film", "great acting and a great story", "i loved every minute"],
            "neg": ["a dull , tedious mess", "awful acting and a boring story", "i hated every minute"]}


def reviews(data: Path, per_label: int) -> dict[str, list[str]]:
    files = {"pos": data / "rt-polarity.pos", "neg": data / "rt-polarity.neg"}
    if not all(path.exists() for path in files.values()):
        return {label: (texts * per_label)[:per_label] for label, texts in BUILT_IN.items()}
    return {label: path.read_text(encoding="latin-1").splitlines()[:per_label] for label, path in files.items()}


class Client:
    def __init__(self, url: str, token: str):
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.session.request(method, f"{self.url}/api/v1{path}", timeout=120, **kwargs)
        if response.status_code >= 400:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.text}")
        return response


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--model", default="transformer_sa.v1")
    parser.add_argument("--config", default='{"epochs": 1}', help="model_config as JSON")
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / "../shared/data/rt_polarity")
    parser.add_argument("--documents", type=int, default=100, help="reviews per label")
    parser.add_argument("--labeled", type=int, default=20, help="reviews per label to annotate")
    args = parser.parse_args()

    token = requests.post(f"{args.url}/api/v1/auth/token", timeout=30,
                          json={"username": args.username, "password": args.password, "name": "example"})
    token.raise_for_status()
    api = Client(args.url, token.json()["token"])

    project = api.call("POST", "/projects", json={"name": "movie reviews (example)", "task": "sa",
                                                  "explanation_kind": "natural_language"}).json()
    base = f"/projects/{project['id']}"
    for name in ("pos", "neg"):
        api.call("POST", f"{base}/labels", json={"name": name, "kind": "document"})
    api.call("PATCH", f"{base}/settings", json={"model": args.model, "model_config": json.loads(args.config),
                                                "retrain_policy": {"mode": "manual"}})
    texts = reviews(args.data, args.documents)
    items = [{"text": text, "meta": {"gold": label}} for label, group in texts.items() for text in group]
    random.Random(0).shuffle(items)
    documents = api.call("POST", f"{base}/documents", json={"documents": items}).json()["items"]
    print(f"project {project['id']}: {len(documents)} documents")

    counts = {"pos": 0, "neg": 0}
    for document in documents:
        gold = document["meta"]["gold"]
        if counts[gold] < args.labeled:
            counts[gold] += 1
            api.call("POST", f"{base}/documents/{document['id']}/annotations", json={
                "label": gold, "explanations": [{"text": f"The review reads as {gold}."}]})
    print(f"annotated {sum(counts.values())} documents with explanations")

    ended = {"train": threading.Event(), "predict": threading.Event()}
    sio = socketio.Client()

    @sio.on("job")
    def on_job(job):
        print(f"  {job['kind']} job {job['id']} {job['state']:<9} {job['progress']:.0%} "
              f"{job['result'].get('details', '')}")
        if job["state"] in ("finished", "failed"):
            ended[job["kind"]].set()

    @sio.on("queue")
    def on_queue(queue):
        print(f"  re-ranked queue, top documents: {[d['document_id'] for d in queue['documents'][:5]]}")

    sio.connect(args.url, auth={"token": api.session.headers["Authorization"][7:]}, transports=["websocket"])
    sio.call("join", {"project_id": project["id"]})
    job = api.call("POST", f"{base}/model/train").json()
    print(f"training: job {job['id']}")
    ended["train"].wait(3600)
    job = api.call("GET", f"{base}/jobs/{job['id']}").json()
    if job["state"] != "finished":
        raise SystemExit(f"training failed: {job['error']}")
    print("metrics:", json.dumps(job["result"]["metrics"]))

    online = api.call("POST", f"{base}/model/predict", json={"texts": ["a moving , wonderful film",
                                                                         "tedious and dull"]}).json()
    for prediction in online["predictions"]:
        best = prediction["annotations"][0]
        print(f"online: {best['label']} ({best['confidence']:.2f})")

    batch = api.call("POST", f"{base}/model/predictions", json={"document_ids": [d["id"] for d in documents]}).json()
    ended["predict"].wait(3600)
    lines = api.call("GET", f"{base}/model/predictions/{batch['id']}").text.splitlines()
    gold = {d["id"]: d["meta"]["gold"] for d in documents}
    right = sum(json.loads(line)["annotations"][0]["label"] == gold[json.loads(line)["document_id"]] for line in lines)
    print(f"batch: {len(lines)} predictions, {right / len(lines):.0%} agree with the gold labels")
    sio.disconnect()

    version = job["result"]["model_version_id"]
    archive = Path(tempfile.mkdtemp()) / f"model-{version}.zip"
    archive.write_bytes(api.call("GET", f"{base}/model/versions/{version}/archive").content)
    model = load(archive)
    [offline] = model.predict(["a wonderful film"])
    print(f"extracted {archive} ({archive.stat().st_size} bytes); offline: {offline.annotations[0].label}")


if __name__ == "__main__":
    main()
