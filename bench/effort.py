"""Annotator effort with and without recommendations, measured against a live server.

A simulated annotator answers from gold labels. It works through a real ``leanlife serve``
(fresh data dir, SQLite) in the order of its queue (``GET .../queue/next``): for each document
it reads the serving recommendations (``GET .../model/recommendations/{doc}``), keeps those at
or above its member setting ``min_recommendation_confidence`` (what the browser shows), and

- accepts a correct one (1 action; saved as its annotation with ``source: recommendation``),
- rejects a wrong one (1 action; the server has no reject endpoint, so it is only counted),
- creates each gold label nothing correct was shown for: a span costs 2 actions for the
  selection plus 1 for the label, a relation 3 (subject, object, label), a document label 1;
  an explanation, where the project collects them (RE here; NER and SA are made without),
  +2. Accepting a suggestion types no explanation.

Then it marks the document finished and waits, on its Socket.IO connection, for the jobs its
saves started (the dictionary matcher retrains after every save; other models by the
retraining policy) before it opens the next one, so every document is seen with the
recommendations its predecessors earned. Unassisted annotation creates every gold label, so
its cost needs no server: the same accounting with nothing shown.

- NER: CoNLL-2003 ``train.txt``, one sentence a document, recommender ``dictionary.v1``
  (``--ner-learned`` adds the project's default learned model, retrained ``--every-n``).
- SA: rt_polarity, positives and negatives interleaved, ``sentence_embedding_sa.v1``
  retrained every ``--every-n`` annotations.
- RE: the SemEval-2010 Task 8 training sentences that have one of the NExT paper's
  explanations (``next_explanations/semeval.json``: 162 of its 203 entries are found there,
  all with the same relation, one of them in two sentences that differ only in their
  entities: 163 documents), in the file's order. Each document is imported with its two
  entities (``e1``, ``e2``, label ``entity``, belonging to no annotator: the pair is given);
  labels are the directed relations as the NExT file writes them (``Cause-Effect(e2,e1)``,
  subject ``e1``, object ``e2``, so the explanations' SUBJ and OBJ read as written). The
  project collects natural-language explanations: a relation created by hand costs 3
  (subject, object, label) + 2 for the explanation, which is the dataset's. Recommender:
  ``next_rules.v1`` (NExT's strict rule matching, retrained on every save).

The first ``--documents`` documents are used; each seed imports them in its own shuffled
order. Reports, as means over seeds: actions per gold label (assisted and not), how many
annotations were saved before the first correct recommendation was shown, and the precision
and recall of what was shown, overall and per window of documents; and the same figures for
other values of ``min_recommendation_confidence`` (``--thresholds``): the annotations saved are
the gold whatever is shown, so hiding more suggestions changes only what they cost.

    python bench/effort.py --task ner --documents 100 --seeds 1 --json ner.json
    python bench/effort.py --task sa --documents 500 --seeds 3 --plot docs/images/effort_sa.png
    python bench/effort.py --task re --documents 200 --seeds 3 --json re.json

Reads ``../shared/data`` (``--data``); never copies it. Server and client share the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runnable alone, from a checkout

DEFAULT_DATA = ROOT.parent / "shared" / "data"

# What each act costs, in clicks or key presses.
ACCEPT, REJECT = 1, 1
CREATE = {"span": 3, "document": 1, "relation": 3}  # span: select (2) + label (1); relation: subject, object, label
EXPLANATION = 2


# Accounting (no server) -------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One label on a document: ``kind`` span (with offsets) or document."""

    kind: str
    label: str
    start: int | None = None
    end: int | None = None


@dataclass
class DocumentEffort:
    """The annotator's answer to one document: what to accept, what to create, at what cost."""

    accepted: list[Item]
    rejected: list[Item]
    created: list[Item]
    gold: int
    create_actions: int

    @property
    def actions(self) -> int:
        return ACCEPT * len(self.accepted) + REJECT * len(self.rejected) + self.create_actions


def account(gold: Sequence[Item], shown: Sequence[Item], explanations: bool = False) -> DocumentEffort:
    """Accept each shown item that is gold, reject each that is not, create the gold nobody
    showed. A repeated suggestion is judged once."""
    gold_set, seen = set(gold), set()
    accepted, rejected = [], []
    for item in shown:
        if item in seen:
            continue
        seen.add(item)
        (accepted if item in gold_set else rejected).append(item)
    created = [item for item in dict.fromkeys(gold) if item not in seen]
    cost = sum(CREATE[item.kind] + (EXPLANATION if explanations else 0) for item in created)
    return DocumentEffort(accepted, rejected, created, len(gold_set), cost)


