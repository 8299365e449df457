"""The dictionary recommender's matching rules: normalisation, word boundaries, longest match
first among overlapping candidates, Unicode, confidences, evidence, and a JSON-only save."""

from __future__ import annotations

import json

from leanlife_dictionary.model import DictionaryMatcher, build_matcher
from leanlife_dictionary.normalize import key, normalize
from leanlife_server.extract import write_version, load
from leanlife_server.plugin_api import SPAN, AnnotationData, Dataset, Example
from leanlife_server.plugins import load_plugins

LABELS = {"PER": SPAN, "LOC": SPAN, "ORG": SPAN}


def entity(text: str, surface: str, label: str, occurrence: int = 0) -> AnnotationData:
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(surface, start + 1)
    return AnnotationData(SPAN, label, start=start, end=start + len(surface))


def trained(*documents: tuple[str, list[tuple[str, str]]], **config) -> DictionaryMatcher:
    """A matcher trained on documents given as (text, [(surface, label), ...])."""
    examples = [Example(i + 1, text, tuple(entity(text, surface, label) for surface, label in spans))
                for i, (text, spans) in enumerate(documents)]
    model = build_matcher(config, LABELS)
    model.train(Dataset("ner", LABELS, "none", examples), lambda fraction, details: None)
    return model


def found(model: DictionaryMatcher, text: str) -> list[tuple[str, str]]:
    [prediction] = model.predict([Example(None, text)])
    return [(text[a.start:a.end], a.label) for a in prediction.annotations]


def test_case_and_whitespace_are_normalised_and_offsets_point_into_the_original_text():
    model = trained(("Barack Obama spoke.", [("Barack Obama", "PER")]))
    text = "Then BARACK \n\t  obama left."
    assert found(model, text) == [("BARACK \n\t  obama", "PER")]


def test_only_whole_words_match():
    model = trained(("We met Ann there.", [("Ann", "PER")]))
    assert found(model, "Annual report by Ann, for Joann and ANN_X (Ann).") == [("Ann", "PER"), ("Ann", "PER")]


def test_an_entity_ending_in_punctuation_needs_no_boundary_after_it():
    model = trained(("He saw the U.S. team.", [("U.S.", "LOC")]))
    # As regular expressions' \b: a boundary is needed only where the entity's edge is a
    # word character, so "U.S." ends anywhere but may not start inside a word.
    assert found(model, "U.S.-made, not MU.S. and U.S.A") == [("U.S.", "LOC"), ("U.S.", "LOC")]


def test_longest_match_first_among_nested_and_overlapping_candidates():
    model = trained(("New York is big. York City was not. The New York Times wrote.",
                     [("New York", "LOC"), ("York City", "LOC"), ("New York Times", "ORG")]))
    # Nested: the longer entity wins over the one inside it.
    assert found(model, "I read the new york times daily.") == [("new york times", "ORG")]
    # Overlapping, not nested: "York City" (9 characters) beats "New York" (8).
    assert found(model, "Welcome to New York City.") == [("York City", "LOC")]
    # Separate occurrences all come back, in text order.
    assert found(model, "New York, then York City.") == [("New York", "LOC"), ("York City", "LOC")]


def test_a_longer_candidate_that_breaks_a_word_gives_way_to_a_shorter_one():
    model = trained(("Bank of Ohio and Bank of Ohioans.", [("Bank", "ORG"), ("Bank of Ohio", "ORG")]))
    assert found(model, "the Bank of Ohioans club") == [("Bank", "ORG")]


def test_unicode_case_folding_compatibility_forms_and_combining_marks():
    model = trained(("Straße in Köln, by José.", [("Straße", "LOC"), ("Köln", "LOC"), ("José", "PER")]))
    decomposed = "Jose\u0301"  # e + COMBINING ACUTE ACCENT
    text = f"STRASSE und KÖLN mit {decomposed}, nicht Josef, nicht Jose."
    assert found(model, text) == [("STRASSE", "LOC"), ("KÖLN", "LOC"), (decomposed, "PER")]
    # A match never splits a letter from its combining mark: "Jose" is not José.
    plain = trained(("Jose came.", [("Jose", "PER")]))
    assert found(plain, f"{decomposed} came.") == []
    assert found(trained(("The ﬁnance team.", [("ﬁnance", "ORG")])), "FINANCE") == [("FINANCE", "ORG")]


