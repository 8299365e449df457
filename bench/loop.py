"""The live loop's speed: retraining round trip, prediction throughput, online predict latency.

(1) **loop**: a real ``leanlife serve`` (embedded: jobs run in-process; or, with ``--redis``,
a real ``leanlife worker`` on Redis) holds a sentiment project of ``--documents`` rt_polarity
reviews with a small model and the policy "retrain every N annotations". Annotations go in
through the API; a real Socket.IO client in the project's room timestamps the events that
follow the annotation which fires the policy: ``job`` states, ``recommendations`` (one event
per chunk of up to 500 documents), ``model`` and ``queue``. Each round annotates N more
documents; the first round pays the server's cold start (importing torch, loading the
checkpoint), later rounds do not.
(2) **latency**: ``POST .../model/predict`` with one sentence, one request at a time, against
the model version that (1) trained; p50 and p99.
(3) **throughput**: the project's model plugin (through its definition) predicts
``--sentences`` unlabeled sentences and the query strategy plugin scores them, in this process,
on ``--device``.

    python bench/loop.py                                  # all three, embedded server, CPU
    python bench/loop.py --redis                          # (1) and (2) through leanlife worker
    python bench/loop.py --parts throughput --device cuda --sentences 100000

Reads ``../shared/data/rt_polarity`` (``--data``). The server and this client share the
machine's cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import requests
import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runnable alone, from a checkout

from bench.api import PASSWORD, _ok, _wait_until_healthy, free_port, leanlife_command, session_for  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "rt_polarity"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
LABELS = ("pos", "neg")
PARTS = ("loop", "latency", "throughput")


def read_reviews(data: Path) -> list[tuple[str, str]]:
    """(text, gold label) pairs, positives and negatives interleaved."""
    files = {label: data / f"rt-polarity.{label}" for label in LABELS}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: point --data at the rt_polarity folder")
    texts = {label: path.read_text(encoding="latin-1").splitlines() for label, path in files.items()}
    return [(text, label) for pair in zip(texts["pos"], texts["neg"]) for text, label in zip(pair, LABELS)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


# Servers --------------------------------------------------------------------------------


def _spawn(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w+")
    return subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def live_server(redis_url: str | None) -> Iterator[str]:
    """``leanlife serve`` in a fresh data dir (SQLite), plus ``leanlife worker`` when Redis is
    used (same data dir, a private Redis prefix); yields the API base URL."""
    with tempfile.TemporaryDirectory(prefix="leanlife-bench-loop-") as data_dir, ExitStack() as stack:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEANLIFE_")}
        env["LEANLIFE_DATA_DIR"] = data_dir
        if redis_url:
            env["LEANLIFE_REDIS_URL"] = redis_url
            env["LEANLIFE_REDIS_PREFIX"] = f"leanlife-bench-{uuid.uuid4().hex[:8]}"
        leanlife = [leanlife_command()]
        subprocess.run([*leanlife, "createuser", "admin", "--admin"], input=PASSWORD + "\n",
                       text=True, env=env, check=True, capture_output=True)
        port = free_port()
        server = _spawn([*leanlife, "serve", "--port", str(port)], env, Path(data_dir) / "serve.log")
        stack.callback(_stop, server)
        base = f"http://127.0.0.1:{port}/api/v1"
        with open(Path(data_dir) / "serve.log") as log:
            _wait_until_healthy(base, server, log)
        if redis_url:
            stack.callback(_stop, _spawn([*leanlife, "worker"], env, Path(data_dir) / "worker.log"))
        yield base


class Listener:
    """A Socket.IO client in the project's room that timestamps every event on arrival."""

    def __init__(self, base: str, token: str, project_id: int):
        self.events: list[tuple[float, str, Any]] = []
        self.arrived = threading.Condition()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record)
        self.client.connect(base.removesuffix("/api/v1"), auth={"token": token},
                            transports=["websocket"], wait_timeout=10)
        joined = self.client.call("join", {"project_id": project_id}, timeout=10)
        if not joined.get("ok"):
            raise SystemExit(f"Socket.IO join refused: {joined}")

    def _record(self, event: str, data: Any) -> None:
        with self.arrived:
            self.events.append((time.perf_counter(), event, data))
            self.arrived.notify_all()

    def wait(self, condition, timeout: float) -> None:
        with self.arrived:
            if not self.arrived.wait_for(lambda: condition(self.events), timeout):
                raise SystemExit(f"no such Socket.IO event within {timeout:.0f} s; got "
                                 f"{[name for _, name, _ in self.events]}")

    def close(self) -> None:
        self.client.disconnect()