def item_of(payload: dict[str, Any], entity_start: dict[int, int] | None = None) -> Item:
    """A recommendation or gold annotation body as an Item. A relation is named by its
    subject's and object's start offsets (``entity_start`` maps their annotation ids)."""
    if payload.get("subject") is not None:
        starts = entity_start or {}
        return Item("relation", payload["label"], starts.get(payload["subject"]), starts.get(payload["object"]))
    kind = payload.get("kind") or ("span" if payload.get("start") is not None else "document")
    return Item(kind, payload["label"], payload.get("start"), payload.get("end"))


@dataclass(frozen=True)
class Offer:
    """One distinct recommendation of a document: its confidence, whether it is gold, and the
    actions accepting it saves (the cost of creating that label; 0 when wrong)."""

    confidence: float
    correct: bool
    saves: int


@dataclass
class Step:
    """One document as the simulated annotator met it. Every recommendation is kept with its
    confidence: what the annotator saves is the gold whatever is shown, so one run answers for
    every ``min_recommendation_confidence`` (a higher one only hides more offers)."""

    saved_before: int  # annotations saved before this document opened
    gold: int
    create_all: int  # actions to create every gold label by hand
    offers: list[Offer]

    def shown(self, threshold: float) -> list[Offer]:
        return [o for o in self.offers if o.confidence >= threshold]

    def correct(self, threshold: float) -> int:
        return sum(o.correct for o in self.shown(threshold))

    def actions(self, threshold: float) -> int:
        shown = self.shown(threshold)
        return len(shown) * ACCEPT + self.create_all - sum(o.saves for o in shown if o.correct)


def step_of(saved_before: int, gold: Sequence[Item], recommended: Sequence[tuple[Item, float]],
            explanations: bool = False) -> Step:
    """A Step from the gold labels and the (item, confidence) recommendations; a repeated
    item counts once, at its highest confidence."""
    best: dict[Item, float] = {}
    for item, confidence in recommended:
        best[item] = max(confidence, best.get(item, confidence))
    gold_set = set(gold)
    cost = {item: CREATE[item.kind] + (EXPLANATION if explanations else 0) for item in gold_set}
    offers = [Offer(c, item in gold_set, cost.get(item, 0)) for item, c in best.items()]
    return Step(saved_before, len(gold_set), sum(cost.values()), offers)


@dataclass
class Run:
    steps: list[Step] = field(default_factory=list)
    threshold: float = 0.0  # the annotator's min_recommendation_confidence in the run

    def actions_per_label(self, threshold: float = 0.0) -> float:
        return sum(s.actions(threshold) for s in self.steps) / max(1, sum(s.gold for s in self.steps))

    def first_correct_after(self, threshold: float = 0.0) -> int | None:
        return next((s.saved_before for s in self.steps if s.correct(threshold)), None)

    def precision(self, threshold: float = 0.0, steps: Iterable[Step] | None = None) -> float | None:
        steps = list(self.steps if steps is None else steps)
        shown = sum(len(s.shown(threshold)) for s in steps)
        return sum(s.correct(threshold) for s in steps) / shown if shown else None

    def recall(self, threshold: float = 0.0, steps: Iterable[Step] | None = None) -> float | None:
        steps = list(self.steps if steps is None else steps)
        gold = sum(s.gold for s in steps)
        return sum(s.correct(threshold) for s in steps) / gold if gold else None

    def windows(self, size: int, threshold: float = 0.0) -> list[dict[str, Any]]:
        return [{"documents": min(i + size, len(self.steps)),
                 "precision": self.precision(threshold, self.steps[i:i + size]),
                 "recall": self.recall(threshold, self.steps[i:i + size])}
                for i in range(0, len(self.steps), size)]


def unassisted_actions_per_label(gold: Sequence[Sequence[Item]], explanations: bool = False) -> float:
    efforts = [account(items, (), explanations) for items in gold]
    return sum(e.actions for e in efforts) / max(1, sum(e.gold for e in efforts))


# Data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskData:
    task: str
    labels: tuple[tuple[str, str], ...]  # (name, kind)
    texts: list[str]
    gold: list[list[Item]]
    # RE: each document's entity spans (label, start, end), imported with it (the pair is
    # given), and the explanation the annotator types for each gold item it creates.
    entities: list[list[tuple[str, int, int]]] = field(default_factory=list)
    explanations: list[dict[Item, str]] = field(default_factory=list)

    @property
    def explained(self) -> bool:
        return bool(self.explanations)


