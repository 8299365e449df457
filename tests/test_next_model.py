"""NExT's soft matching and model on a small CPU slice."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from leanlife_next.classifier import BILSTM, TRANSFORMER, learning_rate
from leanlife_next.embeddings import build_vocabulary
from leanlife_next.execute import Corpus
from leanlife_next.labeling import LabelingRule, phrase_occurrences, rule_scores, vote
from leanlife_next.logic import AFTER, And, Arg, Between, Near, Not, Occurs, Or, Phrase, Sentence, phrases
from leanlife_next.model import NextModel
from leanlife_next.parser import parse
from leanlife_next.soft import CONTEXTUAL, GLOVE, build_matcher
from leanlife_next.tokens import OBJ, SUBJ, instance_from_placeholders, instance_from_text
from leanlife_next.training import soft_votes
from leanlife_next.witnesses import witnesses
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
    rules = []
    for sentence, explanation, label in EXPLAINED:
        source = instance_from_placeholders(sentence)
        rules.append(LabelingRule(explanation, label, parse(explanation, source).formula, source))
    return classes, rules


# Unlabeled sentences that express neither relation: a calibrated matcher must leave them out.
FILLERS = ["is near the", "and the", "sat next to a", "was seen with the", "or a", "is bigger than the",
           "looked at the", "is not a", "went to the", "and then a", "was found beside the", "is older than my"]
BACKGROUND = [f"{det} SUBJ-O {filler} OBJ-O {end}" for det, filler, end
              in itertools.product(("the", "a", "my", "his", "this"), FILLERS, (".", "today", "again"))]


def _soft_and_strict(options, matcher_kind=GLOVE):
    classes, rules = _rules()
    sentences = [s for s, _ in STRICT + PARAPHRASES] + BACKGROUND
    gold = np.array([y for _, y in STRICT + PARAPHRASES] + [-1] * len(BACKGROUND))
    instances = [instance_from_placeholders(s) for s in sentences]
    vocabulary, vectors = build_vocabulary(
        [w for i in instances for w in i.words] + [w for r in rules for p in phrases(r.formula) for w in p.words])
    corpus = Corpus(instances, dict(vocabulary))
    strict = vote(rules, rule_scores(rules, corpus), classes)
    matcher = build_matcher({"soft_matcher": matcher_kind}, vectors, rules)
    soft = soft_votes(matcher, rules, corpus, classes, options)  # training's scorer
    return gold, strict.labels, soft.labels


@pytest.mark.parametrize("matcher_kind", [GLOVE, CONTEXTUAL])
def test_soft_matching_labels_paraphrases_that_strict_matching_misses(matcher_kind):
    gold, strict, soft = _soft_and_strict({}, matcher_kind)  # the training defaults
    strict_right = int((strict == gold).sum())
    soft_right = int(((soft == gold) & (gold >= 0)).sum())
    assert strict_right == len(STRICT) + len(BACKGROUND)  # exact matches only, background left out
    assert soft_right > len(STRICT), soft[:len(STRICT) + len(PARAPHRASES)]
    assert ((soft >= 0) & (soft != gold)).sum() <= 1  # hardly any wrong label, background included


def test_uncalibrated_soft_matching_labels_the_background():
    """Why scores are calibrated per phrase: raw similarities label most unrelated sentences."""
    gold, _, soft = _soft_and_strict({"soft_quantile": 0.0, "trigram_weight": 0.0})
    assert (soft[gold < 0] >= 0).mean() > 0.5


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
        start = unlabeled[0].text.index("caused by the")
        assert first.evidence["triggers"] == [{"text": "caused by the", "start": start, "end": start + 13}]
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


def test_learning_rate_defaults_to_the_classifiers_own_unless_configured():
    # Fine-tuning MiniLM at the BiLSTM's 1e-3 lost 0.22 dev F1 (docs/next.md).
    assert learning_rate({"classifier": BILSTM, "learning_rate": None}) == 1e-3
    assert learning_rate({"classifier": TRANSFORMER, "learning_rate": None}) == 5e-5
    assert learning_rate({}) == 1e-3
    assert learning_rate({"classifier": TRANSFORMER, "learning_rate": 0.01}) == 0.01


def test_find_examples_look_for_each_phrase_in_its_own_rules_sentence():
    """An annotation may carry several explanations or one that does not parse, so rules are not
    one per explained sentence: each rule remembers its own."""
    classes, (cause, container) = _rules()
    second = 'the phrase "was caused" occurs between SUBJ and OBJ'
    source = cause.source
    rules = [container, LabelingRule(second, cause.label, parse(second, source).formula, source), cause]
    corpus, occurrences = phrase_occurrences(rules)
    assert corpus.instances == [r.source for r in rules]
    found = {(tuple(p.words), row, start) for p, row, start in occurrences}
    assert found == {(("put", "inside", "a"), 0, 3), (("was", "caused"), 1, 2), (("caused", "by", "the"), 2, 3)}


def test_the_contextual_matcher_is_frozen_and_soft_labels_once(monkeypatch):
    from leanlife_next.contextual import ContextualMatcher

    classes, rules = _rules()
    explained = [(r.source, classes.index(r.label)) for r in rules]
    unlabeled = [instance_from_placeholders(s) for s, _ in PARAPHRASES] + [
        instance_from_placeholders(s) for s in BACKGROUND[:20]]
    calls = []
    scores = ContextualMatcher.raw_scores
    monkeypatch.setattr(ContextualMatcher, "raw_scores",
                        lambda self, *args: calls.append(1) or scores(self, *args))
    model = NextModel({"task": "re", "mode": "next", "steps": 7, "soft_refresh": 3, "batch_size": 2,
                       "soft_matcher": CONTEXTUAL}, classes)
    metrics = model.fit(explained, rules, unlabeled, lambda fraction, details: None)
    assert model.matcher.learned is False and metrics["steps"] == 7
    assert len(calls) == 1  # at step 0 only, not again at steps 3 and 6


def test_an_unknown_soft_matcher_is_named():
    with pytest.raises(ValueError, match="config.soft_matcher: unknown matcher 'bert'"):
        build_matcher({"soft_matcher": "bert"}, np.zeros((2, 50), np.float32), [])


def test_evidence_cites_the_words_through_which_a_rule_holds():
    text = "The fire was caused by the spark, not by the rain."
    instance = instance_from_text(text, {SUBJ: (4, 8, "O"), OBJ: (27, 32, "O")})
    corpus = Corpus([instance])

    def cited(formula):
        return [text[instance.offsets[a][0]:instance.offsets[b - 1][1]] for a, b in witnesses(formula, corpus)[0]]

    between = Between(Arg(SUBJ), Arg(OBJ))
    assert cited(parse('SUBJ and OBJ sandwich the phrase "caused by the"', instance).formula) == ["caused by the"]
    # Only the occurrence in the rule's region: not "The" before SUBJ, nor "the" after OBJ.
    assert cited(Occurs(Phrase(("the",)), between)) == ["the"]
    # Of an OR, the part that holds; a negated part holds without any word being the reason.
    assert cited(Or((Occurs(Phrase(("flood",)), Sentence()), Occurs(Phrase(("rain",)), Near(AFTER, Arg(OBJ)))))) \
        == ["rain"]
    assert cited(And((Occurs(Phrase(("caused",)), between), Not(Occurs(Phrase(("flood",)), Sentence()))))) \
        == ["caused"]
    assert cited(Occurs(Phrase(("flood",)), Sentence())) == [], "a rule that does not hold cites nothing"
