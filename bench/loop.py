"""The live loop's speed: retraining round trip, prediction throughput, online predict latency.

(1) **loop**: a real ``leanlife serve`` (embedded: jobs run in-process; or, with ``--redis``,
a real ``leanlife worker`` on Redis) holds a project of ``--documents`` documents with a small
model and the policy "retrain every N annotations": by default NER on CoNLL-2003 sentences
with ``bilstm_crf.v1`` (GloVe BiLSTM-CRF), or ``--task sa``, rt_polarity reviews with
``transformer_sa.v1`` (MiniLM). Gold annotations go in through the API; a real Socket.IO
client in the project's room timestamps the events that follow the annotation which fires the
policy: ``job`` states and progress, ``recommendations`` (one event per chunk of up to 500
documents), ``model`` and ``queue``. Each round saves N more annotations; the first round
pays the server's cold start (importing torch, loading embeddings), later rounds do not.
(2) **latency**: ``POST .../model/predict`` with one sentence, one request at a time, against
the model version that (1) trained; p50 and p99.
(3) **throughput**: the SA model plugin (``--throughput-model``, MiniLM by default), built
through its definition, predicts ``--sentences`` unlabeled rt_polarity sentences and the
``entropy`` strategy plugin scores them, in this process, on ``--device``.

    python bench/loop.py                                  # all three, embedded server, CPU
    python bench/loop.py --redis --parts loop,latency     # jobs in a leanlife worker on Redis
    python bench/loop.py --task sa --parts loop,latency   # the loop with MiniLM
    python bench/loop.py --parts throughput --device cuda --sentences 100000

Reads ``../shared/data`` (``--data``). The server and this client share the machine's cores.
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

from bench.corpora import LABELS as NER_LABELS, REVIEW_LABELS as LABELS, read_reviews  # noqa: E402
from bench.api import (  # noqa: E402
    PASSWORD,
    ok_json,
    wait_until_healthy,
    build_documents,
    free_port,
    leanlife_command,
    session_for,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
DEFAULT_MODELS = {"sa": ("transformer_sa.v1", {"epochs": 1, "max_length": 64}, "entropy"),
                  "ner": ("bilstm_crf.v1", {"epochs": 5}, "mnlp")}
PARTS = ("loop", "latency", "throughput")


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
def live_server(redis_url: str | None, torch_threads: int) -> Iterator[str]:
    """``leanlife serve`` in a fresh data dir (SQLite), plus ``leanlife worker`` when Redis is
    used (same data dir, a private Redis prefix); yields the API base URL."""
    with tempfile.TemporaryDirectory(prefix="leanlife-bench-loop-") as data_dir, ExitStack() as stack:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEANLIFE_")}
        env["LEANLIFE_DATA_DIR"] = data_dir
        env["OMP_NUM_THREADS"] = str(torch_threads)  # torch's CPU threads in the server and worker
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
            wait_until_healthy(base, server, log)
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
class Corpus:
    """A project's content: labels (name, kind), document texts, and the gold annotations in
    the order the simulated annotator saves them, as (document index, POST body)."""

    task: str
    labels: list[tuple[str, str]]
    texts: list[str]
    annotations: list[tuple[int, dict]]


def sa_corpus(reviews: list[tuple[str, str]], documents: int) -> Corpus:
    chosen = reviews[:documents]
    return Corpus("sa", [(label, "document") for label in LABELS], [text for text, _ in chosen],
                  [(i, {"label": label}) for i, (_, label) in enumerate(chosen)])


def ner_corpus(data: Path, documents: int) -> Corpus:
    """CoNLL-2003 training sentences, one a document; every entity is one annotation."""
    chosen = build_documents(data / "conll2003" / "train.txt", documents, sentences_per_document=1)
    annotations = [(i, {"label": e.label, "start": e.start, "end": e.end})
                   for i, document in enumerate(chosen) for e in document.entities]
    return Corpus("ner", [(label, "span") for label in NER_LABELS], [d.text for d in chosen], annotations)


@dataclass
class Round:
    """Seconds from the firing annotation's POST to each event."""

    labeled: int
    annotate_ms: float
    running: float = 0.0
    trained: float = 0.0
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
    corpus: Corpus
    document_ids: list[int]
    annotated: set[int] = field(default_factory=set)  # document indexes

    @property
    def url(self) -> str:
        return f"{self.base}/projects/{self.id}"

    def annotate(self, number: int) -> float:
        """Save the corpus's annotation ``number``; the request's milliseconds."""
        index, body = self.corpus.annotations[number]
        began = time.perf_counter()
        ok_json(self.session.post(f"{self.url}/documents/{self.document_ids[index]}/annotations", json=body))
        self.annotated.add(index)
        return (time.perf_counter() - began) * 1000


def create_project(base: str, corpus: Corpus, model: str, config: dict, every_n: int, strategy: str) -> Project:
    session = session_for(base, "admin")
    token = session.headers["Authorization"].removeprefix("Bearer ")
    project = ok_json(session.post(f"{base}/projects", json={"name": "bench loop", "task": corpus.task,
                                                         "explanation_kind": "none"}))
    url = f"{base}/projects/{project['id']}"
    for name, kind in corpus.labels:
        ok_json(session.post(f"{url}/labels", json={"name": name, "kind": kind}))
    saved = ok_json(session.post(f"{url}/documents", json={"documents": [{"text": t} for t in corpus.texts]}))["items"]
    # The model alone recommends, so each round times its job (a project's default recommenders
    # also run a cheap one, whose job would finish first: its times are the --cheap run's).
    ok_json(session.patch(f"{url}/settings", json={"model": model, "model_config": config, "query_strategy": strategy,
                                                "recommenders": [model],
                                                "retrain_policy": {"mode": "every_n", "n": every_n}}))
    return Project(base, session, token, project["id"], corpus, [row["id"] for row in saved])