def load_task(task: str, data: Path, documents: int, skip: int = 0) -> TaskData:
    """The data set's documents ``skip`` to ``skip + documents``."""
    whole = _load_task(task, data, skip + documents)
    return TaskData(whole.task, whole.labels, whole.texts[skip:], whole.gold[skip:],
                    whole.entities[skip:], whole.explanations[skip:])


def _load_task(task: str, data: Path, documents: int) -> TaskData:
    if task == "ner":
        from leanlife_triggerner.conll import read_columns, to_example

        examples = [to_example(tokens, tags) for tokens, tags in read_columns(data / "conll2003" / "train.txt")]
        examples = [e for e in examples if e.text][:documents]
        return TaskData("ner", tuple((name, "span") for name in ("PER", "LOC", "ORG", "MISC")),
                        [e.text for e in examples],
                        [[Item("span", a.label, a.start, a.end) for a in e.annotations] for e in examples])
    if task == "sa":
        folder = data / "rt_polarity"
        texts = {label: [line.strip() for line in (folder / f"rt-polarity.{label}").read_text(
            encoding="latin-1").splitlines() if line.strip()] for label in ("pos", "neg")}
        pairs = [(text, label) for both in zip(texts["pos"], texts["neg"])
                 for text, label in zip(both, ("pos", "neg"))][:documents]
        return TaskData("sa", (("pos", "document"), ("neg", "document")), [t for t, _ in pairs],
                        [[Item("document", label)] for _, label in pairs])
    if task == "re":
        return load_re(data, documents)
    raise SystemExit(f"--task {task}: unknown")