# (1) the loop -----------------------------------------------------------------------------


@dataclass
class Round:
    """Seconds from the firing annotation's POST to each event."""

    labeled: int
    annotate_ms: float
    running: float = 0.0
    first_recommendations: float = 0.0
    all_recommendations: float = 0.0
    model: float = 0.0
    queue: float = 0.0
    recommended: int = 0
    heldout: dict = field(default_factory=dict)


@dataclass
class Project:
    base: str
    session: requests.Session
    token: str
    id: int
    documents: list[tuple[int, str]]  # (document id, gold label)

    @property
    def url(self) -> str:
        return f"{self.base}/projects/{self.id}"

    def annotate(self, index: int) -> float:
        """Label document ``index`` with its gold label; the request's milliseconds."""
        document_id, gold = self.documents[index]
        began = time.perf_counter()
        _ok(self.session.post(f"{self.url}/documents/{document_id}/annotations", json={"label": gold}))
        return (time.perf_counter() - began) * 1000


def create_project(base: str, reviews: list[tuple[str, str]], documents: int, model: str,
                   config: dict, every_n: int, strategy: str) -> Project:
    session = session_for(base, "admin")
    token = session.headers["Authorization"].removeprefix("Bearer ")
    project = _ok(session.post(f"{base}/projects", json={"name": "bench loop", "task": "sa",
                                                         "explanation_kind": "none"}))
    url = f"{base}/projects/{project['id']}"
    for label in LABELS:
        _ok(session.post(f"{url}/labels", json={"name": label, "kind": "document"}))
    chosen = reviews[:documents]
    saved = _ok(session.post(f"{url}/documents", json={"documents": [{"text": t} for t, _ in chosen]}))["items"]
    _ok(session.patch(f"{url}/settings", json={"model": model, "model_config": config, "query_strategy": strategy,
                                                "retrain_policy": {"mode": "every_n", "n": every_n}}))
    return Project(base, session, token, project["id"], [(row["id"], label) for row, (_, label) in zip(saved, chosen)])


def _recommended(events, version: int) -> int:
    return sum(len(data["documents"]) for _, name, data in events
               if name == "recommendations" and data["model_version_id"] == version)


def timed_round(project: Project, listener: Listener, first: int, every_n: int, timeout: float) -> Round:
    """Annotate ``every_n`` documents from ``first``; time the events after the last one."""
    for index in range(first, first + every_n - 1):
        project.annotate(index)
    seen = len(listener.events)
    began = time.perf_counter()
    result = Round(first + every_n, project.annotate(first + every_n - 1))
    unlabeled = len(project.documents) - result.labeled

    def finished(events) -> dict | None:
        return next((d for _, n, d in events[seen:] if n == "job" and d["state"] in ("finished", "failed")), None)

    listener.wait(lambda events: finished(events) is not None, timeout)
    job = finished(listener.events)
    if job["state"] == "failed":
        raise SystemExit(f"the retraining job failed: {job['error']}")
    version = job["model_version_id"]
    listener.wait(lambda events: _recommended(events[seen:], version) >= unlabeled
                  and any(n == "queue" for _, n, _ in events[seen:]), timeout)
    events = listener.events[seen:]

    def at(predicate) -> float:
        return next(t for t, n, d in events if predicate(n, d)) - began

    result.running = at(lambda n, d: n == "job" and d["state"] == "running")
    recommendation_times = [t - began for t, n, d in events
                            if n == "recommendations" and d["model_version_id"] == version]
    result.first_recommendations, result.all_recommendations = recommendation_times[0], recommendation_times[-1]
    result.model = at(lambda n, d: n == "model")
    result.queue = at(lambda n, d: n == "queue")
    result.recommended = _recommended(events, version)
    result.heldout = job["result"]["metrics"].get("heldout", {})
    return result


# (2) online latency ---------------------------------------------------------------------


def online_latency(project: Project, texts: list[str], requests_count: int, warm_up: int) -> list[float]:
    latencies = []
    for i in range(warm_up + requests_count):
        began = time.perf_counter()
        _ok(project.session.post(f"{project.url}/model/predict", json={"text": texts[i % len(texts)]}))
        if i >= warm_up:
            latencies.append((time.perf_counter() - began) * 1000)
    return latencies


# (3) throughput -------------------------------------------------------------------------


