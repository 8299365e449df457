"""A recommendation's evidence points at the text (assistance issue, item 2): every model
plugin that gives evidence is trained here on a handful of sentences (small configs, CPU)
and every prediction is checked. Each ``evidence.triggers`` item must be
``{"text", "start", "end"}`` with ``text == document_text[start:end]`` inside the document
it was predicted for: never words that do not occur there. Evidence that cites another
document (the dictionary matcher's ``example``, the annotation it copies) must match that
document's text.

A model plugin registered later must be added to ``RECIPES`` (it gives evidence) or to
``WITHOUT_EVIDENCE``; the first test fails until it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pytest

from leanlife_server.plugin_api import (
    SPAN,
    AnnotationData,
    Dataset,
    DocumentPrediction,
    Example,
    ExplanationIn,
    load_object,
)
from leanlife_server.plugins import load_plugins
from tests.test_next_model import _relation_example
from tests.test_triggerner import SMALL, synthetic_examples

# Models whose predictions carry no evidence (or only scores, e.g. ``sentence_score``).
WITHOUT_EVIDENCE = {"bilstm_crf.v1", "transformer_ner.v1", "transformer_re.v1", "transformer_sa.v1",
                    "sentence_embedding_sa.v1"}


@dataclass(frozen=True)
class Recipe:
    """How to train one model small, and what to predict with it."""

    data: Callable[[], Dataset]
    unseen: Callable[[], list[Example]]
    config: Mapping[str, Any]
    cites_words: bool  # whether its evidence names words of the text (evidence.triggers)


NER_LABELS = {"PER": "span", "LOC": "span"}
# Texts the models never saw: other names, non-ASCII letters and an emoji (offsets count
# code points), a text with nothing to find.
NER_UNSEEN = [Example(100 + i, e.text) for i, e in enumerate(synthetic_examples(10, seed=99))] + [
    Example(200, "Mr. Müller said 👍 that he arrived in Zürich ."),
    Example(201, "They arrived in Berlin early , and Mr. Smith said nothing ."),
    Example(202, "Nothing to see here"),
]


def _triggerner_data() -> Dataset:
    return Dataset("ner", NER_LABELS, "trigger", synthetic_examples(60, seed=1))


def _dictionary_data() -> Dataset:
    examples = synthetic_examples(6, seed=1)
    plain = [Example(e.document_id, e.text, tuple(AnnotationData(SPAN, a.label, start=a.start, end=a.end)
                                                  for a in e.annotations)) for e in examples]
    return Dataset("ner", NER_LABELS, "none", plain)


RE_LABELS = {"Cause-Effect(e2,e1)": "relation", "Content-Container(e1,e2)": "relation", "O": "span"}


def _next_re_data() -> Dataset:
    labeled = [_relation_example(1, "The fire was caused by the spark yesterday.", "fire", "spark",
                                 "Cause-Effect(e2,e1)", 'SUBJ and OBJ sandwich the phrase "caused by the"'),
               _relation_example(2, "A coin was put inside a box.", "coin", "box",
                                 "Content-Container(e1,e2)", 'SUBJ and OBJ sandwich the phrase "put inside a"')]
    return Dataset("re", RE_LABELS, "natural_language", labeled, _next_re_unseen())


def _next_re_unseen() -> list[Example]:
    return [_relation_example(3, "The flood was caused by the rain, Caused by the storm.", "flood", "rain"),
            _relation_example(4, "The key was put inside a drawer.", "key", "drawer"),
            _relation_example(5, "Ça: the café was put inside a gare.", "café", "gare")]


SA_LABELS = {"pos": "document", "neg": "document"}
SA_REVIEWS = [("a great film with a great cast", "pos", 'The word "great" appears in the sentence'),
              ("boring and far too long", "neg", 'The word "boring" appears in the sentence'),
              ("great fun from start to end", "pos", 'The word "great" appears in the sentence'),
              ("a boring plot , boring actors", "neg", 'The word "boring" appears in the sentence')]


def _next_sa_data() -> Dataset:
    labeled = [Example(i, text, (AnnotationData("document", label, explanations=(
        ExplanationIn("natural_language", text=because),)),)) for i, (text, label, because) in enumerate(SA_REVIEWS)]
    return Dataset("sa", SA_LABELS, "natural_language", labeled, _next_sa_unseen())


def _next_sa_unseen() -> list[Example]:
    return [Example(10, "A GREAT cast, and great music."), Example(11, "So boring… Boring!"),
            Example(12, "nothing to say")]


ABSA_LABELS = {"FOOD": "span", "SERVICE": "span"}
ABSA_REVIEWS = [("Delicious pasta tonight.", "pasta", "FOOD", "positive"),
                ("Awful pasta again.", "pasta", "FOOD", "negative"),
                ("Rude staff, delicious pasta.", "staff", "SERVICE", "negative")]


def _absa_data() -> Dataset:
    """The example task plugin's (examples/plugins/leanlife-absa): aspect terms with a polarity."""
    labeled = []
    for i, (text, term, label, polarity) in enumerate(ABSA_REVIEWS):
        start = text.index(term)
        labeled.append(Example(i + 1, text, (AnnotationData(SPAN, label, start=start, end=start + len(term),
                                                            attributes={"polarity": polarity}),)))
    return Dataset("absa", ABSA_LABELS, "none", labeled)


