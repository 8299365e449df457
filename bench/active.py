"""Simulated annotation: does uncertainty ranking need fewer labels than random order?

An oracle answers from the gold labels. Each round trains a fresh model on the labeled
documents and scores it on a held-out test set; then the next ``--step`` documents are
chosen, by the query strategy (the model predicts the unlabeled pool, the strategy plugin
scores it, the highest scores are labeled next, as the server's queue orders them) or at
random (a seeded shuffle: the ``random`` strategy plugin's order, made reproducible and
without predicting the pool). Both start from the same random seed set.

- NER: CoNLL-2003 (``train.txt`` is the pool, ``test.txt`` the test set), entity micro F1,
  the ``bilstm_crf.v1`` model (GloVe BiLSTM-CRF, plugin ``leanlife_triggerner``), strategy
  ``mnlp`` (``--strategies mnlp,least_confidence,token_entropy`` for more).
- SA: rt_polarity (a seeded split into test set and pool), macro F1, the
  ``sentence_embedding_sa.v1`` model (logistic regression on frozen MiniLM sentence
  embeddings, plugin ``leanlife_transformer``; ``--sa-model transformer_sa.v1`` fine-tunes
  MiniLM instead), strategy ``entropy`` (``--strategies entropy,margin,uncertainty`` for more).

Models, tasks (their ``evaluate``) and strategies come from the installed plugins, through
their definitions, exactly as the server loads them.

    python bench/active.py                                   # both tasks, one seed, sized for a CPU
    python bench/active.py --tasks sa --seeds 0,1,2 --strategies entropy,margin   # docs/performance.md
    python bench/active.py --tasks ner --pool 14041 --test 3453 --seed-size 100 --step 100 \\
        --rounds 15 --seeds 0,1,2 --device cuda              # a bigger run

``--split dev`` evaluates on a dev set instead of the test set (CoNLL's ``dev.txt``; for SA,
reviews disjoint from the test reviews and the pool), to choose settings without the test
set. Copies of a text are demoted in the ranking as the server's queue demotes them
(``leanlife_server.pipeline.duplicates``); ``--duplicates keep`` ranks them as scored, as runs
before that change did.

Labels are counted in documents and, since an NER annotator reads tokens, in the tokens of
the labeled documents too (MNLP's early picks are short lines). Prints a Markdown table and
whether the goal is met (uncertainty reaches random order's final score with at most half of
random's labels), at the run's end and at every shorter budget: a run stopped after ``b``
labels does exactly what this one did up to ``b``, so each point of random order's curve is
the final score of such a run. Writes JSON (``--results``, every seed's curve) and one plot
per task (``--plot-dir``, needs matplotlib: ``pip install -e '.[bench]'``).

    python bench/active.py --tasks ner --seeds 0 --results s0.json   # one process per seed ...
    python bench/active.py --merge s0.json s1.json                   # ... averaged as one run
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runnable alone, from a checkout

from leanlife_server.pipeline.duplicates import demote_duplicates, duplicate_key  # noqa: E402
from leanlife_server.plugin_api import DOCUMENT, AnnotationData, Dataset, Example, load_object  # noqa: E402
from leanlife_server.plugins import Plugins, load_plugins  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
RANDOM = "random"


@dataclass(frozen=True)
class TaskSetup:
    task: str
    model: str
    config: dict[str, Any]
    strategies: tuple[str, ...]
    metric: str
    threads: int  # torch CPU threads: the recurrent tagger runs fastest on one


SETUPS = {
    "ner": TaskSetup("ner", "bilstm_crf.v1", {"epochs": 10}, ("mnlp",), "f1", 1),
    # The embeddings are computed once per process and cached, so every round only fits the head.
    "sa": TaskSetup("sa", "sentence_embedding_sa.v1", {}, ("entropy",), "macro_f1", 1),
}
SA_FINE_TUNING = TaskSetup("sa", "transformer_sa.v1", {"epochs": 4, "learning_rate": 1e-4, "max_length": 64},
                           ("entropy",), "macro_f1", 2)


def conll_examples(path: Path) -> list[Example]:
    from leanlife_triggerner.conll import read_columns, to_example

    return [to_example(tokens, tags, i) for i, (tokens, tags) in enumerate(read_columns(path))]


def polarity_examples(folder: Path) -> list[Example]:
    examples = []
    for label in ("pos", "neg"):
        for line in (folder / f"rt-polarity.{label}").read_text(encoding="latin-1").splitlines():
            if line.strip():
                examples.append(Example(len(examples), line.strip(), (AnnotationData(DOCUMENT, label),)))
    return examples


def load_split(task: str, data: Path, pool_size: int, test_size: int, seed: int,
               split: str = "test") -> tuple[list[Example], list[Example]]:
    """(pool, evaluation set), sampled with ``seed``; the same for every strategy.

    ``split="dev"`` evaluates on documents disjoint from the test set (CoNLL's ``dev.txt``; for
    rt_polarity the last ``test_size`` reviews of the seeded shuffle, after the pool), so
    that settings can be chosen without looking at the test set. The pool is the same in
    both, and ``split="test"`` draws exactly what it drew before the option existed.
    """
    rng = random.Random(seed)
    if task == "ner":
        pool = conll_examples(data / "conll2003" / "train.txt")
        test = conll_examples(data / "conll2003" / ("dev.txt" if split == "dev" else "test.txt"))
        test = [e for e in test if e.text]
        return rng.sample(pool, min(pool_size, len(pool))), rng.sample(test, min(test_size, len(test)))
    examples = polarity_examples(data / "rt_polarity")
    rng.shuffle(examples)
    pool = examples[test_size:test_size + pool_size]
    if split == "dev":
        if 2 * test_size + pool_size > len(examples):
            raise ValueError(f"rt_polarity has {len(examples)} reviews: too few for a test set, a pool and "
                             f"a dev set of {test_size}, {pool_size} and {test_size}")
        return pool, examples[len(examples) - test_size:]
    return pool, examples[:test_size]


def labels_of(examples: Sequence[Example]) -> dict[str, str]:
    return {a.label: a.kind for e in examples for a in e.annotations}


@dataclass
class Point:
    labels: int
    score: float
    seconds: float
    tokens: int = 0  # whitespace tokens in the labeled documents: what an NER annotator reads


def token_count(examples: Sequence[Example]) -> int:
    return sum(len(e.text.split()) for e in examples)


def curve(plugins: Plugins, setup: TaskSetup, strategy: str, pool: list[Example], test: list[Example],
          seed_size: int, step: int, rounds: int, seed: int, device: str,
          demote: bool = True) -> list[Point]:
    """One learning curve: ``rounds`` points, from ``seed_size`` labels in steps of ``step``.
    ``demote``: copies of a text ranked higher up or already labeled go last, as in the
    server's queue (``leanlife_server.pipeline.duplicates``)."""
    definition = plugins.models.get(setup.model)
    evaluate = plugins.tasks.get(setup.task).evaluate
    scorer = None if strategy == RANDOM else load_object(plugins.query_strategies.get(strategy).factory)()
    labels = labels_of(pool)
    order = list(range(len(pool)))
    random.Random(seed).shuffle(order)
    labeled, unlabeled = order[:seed_size], order[seed_size:]
    points = []
    for number in range(rounds):
        began = time.perf_counter()
        seeded = {"seed": seed} if "seed" in definition.default_config else {}  # a deterministic fit has none
        model = load_object(definition.factory)({**definition.default_config, **setup.config, **seeded},
                                                labels, device)
        model.train(Dataset(setup.task, labels, "none", [pool[i] for i in labeled]), lambda fraction, details: None)
        score = evaluate(test, model.predict([Example(e.document_id, e.text) for e in test]))[setup.metric]
        points.append(Point(len(labeled), score, time.perf_counter() - began,
                            token_count([pool[i] for i in labeled])))
        print(f"  {setup.task} {strategy} seed {seed}: {len(labeled)} labels -> {setup.metric} "
              f"{score:.3f} ({points[-1].seconds:.0f} s)", file=sys.stderr, flush=True)
        if number < rounds - 1:
            if scorer is not None:  # the strategy ranks the pool, most informative first
                scores = scorer(model.predict([Example(pool[i].document_id, pool[i].text) for i in unlabeled]))
                if demote:
                    scores = demote_duplicates([duplicate_key(pool[i]) for i in unlabeled], scores,
                                               [duplicate_key(pool[i]) for i in labeled])
                unlabeled = [i for _, i in sorted(zip(scores, unlabeled), key=lambda pair: -pair[0])]
            labeled, unlabeled = labeled + unlabeled[:step], unlabeled[step:]
    return points