def throughput(reviews: list[tuple[str, str]], model_name: str, config: dict, strategy_name: str,
               sentences: int, device: str, train_size: int = 64) -> dict[str, float]:
    """Train the model plugin briefly (the weights do not change its speed), then predict and
    score ``sentences`` texts (the reviews, repeated) as the retraining job does."""
    from leanlife_server.plugin_api import DOCUMENT, AnnotationData, Dataset, Example, load_object
    from leanlife_server.plugins import load_plugins

    plugins = load_plugins()
    definition = plugins.models.get(model_name)
    model = load_object(definition.factory)({**definition.default_config, **config},
                                            {label: DOCUMENT for label in LABELS}, device)
    labeled = [Example(i, text, (AnnotationData(DOCUMENT, label),)) for i, (text, label) in enumerate(reviews[:train_size])]
    model.train(Dataset("sa", {label: DOCUMENT for label in LABELS}, "none", labeled), lambda fraction, details: None)
    scorer = load_object(plugins.query_strategies.get(strategy_name).factory)()
    pool = [Example(i, reviews[i % len(reviews)][0]) for i in range(sentences)]
    model.predict(pool[:256])  # warm-up: allocator, kernels, lazy initialisation
    began = time.perf_counter()
    predictions = model.predict(pool)
    predicted = time.perf_counter()
    scores = scorer(predictions)
    ended = time.perf_counter()
    assert len(scores) == sentences
    return {"sentences": sentences, "predict_s": predicted - began, "score_s": ended - predicted,
            "per_second": sentences / (ended - began)}


# Output ---------------------------------------------------------------------------------


def print_loop(rounds: list[Round], mode: str) -> None:
    print(f"\n(1) annotation that fires the policy -> events over Socket.IO ({mode}), seconds")
    print("| round | labeled | POST ms | job running | first recommendations | all recommendations "
          "(documents) | model | queue | held-out accuracy |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for number, r in enumerate(rounds, start=1):
        accuracy = r.heldout.get("accuracy")
        print(f"| {number}{' (cold)' if number == 1 else ''} | {r.labeled} | {r.annotate_ms:.0f} | {r.running:.2f} | "
              f"{r.first_recommendations:.2f} | {r.all_recommendations:.2f} ({r.recommended}) | {r.model:.2f} | "
              f"{r.queue:.2f} | {'-' if accuracy is None else f'{accuracy:.2f}'} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma separated, of {PARTS}")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--redis", nargs="?", const=DEFAULT_REDIS, default=None, metavar="URL",
                        help=f"run jobs in a leanlife worker on Redis (default URL {DEFAULT_REDIS})")
    parser.add_argument("--model", default="transformer_sa.v1")
    parser.add_argument("--config", default='{"epochs": 1, "max_length": 64}',
                        help="model_config as JSON, merged over the model's defaults")
    parser.add_argument("--strategy", default="entropy")
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--every-n", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="policy firings to time")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--requests", type=int, default=300, help="online predictions to time")
    parser.add_argument("--sentences", type=int, default=100_000, help="sentences to score for throughput")
    parser.add_argument("--device", default="cpu", help="throughput device: cpu, cuda, cuda:N")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        parser.error(f"--parts: unknown {sorted(parts - set(PARTS))}; choose from {PARTS}")
    config = json.loads(args.config)
    reviews = read_reviews(args.data)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")

    if parts & {"loop", "latency"}:
        with live_server(args.redis) as base:
            project = create_project(base, reviews, args.documents, args.model, config, args.every_n, args.strategy)
            listener = Listener(base, project.token, project.id)
            try:
                rounds = [timed_round(project, listener, r * args.every_n, args.every_n, args.timeout)
                          for r in range(args.rounds if "loop" in parts else 1)]
            finally:
                listener.close()
            if "loop" in parts:
                print_loop(rounds, "leanlife worker on Redis" if args.redis else "embedded, in-process jobs")
            if "latency" in parts:
                texts = [text for text, _ in reviews[args.documents:args.documents + 1000]]
                latencies = online_latency(project, texts, args.requests, warm_up=20)
                print(f"\n(2) online POST .../model/predict, one sentence, {len(latencies)} requests: "
                      f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
                      f"mean {statistics.mean(latencies):.1f} ms")
    if "throughput" in parts:
        result = throughput(reviews, args.model, config, args.strategy, args.sentences, args.device)
        print(f"\n(3) {args.model} on {args.device}: {result['sentences']} sentences predicted in "
              f"{result['predict_s']:.1f} s and scored ({args.strategy}) in {result['score_s']:.2f} s: "
              f"{result['per_second']:.0f} sentences/s")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
