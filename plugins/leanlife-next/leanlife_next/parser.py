"""The semantic parser: a bottom-up chart parser over the lexicon and the grammar, and the
choice among its candidate parses.

Every parse that spans the whole explanation is a candidate. The parser keeps the candidates
that hold on the explanation's own sentence (an explanation describes the sentence it was
written for) and among those picks the most specific one: the one with the most atomic
constraints, since each constraint the annotator wrote should be kept; remaining ties go to
the alphabetically first rendering, so that the choice is deterministic.

Numbers are what annotators get wrong most ("no more than four words" where there are six,
"directly after" across an "is"). When no candidate holds as read, the parser weakens the
fewest top-level numeric constraints that make one hold: a word count between the
arguments is dropped, a distance limit is lifted, "only X between" becomes "X between".
Phrases, argument order and negations are never changed, and the result says what was
weakened.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from dataclasses import dataclass, field
from typing import Any

from leanlife_next.execute import holds
from leanlife_next.grammar import ROOT, RULES, Rule
from leanlife_next.lexicon import Item, lexical_items
from leanlife_next.logic import (
    And,
    Arg,
    CountBetween,
    FillsBetween,
    Formula,
    HasType,
    Near,
    Occurs,
    atoms,
    conjoin,
)
from leanlife_next.tokens import Instance

MAX_EDGES = 50_000  # a guard against pathological inputs; real explanations need far fewer


class ParseError(ValueError):
    """An explanation the grammar cannot read, or none of whose readings hold on its sentence."""


@dataclass(frozen=True)
class Edge:
    start: int
    end: int
    category: str
    meaning: Any
    types: frozenset = frozenset()  # (role, entity type) pairs named by typed arguments


@dataclass
class Parse:
    formula: Formula
    text: str
    candidates: list[Formula] = field(default_factory=list)
    weakened: tuple[Formula, ...] = ()  # constraints as written that did not hold, if any

    @property
    def readable(self) -> str:
        return self.formula.render()


_BY_FIRST: dict[str, list[Rule]] = defaultdict(list)
for _rule in RULES:
    _BY_FIRST[_rule.rhs[0]].append(_rule)


def _lexical_edge(position: int, item: Item) -> Edge:
    if item.category == "$Arg":
        arg, entity_type = item.value
        return Edge(position, position + 1, "$Arg", arg,
                    frozenset({(arg.role, entity_type)}) if entity_type else frozenset())
    return Edge(position, position + 1, item.category, item.value)


def chart_parse(items: list[Item]) -> list[Edge]:
    """All complete edges; active edges wait at their end for an edge of the next category."""
    complete: set[tuple] = set()
    edges: list[Edge] = []
    waiting: dict[int, list[tuple[Rule, tuple[Edge, ...]]]] = defaultdict(list)

    def advance(rule: Rule, children: tuple[Edge, ...], agenda: list[Edge]) -> None:
        if len(children) < len(rule.rhs):
            waiting[children[-1].end].append((rule, children))
            return
        try:
            meaning = rule.build(*(c.meaning for c in children))
        except (TypeError, ValueError):
            meaning = None
        if meaning is None:
            return
        edge = Edge(children[0].start, children[-1].end, rule.lhs, meaning,
                    frozenset().union(*(c.types for c in children)))
        key = (edge.start, edge.end, edge.category, _signature(meaning), edge.types)
        if key not in complete:
            complete.add(key)
            agenda.append(edge)

    for position, item in enumerate(items):
        agenda = [_lexical_edge(position, item)]
        while agenda:
            edge = agenda.pop()
            edges.append(edge)
            if len(edges) > MAX_EDGES:
                raise ParseError("the explanation is too ambiguous to parse")
            for rule in _BY_FIRST.get(edge.category, ()):
                advance(rule, (edge,), agenda)
            for rule, children in list(waiting.get(edge.start, ())):
                if rule.rhs[len(children)] == edge.category:
                    advance(rule, children + (edge,), agenda)
    return edges


def _signature(meaning: Any) -> Any:
    """Edges with equal meanings are merged; functions (VP meanings) are never equal."""
    return id(meaning) if callable(meaning) else repr(meaning)


def candidates(explanation: str) -> list[Formula]:
    """Every distinct reading of the whole explanation."""
    items = lexical_items(explanation)
    found: dict[str, Formula] = {}
    for edge in chart_parse(items):
        if edge.category == ROOT and edge.start == 0 and edge.end == len(items):
            typed = [HasType(Arg(role), t) for role, t in sorted(edge.types)]
            formula = conjoin([edge.meaning, *typed])
            found.setdefault(formula.render(), formula)
    return list(found.values())


def _weaker(atom: Formula) -> Formula | None:
    """The constraint without its number; None drops it; the atom itself if it has none."""
    if isinstance(atom, CountBetween):
        return None
    if isinstance(atom, FillsBetween):
        return Occurs(atom.phrase, atom.region)
    if isinstance(atom, Occurs) and isinstance(atom.region, Near) and atom.region.max_gap is not None:
        return Occurs(atom.thing, Near(atom.region.side, atom.region.anchor))
    return atom


def weakenings(formula: Formula) -> list[tuple[Formula, tuple[Formula, ...]]]:
    """Readings with k = 0, 1, 2, ... numeric top-level conjuncts weakened, fewest first."""
    parts = list(formula.parts) if isinstance(formula, And) else [formula]
    numeric = [i for i, p in enumerate(parts) if _weaker(p) != p]
    out = []
    for size in range(len(numeric) + 1):
        for chosen in combinations(numeric, size):
            kept = [p for i, p in enumerate(parts) if i not in chosen]
            kept += [w for i in chosen if (w := _weaker(parts[i])) is not None]
            # a weakened reading must still say something beyond counts and types
            if kept and (not size or any(not isinstance(p, (CountBetween, HasType)) for p in kept)):
                out.append((conjoin(kept), tuple(parts[i] for i in chosen)))
    return out


def _preference(formula: Formula) -> tuple:
    return (-len(atoms(formula)), formula.render())


def parse(explanation: str, instance: Instance | None = None) -> Parse:
    """The chosen reading; with ``instance`` (the explained sentence) only readings that hold
    on it are eligible, weakened as little as needed. Raises ParseError naming why nothing
    was chosen."""
    readings = candidates(explanation)
    if not readings:
        raise ParseError(f"no reading of {explanation!r} covers the whole explanation")
    if instance is None:
        return Parse(min(readings, key=_preference), explanation, readings)
    options = [(len(weakened), _preference(reading), reading, weakened)
               for formula in readings for reading, weakened in weakenings(formula)
               if holds(reading, instance)]
    if not options:
        raise ParseError(f"none of the {len(readings)} reading(s) of {explanation!r} holds on "
                         f"its own sentence; closest: {readings[0].render()}")
    _, _, reading, weakened = min(options, key=lambda o: o[:2])
    return Parse(reading, explanation, readings, weakened)
