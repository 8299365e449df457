"""A prediction's evidence: the words of its own sentence that matched the trigger query.

TriggerNER tags a sentence with the trigger attention over its tokens (the query is the mean
of the nearest training trigger prototypes); the tokens it weights most are the words that
acted as this sentence's trigger. They are cited with their character offsets in the
document, so the evidence always points at the text. Plain Python: testable without torch.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from .sentences import Sentence


def _is_word(text: str) -> bool:
    # Punctuation gets attention too, but "." tells an annotator nothing.
    return any(character.isalnum() for character in text)


def matched_tokens(sentence: Sentence, weights: Sequence[float], entities: Iterable[tuple[int, int]],
                   limit: int) -> list[dict[str, Any]]:
    """At most ``limit`` words of ``sentence`` whose attention weight is above the sentence's
    mean (they matched more than an average token), the heaviest chosen, listed in text order
    as ``{"text", "start", "end", "weight"}``. Tokens of the predicted ``entities`` (token
    ranges ``[first, last)``) are left out: a trigger is the context that points at an
    entity, never an entity itself, as annotators mark them."""
    inside = {i for first, last in entities for i in range(first, last)}
    mean = 1.0 / max(len(sentence.tokens), 1)
    candidates = [i for i, token in enumerate(sentence.tokens)
                  if i not in inside and _is_word(token.text) and weights[i] > mean]
    chosen = sorted(sorted(candidates, key=lambda i: -weights[i])[:limit])
    return [{"text": sentence.tokens[i].text, "start": sentence.tokens[i].start,
             "end": sentence.tokens[i].end, "weight": round(float(weights[i]), 4)} for i in chosen]
