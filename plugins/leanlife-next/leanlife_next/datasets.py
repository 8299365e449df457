"""Readers for the public NExT explanation files and SemEval-2010 Task 8, for benchmarks and
tests. The server never calls these: its documents come through its own importers."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from leanlife_next.tokens import Instance, instance_from_placeholders

SENTIMENT = {-1: "negative", 0: "neutral", 1: "positive"}


@dataclass(frozen=True)
class ExplainedSentence:
    sentence: str  # with SUBJ-TYPE / OBJ-TYPE / $T$ placeholders
    explanation: str
    label: str

    @property
    def instance(self) -> Instance:
        return instance_from_placeholders(self.sentence)


def read_explanations(path: Path) -> list[ExplainedSentence]:
    """A NExT explanation file: relation entries (``rel`` or ``relation``) or aspect
    sentiment entries (``label`` -1/0/1)."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for i, entry in enumerate(entries):
        label = entry.get("rel") or entry.get("relation")
        if label is None:
            if "label" not in entry:
                raise ValueError(f"{path}: entry {i} has neither a relation nor a label")
            label = SENTIMENT[int(entry["label"])]
        out.append(ExplainedSentence(entry["sent"], entry["exp"], label))
    return out


@dataclass(frozen=True)
class RelationSentence:
    sentence: str  # entities masked as SUBJ-O (e1) and OBJ-O (e2), as in the NExT data
    label: str  # e.g. "Cause-Effect(e2,e1)" or "Other"


_SEMEVAL_LINE = re.compile(r'^(\d+)\t"(.*)"$')


def read_semeval(path: Path) -> list[RelationSentence]:
    """SemEval-2010 Task 8: 4 lines per example (id and quoted sentence, relation, comment,
    blank). e1 becomes the subject and e2 the object; the label carries the direction."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    out = []
    for number in range(0, len(lines) - 1, 4):
        match = _SEMEVAL_LINE.match(lines[number].strip())
        if not match:
            raise ValueError(f"{path}:{number + 1}: expected 'id<TAB>\"sentence\"'")
        sentence = re.sub(r"<e1>.*?</e1>", " SUBJ-O ", match.group(2))
        sentence = re.sub(r"<e2>.*?</e2>", " OBJ-O ", sentence)
        out.append(RelationSentence(" ".join(sentence.split()), lines[number + 1].strip()))
    return out
