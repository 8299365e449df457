"""Logical forms: the executable meaning of an explanation, and its readable rendering.

Distances count the words *between* two things: ``max_gap=0`` is "directly before/after", and
"within N words" / "no more than N words" allow at most N words in between, the same
reading as "no more than N words between SUBJ and OBJ" (see docs/next.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from leanlife_next.tokens import TERM

ARG_NAMES = {"SUBJ": "SUBJ", "OBJ": "OBJ", TERM: "$T$"}
BEFORE, AFTER, AROUND = "before", "after", "around"
START, END = "start", "end"


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]  # normalised tokens

    def render(self) -> str:
        return '"' + " ".join(self.words) + '"'


@dataclass(frozen=True)
class Arg:
    role: str

    def render(self) -> str:
        return ARG_NAMES.get(self.role, self.role)


Thing = Union[Phrase, Arg]


@dataclass(frozen=True)
class Sentence:
    def render(self) -> str:
        return "in the sentence"


@dataclass(frozen=True)
class Between:
    first: Arg
    second: Arg

    def render(self) -> str:
        return f"between {self.first.render()} and {self.second.render()}"


@dataclass(frozen=True)
class Near:
    """Before, after or on either side of ``anchor``, with at most ``max_gap`` words between."""

    side: str
    anchor: Arg
    max_gap: int | None = None

    def render(self) -> str:
        if self.max_gap == 0:
            distance = "directly "
        elif self.max_gap is not None:
            distance = f"at most {self.max_gap} words "
        else:
            distance = ""
        side = "next to" if self.side == AROUND and self.max_gap == 0 else (
            "around" if self.side == AROUND else self.side)
        return f"{distance}{side} {self.anchor.render()}"


@dataclass(frozen=True)
class Edge:
    side: str  # START or END of the sentence

    def render(self) -> str:
        return f"at the {self.side} of the sentence"


Region = Union[Sentence, Between, Near, Edge]


@dataclass(frozen=True)
class Occurs:
    thing: Thing
    region: Region

    def render(self) -> str:
        return f"{self.thing.render()} occurs {self.region.render()}"


@dataclass(frozen=True)
class FillsBetween:
    """The words between two arguments are exactly ``phrase``."""

    phrase: Phrase
    region: Between

    def render(self) -> str:
        return f"the only words {self.region.render()} are {self.phrase.render()}"


@dataclass(frozen=True)
class CountBetween:
    region: Between
    op: str  # "<=", ">=", "=="
    n: int

    def render(self) -> str:
        words = {"<=": "at most", ">=": "at least", "==": "exactly"}[self.op]
        return f"{words} {self.n} words {self.region.render()}"


@dataclass(frozen=True)
class HasType:
    arg: Arg
    type: str

    def render(self) -> str:
        return f"{self.arg.render()} is a {self.type}"


@dataclass(frozen=True)
class Capitalized:
    arg: Arg

    def render(self) -> str:
        return f"{self.arg.render()} is capitalised"


@dataclass(frozen=True)
class And:
    parts: tuple["Formula", ...]

    def render(self) -> str:
        return " AND ".join(_group(p) for p in self.parts)


@dataclass(frozen=True)
class Or:
    parts: tuple["Formula", ...]

    def render(self) -> str:
        return " OR ".join(_group(p) for p in self.parts)


@dataclass(frozen=True)
class Not:
    part: "Formula"

    def render(self) -> str:
        return f"NOT {_group(self.part)}"


Formula = Union[Occurs, FillsBetween, CountBetween, HasType, Capitalized, And, Or, Not]


def _group(formula: Formula) -> str:
    text = formula.render()
    return f"({text})" if isinstance(formula, (And, Or)) else text


def conjoin(parts: list[Formula]) -> Formula:
    flat: list[Formula] = []
    for part in parts:
        for p in part.parts if isinstance(part, And) else (part,):
            if p not in flat:
                flat.append(p)
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def atoms(formula: Formula) -> list[Formula]:
    """The leaves of a formula, left to right."""
    if isinstance(formula, (And, Or)):
        return [a for p in formula.parts for a in atoms(p)]
    if isinstance(formula, Not):
        return atoms(formula.part)
    return [formula]


def phrases(formula: Formula) -> list[Phrase]:
    """The distinct phrases of a formula, left to right. A list, not a set: a set's order
    changes with Python's string hashing from one process to the next, and that order reaches
    the vocabulary rows and the training samples, so runs did not repeat across processes."""
    found: list[Phrase] = []
    for atom in atoms(formula):
        for value in vars(atom).values():
            if isinstance(value, Phrase) and value not in found:
                found.append(value)
    return found


def roles(formula: Any) -> set[str]:
    """Every argument role a formula mentions."""
    if isinstance(formula, Arg):
        return {formula.role}
    if isinstance(formula, tuple):
        return set().union(*(roles(p) for p in formula)) if formula else set()
    if hasattr(formula, "__dataclass_fields__"):
        return set().union(*(roles(v) for v in vars(formula).values()))
    return set()


# JSON round trip: {"node": class name, fields...}; phrases are lists of words.
_TYPES = {cls.__name__: cls for cls in (Phrase, Arg, Sentence, Between, Near, Edge, Occurs,
                                          FillsBetween, CountBetween, HasType, Capitalized,
                                          And, Or, Not)}


def to_json(node: Any) -> Any:
    if isinstance(node, tuple):
        return [to_json(n) for n in node]
    if hasattr(node, "__dataclass_fields__"):
        return {"node": type(node).__name__, **{k: to_json(v) for k, v in vars(node).items()}}
    return node


def from_json(data: Any) -> Any:
    if isinstance(data, list):
        return tuple(from_json(d) for d in data)
    if isinstance(data, dict):
        cls = _TYPES[data["node"]]
        return cls(**{k: from_json(v) for k, v in data.items() if k != "node"})
    return data
