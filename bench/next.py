"""NExT on SemEval-2010 Task 8 with the 203 NExT explanations: the official score (macro F1
over the nine relation types, direction taken into account, Other excluded) on the test split
for (a) the classifier on the explained sentences alone, (b) + strictly matched sentences,
(c) NExT (+ softly matched sentences and the matching losses).

Every mode gets the same number of optimisation steps (``--steps``), so the comparison is of
what each learns from, not of how long it trains. None of the explanations is labelled Other,
so no mode learns Other from its labels; every mode predicts Other where its best relation's
probability is below a threshold chosen on a dev split held out of the TRAIN file (never the
test split). The score without that threshold is printed too.

    python bench/next.py --seeds 0 1 2 --steps 3000 --device cuda    # the full runs (GPU)
    python bench/next.py --seeds 0 1 2 --steps 1500                 # the reduced CPU run in docs/next.md
    python bench/next.py --labels-only        # only how right the strict and soft labels are (no training)
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from leanlife_next.datasets import read_explanations, read_semeval
from leanlife_next.embeddings import build_vocabulary
from leanlife_next.execute import Corpus
from leanlife_next.labeling import LabelingRule, rule_scores, vote
from leanlife_next.logic import phrases
from leanlife_next.model import NextModel
from leanlife_next.parser import ParseError, parse
from leanlife_next.soft import GLOVE, CONTEXTUAL, PhraseMatcher, build_matcher
from leanlife_next.tokens import instance_from_placeholders
from leanlife_next.training import DEFAULTS, soft_votes

MODES = ("explained", "strict", "next")
OTHER = "Other"


def relation_type(label: str) -> str:
    return label.split("(")[0]


def official_macro_f1(gold: list[str], predicted: list[str]) -> float:
    """The task's official score: per relation type, a prediction is right only with the
    right direction; precision over predictions of that type, recall over gold of that type."""
    types = sorted({relation_type(g) for g in gold} - {OTHER})
    scores = []
    for kind in types:
        correct = sum(g == p and relation_type(g) == kind for g, p in zip(gold, predicted))
        predicted_n = sum(relation_type(p) == kind for p in predicted)
        gold_n = sum(relation_type(g) == kind for g in gold)
        precision = correct / predicted_n if predicted_n else 0.0
        recall = correct / gold_n if gold_n else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return float(np.mean(scores))


def with_other(probabilities: np.ndarray, classes: list[str], threshold: float) -> list[str]:
    """The best relation, or Other where its probability is below ``threshold``."""
    relations = [k for k, name in enumerate(classes) if name != OTHER]
    best = probabilities[:, relations]
    return [classes[relations[int(row.argmax())]] if row.max() >= threshold else OTHER for row in best]


def dev_threshold(probabilities: np.ndarray, classes: list[str], gold: list[str]) -> float:
    """The Other threshold with the best official score on the dev split."""
    grid = np.round(np.arange(0.0, 1.0, 0.025), 3)
    return float(max(grid, key=lambda t: official_macro_f1(gold, with_other(probabilities, classes, t))))


class LabelReport:
    """How right the rules' labels on the pool are. The pool's gold labels are used for this
    report only, never for training."""

    def __init__(self, rules, unlabeled, gold_labels: list[str], classes: list[str]):
        self.rules, self.unlabeled, self.classes = rules, unlabeled, classes
        self.gold = np.array([classes.index(g) for g in gold_labels])
        corpus = Corpus(unlabeled)
        self.strict = vote(rules, rule_scores(rules, corpus), classes).labels
        chosen = self.strict >= 0
        print(f"strict labels on the pool: {chosen.sum()} sentences, "
              f"{(self.strict[chosen] == self.gold[chosen]).mean():.1%} right; wrong ones' gold: "
              f"{dict(self._wrong(self.strict, chosen).most_common(4))}")
        print("strict labels by class:", dict(Counter(classes[k] for k in self.strict[chosen])))

    def _wrong(self, labels: np.ndarray, chosen: np.ndarray) -> Counter:
        return Counter(self.classes[k] for k in self.gold[chosen & (labels != self.gold)])

    def soft(self, matcher: PhraseMatcher, vocabulary: dict[str, int], options: dict, title: str) -> None:
        """The soft labels of the sentences no rule matches strictly (what soft matching adds)."""
        votes = soft_votes(matcher, self.rules, Corpus(self.unlabeled, dict(vocabulary)), self.classes, options)
        labels = votes.labels
        chosen = (labels >= 0) & (self.strict < 0)
        right = labels[chosen] == self.gold[chosen]
        weights = votes.scores[chosen]
        print(f"soft labels ({title}; threshold {options['soft_threshold']}, quantile "
              f"{options['soft_quantile']}, trigram weight {options['trigram_weight']}; strictly matched "
              f"ones left out): {chosen.sum()} sentences, {right.mean() if right.size else 0:.1%} right, "
              f"{weights[right].sum() / max(weights.sum(), 1e-9):.1%} of the weight right; wrong ones' gold: "
              f"{dict(self._wrong(labels, chosen).most_common(4))}", flush=True)


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--data", type=Path, default=Path("../shared/data"))
    args.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args.add_argument("--steps", type=int, default=3000, help="optimisation steps, the same for every mode")
    args.add_argument("--soft-refresh", type=int, default=100, help="steps between soft labelings of the pool")
    args.add_argument("--alpha", type=float, default=DEFAULTS["alpha"], help="weight of the soft-labeled loss")
    args.add_argument("--soft-threshold", type=float, default=DEFAULTS["soft_threshold"],
                      help="score a soft label needs")
    args.add_argument("--soft-quantile", type=float, default=DEFAULTS["soft_quantile"],
                      help="each phrase's scores are calibrated against this quantile of its window scores (0: off)")
    args.add_argument("--trigram-weight", type=float, default=DEFAULTS["trigram_weight"],
                      help="weight of character-trigram similarity in the phrase score")
    args.add_argument("--labels-only", action="store_true",
                      help="only report how right the strict and untrained soft labels are (no training)")
    args.add_argument("--dev", type=int, default=800, help="TRAIN sentences held out to set the Other threshold")
    args.add_argument("--unlabeled", type=int, default=0, help="use only this many (0: all)")
    args.add_argument("--test", type=int, default=0, help="score only this many test sentences (0: all)")
    args.add_argument("--device", default="cpu")
    args.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args.add_argument("--classifier", default="bilstm", choices=("bilstm", "transformer"))
    args.add_argument("--learning-rate", type=float, default=None,
                      help="Adam learning rate of the classifier and, in next mode, of the soft matcher "
                           "(default: the classifier's, 1e-3 bilstm, 5e-5 transformer)")
    args.add_argument("--soft-matcher", default=GLOVE, choices=(GLOVE, CONTEXTUAL),
                      help="glove: the learned matcher (default); contextual: frozen MiniLM word states")
    args.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    options = args.parse_args()
    torch.set_num_threads(options.threads)

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
            rules.append(LabelingRule(entry.explanation, entry.label,
                                       parse(entry.explanation, instance).formula, instance))
        except ParseError:
            pass
    seen = {tuple(i.words) for i, _ in explained}
    rest = [s for s in train_sentences if tuple(instance_from_placeholders(s.sentence).words) not in seen]
    random.Random(0).shuffle(rest)  # the dev split is a fixed random draw, the same for every seed
    dev_sentences, pool_sentences = rest[:options.dev], rest[options.dev:]
    if options.unlabeled:
        pool_sentences = pool_sentences[:options.unlabeled]
    unlabeled = [instance_from_placeholders(s.sentence) for s in pool_sentences]
    dev = [instance_from_placeholders(s.sentence) for s in dev_sentences]
    test = [instance_from_placeholders(s.sentence) for s in test_sentences]
    gold = [s.label for s in test_sentences]
    print(f"explained {len(explained)}, rules {len(rules)}, unlabeled {len(unlabeled)}, dev {len(dev)}, "
          f"test {len(test)}, classifier {options.classifier}, device {options.device}, "
          f"steps {options.steps}, learning rate {options.learning_rate}, alpha {options.alpha}, "
          f"soft matcher {options.soft_matcher}, "
          f"threads {options.threads}, soft threshold {options.soft_threshold}, "
          f"quantile {options.soft_quantile}, trigram weight {options.trigram_weight}")
    print("labels among explained:", dict(Counter(e.label for e in explained_entries)))
    report = LabelReport(rules, unlabeled, [s.label for s in pool_sentences], classes)
    vocabulary, vectors = build_vocabulary([w for i in unlabeled for w in i.words] + [
        w for r in rules for p in phrases(r.formula) for w in p.words])
    soft_options = {"soft_matcher": options.soft_matcher, "soft_threshold": options.soft_threshold,
                    "soft_quantile": options.soft_quantile, "trigram_weight": options.trigram_weight}
    torch.manual_seed(0)  # the untrained matcher's attention layer is random
    report.soft(build_matcher(soft_options, vectors, rules), vocabulary, soft_options,
                f"untrained {options.soft_matcher} matcher")
    if options.labels_only:
        return

    results: dict[str, list[tuple[float, float]]] = {m: [] for m in options.modes}
    for seed in options.seeds:  # seeds outermost: a cut-short run still has every mode
        for mode in options.modes:
            config = {"task": "re", "mode": mode, "steps": options.steps, "seed": seed,
                      "soft_refresh": options.soft_refresh, "alpha": options.alpha,
                      "classifier": options.classifier, "learning_rate": options.learning_rate,
                      **soft_options}
            model = NextModel(config, classes, options.device)
            started = time.perf_counter()
            metrics = model.fit(explained, rules, unlabeled if mode != "explained" else [],
                                lambda fraction, details: None)
            seconds = time.perf_counter() - started
            dev_gold = [s.label for s in dev_sentences]
            dev_probabilities = model.probabilities(dev)
            threshold = dev_threshold(dev_probabilities, classes, dev_gold)
            dev_score = official_macro_f1(dev_gold, with_other(dev_probabilities, classes, threshold))
            probabilities = model.probabilities(test)
            score = official_macro_f1(gold, with_other(probabilities, classes, threshold))
            plain = official_macro_f1(gold, [classes[k] for k in probabilities.argmax(axis=1)])
            results[mode].append((score, plain))
            extra = {k: round(v, 3) for k, v in metrics.items()
                     if k in ("strict_matched", "strict_coverage", "strict_conflicts", "soft_matched")}
            print(f"mode {mode:<10} seed {seed} steps {options.steps}  F1 {score:.4f} "
                  f"(Other threshold {threshold:.3f} from dev; arg-max only {plain:.4f}; dev F1 {dev_score:.4f})  "
                  f"train {seconds:.0f}s  {extra}", flush=True)
            if mode == "next" and model.matcher.learned:
                report.soft(model.matcher, model.vocabulary, soft_options, f"matcher trained, seed {seed}")
    print("\nmode        mean F1   std     arg-max F1   (seeds)")
    for mode, scores in results.items():
        main_scores, plain_scores = zip(*scores)
        print(f"{mode:<10}  {np.mean(main_scores):.4f}  {np.std(main_scores):.4f}  "
              f"{np.mean(plain_scores):.4f}       {options.seeds}")


if __name__ == "__main__":
    main()
