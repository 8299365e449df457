"""The shared datasets as the benchmarks read them: CoNLL-2003 sentences joined into documents
with their entities, rt_polarity reviews with their labels. Only the standard library, so
that a bare GPU machine can run ``bench/throughput.py``."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

LABELS = ("PER", "LOC", "ORG", "MISC")
REVIEW_LABELS = ("pos", "neg")


@dataclass
class Entity:
    start: int
    end: int
    label: str
    trigger: tuple[int, int]  # a neighbouring token, the way annotators mark "said" or "Mr."


@dataclass
class BenchDocument:
    text: str
    entities: list[Entity]
    id: int = 0


def read_conll_sentences(path: Path) -> Iterator[list[tuple[str, str]]]:
    sentence: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] != "-DOCSTART-":
            sentence.append((parts[0], parts[-1]))
        elif not parts and sentence:
            yield sentence
            sentence = []
    if sentence:
        yield sentence


def build_documents(path: Path, count: int, sentences_per_document: int) -> list[BenchDocument]:
    """Join sentences into documents (12 make about 1 KB, a short news item) and keep each entity
    that has a neighbouring token to serve as its trigger."""
    corpus = list(read_conll_sentences(path))
    if not corpus:
        raise SystemExit(f"{path}: no sentences")
    sentences = itertools.cycle(corpus)  # texts repeat once the corpus runs out; that is fine here
    documents = []
    for _ in range(count):
        tokens: list[tuple[int, int, str]] = []  # start, end, tag
        text = ""
        for _ in range(sentences_per_document):
            for word, tag in next(sentences):
                text += " " if text else ""
                tokens.append((len(text), len(text) + len(word), tag))
                text += word
        documents.append(BenchDocument(text, _entities(tokens)))
    return documents


def _entities(tokens: list[tuple[int, int, str]]) -> list[Entity]:
    entities = []
    i = 0
    while i < len(tokens):
        start, end, tag = tokens[i]
        j = i + 1
        if tag.startswith("B-"):
            while j < len(tokens) and tokens[j][2] == "I-" + tag[2:]:
                end = tokens[j][1]
                j += 1
            neighbour = tokens[i - 1] if i > 0 else tokens[j] if j < len(tokens) else None
            if neighbour is not None and tag[2:] in LABELS:
                entities.append(Entity(start, end, tag[2:], (neighbour[0], neighbour[1])))
        i = j
    return entities


def read_reviews(data: Path) -> list[tuple[str, str]]:
    """(text, gold label) pairs, positives and negatives interleaved."""
    files = {label: data / "rt_polarity" / f"rt-polarity.{label}" for label in REVIEW_LABELS}
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise SystemExit(f"missing {', '.join(missing)}: point --data at the shared data folder")
    texts = {label: path.read_text(encoding="latin-1").splitlines() for label, path in files.items()}
    return [(text, label) for pair in zip(texts["pos"], texts["neg"]) for text, label in zip(pair, REVIEW_LABELS)]
