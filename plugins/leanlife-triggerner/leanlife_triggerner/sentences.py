"""From the plugin API's Examples (character offsets) to tokenized, tagged sentences with
their triggers, and back from predicted tags to span annotations."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from leanlife_server.plugin_api import EXPLANATION_TRIGGER, SPAN, Example

from .tokens import Token, decode_bio, encode_bio, token_range, tokenize


@dataclass(frozen=True)
class Trigger:
    """One trigger of one entity: the token positions (possibly discontinuous), the entity
    type it explains, and its words, which name it in predictions."""

    positions: tuple[int, ...]
    label: str
    phrase: str


@dataclass(frozen=True)
class Sentence:
    tokens: tuple[Token, ...]
    tags: tuple[str, ...] | None  # None for unlabeled text
    triggers: tuple[Trigger, ...] = ()

    @property
    def words(self) -> list[str]:
        return [token.text for token in self.tokens]


def _trigger(tokens: list[Token], spans, label: str) -> Trigger | None:
    positions: list[int] = []
    for span in spans:
        found = token_range(tokens, span.start, span.end)
        if found:
            positions.extend(range(*found))
    if not positions:
        return None
    positions = sorted(set(positions))
    return Trigger(tuple(positions), label, " ".join(tokens[i].text for i in positions))


def to_sentence(example: Example, labeled: bool = True) -> Sentence:
    tokens = tokenize(example.text)
    if not labeled:
        return Sentence(tuple(tokens), None)
    entities, triggers = [], []
    for annotation in example.annotations:
        if annotation.kind != SPAN:
            continue
        found = token_range(tokens, annotation.start, annotation.end)
        if found is None:
            continue
        entities.append((*found, annotation.label))
        for explanation in annotation.explanations:
            if explanation.kind == EXPLANATION_TRIGGER:
                trigger = _trigger(tokens, explanation.spans, annotation.label)
                if trigger is not None:
                    triggers.append(trigger)
    return Sentence(tuple(tokens), tuple(encode_bio(len(tokens), entities)), tuple(triggers))


def conflicting_phrases(sentences: Sequence[Sentence]) -> set[str]:
    """Trigger phrases used for more than one entity type; the paper drops them, since they
    cannot point to one type."""
    types: dict[str, set[str]] = defaultdict(set)
    for sentence in sentences:
        for trigger in sentence.triggers:
            types[trigger.phrase.lower()].add(trigger.label)
    return {phrase for phrase, labels in types.items() if len(labels) > 1}


def without_conflicts(sentences: Sequence[Sentence]) -> list[Sentence]:
    conflicts = conflicting_phrases(sentences)
    return [Sentence(s.tokens, s.tags, tuple(t for t in s.triggers if t.phrase.lower() not in conflicts))
            for s in sentences]


def entity_spans(sentence: Sentence, tags: Sequence[str]) -> list[tuple[int, int, int, int, str]]:
    """``(start char, end char, first token, last token, label)`` of each predicted entity."""
    return [(sentence.tokens[first].start, sentence.tokens[last - 1].end, first, last, label)
            for first, last, label in decode_bio(list(tags))]


def split_long(sentence: Sentence, max_tokens: int) -> list[Sentence]:
    """Windows of at most ``max_tokens`` tokens, since a document can be far longer than a
    sentence. A trigger stays with its window when all its tokens are inside it."""
    if len(sentence.tokens) <= max_tokens:
        return [sentence]
    parts = []
    for start in range(0, len(sentence.tokens), max_tokens):
        end = start + max_tokens
        triggers = tuple(Trigger(tuple(p - start for p in t.positions), t.label, t.phrase)
                         for t in sentence.triggers if start <= t.positions[0] and t.positions[-1] < end)
        tags = None if sentence.tags is None else sentence.tags[start:end]
        parts.append(Sentence(sentence.tokens[start:end], tags, triggers))
    return parts
