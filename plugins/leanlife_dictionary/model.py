"""``dictionary.v1``: suggests every occurrence of an already annotated entity text.

Training reads the annotated spans: each distinct text (normalised: ``normalize.key``) becomes
an entry with the label it was given most often (a tie goes to the label given first), and
the first annotation with that label as its example. The entry's confidence is how often the
text was annotated with that label among its occurrences in the labeled documents, by
Laplace's rule of succession: (annotated + 1) / (occurrences + 2), so a text annotated once
and seen once scores 2/3, and a word annotated once but left alone nine times 2/12. Entries
below ``min_confidence`` are not suggested.

Prediction finds every occurrence of every entry at once (an Aho-Corasick automaton over the
normalised text), keeps those that start and end on word boundaries, and then takes the
longest first: a candidate is kept when it overlaps no longer one kept before it (equal
lengths: the leftmost first). Counting occurrences in training uses the same selection.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import ahocorasick

from leanlife_server.plugin_api import (
    SPAN,
    AnnotationData,
    Dataset,
    DocumentPrediction,
    Example,
    Model,
    ProgressCallback,
)
from leanlife_dictionary import DEFAULT_CONFIG
from leanlife_dictionary.normalize import key, needs_boundary, normalize

FORMAT = 1
FILE = "dictionary.json"


@dataclass(frozen=True)
class Entry:
    """One dictionary entry: a normalised text, its label and the annotation it copies."""

    key: str
    label: str
    annotated: int  # annotations of this text with this label
    seen: int  # occurrences of this text in the labeled documents
    example: Mapping[str, Any]  # {"document_id", "start", "end", "text"}

    @property
    def confidence(self) -> float:
        return (self.annotated + 1) / (self.seen + 2)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "label": self.label, "annotated": self.annotated, "seen": self.seen,
                "example": dict(self.example)}


def _on_boundaries(text: str, start: int, end: int) -> bool:
    before = start > 0 and needs_boundary(text[start], text[start - 1])
    after = end < len(text) and needs_boundary(text[end - 1], text[end])
    return not (before or after)


def _automaton(keys: Sequence[str]) -> ahocorasick.Automaton | None:
    if not keys:
        return None
    automaton = ahocorasick.Automaton()
    for index, text in enumerate(keys):
        automaton.add_word(text, index)
    automaton.make_automaton()
    return automaton


def find(text: str, keys: Sequence[str], automaton: ahocorasick.Automaton | None = None
         ) -> list[tuple[int, int, int]]:
    """(start, end, index into ``keys``) of the occurrences of ``keys`` in ``text`` that a
    suggestion may cover: on word boundaries, longest first, none overlapping another."""
    automaton = automaton if automaton is not None else _automaton(keys)
    if automaton is None or not text:
        return []
    normalized = normalize(text)
    candidates = []
    for last, index in automaton.iter(normalized.text):
        span = normalized.original_span(last + 1 - len(keys[index]), last + 1)
        if span is not None and _on_boundaries(text, *span):
            candidates.append((span[0], span[1], index))
    chosen: list[tuple[int, int, int]] = []
    taken = bytearray(len(text))  # 1 where a kept candidate lies
    for start, end, index in sorted(candidates, key=lambda c: (c[0] - c[1], c[0], c[2])):
        if not any(taken[start:end]):
            chosen.append((start, end, index))
            taken[start:end] = b"\x01" * (end - start)
    return sorted(chosen)


def build_entries(labeled: Sequence[Example], labels: Mapping[str, str]) -> list[Entry]:
    """The dictionary of ``labeled``'s entity annotations (see the module's docstring)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    examples: dict[tuple[str, str], dict[str, Any]] = {}
    order: dict[tuple[str, str], int] = {}
    for example in labeled:
        for annotation in example.annotations:
            if annotation.kind != SPAN or labels.get(annotation.label) != SPAN:
                continue
            span_text = example.text[annotation.start:annotation.end]
            entry_key = key(span_text)
            if not entry_key:
                continue
            counts[entry_key][annotation.label] += 1
            if (entry_key, annotation.label) not in examples:
                order[(entry_key, annotation.label)] = len(order)
                examples[(entry_key, annotation.label)] = {
                    "document_id": example.document_id, "start": annotation.start,
                    "end": annotation.end, "text": span_text}
    keys = sorted(counts)
    seen: Counter = Counter()
    automaton = _automaton(keys)
    for example in labeled:
        seen.update(keys[index] for _, _, index in find(example.text, keys, automaton))
    entries = []
    for entry_key in keys:
        label, annotated = min(counts[entry_key].items(),
                               key=lambda item: (-item[1], order[(entry_key, item[0])]))
        entries.append(Entry(entry_key, label, annotated, max(seen[entry_key], sum(counts[entry_key].values())),
                             examples[(entry_key, label)]))
    return entries


class DictionaryMatcher(Model):
    def __init__(self, config: Mapping[str, Any], labels: Mapping[str, str], entries: Sequence[Entry] = ()):
        self.config = {**DEFAULT_CONFIG, **config}
        self.labels = dict(labels)
        self._use(entries)

    def _use(self, entries: Sequence[Entry]) -> None:
        self.entries = list(entries)
        minimum = float(self.config["min_confidence"])
        self.suggested = [e for e in self.entries if e.confidence >= minimum and self.labels.get(e.label) == SPAN]
        self.keys = [e.key for e in self.suggested]
        self.automaton = _automaton(self.keys)

    def train(self, data: Dataset, progress: ProgressCallback) -> Mapping[str, float]:
        self._use(build_entries(data.labeled, self.labels))
        progress(1.0, {"entries": len(self.entries)})
        return {"entries": float(len(self.entries)), "suggested_entries": float(len(self.suggested))}

    def _annotation(self, start: int, end: int, entry: Entry) -> AnnotationData:
        return AnnotationData(SPAN, entry.label, start=start, end=end, confidence=entry.confidence,
                              evidence={"source": "dictionary", "example": dict(entry.example),
                                        "annotated": entry.annotated, "seen": entry.seen})

    def predict(self, examples: Sequence[Example]) -> list[DocumentPrediction]:
        return [DocumentPrediction(example.document_id, tuple(
                    self._annotation(start, end, self.suggested[index])
                    for start, end, index in find(example.text, self.keys, self.automaton)))
                for example in examples]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        (directory / FILE).write_text(json.dumps(
            {"format": FORMAT, "config": self.config, "labels": self.labels,
             "entries": [e.to_json() for e in self.entries]}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> "DictionaryMatcher":
        saved = json.loads((Path(directory) / FILE).read_text(encoding="utf-8"))
        if saved.get("format") != FORMAT:
            raise ValueError(f"{directory / FILE}: dictionary format {saved.get('format')!r}; "
                             f"this plugin reads {FORMAT}")
        return cls(saved["config"], saved["labels"], [Entry(**e) for e in saved["entries"]])


def build_matcher(config: Mapping[str, Any], labels: Mapping[str, str], device: str = "cpu") -> DictionaryMatcher:
    return DictionaryMatcher(config, labels)