def first_reaching(points: Sequence[tuple[int, float]], target: float) -> int | None:
    """The index of the first point scoring at least ``target``."""
    return next((i for i, (_, score) in enumerate(points) if score >= target), None)


def summarise(task: str, curves: dict[str, list[list[Point]]]) -> dict[str, Any]:
    """Mean curves over seeds, and the labels each strategy needs to reach random's final score."""
    mean = {name: [(runs[0][i].labels, statistics.mean(run[i].score for run in runs))
                   for i in range(len(runs[0]))] for name, runs in curves.items()}
    random_labels, random_final = mean[RANDOM][-1]
    reached = {name: first_reaching(points, random_final) for name, points in mean.items() if name != RANDOM}
    reach = {name: None if i is None else mean[name][i][0] for name, i in reached.items()}
    # The same, counting the tokens of the labeled documents (mean over seeds) instead of the
    # documents: a strategy that picks short sentences labels fewer tokens per document.
    tokens = {name: [statistics.mean(run[i].tokens for run in runs) for i in range(len(runs[0]))]
              for name, runs in curves.items()}
    random_tokens = tokens[RANDOM][-1]
    tokens_to_reach = {name: None if i is None else tokens[name][i] for name, i in reached.items()}
    return {"task": task, "mean": mean, "runs": {name: [[asdict(point) for point in run] for run in runs]
                                                 for name, runs in curves.items()},
            "random_final": random_final, "random_labels": random_labels,
            "labels_to_reach": reach,
            "goal_met": {name: n is not None and n <= random_labels / 2 for name, n in reach.items()},
            "mean_tokens": tokens, "random_tokens": random_tokens, "tokens_to_reach": tokens_to_reach,
            "goal_met_in_tokens": {name: t is not None and t <= random_tokens / 2
                                   for name, t in tokens_to_reach.items()},
            "by_budget": by_budget(mean, tokens)}


