"""NExT's soft matching and model on a small CPU slice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from leanlife_next.embeddings import build_vocabulary
from leanlife_next.execute import Corpus, Executor, soft_tolerance
from leanlife_next.labeling import LabelingRule, rule_scores, vote
from leanlife_next.logic import phrases
from leanlife_next.model import NextModel
from leanlife_next.parser import parse
from leanlife_next.soft import SoftMatcher, SoftPhraseScorer
from leanlife_next.tokens import instance_from_placeholders
from leanlife_server.plugin_api import AnnotationData, Dataset, Example, ExplanationIn


EXPLAINED = [
    ("the SUBJ-O was caused by the OBJ-O yesterday",
     'SUBJ and OBJ sandwich the phrase "caused by the"', "Cause-Effect(e2,e1)"),
    ("a SUBJ-O was put inside a OBJ-O .",
     'SUBJ and OBJ sandwich the phrase "put inside a"', "Content-Container(e1,e2)"),
]
# Unlabeled sentences that say the same with other words: strict matching misses them.
PARAPHRASES = [
    ("the SUBJ-O was triggered by the OBJ-O last week", 0),
    ("this SUBJ-O is produced by the OBJ-O .", 0),
    ("my SUBJ-O was placed inside a OBJ-O .", 1),
    ("the SUBJ-O was put within a OBJ-O today", 1),
]
STRICT = [("her SUBJ-O was caused by the OBJ-O .", 0), ("his SUBJ-O was put inside a OBJ-O", 1)]


def _rules():
    classes = sorted({label for _, _, label in EXPLAINED})
    rules = [LabelingRule(e, label, parse(e, instance_from_placeholders(s)).formula)
             for s, e, label in EXPLAINED]
    return classes, rules


def test_soft_matching_labels_paraphrases_that_strict_matching_misses():
    classes, rules = _rules()
    sentences = [s for s, _ in STRICT + PARAPHRASES]
    gold = np.array([y for _, y in STRICT + PARAPHRASES])
    instances = [instance_from_placeholders(s) for s in sentences]
    vocabulary, vectors = build_vocabulary(
        [w for i in instances for w in i.words] + [w for r in rules for p in phrases(r.formula) for w in p.words])
    corpus = Corpus(instances, dict(vocabulary))
    strict = vote(rules, rule_scores(rules, corpus), classes)
    scorer = SoftPhraseScorer(SoftMatcher(vectors), corpus, {p for r in rules for p in phrases(r.formula)})
    soft = vote(rules, rule_scores(rules, corpus, Executor(scorer, soft_tolerance)), classes)
    strict_right = int((strict.labels == gold).sum())
    soft_right = int((soft.labels == gold).sum())
    assert strict_right == len(STRICT)  # exact matches only
    assert soft_right > strict_right, (strict.labels, soft.labels)
    assert ((soft.labels >= 0) & (soft.labels != gold)).sum() <= 1


def _relation_example(doc_id, text, subject, obj, label=None, explanation=None):
    spans = (AnnotationData("span", "O", start=text.index(subject), end=text.index(subject) + len(subject), id=1),
             AnnotationData("span", "O", start=text.index(obj), end=text.index(obj) + len(obj), id=2))
    if label is None:
        return Example(doc_id, text, spans)
    relation = AnnotationData("relation", label, subject_id=1, object_id=2,
                              explanations=(ExplanationIn("natural_language", text=explanation),))
    return Example(doc_id, text, spans + (relation,))


def test_train_predict_with_fired_explanations_and_reload_in_a_fresh_process(tmp_path):
    labeled = [_relation_example(1, "The fire was caused by the spark yesterday.", "fire", "spark",
                                 "Cause-Effect(e2,e1)", 'SUBJ and OBJ sandwich the phrase "caused by the"'),
               _relation_example(2, "A coin was put inside a box.", "coin", "box",
                                 "Content-Container(e1,e2)", 'SUBJ and OBJ sandwich the phrase "put inside a"')]
    unlabeled = [_relation_example(3, "The flood was caused by the rain.", "flood", "rain"),
                 _relation_example(4, "The key was put inside a drawer.", "key", "drawer")]
    labels = {"Cause-Effect(e2,e1)": "relation", "Content-Container(e1,e2)": "relation", "O": "span"}
    model = NextModel({"epochs": 3}, labels)
    metrics = model.train(Dataset("re", labels, "natural_language", labeled, unlabeled), lambda f, d: None)
    assert metrics["rules"] == 2 and metrics["strict_matched"] >= 2
    predictions = model.predict(unlabeled)
    first = predictions[0].annotations[0]
    assert first.kind == "relation" and first.subject_id == 1 and first.object_id == 2
    assert 0 < first.confidence <= 1
    if first.label == "Cause-Effect(e2,e1)":
        assert first.evidence["explanations"] == ['SUBJ and OBJ sandwich the phrase "caused by the"']
    model.save(tmp_path / "model")
    script = (
        "import json, sys\n"
        "from leanlife_next.model import NextModel\n"
        "from tests.test_next_model import _relation_example\n"
        f"model = NextModel.load({str(tmp_path / 'model')!r})\n"
        "docs = [_relation_example(3, 'The flood was caused by the rain.', 'flood', 'rain'),\n"
        "        _relation_example(4, 'The key was put inside a drawer.', 'key', 'drawer')]\n"
        "print(json.dumps([list(p.probabilities) for p in model.predict(docs)]))\n")
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root, check=True)
    reloaded = json.loads(out.stdout.strip().splitlines()[-1])
    expected = [list(p.probabilities) for p in predictions]
    assert np.allclose(np.array(reloaded, dtype=float), np.array(expected, dtype=float), atol=1e-6)


def test_every_mode_trains_for_the_same_fixed_number_of_steps():
    classes, rules = _rules()
    explained = [(instance_from_placeholders(s), classes.index(label)) for s, _, label in EXPLAINED]
    unlabeled = [instance_from_placeholders(s) for s, _ in STRICT + PARAPHRASES]
    seen = []
    for mode in ("explained", "strict", "next"):
        model = NextModel({"task": "re", "mode": mode, "steps": 7, "soft_refresh": 3, "batch_size": 2}, classes)
        calls = []
        metrics = model.fit(explained, rules, unlabeled, lambda fraction, details: calls.append(details["step"]))
        seen.append((mode, metrics["steps"], calls))
    # Progress is reported at each soft refresh and at the end, whatever the data size.
    assert seen == [(mode, 7, [3, 6, 7]) for mode in ("explained", "strict", "next")]
