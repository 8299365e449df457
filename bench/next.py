"""NExT on SemEval-2010 Task 8 with the 203 NExT explanations: the official score (macro F1
over the nine relation types, direction taken into account, Other excluded) on the test split
for (a) the classifier on the explained sentences alone, (b) + strictly matched sentences,
(c) NExT (+ softly matched sentences and the matching losses).

    python bench/next.py --seeds 0 1 2 --epochs 20                  # the full runs (GPU)
    python bench/next.py --seeds 0 --epochs 3 --unlabeled 2000      # a reduced CPU run
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np

from leanlife_next.datasets import read_explanations, read_semeval
from leanlife_next.labeling import LabelingRule
from leanlife_next.model import NextModel
from leanlife_next.parser import ParseError, parse
from leanlife_next.tokens import instance_from_placeholders

MODES = ("explained", "strict", "next")


def relation_type(label: str) -> str:
    return label.split("(")[0]


def official_macro_f1(gold: list[str], predicted: list[str]) -> float:
    """The task's official score: per relation type, a prediction is right only with the
    right direction; precision over predictions of that type, recall over gold of that type."""
    types = sorted({relation_type(g) for g in gold} - {"Other"})
    scores = []
    for kind in types:
        correct = sum(g == p and relation_type(g) == kind for g, p in zip(gold, predicted))
        predicted_n = sum(relation_type(p) == kind for p in predicted)
        gold_n = sum(relation_type(g) == kind for g in gold)
        precision = correct / predicted_n if predicted_n else 0.0
        recall = correct / gold_n if gold_n else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return float(np.mean(scores))


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--data", type=Path, default=Path("../shared/data"))
    args.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args.add_argument("--epochs", type=int, default=20)
    args.add_argument("--explained-epochs", type=int, default=None,
                      help="epochs for mode (a), which has 203 sentences (default: 5x --epochs)")
    args.add_argument("--unlabeled", type=int, default=0, help="use only this many (0: all)")
    args.add_argument("--test", type=int, default=0, help="score only this many test sentences (0: all)")
    args.add_argument("--device", default="cpu")
    args.add_argument("--classifier", default="bilstm", choices=("bilstm", "transformer"))
    args.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    options = args.parse_args()

    explained_entries = read_explanations(options.data / "next_explanations/semeval.json")
    train_sentences = read_semeval(options.data / "semeval2010_task8/TRAIN_FILE.TXT")
    test_sentences = read_semeval(options.data / "semeval2010_task8/TEST_FILE_FULL.TXT")
    if options.test:
        test_sentences = test_sentences[:options.test]
    classes = sorted({s.label for s in train_sentences})
    explained, rules = [], []
    for entry in explained_entries:
        instance = entry.instance
        explained.append((instance, classes.index(entry.label)))
        try:
            rules.append(LabelingRule(entry.explanation, entry.label, parse(entry.explanation, instance).formula))
        except ParseError:
            pass
    seen = {tuple(i.words) for i, _ in explained}
    unlabeled = [i for i in (instance_from_placeholders(s.sentence) for s in train_sentences)
                 if tuple(i.words) not in seen]
    if options.unlabeled:
        unlabeled = unlabeled[:options.unlabeled]
    test = [instance_from_placeholders(s.sentence) for s in test_sentences]
    gold = [s.label for s in test_sentences]
    print(f"explained {len(explained)}, rules {len(rules)}, unlabeled {len(unlabeled)}, "
          f"test {len(test)}, classifier {options.classifier}, device {options.device}")
    print("labels among explained:", dict(Counter(e.label for e in explained_entries)))

    results: dict[str, list[float]] = {m: [] for m in options.modes}
    for mode in options.modes:
        for seed in options.seeds:
            epochs = options.epochs
            if mode == "explained":
                epochs = options.explained_epochs or 5 * options.epochs
            config = {"task": "re", "mode": mode, "epochs": epochs, "seed": seed,
                      "classifier": options.classifier}
            model = NextModel(config, classes, options.device)
            started = time.perf_counter()
            metrics = model.fit(explained, rules, unlabeled if mode != "explained" else [],
                                lambda fraction, details: None)
            seconds = time.perf_counter() - started
            predicted = [classes[k] for k in model.probabilities(test).argmax(axis=1)]
            score = official_macro_f1(gold, predicted)
            results[mode].append(score)
            extra = {k: round(v, 3) for k, v in metrics.items()
                     if k in ("strict_matched", "strict_coverage", "strict_conflicts", "soft_matched")}
            print(f"mode {mode:<10} seed {seed} epochs {epochs:>3}  F1 {score:.4f}  "
                  f"train {seconds:.0f}s  {extra}", flush=True)
    print("\nmode        mean F1   std    (seeds)")
    for mode, scores in results.items():
        print(f"{mode:<10}  {np.mean(scores):.4f}  {np.std(scores):.4f}  {options.seeds}")


if __name__ == "__main__":
    main()