def by_budget(mean: dict[str, list[tuple[int, float]]],
              tokens: dict[str, list[float]]) -> list[dict[str, Any]]:
    """The goal for every shorter run this one contains. A round depends only on the rounds
    before it, so a run stopped after ``b`` labels draws exactly the first points of these
    curves: its random order's final score is the score at ``b``. For each such budget (past the seed
    set): the labels (and tokens) each strategy needs to reach that score within the budget.
    A budget where random order is not above the seed set's score asks nothing (every curve
    starts there), so no strategy is counted as reaching it."""
    rows = []
    seed_score = mean[RANDOM][0][1]
    for i, (budget, target) in enumerate(mean[RANDOM][1:], start=1):
        row: dict[str, Any] = {"labels": budget, "random_score": target, "random_tokens": tokens[RANDOM][i],
                               "above_seed_set": target > seed_score, "strategies": {}}
        for name, points in mean.items():
            if name == RANDOM:
                continue
            reached = first_reaching(points[:i + 1], target) if row["above_seed_set"] else None
            row["strategies"][name] = {
                "labels": None if reached is None else points[reached][0],
                "tokens": None if reached is None else tokens[name][reached],
                "goal_met": reached is not None and points[reached][0] <= budget / 2,
                "goal_met_in_tokens": reached is not None and tokens[name][reached] <= tokens[RANDOM][i] / 2}
        rows.append(row)
    return rows


def print_table(summary: dict[str, Any], metric: str) -> None:
    names = list(summary["mean"])
    print(f"\n{summary['task'].upper()}: {summary['split']} {metric} by number of labeled documents\n")
    print("| labels | " + " | ".join(names) + " | " + " | ".join(f"{n} tokens" for n in names) + " |")
    print("|---:|" + "---:|" * (2 * len(names)))
    for i, (labels, _) in enumerate(summary["mean"][RANDOM]):
        print(f"| {labels} | " + " | ".join(f"{summary['mean'][n][i][1]:.3f}" for n in names) + " | "
              + " | ".join(f"{summary['mean_tokens'][n][i]:.0f}" for n in names) + " |")
    print(f"\nrandom order's final {metric}: {summary['random_final']:.3f} with {summary['random_labels']} labels")
    for name, labels in summary["labels_to_reach"].items():
        share = f"{labels} labels ({labels / summary['random_labels']:.0%})" if labels else "not within the run"
        print(f"- {name} reaches it with {share}: goal (at most half) "
              f"{'met' if summary['goal_met'][name] else 'not met'}")
    print(f"counting tokens: random order labels {summary['random_tokens']:.0f} tokens")
    for name, tokens in summary["tokens_to_reach"].items():
        share = f"{tokens:.0f} tokens ({tokens / summary['random_tokens']:.0%})" if tokens else "not within the run"
        print(f"- {name} reaches it with {share}: goal in tokens (at most half) "
              f"{'met' if summary['goal_met_in_tokens'][name] else 'not met'}")
    print_budgets(summary["by_budget"])