def test_scripts_without_spaces_match_without_word_boundaries():
    model = trained(("東京に行きました。", [("東京", "LOC")]))
    assert found(model, "私は東京タワーを見た") == [("東京", "LOC")]


def test_normalised_offsets_map_back_to_clusters():
    normalized = normalize("a  ß\u0301 b")
    assert normalized.text == "a s\u015b b"  # "ß" folds to "ss", whose second s takes the mark
    assert normalized.original_span(2, 4) == (3, 5)  # "ß" with its mark
    assert normalized.original_span(2, 3) is None  # half of "sś" cuts the cluster
    assert normalized.original_span(0, 2) == (0, 3)  # a whitespace run is one space
    assert key("  Hello \n World ") == "hello world"


def test_confidence_follows_how_often_the_text_was_annotated_when_seen():
    # "May" is annotated once and left alone four times: it is seldom a name.
    model = trained(("May said hi.", [("May", "PER")]), ("In May we left.", []), ("May I?", []),
                    ("It may rain.", []), ("Maybe. May we?", []), ("Paris, then Paris again.", [("Paris", "LOC")]))
    assert found(model, "May went to Paris.") == [("Paris", "LOC")]
    by_key = {e.key: e for e in model.entries}
    assert (by_key["may"].annotated, by_key["may"].seen) == (1, 5)
    assert by_key["may"].confidence == 2 / 7  # below min_confidence, 0.3
    assert by_key["paris"].confidence == 2 / 4  # annotated once, seen twice
    everything = trained(("May said hi.", [("May", "PER")]), ("In May we left.", []), ("May I?", []),
                         ("It may rain.", []), min_confidence=0.0)
    assert found(everything, "May went.") == [("May", "PER")]


def test_the_majority_label_wins_and_ties_go_to_the_first_given():
    model = trained(("Jordan and Jordan and Jordan.", [("Jordan", "PER")]),
                    ("Jordan is a country.", [("Jordan", "LOC")]),
                    ("Jordan played.", [("Jordan", "PER")]), min_confidence=0.0)
    assert found(model, "Jordan") == [("Jordan", "PER")]
    tie = trained(("Jordan won.", [("Jordan", "PER")]), ("Jordan is far.", [("Jordan", "LOC")]),
                  min_confidence=0.0)
    assert found(tie, "Jordan") == [("Jordan", "PER")]


def test_evidence_names_the_annotated_example_it_copies():
    model = trained(("Intro. Angela Merkel met us.", [("Angela Merkel", "PER")]))
    [prediction] = model.predict([Example(7, "Yesterday angela merkel arrived.")])
    [suggestion] = prediction.annotations
    assert (suggestion.start, suggestion.end) == (10, 23)
    assert suggestion.evidence == {"source": "dictionary", "annotated": 1, "seen": 1, "example": {
        "document_id": 1, "start": 7, "end": 20, "text": "Angela Merkel"}}
    assert suggestion.confidence == 2 / 3


def test_an_empty_dictionary_suggests_nothing():
    model = trained(("Nothing here.", []))
    assert model.predict([Example(1, "Nothing here."), Example(2, "")]) == [
        type(p)(p.document_id, ()) for p in model.predict([Example(1, "x"), Example(2, "")])]
    assert all(not p.annotations for p in model.predict([Example(1, "Nothing here.")]))


def test_versions_are_json_only_and_load_through_the_safe_loader(tmp_path):
    model = trained(("Olaf Scholz spoke.", [("Olaf Scholz", "PER")]))
    write_version(tmp_path / "version", model, {"model": "dictionary.v1", "task": "ner", "labels": LABELS})
    files = sorted(p.relative_to(tmp_path / "version").as_posix()
                   for p in (tmp_path / "version").rglob("*") if p.is_file())
    assert "model/dictionary.json" in files
    assert all(name.endswith((".json", ".md")) for name in files), files
    saved = json.loads((tmp_path / "version" / "model" / "dictionary.json").read_text(encoding="utf-8"))
    assert saved["entries"][0]["key"] == "olaf scholz"
    loaded = load(tmp_path / "version", models=load_plugins().models)
    [prediction] = loaded.predict(["OLAF SCHOLZ again"])
    assert [(a.start, a.end, a.label) for a in prediction.annotations] == [(0, 11, "PER")]
