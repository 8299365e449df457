"""The grammar: rules that combine lexical items into logical forms.

Each rule is ``lhs <- rhs`` with a function that builds the meaning of ``lhs`` from the
meanings of ``rhs`` (or returns None when they do not fit together, e.g. counting words
"between" something that is not a pair of arguments). Categories: ``Str`` phrase, ``StrL``
list of phrases, ``Arg`` argument, ``Pair`` two arguments, ``Gap`` a distance in words,
``Reg`` where something occurs, ``VP`` a predicate over a phrase or an argument (a function),
``S`` a formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from leanlife_next.logic import (
    AROUND,
    Arg,
    Between,
    Capitalized,
    CountBetween,
    Edge,
    FillsBetween,
    Near,
    Not,
    Occurs,
    Or,
    Phrase,
    Sentence,
    conjoin,
)


@dataclass(frozen=True)
class Rule:
    lhs: str
    rhs: tuple[str, ...]
    build: Callable[..., Any]


RULES: list[Rule] = []


def rule(spec: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    lhs, _, rhs = spec.partition("<-")

    def register(build: Callable[..., Any]) -> Callable[..., Any]:
        RULES.append(Rule(lhs.strip(), tuple(rhs.split()), build))
        return build

    return register


def _keep(x: Any) -> Any:
    return x


# Noun phrases --------------------------------------------------------------------------
rule("Str <- $Str")(_keep)
rule("Str <- $Word Str")(lambda _, s: s)
rule("Arg <- $Arg")(_keep)
rule("Arg <- $Word Arg")(lambda _, a: a)
rule("StrL <- Str")(lambda s: (s,))
rule("StrL <- Str $And StrL")(lambda s, _, rest: (s, *rest))
rule("StrL <- Str $Comma StrL")(lambda s, _, rest: (s, *rest))
rule("StrL <- Str $Comma $And StrL")(lambda s, _c, _a, rest: (s, *rest))
rule("Pair <- Arg $And Arg")(lambda a, _, b: (a, b) if a != b else None)


# Distances: the largest number of words allowed in between ----------------------------
def _bounded_gap(bound: tuple[str, int], n: int) -> int | None:
    op, shift = bound
    return n + shift if op == "<=" and n + shift >= 0 else None


rule("Gap <- $Within $Num $Word")(lambda _w, n, _u: n)
rule("Gap <- $Within $Num")(lambda _w, n: n)
rule("Gap <- $Num $Word")(lambda n, _u: n)
rule("Gap <- $Bound $Num $Word")(lambda b, n, _u: _bounded_gap(b, n))
rule("Gap <- $Within $Bound $Num $Word")(lambda _w, b, n, _u: _bounded_gap(b, n))


# Regions: where a phrase (or an argument) occurs ---------------------------------------
rule("Reg <- $Position Arg")(lambda side, a: Near(side, a))
rule("Reg <- $Directly $Position Arg")(lambda _, side, a: Near(side, a, 0))
rule("Reg <- Gap $Position Arg")(lambda g, side, a: Near(side, a, g))
rule("Reg <- $Position Arg Gap")(lambda side, a, g: Near(side, a, g))
rule("Reg <- $Position Arg $By Gap")(lambda side, a, _, g: Near(side, a, g))
rule("Reg <- Gap $Of Arg")(lambda g, _, a: Near(AROUND, a, g))
rule("Reg <- $Directly $Position $Of Arg")(lambda _d, side, _o, a: Near(side, a, 0))
rule("Reg <- $Between Pair")(lambda _, pair: Between(*pair))
rule("Reg <- $Link Pair")(lambda _, pair: Between(*pair))


def _occurs(thing: Any, region: Any) -> Any:
    """An argument is never "between" others or the same argument as its anchor."""
    if isinstance(thing, Arg) and (isinstance(region, Between) or region.anchor == thing):
        return None
    return Occurs(thing, region)


def _each(things: tuple, make: Callable[[Any], Any]) -> Any:
    formulas = [make(t) for t in things]
    return None if any(f is None for f in formulas) else conjoin(formulas)


# Predicates over a phrase or an argument: functions thing -> formula -------------------
rule("VP <- Reg")(lambda region: lambda thing: _occurs(thing, region))
rule("VP <- $Not VP")(lambda _, vp: lambda thing: None if vp(thing) is None else Not(vp(thing)))
rule("VP <- VP $And VP")(
    lambda left, _, right: lambda thing: _each((left, right), lambda vp: vp(thing)))
rule("PHead <- $Passive $By")(lambda side, _: (side, None))
rule("PHead <- $Directly $Passive $By")(lambda _, side, _b: (side, 0))
rule("PHead <- $Passive $Directly $By")(lambda side, _d, _b: (side, 0))


def _passive(head: tuple[str, int | None], phrases: tuple, gap: int | None = None) -> Any:
    """"X is preceded by P": P occurs before X; only an argument is preceded by something."""
    side, head_gap = head
    within = head_gap if gap is None else gap

    def predicate(thing: Any) -> Any:
        if not isinstance(thing, Arg):
            return None
        return _each(phrases, lambda p: Occurs(p, Near(side, thing, within)))

    return predicate


rule("VP <- PHead StrL")(lambda head, phrases: _passive(head, phrases))
rule("VP <- PHead StrL Gap")(lambda head, phrases, gap: _passive(head, phrases, gap))
rule("VP <- PHead StrL $By Gap")(lambda head, phrases, _, gap: _passive(head, phrases, gap))


# Formulas --------------------------------------------------------------------------------
def _only_words_between(n: int, phrase: Phrase, region: Any) -> Any:
    if n != 1 or not isinstance(region, Between):
        return None
    return FillsBetween(phrase, region)


def _count(bound: tuple[str, int], n: int, region: Any) -> Any:
    op, shift = bound
    if not isinstance(region, Between) or n + shift < 0:
        return None
    return CountBetween(region, op, n + shift)


rule("S <- StrL VP")(lambda phrases, vp: _each(phrases, vp))
rule("S <- Arg VP")(lambda arg, vp: vp(arg))
rule("S <- Reg StrL")(lambda region, phrases: _each(phrases, lambda p: _occurs(p, region)))
rule("S <- Pair $Sandwich StrL")(
    lambda pair, _, phrases: _each(phrases, lambda p: Occurs(p, Between(*pair))))
rule("S <- $Bound $Num $Word Reg")(lambda b, n, _, region: _count(b, n, region))
rule("S <- $Only $Num $Word Str Reg")(lambda _o, n, _w, p, region: _only_words_between(n, p, region))
rule("S <- $Edge StrL")(lambda side, phrases: _each(phrases, lambda p: Occurs(p, Edge(side))))
rule("S <- $Contains StrL")(lambda _, phrases: _each(phrases, lambda p: Occurs(p, Sentence())))
rule("S <- StrL")(lambda phrases: _each(phrases, lambda p: Occurs(p, Sentence())))
rule("S <- Arg $Capitalized")(lambda arg, _: Capitalized(arg))
rule("S <- S $And S")(lambda a, _, b: conjoin([a, b]))
rule("S <- S $Comma $And S")(lambda a, _c, _a, b: conjoin([a, b]))
rule("S <- S $Or S")(lambda a, _, b: Or((a, b)))
rule("S <- $Not S")(lambda _, s: Not(s))

ROOT = "S"