def _recommended(events, version: int) -> int:
    return sum(len(data["documents"]) for _, name, data in events
               if name == "recommendations" and data["model_version_id"] == version)


def timed_round(project: Project, listener: Listener, first: int, every_n: int, timeout: float) -> Round:
    """Save ``every_n`` annotations from number ``first``; time the events after the last one."""
    for number in range(first, first + every_n - 1):
        project.annotate(number)
    seen = len(listener.events)
    began = time.perf_counter()
    annotate_ms = project.annotate(first + every_n - 1)
    result = Round(len(project.annotated), annotate_ms)
    unlabeled = len(project.document_ids) - result.labeled

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
    # Training ends with a progress report at the training share of the bar (0.8).
    result.trained = at(lambda n, d: n == "job" and d["result"].get("stage") == "training" and d["progress"] >= 0.799)
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
        ok_json(project.session.post(f"{project.url}/model/predict", json={"text": texts[i % len(texts)]}))
        if i >= warm_up:
            latencies.append((time.perf_counter() - began) * 1000)
    return latencies


# Output ---------------------------------------------------------------------------------


def print_loop(rounds: list[Round], mode: str) -> None:
    print(f"\n(1) annotation that fires the policy -> events over Socket.IO ({mode}), seconds")
    print("| round | labeled documents | POST ms | job running | trained | first recommendations "
          "| all recommendations (documents) | model | queue | held-out score |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for number, r in enumerate(rounds, start=1):
        score = r.heldout.get("accuracy", r.heldout.get("f1"))
        print(f"| {number}{' (cold)' if number == 1 else ''} | {r.labeled} | {r.annotate_ms:.0f} | {r.running:.2f} | "
              f"{r.trained:.2f} | {r.first_recommendations:.2f} | {r.all_recommendations:.2f} ({r.recommended}) | "
              f"{r.model:.2f} | {r.queue:.2f} | {'-' if score is None else f'{score:.2f}'} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma separated, of {PARTS}")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--redis", nargs="?", const=DEFAULT_REDIS, default=None, metavar="URL",
                        help=f"run jobs in a leanlife worker on Redis (default URL {DEFAULT_REDIS})")
    parser.add_argument("--task", choices=sorted(DEFAULT_MODELS), default="ner",
                        help="the loop's and latency's project: ner, CoNLL-2003 sentences; sa, rt_polarity reviews")
    parser.add_argument("--model", default=None, help="default: ner bilstm_crf.v1, sa transformer_sa.v1 "
                                                      "(sentence_embedding_sa.v1: the fast SA model)")
    parser.add_argument("--config", default=None, help="model_config as JSON, merged over the model's "
                        "defaults (default: sa {\"epochs\": 1, \"max_length\": 64}, ner {\"epochs\": 5}; {} "
                        "for a --model other than the task's default)")
    parser.add_argument("--strategy", default=None, help="query strategy (default: sa entropy, ner mnlp)")
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--every-n", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="policy firings to time")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--requests", type=int, default=300, help="online predictions to time")
    parser.add_argument("--sentences", type=int, default=100_000, help="sentences to score for throughput")
    parser.add_argument("--device", default="cpu", help="throughput device: cpu, cuda, cuda:N")
    parser.add_argument("--throughput-model", default="transformer_sa.v1",
                        help="transformer_sa.v1 or transformer_ner.v1 (bench/throughput.py has more options)")
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch CPU threads of the server, the worker and the throughput run (on 2 "
                             "shared cores, two threads per process oversubscribe them and run slower)")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        parser.error(f"--parts: unknown {sorted(parts - set(PARTS))}; choose from {PARTS}")
    model, config, strategy = DEFAULT_MODELS[args.task]
    model, strategy = args.model or model, args.strategy or strategy
    # Another model than the task's default starts from its own default config, not the default model's.
    config = json.loads(args.config) if args.config else config if model == DEFAULT_MODELS[args.task][0] else {}
    reviews = read_reviews(args.data)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")

    if parts & {"loop", "latency"}:
        with live_server(args.redis, args.torch_threads) as base:
            corpus = sa_corpus(reviews, args.documents) if args.task == "sa" else ner_corpus(args.data, args.documents)
            project = create_project(base, corpus, model, config, args.every_n, strategy)
            listener = Listener(base, project.token, project.id)
            try:
                rounds = [timed_round(project, listener, r * args.every_n, args.every_n, args.timeout)
                          for r in range(args.rounds if "loop" in parts else 1)]
            finally:
                listener.close()
            if "loop" in parts:
                print_loop(rounds, f"{args.task}, {model}, {len(corpus.texts)} documents, "
                                   f"{'leanlife worker on Redis' if args.redis else 'embedded, in-process jobs'}")
            if "latency" in parts:
                latencies = online_latency(project, corpus.texts, args.requests, warm_up=20)
                print(f"\n(2) online POST .../model/predict, one sentence, {len(latencies)} requests: "
                      f"p50 {percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
                      f"mean {statistics.mean(latencies):.1f} ms")
    if "throughput" in parts:
        import torch

        from bench.throughput import TASKS, corpus, throughput

        torch.set_num_threads(args.torch_threads)
        task, strategy = TASKS[args.throughput_model]
        examples = corpus(task, args.data, args.sentences)
        result = throughput(args.throughput_model, DEFAULT_MODELS["sa"][1], examples, args.device)
        print(f"\n(3) {args.throughput_model} on {args.device}: {result['sentences']} sentences predicted in "
              f"{result['predict_s']:.1f} s and scored ({strategy}) in {result['score_s']:.2f} s: "
              f"{result['per_second']:.0f} sentences/s")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