def _letters(text: str) -> str:
    """A sentence compared without spaces and punctuation (the NExT file is tokenised)."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def load_re(data: Path, documents: int) -> TaskData:
    """The SemEval-2010 Task 8 training sentences that one of the NExT explanations was written
    for, in the file's order, each with its explanation (see the module's docstring)."""
    import re as regex

    explained: dict[tuple[str, str], str] = {}
    for entry in json.loads((data / "next_explanations" / "semeval.json").read_text(encoding="utf-8")):
        masked = entry["sent"].replace("SUBJ-O", "SUBJ").replace("OBJ-O", "OBJ")
        explained.setdefault((_letters(masked), entry["rel"]), entry["exp"])
    lines = (data / "semeval2010_task8" / "TRAIN_FILE.TXT").read_text(encoding="utf-8").splitlines()
    head = regex.compile(r'^\d+\t"(.*)"$')
    tag = regex.compile(r"</?e[12]>")
    out = TaskData("re", (("entity", "span"),), [], [])
    relations: set[str] = set()
    for number in range(0, len(lines) - 1, 4):
        sentence, relation = head.match(lines[number].strip()).group(1), lines[number + 1].strip()
        masked = regex.sub(r"<e1>.*?</e1>", " SUBJ ", sentence)
        masked = regex.sub(r"<e2>.*?</e2>", " OBJ ", masked)
        explanation = explained.get((_letters(masked), relation))
        if explanation is None:
            continue
        text, spans, position = "", {}, 0
        for match in tag.finditer(sentence):
            text += sentence[position:match.start()]
            position = match.end()
            name = match.group().strip("</>")
            spans.setdefault(name, []).append(len(text))
        text += sentence[position:]
        (s1, e1), (s2, e2) = spans["e1"], spans["e2"]
        item = Item("relation", relation, s1, s2)  # a relation: subject's and object's start
        out.texts.append(text)
        out.gold.append([item])
        out.entities.append([("entity", s1, e1), ("entity", s2, e2)])
        out.explanations.append({item: explanation})
        relations.add(relation)
        if len(out.texts) == documents:
            break
    return TaskData("re", (("entity", "span"), *((r, "relation") for r in sorted(relations))),
                    out.texts, out.gold, out.entities, out.explanations)


# The live run ----------------------------------------------------------------------------


def import_with_entities(session, url: str, task: TaskData, order: Sequence[int],
                         timeout_s: float = 600.0) -> dict[int, int]:
    """Import the documents in ``order`` with their entity spans (JSON Lines, an import job:
    imported annotations belong to no annotator, so every member sees them as given); returns
    document id -> index into ``task``."""
    import io

    from bench.api import ok_json

    lines = "".join(json.dumps({"text": task.texts[j], "meta": {"effort_index": j},
                                "annotations": [{"label": label, "start": start, "end": end}
                                                for label, start, end in task.entities[j]]}) + "\n"
                    for j in order)
    job = ok_json(session.post(f"{url}/imports", files={"file": ("documents.jsonl", io.BytesIO(lines.encode()))},
                               data={"format": "jsonl"}))
    deadline = time.monotonic() + timeout_s
    while job["state"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise SystemExit(f"import job {job['id']} not done within {timeout_s:.0f} s")
        time.sleep(0.2)
        job = ok_json(session.get(f"{url}/jobs/{job['id']}"))
    if job["state"] != "finished":
        raise SystemExit(f"import failed: {job}")
    index_of, cursor = {}, 0
    while cursor is not None:
        page = ok_json(session.get(f"{url}/documents", params={"limit": 100, "cursor": cursor}))
        index_of.update((d["id"], d["meta"]["effort_index"]) for d in page["items"])
        cursor = page["next_cursor"]
    return index_of


class JobWatcher:
    """Waits for the jobs an annotator's saves started: the ``job`` events on the project's
    Socket.IO room name them (``queued`` is emitted before the save answers); their end is
    taken from the events or, should one be missed, from ``GET .../jobs/{id}``."""

    def __init__(self, listener, session, url: str) -> None:
        self.listener, self.session, self.url = listener, session, url

    def _jobs(self) -> dict[int, str]:
        states: dict[int, str] = {}
        for _, name, data in list(self.listener.events):
            if name == "job" and isinstance(data, dict) and "id" in data:
                states[data["id"]] = data.get("state", "")
        return states

    def latest(self) -> int:
        return max(self._jobs(), default=0)

    def settle(self, after: int, appear_s: float, finish_s: float) -> None:
        """Wait up to ``appear_s`` for a job newer than ``after``, then until every such job
        has finished or failed (``finish_s`` at most)."""
        with self.listener.arrived:
            if not self.listener.arrived.wait_for(lambda: any(i > after for i in self._jobs()), appear_s):
                return
        deadline = time.monotonic() + finish_s
        for job_id in sorted(i for i in self._jobs() if i > after):
            while True:
                with self.listener.arrived:
                    if self.listener.arrived.wait_for(
                            lambda: self._jobs().get(job_id) in ("finished", "failed"), 1.0):
                        break
                if self.session.get(f"{self.url}/jobs/{job_id}").json().get("state") in ("finished", "failed"):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"job {job_id} not done within {finish_s:.0f} s")


def run_seed(base: str, task: TaskData, seed: int, args: argparse.Namespace) -> Run:
    from bench.api import ok_json, session_for
    from bench.loop import Listener

    session = session_for(base, "admin")
    body: dict[str, Any] = {"name": f"effort {task.task} {seed}", "task": task.task,
                            "explanation_kind": "natural_language" if task.explained else "none"}
    project = ok_json(session.post(f"{base}/projects", json=body))
    url = f"{base}/projects/{project['id']}"
    for name, kind in task.labels:
        ok_json(session.post(f"{url}/labels", json={"name": name, "kind": kind}))
    settings: dict[str, Any] = {"retrain_policy": {"mode": "every_n", "n": args.every_n}}
    if task.task == "ner":
        settings["recommenders"] = ["dictionary.v1"] + ([project["settings"]["model"]] if args.ner_learned else [])
        if not args.ner_learned:
            settings["retrain_policy"] = {"mode": "manual"}  # the dictionary retrains on every save anyway
    elif task.task == "re":
        settings["recommenders"] = ["next_rules.v1"]  # cheap: retrains on every save
        settings["retrain_policy"] = {"mode": "manual"}
    else:
        settings["model"] = args.sa_model
    ok_json(session.patch(f"{url}/settings", json=settings))
    if args.min_confidence is None:  # the project's default, which a new project takes from its task
        me = ok_json(session.get(f"{url}/me/settings"))
    else:
        me = ok_json(session.patch(f"{url}/me/settings",
                                   json={"min_recommendation_confidence": args.min_confidence}))
    threshold = me["min_recommendation_confidence"]

    order = list(range(len(task.texts)))
    random.Random(seed).shuffle(order)
    gold_by_id: dict[int, list[Item]] = {}
    index_of: dict[int, int] = {}  # document id -> index into task
    if task.entities:
        index_of = import_with_entities(session, url, task, order)
    else:
        for i in range(0, len(order), 1000):
            chunk = order[i:i + 1000]
            saved = ok_json(session.post(f"{url}/documents",
                                         json={"documents": [{"text": task.texts[j]} for j in chunk]}))
            index_of.update((row["id"], j) for j, row in zip(chunk, saved["items"]))
    for document_id, j in index_of.items():
        gold_by_id[document_id] = task.gold[j]

    token = session.headers["Authorization"].removeprefix("Bearer ")
    listener = Listener(base, token, project["id"])
    watcher = JobWatcher(listener, session, url)
    run, saved_total = Run(threshold=threshold), 0
    try:
        while len(run.steps) < len(gold_by_id):
            if not listener.client.connected:  # dropped (a loaded machine misses pings): rejoin
                print("  Socket.IO connection lost; reconnecting", flush=True)
                listener = watcher.listener = Listener(base, token, project["id"])
            response = session.get(f"{url}/queue/next")
            if response.status_code == 204:
                break
            document_id = ok_json(response).get("document_id") or response.json()["id"]
            recommendations = ok_json(session.get(f"{url}/model/recommendations/{document_id}"))["items"]
            entity_of: dict[int, int] = {}  # RE: entity annotation id -> its start, and back
            if task.entities:
                entity_of = {a["id"]: a["start"] for a in ok_json(session.get(
                    f"{url}/documents/{document_id}"))["annotations"] if a["kind"] == "span"}
            offered = [(item_of(r, entity_of), r.get("confidence") or 0.0) for r in recommendations]
            effort = account(gold_by_id[document_id], [item for item, c in offered if c >= threshold],
                             task.explained)
            before = watcher.latest()
            saves = [(i, "recommendation") for i in effort.accepted] + [(i, "manual") for i in effort.created]
            explanations = task.explanations[index_of[document_id]] if task.explained else {}
            entity_at = {start: id_ for id_, start in entity_of.items()}
            for item, source in saves:
                annotation = {"label": item.label, "source": source}
                if item.kind == "span":
                    annotation |= {"start": item.start, "end": item.end}
                elif item.kind == "relation":
                    annotation |= {"subject": entity_at[item.start], "object": entity_at[item.end]}
                if source == "manual" and item in explanations:  # typed only for what it creates
                    annotation["explanations"] = [{"kind": "natural_language", "text": explanations[item]}]
                ok_json(session.post(f"{url}/documents/{document_id}/annotations", json=annotation))
            correct = len(effort.accepted)
            run.steps.append(step_of(saved_total, gold_by_id[document_id], offered, task.explained))
            saved_total += correct + len(effort.created)
            session.put(f"{url}/documents/{document_id}/finished").raise_for_status()
            if correct + len(effort.created):
                watcher.settle(before, args.job_appear_s, args.job_timeout_s)
            if args.verbose:
                print(f"  doc {len(run.steps):>4}: shown {correct + len(effort.rejected)} correct {correct} "
                      f"gold {effort.gold} actions {effort.actions}", flush=True)
    finally:
        listener.close()
    return run


# Report ----------------------------------------------------------------------------------


def mean_or_none(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.mean(present) if present else None


def assisted(runs: list[Run], threshold: float, window: int) -> dict[str, Any]:
    """Means over seeds of what an annotator with ``min_recommendation_confidence`` = threshold saw."""
    curves = [run.windows(window, threshold) for run in runs]
    return {
        "min_recommendation_confidence": threshold,
        "actions_per_label": statistics.mean(r.actions_per_label(threshold) for r in runs),
        "first_correct_after": mean_or_none([r.first_correct_after(threshold) for r in runs]),
        "never_correct_runs": sum(r.first_correct_after(threshold) is None for r in runs),
        "shown_precision": mean_or_none([r.precision(threshold) for r in runs]),
        "shown_recall": mean_or_none([r.recall(threshold) for r in runs]),
        "per_window": [{"documents": points[0]["documents"],
                        "precision": mean_or_none([p["precision"] for p in points]),
                        "recall": mean_or_none([p["recall"] for p in points])} for points in zip(*curves)],
    }


def summarise(task: TaskData, runs: list[Run], seeds: int, window: int, threshold: float,
              thresholds: Sequence[float]) -> dict[str, Any]:
    return {
        "task": task.task, "documents": len(task.texts), "seeds": seeds,
        "assisted": assisted(runs, threshold, window),
        "unassisted": {"actions_per_label": unassisted_actions_per_label(task.gold, task.explained)},
        "by_threshold": [assisted(runs, t, window) for t in thresholds],
    }


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(summary: dict[str, Any]) -> None:
    a, u = summary["assisted"], summary["unassisted"]
    print(f"\n{summary['task']}: {summary['documents']} documents, {summary['seeds']} seed(s)\n")
    print("| task | actions/label assisted | actions/label unassisted | ratio | first correct after | "
          "shown precision | shown recall |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {summary['task']} | {fmt(a['actions_per_label'])} | {fmt(u['actions_per_label'])} | "
          f"{fmt(a['actions_per_label'] / u['actions_per_label'])} | {fmt(a['first_correct_after'], 1)} | "
          f"{fmt(a['shown_precision'])} | {fmt(a['shown_recall'])} |")
    print("\n| min_recommendation_confidence | actions/label | first correct after | shown precision | "
          "shown recall |\n|---|---|---|---|---|")
    for row in summary["by_threshold"]:
        print(f"| {row['min_recommendation_confidence']:g} | {fmt(row['actions_per_label'])} | "
              f"{fmt(row['first_correct_after'], 1)} | {fmt(row['shown_precision'])} | {fmt(row['shown_recall'])} |")
    print(f"\nper window, at min_recommendation_confidence {a['min_recommendation_confidence']:g}:\n"
          "\n| documents | shown precision | shown recall |\n|---|---|---|")
    for point in a["per_window"]:
        print(f"| {point['documents']} | {fmt(point['precision'])} | {fmt(point['recall'])} |")


def plot(summary: dict[str, Any], path: Path) -> bool:
    """The precision and recall of what was shown, per window; False without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        print(f"no plot ({path}): pip install -e '.[bench]' for matplotlib")
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = summary["assisted"]["per_window"]  # at the annotator's own threshold
    x = [p["documents"] for p in points]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key in ("precision", "recall"):
        ax.plot(x, [p[key] if p[key] is not None else float("nan") for p in points], marker="o", label=f"shown {key}")
    ax.set_xlabel("documents annotated")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{summary['task']}: recommendations shown, per window ({summary['seeds']} seed(s))")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", choices=("ner", "sa", "re"), required=True)
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=3, help="runs, each importing the documents in its own order")
    parser.add_argument("--json", type=Path, help="write the summary here")
    parser.add_argument("--plot", type=Path, help="write the precision/recall curve here (needs matplotlib)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--every-n", type=int, default=5, help="retrain_policy n for learned models")
    parser.add_argument("--ner-learned", action="store_true",
                        help="NER: add the project's default learned model after dictionary.v1")
    parser.add_argument("--sa-model", default="sentence_embedding_sa.v1")
    parser.add_argument("--min-confidence", type=float, default=None,
                        help="the annotator's min_recommendation_confidence (default: the project's, "
                             "which a new project takes from its task)")
    parser.add_argument("--skip", type=int, default=0,
                        help="leave out the data set's first N documents (a slice to choose settings on)")
    parser.add_argument("--thresholds", type=lambda v: [float(x) for x in v.split(",")],
                        default=[0.0, 0.5, 0.7, 0.8, 0.9],
                        help="also report these min_recommendation_confidence values (the saved "
                             "annotations are the gold whatever is shown, so one run answers for all)")
    parser.add_argument("--window", type=int, default=0, help="documents per precision/recall point "
                        "(default: a tenth of --documents)")
    parser.add_argument("--job-appear-s", type=float, default=0.5,
                        help="how long to wait for a save to start a job before moving on")
    parser.add_argument("--job-timeout-s", type=float, default=600.0)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    task = load_task(args.task, args.data, args.documents, args.skip)
    from bench.loop import live_server

    print(f"{args.task}: {len(task.texts)} documents, {args.seeds} seed(s); {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f} at the start", flush=True)
    runs: list[Run] = []
    started = time.perf_counter()
    window = args.window or max(1, len(task.texts) // 10)
    for seed in range(args.seeds):
        with live_server(None, args.torch_threads) as base:
            runs.append(run_seed(base, task, seed, args))
        r = runs[-1]
        t = r.threshold
        print(f"seed {seed}: {len(r.steps)} documents, actions/label {r.actions_per_label(t):.2f}, "
              f"first correct after {r.first_correct_after(t)}, shown precision {fmt(r.precision(t))}, "
              f"{time.perf_counter() - started:.0f} s so far", flush=True)
        summary = summarise(task, runs, len(runs), window, t, args.thresholds)
        summary["load_average_end"] = os.getloadavg()[0]
        if args.json:  # after every seed, so a long run stopped early still leaves its figures
            args.json.write_text(json.dumps(summary, indent=2) + "\n")
    print_table(summary)
    if args.plot:
        plot(summary, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
