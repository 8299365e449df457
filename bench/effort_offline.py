"""An offline replica of ``bench/effort.py --task ner``: the dictionary matcher and the queue
replayed in-process, in seconds, to compare queue rules on a dev split before a live run.

It follows what the server does for a project whose only recommender is ``dictionary.v1``:
documents get ids in the seed's shuffled order; after each document with entities the
dictionary is trained on the labeled documents less the held-out share (from 10 labeled
documents on; ``--no-refit``) or, as the server now does for cheap models, refit on all of
them; it predicts every unlabeled document, a queue rule scores them, and the next document
is the best scored (ties: the lowest id). The accounting is ``bench/effort.py``'s. On the
first 200 training sentences, seed 0, it gave the live run's figures exactly (actions/label
2.02, first correct after 6, shown precision 0.89, recall 0.52).

    python bench/effort_offline.py --split dev --documents 200 --seeds 3
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path
from typing import Callable, Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.effort import DEFAULT_DATA, Item, Run, TaskData, load_task, step_of  # noqa: E402

Rule = Callable[[Sequence], float]  # a document's dictionary suggestions -> its queue score
RULES: dict[str, Rule] = {
    "import order (before)": lambda suggestions: 0.0,
    "suggestion count": lambda suggestions: float(len(suggestions)),
    "any suggestion": lambda suggestions: float(bool(suggestions)),
    "sum of confidences (with_cold_start)": lambda suggestions: sum(a.confidence for a in suggestions),
}


def load(split: str, data: Path, documents: int) -> TaskData:
    if split == "train":
        return load_task("ner", data, documents)
    from leanlife_triggerner.conll import read_columns, to_example

    examples = [to_example(t, g) for t, g in read_columns(data / "conll2003" / f"{split}.txt")]
    examples = [e for e in examples if e.text][:documents]
    return TaskData("ner", tuple((name, "span") for name in ("PER", "LOC", "ORG", "MISC")),
                    [e.text for e in examples],
                    [[Item("span", a.label, a.start, a.end) for a in e.annotations] for e in examples])


def replay(task: TaskData, seed: int, rule: Rule, refit: bool = True) -> Run:
    from leanlife_dictionary.model import build_matcher
    from leanlife_server.pipeline.dataset import MIN_LABELED_FOR_HELDOUT, _held_out
    from leanlife_server.plugin_api import SPAN, AnnotationData, Dataset, Example

    order = list(range(len(task.texts)))
    random.Random(seed).shuffle(order)
    ids = {j: n + 1 for n, j in enumerate(order)}
    labels = dict(task.labels)
    remaining, done, run, saved = list(order), [], Run(), 0
    scores: dict[int, float] = {j: 0.0 for j in remaining}
    suggested: dict[int, list] = {}
    while remaining:
        j = max(remaining, key=lambda k: (scores[k], -ids[k]))
        remaining.remove(j)
        offered = [(Item("span", a.label, a.start, a.end), a.confidence) for a in suggested.get(j, [])]
        run.steps.append(step_of(saved, task.gold[j], offered))
        saved += len(set(task.gold[j]))
        done.append(j)
        if not task.gold[j]:
            continue  # nothing saved, nothing retrained
        labeled = [Example(ids[d], task.texts[d], tuple(AnnotationData(SPAN, i.label, i.start, i.end)
                                                       for i in task.gold[d])) for d in done if task.gold[d]]
        if not refit and len(labeled) >= MIN_LABELED_FOR_HELDOUT:
            labeled = [e for e in labeled if not _held_out(e.document_id)] or labeled
        model = build_matcher({}, labels)
        model.train(Dataset("ner", labels, "none", labeled), lambda *_: None)
        predictions = model.predict([Example(ids[r], task.texts[r]) for r in remaining])
        suggested = {r: list(p.annotations) for r, p in zip(remaining, predictions)}
        scores = {r: rule(suggested[r]) for r in remaining}
    return run


def perfect_dictionary(task: TaskData) -> float:
    """Actions per gold label of a dictionary that suggests every repeat of an annotated text
    (normalised as ``dictionary.v1`` does) with its label and nothing else, whatever the order:
    each distinct (text, label) is created once (3 actions), every repeat accepted (1)."""
    from leanlife_dictionary.normalize import key

    seen, actions, labels = set(), 0, 0
    for text, gold in zip(task.texts, task.gold):
        for item in gold:
            entry = (key(text[item.start:item.end]), item.label)
            actions += 1 if entry in seen else 3
            seen.add(entry)
            labels += 1
    return actions / max(1, labels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("train", "dev", "test"), default="dev")
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    task = load(args.split, args.data, args.documents)
    print(f"CoNLL-2003 {args.split}, first {len(task.texts)} sentences, seeds 0..{args.seeds - 1}\n")
    print("| queue rule | dictionary trained on | actions/label | first correct after (per seed) | "
          "shown precision | shown recall |\n|---|---|---|---|---|---|")
    for name, rule in RULES.items():
        for refit in (False, True):
            runs = [replay(task, seed, rule, refit) for seed in range(args.seeds)]
            mean = lambda values: sum(values) / len(values)  # noqa: E731
            print(f"| {name} | {'all labeled' if refit else 'less held-out'} | "
                  f"{mean([r.actions_per_label() for r in runs]):.3f} | "
                  f"{', '.join(str(r.first_correct_after()) for r in runs)} | "
                  f"{mean([r.precision() or 0.0 for r in runs]):.2f} | {mean([r.recall() for r in runs]):.2f} |")
    bound = perfect_dictionary(task)
    print(f"\na perfect dictionary (every repeat suggested, nothing wrong): {bound:.2f} actions/label, "
          f"{bound / 3:.2f} of unassisted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
