"""Training NExT (torch): the classifier learns from the explained sentences, the sentences
the rules label strictly, and the sentences they match softly, each weighted by its matching
score, while the soft matcher learns to find the explained phrases. The combined objective is
the paper's: ``L = L_labeled + alpha * L_soft + beta * L_sim + gamma * L_find``. Soft scores
are blended with character-trigram similarity (``trigram_weight``) and calibrated per phrase
(``soft_quantile``), see :mod:`leanlife_next.soft`.

Modes (config ``mode``): ``explained`` uses the explained sentences only, ``strict`` adds the
strictly matched ones, ``next`` (default) adds soft matching.

Budget: config ``steps`` fixes the number of optimisation steps, whatever the mode, so that
modes with more data do not also get more updates; without it, ``epochs`` passes over the
labeled set (explained + strictly matched) are made. The unlabeled pool is soft-labeled
again every ``soft_refresh`` steps (the matcher keeps learning in between), not at every step.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from leanlife_next.classifier import learning_rate
from leanlife_next.execute import Corpus, Executor, soft_tolerance
from leanlife_next.labeling import LabelingRule, Votes, phrase_occurrences, rule_scores, vote
from leanlife_next.logic import phrases
from leanlife_next.soft import PhraseMatcher, SoftPhraseScorer
from leanlife_next.tokens import Instance
from leanlife_next.trigrams import TrigramMatcher

EXPLAINED, STRICT, NEXT = "explained", "strict", "next"
DEFAULTS = {"mode": NEXT, "epochs": 10, "steps": 0, "batch_size": 32, "learning_rate": None,
            "alpha": 0.5, "beta": 0.1, "gamma": 0.1, "soft_threshold": 0.5, "soft_refresh": 50,
            "soft_quantile": 0.99, "trigram_weight": 0.5, "seed": 0}


@dataclass
class TrainingSet:
    explained: Sequence[tuple[Instance, int]]
    rules: Sequence[LabelingRule]
    unlabeled: Sequence[Instance]
    classes: Sequence[str]


def _weighted_loss(classifier: nn.Module, instances: Sequence[Instance], targets: Sequence[int],
                   weights: Sequence[float], device: str) -> torch.Tensor:
    logits = classifier(**classifier.batch(instances, device))
    losses = F.cross_entropy(logits, torch.tensor(list(targets), device=device), reduction="none")
    return (losses * torch.tensor(list(weights), device=device, dtype=torch.float32)).mean()


def _batches(items: list, size: int):
    """Endless batches of ``size`` drawn in reshuffled passes over ``items``."""
    while True:
        random.shuffle(items)
        for start in range(0, len(items), size):
            yield items[start:start + size]


def soft_votes(matcher: PhraseMatcher, rules: Sequence[LabelingRule], corpus: Corpus,
               classes: Sequence[str], options: Mapping[str, Any],
               trigrams: TrigramMatcher | None = None) -> Votes:
    """The rules' soft votes on ``corpus`` with the scorer settings in ``options`` (what
    training uses, and what the benchmark checks against gold)."""
    options = {**DEFAULTS, **options}
    weight = float(options["trigram_weight"])
    if weight > 0 and trigrams is None:
        trigrams = TrigramMatcher(corpus)
    matcher.eval()
    scorer = SoftPhraseScorer(matcher, corpus, {p for r in rules for p in phrases(r.formula)},
                              float(options["soft_quantile"]), trigrams, weight)
    return vote(rules, rule_scores(rules, corpus, Executor(scorer, soft_tolerance)), classes,
                float(options["soft_threshold"]))


def _soft_labels(matcher: PhraseMatcher, training: TrainingSet, corpus: Corpus,
                 options: Mapping[str, Any], trigrams: TrigramMatcher | None) -> list[tuple[Instance, int, float]]:
    """The pool sentences the rules match softly, with their label and matching score."""
    votes = soft_votes(matcher, training.rules, corpus, training.classes, options, trigrams)
    return [(corpus.instances[n], int(votes.labels[n]), float(votes.scores[n]))
            for n in np.flatnonzero(votes.labels >= 0)]


def train(classifier: nn.Module, matcher: PhraseMatcher, training: TrainingSet,
          vocabulary: dict[str, int], config: Mapping[str, Any], device: str,
          progress) -> dict[str, float]:
    options = {**DEFAULTS, **config}
    random.seed(options["seed"])
    torch.manual_seed(options["seed"])
    started = time.perf_counter()
    classes = list(training.classes)
    mode = options["mode"]
    unlabeled = Corpus(training.unlabeled, dict(vocabulary))
    # Where the matcher learns to find each phrase: in the sentence its explanation was given for.
    sources, occurrences = phrase_occurrences(training.rules, dict(vocabulary))

    labeled = [(i, y, 1.0) for i, y in training.explained]
    metrics: dict[str, float] = {"explained": len(labeled)}
    pool = np.arange(len(unlabeled))
    if mode in (STRICT, NEXT) and training.rules:
        votes = vote(training.rules, rule_scores(training.rules, unlabeled), classes)
        strict = np.flatnonzero(votes.labels >= 0)
        labeled += [(unlabeled.instances[n], int(votes.labels[n]), 1.0) for n in strict]
        pool = np.flatnonzero(votes.labels < 0)
        metrics.update({"strict_matched": len(strict), "strict_coverage": votes.coverage,
                        "strict_conflicts": votes.conflicts})
    soft_corpus = Corpus([unlabeled.instances[n] for n in pool], unlabeled.vocab)
    soft_on = mode == NEXT and bool(training.rules) and len(soft_corpus) > 0
    # The trigram index does not change during training: built once, and only when used.
    trigrams = TrigramMatcher(soft_corpus) if soft_on and float(options["trigram_weight"]) > 0 else None
    learns_matching = mode == NEXT and matcher.learned
    find = occurrences if learns_matching else []
    all_phrases = sorted({p for r in training.rules for p in phrases(r.formula)},
                         key=lambda p: p.words)

    classifier.to(device)
    matcher.to("cpu")  # soft labeling runs over numpy arrays
    parameters = list(classifier.parameters()) + (list(matcher.parameters()) if learns_matching else [])
    optimizer = torch.optim.Adam([p for p in parameters if p.requires_grad],
                                 lr=learning_rate(options))
    size = int(options["batch_size"])
    steps = int(options["steps"]) or int(options["epochs"]) * math.ceil(len(labeled) / size)
    refresh = max(int(options["soft_refresh"]), 1)
    labeled_batches = _batches(labeled, size)
    soft: list[tuple[Instance, int, float]] = []
    soft_batches = None
    total = 0.0
    for step in range(steps):
        # A frozen matcher's soft labels never change: computed once.
        if soft_on and step % refresh == 0 and (matcher.learned or step == 0):
            soft = _soft_labels(matcher, training, soft_corpus, options, trigrams)
            soft_batches = _batches(soft, size) if soft else None
            metrics["soft_matched"] = len(soft)
        classifier.train()
        matcher.train()
        batch = next(labeled_batches)
        loss = _weighted_loss(classifier, [b[0] for b in batch], [b[1] for b in batch],
                              [b[2] for b in batch], device)
        if soft_batches is not None:
            part = next(soft_batches)
            loss = loss + options["alpha"] * _weighted_loss(
                classifier, [b[0] for b in part], [b[1] for b in part], [b[2] for b in part], device)
        if find:
            sample = random.sample(find, min(8, len(find)))
            loss = loss + options["gamma"] * torch.stack([
                matcher.find_loss(p, sources, np.array([r]), np.array([s]))
                for p, r, s in sample]).mean()
            loss = loss + options["beta"] * matcher.sim_loss(
                random.sample(all_phrases, min(16, len(all_phrases))), sources)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(parameters, 5.0)
        optimizer.step()
        total += loss.item()
        if (step + 1) % refresh == 0 or step + 1 == steps:
            metrics["loss"] = total / ((step % refresh) + 1)
            progress((step + 1) / steps, {"step": step + 1, "loss": metrics["loss"]})
            total = 0.0
    metrics["steps"] = steps
    metrics["training_seconds"] = time.perf_counter() - started
    return metrics