def print_budgets(rows: list[dict[str, Any]]) -> None:
    """The goal for each shorter run: labels (and tokens) to reach random order's score at each budget."""
    if not rows:
        return
    names = list(rows[0]["strategies"])
    print("\nthe goal for every shorter run (budget = where it stops): labels (share of the budget) "
          "to reach random order's score at that budget, and tokens (share of random order's tokens)\n")
    print("| budget | random order | " + " | ".join(f"{n} labels | {n} tokens" for n in names) + " |")
    print("|---:|---:|" + "---:|---:|" * len(names))

    def share(value: float | None, whole: float, met: bool) -> str:
        return "—" if value is None else f"{value:,.0f} ({value / whole:.0%}){' ✓' if met else ''}"

    for row in rows:
        cells = [f"{share(s['labels'], row['labels'], s['goal_met'])} | "
                 f"{share(s['tokens'], row['random_tokens'], s['goal_met_in_tokens'])}"
                 for s in row["strategies"].values()]
        print(f"| {row['labels']} | {row['random_score']:.3f} | " + " | ".join(cells) + " |")
    for name in names:
        met = [row["labels"] for row in rows if row["strategies"][name]["goal_met"]]
        met_tokens = [row["labels"] for row in rows if row["strategies"][name]["goal_met_in_tokens"]]
        print(f"- {name}: goal met at {len(met)} of {len(rows)} budgets {met or ''}, "
              f"counted in tokens at {len(met_tokens)} {met_tokens or ''}")


def plot(summary: dict[str, Any], setup: TaskSetup, path: Path) -> bool:
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, (by_documents, by_tokens) = pyplot.subplots(1, 2, figsize=(11, 4), sharey=True)
    for name, points in summary["mean"].items():
        _, ys = zip(*points)
        style = {"marker": "o", "linestyle": "--" if name == RANDOM else "-",
                 "label": f"{name} order" if name == RANDOM else name}
        by_documents.plot([x for x, _ in points], [y * 100 for y in ys], **style)
        by_tokens.plot(summary["mean_tokens"][name], [y * 100 for y in ys], **style)
    for axes, unit in ((by_documents, "labeled documents"), (by_tokens, "tokens in the labeled documents")):
        axes.axhline(summary["random_final"] * 100, color="grey", linewidth=0.8)
        axes.set_xlabel(unit)
        axes.grid(alpha=0.3)
    by_documents.set_ylabel(f"{summary['split']} {setup.metric} (%)")
    by_documents.legend()
    figure.suptitle(f"{setup.task.upper()}: {setup.model}, uncertainty vs random order")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    pyplot.close(figure)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="ner,sa")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--pool", type=int, default=None, help="unlabeled pool size (default: ner 3000, sa 4000)")
    parser.add_argument("--test", type=int, default=None, help="test set size (default: ner 1000, sa 1000)")
    parser.add_argument("--seed-size", type=int, default=None, help="first labels, random (default: ner 100, sa 20)")
    parser.add_argument("--step", type=int, default=None, help="labels per round (default: ner 100, sa 50)")
    parser.add_argument("--rounds", type=int, default=None, help="points per curve (default: ner 8, sa 15)")
    parser.add_argument("--strategies", default=None, help="comma separated (default: ner mnlp, sa entropy)")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--config", default="{}", help="model config as JSON, over the bench's")
    parser.add_argument("--sa-model", default=SETUPS["sa"].model, choices=(SETUPS["sa"].model, SA_FINE_TUNING.model),
                        help="the SA model (and its bench config)")
    parser.add_argument("--split", default="test", choices=("test", "dev"),
                        help="evaluate on the test set, or on a dev set disjoint from it (to choose settings)")
    parser.add_argument("--duplicates", default="demote", choices=("demote", "keep"),
                        help="demote: copies of a text go to the end of the ranking, as in the server's "
                             "queue; keep: rank them as scored (how runs before the queue demoted them ranked)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: 1; 2 for transformer_sa.v1)")
    parser.add_argument("--results", type=Path, default=None, help="write the curves as JSON here")
    parser.add_argument("--plot-dir", type=Path, default=ROOT / "docs" / "images")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="RESULTS",
                        help="train nothing: average the seeds of these --results files, print and plot them")
    args = parser.parse_args(argv)
    if args.merge:
        merge(args.merge, args.results, args.plot_dir)
        return 0
    defaults = {"ner": {"pool": 3000, "test": 1000, "seed_size": 100, "step": 100, "rounds": 8},
                "sa": {"pool": 4000, "test": 1000, "seed_size": 20, "step": 50, "rounds": 15}}

    import torch

    plugins = load_plugins()
    results = []
    for task in args.tasks.split(","):
        base = SA_FINE_TUNING if task == "sa" and args.sa_model == SA_FINE_TUNING.model else SETUPS[task]
        setup = TaskSetup(base.task, base.model, {**base.config, **json.loads(args.config)},
                          tuple(args.strategies.split(",")) if args.strategies else base.strategies,
                          base.metric, args.threads or base.threads)
        sizes = {key: getattr(args, key) if getattr(args, key) is not None else value
                 for key, value in defaults[task].items()}
        torch.set_num_threads(setup.threads)
        began = time.perf_counter()
        curves: dict[str, list[list[Point]]] = {name: [] for name in (RANDOM, *setup.strategies)}
        seeds = [int(s) for s in args.seeds.split(",")]
        for seed in seeds:
            pool, test = load_split(task, args.data, sizes["pool"], sizes["test"], seed, args.split)
            for name in curves:
                curves[name].append(curve(plugins, setup, name, pool, test, sizes["seed_size"], sizes["step"],
                                          sizes["rounds"], seed, args.device, args.duplicates == "demote"))
        summary = summarise(task, curves)
        summary.update(setup=setup.__dict__, sizes=sizes, split=args.split, duplicates=args.duplicates,
                       seeds=seeds, seconds=time.perf_counter() - began)
        report(summary, args.plot_dir)
        results.append(summary)
    if args.results:
        args.results.write_text(json.dumps(results, indent=2))
    return 0


