"""Learning curves of TriggerNER and the plain BiLSTM-CRF (Lin et al., ACL 2020, Fig. 3).

(a) the BiLSTM-CRF on a share of the training sentences (no triggers), (b) TriggerNER on a
share of the training sentences with their triggers (``trigger_20.txt`` holds the 20% share).
Entity-level micro F1 on the test split (``--split dev`` for choosing settings), and the
training time of every run. ``--self-training`` adds a separate series: TriggerNER that also
pseudo-labels the rest of the training sentences (unlabeled text, which the paper's claim
does not use).

    python bench/triggerner.py                          # the paper's full curves, 3 seeds (GPU)
    python bench/triggerner.py --epochs 3 --max-test 1000 --seeds 0 \\
        --fractions 5,20,70 --trigger-fractions 5,20    # a reduced CPU run

Writes a Markdown table to stdout, the results as JSON (--results) and, when matplotlib is
installed, the learning-curve plot (--plot). ``--merge`` trains nothing: it combines the runs
of several --results files (one run per fraction, say) into one table, JSON and plot.

    python bench/triggerner.py --merge runs/*.json --results curve.json --plot curve.png
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # runnable alone, from a checkout

from leanlife_ner.metrics import evaluate  # noqa: E402
from leanlife_server.plugin_api import Dataset  # noqa: E402
from leanlife_triggerner.conll import read_columns, read_trigger_examples, to_example  # noqa: E402
from leanlife_triggerner.model import build_bilstm_crf, build_triggerner  # noqa: E402
from leanlife_triggerner.tokens import decode_bio  # noqa: E402

TRIGGER_SHARE = 20  # percent of the training sentences that trigger_20.txt annotates


def int_list(text: str) -> list[int]:
    return [int(p) for p in text.split(",") if p]


def labels_of(columns) -> list[str]:
    return sorted({label for _, tags in columns for _, _, label in decode_bio(tags)})


TRIGGERNER, BILSTM_CRF = "triggerner", "bilstm_crf"
# The ablation: the BiLSTM-CRF on exactly the sentences TriggerNER gets, their triggers unused.
SAME_SENTENCES = "bilstm_crf_trigger_sentences"
# TriggerNER plus self-training on the other training sentences as unlabeled text.
SELF_TRAINING = "triggerner_self_training"
# In the order a run trains them (and tables list them).
SERIES = {TRIGGERNER: "TriggerNER (with triggers)", SAME_SENTENCES: "BiLSTM-CRF on TriggerNER's sentences",
          BILSTM_CRF: "BiLSTM-CRF (labels only)",
          SELF_TRAINING: "TriggerNER + self-training on unlabeled sentences"}


def run(series: str, train, unlabeled, test, labels, config: dict, device: str,
        nearest: list[int]) -> list[dict]:
    """Train once; score once, or, for TriggerNER with ``nearest``, once per k (k only
    changes inference)."""
    build = build_bilstm_crf if series in (BILSTM_CRF, SAME_SENTENCES) else build_triggerner
    tagger = build(config, labels, device)
    began = time.perf_counter()
    metrics = tagger.train(Dataset("ner", {label: "span" for label in labels}, "trigger", train, unlabeled),
                           lambda fraction, details: None)
    seconds = time.perf_counter() - began
    results = []
    for k in (nearest if tagger.use_triggers and nearest else [None]):
        if k is not None:
            tagger.config["nearest_triggers"] = k
        scores = evaluate(test, tagger.predict(test))
        results.append({"k": tagger.config["nearest_triggers"] if tagger.use_triggers else None,
                        "precision": scores["precision"], "recall": scores["recall"], "f1": scores["f1"],
                        "train_seconds": seconds, "train_sentences": int(metrics["sentences"]),
                        "triggers": int(metrics["triggers"]),
                        "pseudo_labeled": int(metrics["pseudo_labeled_sentences"])})
    return results


def plot(rows: list[dict], path: Path, title: str) -> bool:
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(6, 4))
    for (model, k) in dict.fromkeys((r["model"], r["k"]) for r in rows):
        points = sorted((r["fraction"], r["f1_mean"] * 100, r["f1_stdev"] * 100) for r in rows
                        if (r["model"], r["k"]) == (model, k))
        xs, ys, errors = zip(*points)
        name = SERIES[model] if k is None or len({r["k"] for r in rows}) <= 2 else f"{SERIES[model]}, k={k}"
        axes.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=name)
    axes.set_xlabel("% of training sentences")
    axes.set_ylabel("entity F1 (%)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return True


def summarize(runs: list[dict]) -> list[dict]:
    """One row per (model, fraction, k): means (and the sd of F1) over the seeds."""
    rows = []
    for model, fraction, k in dict.fromkeys((r["model"], r["fraction"], r["k"]) for r in runs):
        scores = [r for r in runs if (r["model"], r["fraction"], r["k"]) == (model, fraction, k)]
        f1s = [r["f1"] for r in scores]
        rows.append({"model": model, "fraction": fraction, "k": k, "seeds": len(scores),
                     "sentences": scores[0]["train_sentences"], "f1_mean": statistics.mean(f1s),
                     "f1_stdev": statistics.stdev(f1s) if len(f1s) > 1 else 0.0,
                     "precision_mean": statistics.mean(r["precision"] for r in scores),
                     "recall_mean": statistics.mean(r["recall"] for r in scores),
                     "pseudo_labeled_mean": statistics.mean(r["pseudo_labeled"] for r in scores),
                     "train_seconds_mean": statistics.mean(r["train_seconds"] for r in scores)})
    return rows


def report(runs: list[dict], split: str, results: Path | None, header: dict, plot_path: Path | None) -> None:
    """Print the Markdown table; write the JSON (``header`` plus runs and rows) and the plot."""
    rows = summarize(runs)
    args = header["args"]
    title = f"{args['dataset']}: {header['test_sentences']} {split} sentences, {args['epochs']} epochs"
    print(f"| model | k | % train sentences | sentences | seeds | {split} F1 (mean ± sd) | P / R | "
          f"pseudo-labeled | train time per run |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['model']} | {row['k'] or '—'} | {row['fraction']} | {row['sentences']} | {row['seeds']} | "
              f"{row['f1_mean'] * 100:.1f} ± {row['f1_stdev'] * 100:.1f} | "
              f"{row['precision_mean'] * 100:.1f} / {row['recall_mean'] * 100:.1f} | "
              f"{row['pseudo_labeled_mean']:.0f} | {row['train_seconds_mean']:.0f} s |")
    if results:
        results.parent.mkdir(parents=True, exist_ok=True)
        results.write_text(json.dumps({**header, "runs": runs, "rows": rows}, indent=1))
    if plot_path and not plot(rows, plot_path, title):
        print("matplotlib is not installed: no plot written", file=sys.stderr)


# What must agree between --results files for their runs to share one table and plot.
COMPARABLE = ("dataset", "split", "epochs", "max_test", "device")


def merge(paths: list[Path], results: Path | None, plot_path: Path | None) -> None:
    """Combine the runs of several --results files, which must share their settings."""
    loaded = [json.loads(path.read_text()) for path in paths]
    first = loaded[0]
    for path, other in zip(paths, loaded):
        mismatched = [key for key in COMPARABLE if other["args"][key] != first["args"][key]]
        if other["config"] != first["config"] or other["test_sentences"] != first["test_sentences"]:
            mismatched.append("config or test sentences")
        if mismatched:
            sys.exit(f"{path}: {', '.join(mismatched)} differ from {paths[0]}")
    # In the order a single run would list them, whatever the order of the files.
    order = list(SERIES)
    runs = sorted((run for data in loaded for run in data["runs"]),
                  key=lambda run: (order.index(run["model"]), run["fraction"], run["seed"], run["k"] or 0))
    keys = [(run["model"], run["fraction"], run["seed"], run["k"]) for run in runs]
    if len(set(keys)) < len(keys):
        sys.exit("the same (model, fraction, seed, k) is in more than one of the runs merged")
    header = {"merged": [str(path) for path in paths],
              "args": {key: first["args"][key] for key in COMPARABLE}, "config": first["config"],
              "device": first["device"], "test_sentences": first["test_sentences"]}
    report(runs, first["args"]["split"], results, header, plot_path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("conll2003", "bc5cdr"), default="conll2003")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--fractions", type=int_list, default=[5, 10, 20, 30, 50, 70, 100],
                        help="BiLSTM-CRF: percent of the training sentences")
    parser.add_argument("--trigger-fractions", type=int_list, default=[3, 5, 10, 20],
                        help=f"TriggerNER: percent of the training sentences, at most {TRIGGER_SHARE}")
    parser.add_argument("--same-sentences", action="store_true",
                        help="also train the BiLSTM-CRF on TriggerNER's sentences, without their triggers")
    parser.add_argument("--self-training", action="store_true",
                        help="also train TriggerNER with the other training sentences as unlabeled text "
                             "(self_training_rounds defaults to 1 there)")
    parser.add_argument("--nearest", type=int_list, default=[],
                        help="TriggerNER: score with each of these k nearest prototypes (default: the config's)")
    parser.add_argument("--split", choices=("test", "dev"), default="test",
                        help="score on the test split, or on dev to choose settings")
    parser.add_argument("--seeds", type=int_list, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--max-test", type=int, default=0, help="first N evaluation sentences (0: all)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads; small recurrent ops run fastest on one")
    parser.add_argument("--config", type=json.loads, default={}, help="JSON overrides of the model config")
    parser.add_argument("--results", type=Path, help="write the results as JSON here")
    parser.add_argument("--plot", type=Path, help="write the learning-curve PNG here")
    parser.add_argument("--merge", type=Path, nargs="+", metavar="RESULTS",
                        help="train nothing: combine the runs of these --results files")
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, args.results, args.plot)
        return
    if max(args.trigger_fractions, default=0) > TRIGGER_SHARE:
        parser.error(f"--trigger-fractions: the trigger file covers {TRIGGER_SHARE}% of the training sentences")

    import torch
    torch.set_num_threads(args.threads)
    folder = args.data / args.dataset
    train_columns = read_columns(folder / "train.txt")
    test_columns = read_columns(folder / f"{args.split}.txt")
    if args.max_test:
        test_columns = test_columns[:args.max_test]
    labels = labels_of(train_columns)
    train = [to_example(tokens, tags) for tokens, tags in train_columns]
    test = [to_example(tokens, tags) for tokens, tags in test_columns]
    with_triggers = read_trigger_examples(folder / "trigger_20.txt")
    config = {"epochs": args.epochs, **args.config}
    print(f"{args.dataset}: {len(train)} training sentences, {len(with_triggers)} with triggers, "
          f"{len(test)} {args.split} sentences; labels {labels}; config {config}", file=sys.stderr)

    runs = []
    # The cheap runs first, so that a long run cut short still reports them.
    plan = [(TRIGGERNER, f, with_triggers) for f in args.trigger_fractions]
    if args.same_sentences:
        plan += [(SAME_SENTENCES, f, with_triggers) for f in args.trigger_fractions]
    plan += [(BILSTM_CRF, f, train) for f in args.fractions]
    if args.self_training:
        plan += [(SELF_TRAINING, f, with_triggers) for f in args.trigger_fractions]
    for model, fraction, pool in plan:
        for seed in args.seeds:
            shuffled = pool[:]
            random.Random(seed).shuffle(shuffled)
            # The trigger pool is itself the 20% share: take fraction/20 of it.
            share = fraction / 100 if pool is train else fraction / TRIGGER_SHARE
            subset = shuffled[:max(1, round(share * len(pool)))]
            model_config = {**config, "seed": seed}
            unlabeled = ()
            if model == SELF_TRAINING:
                model_config.setdefault("self_training_rounds", 1)
                taken = {example.text for example in subset}
                unlabeled = [replace(e, annotations=()) for e in train if e.text not in taken]
            for result in run(model, subset, unlabeled, test, labels, model_config, args.device, args.nearest):
                runs.append({"model": model, "fraction": fraction, "seed": seed, **result})
                print(f"{model:>28} {fraction:>3}% seed {seed} k {result['k']}: {args.split} F1 {result['f1']:.4f} "
                      f"({result['train_sentences']} sentences, {result['pseudo_labeled']} pseudo-labeled, "
                      f"{result['train_seconds']:.0f} s)", file=sys.stderr, flush=True)

    report(runs, args.split, args.results,
           {"args": {k: str(v) for k, v in vars(args).items()}, "config": config, "device": args.device,
            "test_sentences": len(test)},
           args.plot)


if __name__ == "__main__":
    main()