def _absa_unseen() -> list[Example]:
    return [Example(20, "The PASTA was awful; the staff 👍 was delicious."), Example(21, "Nothing here")]


RECIPES: dict[str, list[Recipe]] = {
    "absa.lexicon.v1": [Recipe(_absa_data, _absa_unseen, {}, True)],
    "triggerner.v1": [Recipe(_triggerner_data, lambda: NER_UNSEEN, {**SMALL, "epochs": 10}, True)],
    "next.v1": [Recipe(_next_re_data, _next_re_unseen, {"epochs": 3}, True),
                Recipe(_next_sa_data, _next_sa_unseen, {"epochs": 3}, True)],
    "dictionary.v1": [Recipe(_dictionary_data, lambda: NER_UNSEEN, {}, False)],
    "next_rules.v1": [Recipe(_next_re_data, _next_re_unseen, {}, True)],
}
CASES = [(name, i) for name, recipes in RECIPES.items() for i in range(len(recipes))]


def test_every_model_plugin_is_checked_or_known_to_give_no_evidence():
    registered = {m.name for m in load_plugins().models}
    assert registered - set(RECIPES) - WITHOUT_EVIDENCE == set(), \
        "a new model plugin: add it to RECIPES (it gives evidence) or to WITHOUT_EVIDENCE"


def check_points_at_text(prediction: DocumentPrediction, example: Example,
                         training: Mapping[int | None, Example]) -> int:
    """Assert every cited word lies in ``example``'s text; the number of words cited."""
    assert prediction.document_id == example.document_id
    cited = 0
    for annotation in prediction.annotations:
        triggers = annotation.evidence.get("triggers", [])
        assert isinstance(triggers, list)
        for trigger in triggers:
            assert {"text", "start", "end"} <= set(trigger), trigger
            assert 0 <= trigger["start"] < trigger["end"] <= len(example.text), (trigger, example.text)
            assert example.text[trigger["start"]:trigger["end"]] == trigger["text"], (trigger, example.text)
            cited += 1
        copied = annotation.evidence.get("example")
        if copied is not None:  # an annotated example from the training data, at its offsets
            source = training[copied["document_id"]]
            assert source.text[copied["start"]:copied["end"]] == copied["text"], (copied, source.text)
    return cited


@pytest.mark.parametrize("name,index", CASES, ids=[f"{n}-{i}" for n, i in CASES])
def test_evidence_names_only_words_of_the_document(name, index):
    recipe = RECIPES[name][index]
    plugins = load_plugins()
    definition = plugins.models.get(name)
    data = recipe.data()
    model = load_object(definition.factory)({**definition.default_config, **recipe.config}, data.labels, "cpu")
    model.train(data, lambda fraction, details: None)
    unseen = recipe.unseen()
    # Predictions for the unseen texts and for the training texts (where a model is surest),
    # these with only their input annotations (RE's entities), as the server passes them.
    inputs = plugins.tasks.get(data.task).input_kinds
    examples = unseen + [Example(e.document_id, e.text, tuple(a for a in e.annotations if a.kind in inputs))
                         for e in data.labeled]
    predictions = model.predict(examples)
    assert len(predictions) == len(examples)
    training = {e.document_id: e for e in data.labeled}
    cited = sum(check_points_at_text(p, e, training) for p, e in zip(predictions, examples))
    annotations = sum(len(p.annotations) for p in predictions)
    assert annotations, f"{name} predicted nothing: the check above checked nothing"
    if recipe.cites_words:
        assert cited >= annotations // 2, f"{name} cited {cited} words for {annotations} annotations"
