"""TriggerNER learns real entities from a few hundred CoNLL-2003 sentences with triggers, on CPU.

The floor is far above what a broken model reaches: an untrained tagger scores near 0, and
tagging every capitalised non-initial word with any one type scores at most 0.35 on these
500 test sentences (PER).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from leanlife_ner.metrics import evaluate
from leanlife_server.plugin_api import Dataset
from leanlife_triggerner.conll import read_columns, read_trigger_examples, to_example
from leanlife_triggerner.model import build_triggerner

CONLL = Path(__file__).resolve().parents[2] / "shared" / "data" / "conll2003"
LABELS = {"LOC": "span", "MISC": "span", "ORG": "span", "PER": "span"}
F1_FLOOR = 0.6

pytestmark = [pytest.mark.dataset,
              pytest.mark.skipif(not CONLL.is_dir(), reason=f"{CONLL} is absent (CI always has it)")]


def test_triggerner_learns_conll_entities_from_300_sentences_with_triggers():
    import torch
    torch.set_num_threads(1)  # small recurrent ops: one thread is the fastest on CPU
    train = read_trigger_examples(CONLL / "trigger_20.txt")[:300]
    test = [to_example(tokens, tags) for tokens, tags in read_columns(CONLL / "test.txt")[:500]]
    model = build_triggerner({"epochs": 8, "learning_rate": 0.005}, LABELS, "cpu")
    began = time.perf_counter()
    metrics = model.train(Dataset("ner", LABELS, "trigger", train), lambda fraction, details: None)
    predictions = model.predict(test)
    seconds = time.perf_counter() - began
    scores = evaluate(test, predictions)
    print(f"TriggerNER, 300 CoNLL sentences with triggers, 8 epochs: test F1 {scores['f1']:.3f} in {seconds:.0f} s")
    assert metrics["triggers"] > 300
    assert scores["f1"] > F1_FLOOR, scores
    entities = [(a, e.text) for p, e in zip(predictions, test) for a in p.annotations]
    # Evidence points at the text: words of the entity's own sentence, at their offsets.
    assert all(text[t["start"]:t["end"]] == t["text"] for a, text in entities for t in a.evidence["triggers"])
    cited = sum(bool(a.evidence["triggers"]) for a, _ in entities) / len(entities)
    print(f"{cited:.1%} of {len(entities)} entities cite words of their sentence; for example:")
    for a, text in entities[:40:4]:
        print(f"  {text[a.start:a.end]!r} {a.label}: {[t['text'] for t in a.evidence['triggers']]} in {text!r}")
    # 68% here: lines that are all entities (a byline, "Nadim Ladki") and score lines, whose
    # entity tokens take the attention, cite no word above the mean weight.
    assert cited >= 0.6
