"""``absa.lexicon.v1``: aspect terms from a lexicon, their polarity from the words around them.

Training reads the annotated aspect terms. Each distinct term (lower-cased, white space
collapsed) becomes a lexicon entry with the category it was given most often and the first
such annotation as its example; its confidence is Laplace's estimate of how often an
occurrence of the term in the labeled documents was annotated: (annotated + 1) / (seen + 2).
The words within ``window`` words of each annotated term, in its clause, train a multinomial naive Bayes
over the polarities annotators gave (add-one smoothing), and each term keeps its own
polarity counts as its prior.

Prediction finds every occurrence of every entry on word boundaries (longest first, no
overlaps), and gives it the entry's category and the most probable polarity given the words
around *this* occurrence. The evidence names only what is in the document: the occurrence's
context words that pushed hardest toward that polarity, with their offsets, and the
annotation the entry copies.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from leanlife_absa.task import POLARITIES
from leanlife_server.plugin_api import (
    SPAN,
    AnnotationData,
    Dataset,
    DocumentPrediction,
    Example,
    Model,
    ProgressCallback,
)

FORMAT = 1
FILE = "lexicon.json"
WORD = re.compile(r"\w+")
CLAUSE_BREAK = re.compile(r"[.,;:!?]")
MAX_CUES = 3


def term_key(text: str) -> str:
    return " ".join(text.lower().split())


@dataclass
class Entry:
    label: str
    annotated: int
    seen: int
    polarities: dict[str, int]
    example: dict[str, Any]

    @property
    def confidence(self) -> float:
        return (self.annotated + 1) / (self.seen + 2)


@dataclass
class Lexicon:
    entries: dict[str, Entry] = field(default_factory=dict)
    word_counts: dict[str, dict[str, int]] = field(default_factory=lambda: {p: {} for p in POLARITIES})

    def pattern(self) -> re.Pattern | None:
        """Every entry, longest first, on word boundaries, any white space between words."""
        if not self.entries:
            return None
        alternatives = [r"\s+".join(map(re.escape, key.split()))
                        for key in sorted(self.entries, key=lambda k: (-len(k), k))]
        return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def context_words(text: str, start: int, end: int, window: int) -> list[re.Match]:
    """Up to ``window`` words before ``[start, end)`` and after it, within its clause: the
    polarity of "slow" in "great pasta, slow waiter" belongs to the waiter."""
    breaks_before = [m.end() for m in CLAUSE_BREAK.finditer(text, 0, start)]
    clause_start = breaks_before[-1] if breaks_before else 0
    after_break = CLAUSE_BREAK.search(text, end)
    clause_end = after_break.start() if after_break else len(text)
    before = list(WORD.finditer(text, clause_start, start))[-window:]
    after = list(WORD.finditer(text, end, clause_end))[:window]
    return before + after


def build_lexicon(labeled: Sequence[Example], labels: Mapping[str, str], window: int) -> Lexicon:
    lexicon = Lexicon()
    categories: dict[str, Counter] = defaultdict(Counter)
    polarities: dict[str, Counter] = defaultdict(Counter)
    examples: dict[tuple[str, str], dict[str, Any]] = {}
    for example in labeled:
        for a in example.annotations:
            polarity = a.attributes.get("polarity")
            if a.start is None or labels.get(a.label) != SPAN or polarity not in POLARITIES:
                continue
            text = example.text[a.start:a.end]
            key = term_key(text)
            categories[key][a.label] += 1
            polarities[key][polarity] += 1
            examples.setdefault((key, a.label), {"document_id": example.document_id, "start": a.start,
                                                 "end": a.end, "text": text, "polarity": polarity})
            for word in context_words(example.text, a.start, a.end, window):
                counts = lexicon.word_counts[polarity]
                counts[word.group().lower()] = counts.get(word.group().lower(), 0) + 1
    for key, counts in categories.items():
        label, annotated = counts.most_common(1)[0]
        lexicon.entries[key] = Entry(label, annotated, annotated, dict(polarities[key]), examples[(key, label)])
    pattern = lexicon.pattern()
    if pattern is not None:
        seen = Counter(term_key(m.group()) for e in labeled for m in pattern.finditer(e.text))
        for key, entry in lexicon.entries.items():
            entry.seen = max(entry.seen, seen[key])
    return lexicon


class AspectLexicon(Model):
    def __init__(self, config: Mapping[str, Any], labels: Mapping[str, str], lexicon: Lexicon | None = None):
        self.config = {"window": 4, "min_confidence": 0.3, **config}
        self.labels = dict(labels)
        self._use(lexicon or Lexicon())

    def _use(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self.pattern = lexicon.pattern()
        totals = {p: sum(c.values()) for p, c in lexicon.word_counts.items()}
        vocabulary = {w for c in lexicon.word_counts.values() for w in c}
        size = len(vocabulary) + 1
        # log P(word | polarity) with add-one smoothing; unseen words share one value.
        self._log_unseen = {p: -math.log(totals[p] + size) for p in POLARITIES}
        self._log_word = {p: {w: math.log(n + 1) + self._log_unseen[p] for w, n in c.items()}
                          for p, c in lexicon.word_counts.items()}
        # Only polarities someone gave: a polarity without examples would win on unseen words,
        # its smoothed word probabilities being the largest.
        self._given = [p for p in POLARITIES if any(e.polarities.get(p) for e in lexicon.entries.values())]

    def train(self, data: Dataset, progress: ProgressCallback) -> Mapping[str, float]:
        self._use(build_lexicon(data.labeled, self.labels, int(self.config["window"])))
        progress(1.0, {"terms": len(self.lexicon.entries)})
        return {"terms": float(len(self.lexicon.entries))}

    def _polarity(self, entry: Entry, words: list[re.Match]) -> tuple[str, float, list[re.Match]]:
        """The most probable polarity, its probability, and the words that favoured it most."""
        prior_total = sum(entry.polarities.values()) + len(POLARITIES)
        scores = {}
        for p in self._given:
            scores[p] = math.log((entry.polarities.get(p, 0) + 1) / prior_total) + sum(
                self._log_word[p].get(w.group().lower(), self._log_unseen[p]) for w in words)
        best = max(self._given, key=lambda p: scores[p])
        top = max(scores.values())
        probability = math.exp(scores[best] - top) / sum(math.exp(s - top) for s in scores.values())

        def lift(word: re.Match) -> float:  # how much more likely under ``best`` than the rest
            w = word.group().lower()
            return self._log_word[best].get(w, self._log_unseen[best]) - max(
                (self._log_word[p].get(w, self._log_unseen[p]) for p in self._given if p != best),
                default=math.inf)  # no other polarity given: no word tells them apart
        # Cues are words seen with that polarity in training (an unseen word tells nothing).
        seen = [w for w in words if w.group().lower() in self._log_word[best]]
        cues = sorted((w for w in seen if lift(w) > 0), key=lift, reverse=True)[:MAX_CUES]
        return best, probability, sorted(cues, key=lambda w: w.start())

    def _predict_one(self, example: Example) -> DocumentPrediction:
        found = []
        for match in self.pattern.finditer(example.text) if self.pattern else ():
            entry = self.lexicon.entries[term_key(match.group())]
            if entry.confidence < float(self.config["min_confidence"]) or self.labels.get(entry.label) != SPAN:
                continue
            words = context_words(example.text, match.start(), match.end(), int(self.config["window"]))
            polarity, probability, cues = self._polarity(entry, words)
            found.append(AnnotationData(
                SPAN, entry.label, start=match.start(), end=match.end(),
                confidence=round(entry.confidence * probability, 4), attributes={"polarity": polarity},
                evidence={"source": "lexicon", "example": dict(entry.example),
                          "triggers": [{"text": w.group(), "start": w.start(), "end": w.end()} for w in cues]}))
        return DocumentPrediction(example.document_id, tuple(found))

    def predict(self, examples: Sequence[Example]) -> list[DocumentPrediction]:
        return [self._predict_one(example) for example in examples]

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        entries = {key: e.__dict__ for key, e in self.lexicon.entries.items()}
        (directory / FILE).write_text(json.dumps(
            {"format": FORMAT, "config": self.config, "labels": self.labels, "entries": entries,
             "word_counts": self.lexicon.word_counts}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> "AspectLexicon":
        saved = json.loads((Path(directory) / FILE).read_text(encoding="utf-8"))
        if saved.get("format") != FORMAT:
            raise ValueError(f"{Path(directory) / FILE}: lexicon format {saved.get('format')!r}; "
                             f"this plugin reads {FORMAT}")
        lexicon = Lexicon({key: Entry(**e) for key, e in saved["entries"].items()}, saved["word_counts"])
        return cls(saved["config"], saved["labels"], lexicon)


def build_lexicon_model(config: Mapping[str, Any], labels: Mapping[str, str], device: str = "cpu") -> AspectLexicon:
    return AspectLexicon(config, labels)