def report(summary: dict[str, Any], plot_dir: Path) -> None:
    setup, sizes = TaskSetup(**summary["setup"]), summary["sizes"]
    print_table(summary, setup.metric)
    print(f"({summary['seconds'] / 60:.1f} min; pool {sizes['pool']}, {summary['split']} {sizes['test']}, "
          f"seeds {summary['seeds']}, model {setup.model} {json.dumps(setup.config)}, "
          f"torch threads {setup.threads})")
    if plot(summary, setup, plot_dir / f"active_{setup.task}.png"):
        print(f"plot: {plot_dir / f'active_{setup.task}.png'}")


# What must agree between --results files for their curves to be averaged together.
COMPARABLE = ("setup", "sizes", "split", "duplicates")


def merge(paths: list[Path], results: Path | None, plot_dir: Path) -> list[dict[str, Any]]:
    """Average the seeds of several --results files (say, one process per seed on a
    many-core machine) as one run over all their seeds would; nothing is trained."""
    loaded = [(path, summary) for path in paths for summary in json.loads(path.read_text())]
    merged = []
    for task in dict.fromkeys(summary["task"] for _, summary in loaded):
        parts = [(path, summary) for path, summary in loaded if summary["task"] == task]
        first_path, first = parts[0]
        for path, other in parts:
            mismatched = [key for key in COMPARABLE if other[key] != first[key]]
            if list(other["runs"]) != list(first["runs"]):
                mismatched.append("strategies")
            if mismatched:
                sys.exit(f"{path} ({task}): {', '.join(mismatched)} differ from {first_path}")
        seeded = sorted((seed, index, summary) for _, summary in parts
                        for index, seed in enumerate(summary["seeds"]))
        seeds = [seed for seed, _, _ in seeded]
        if len(set(seeds)) < len(seeds):
            sys.exit(f"{task}: the same seed is in more than one of the files merged")
        curves = {name: [[Point(**point) for point in summary["runs"][name][index]] for _, index, summary in seeded]
                  for name in first["runs"]}
        summary = summarise(task, curves)
        summary.update({key: first[key] for key in COMPARABLE}, seeds=seeds, merged=[str(p) for p in paths],
                       seconds=sum(part["seconds"] for _, part in parts))
        report(summary, plot_dir)
        merged.append(summary)
    if results:
        results.write_text(json.dumps(merged, indent=2))
    return merged


if __name__ == "__main__":
    raise SystemExit(main())
