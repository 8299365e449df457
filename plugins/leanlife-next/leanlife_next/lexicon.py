"""The lexicon: explanation text -> a sequence of lexical items (category, value).

Quoted strings become ``$Str`` items, argument mentions ``$Arg``, numbers ``$Num``; words and
multi-word expressions listed here get their category; every other word is dropped before
parsing, as in the original NExT / BabbleLabble parser (it carries no meaning the grammar uses:
"there", "is", "occurs", "the", ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from leanlife_next.logic import AFTER, BEFORE, Arg, Phrase
from leanlife_next.tokens import OBJ, SUBJ, TERM, normalize, tokenize


@dataclass(frozen=True)
class Item:
    category: str
    value: Any = None


NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}

# Argument mentions, including the X / Y and <S> / <O> conventions of the TACRED explanations.
ARGUMENTS = {"SUBJ": SUBJ, "X": SUBJ, "<S>": SUBJ, "OBJ": OBJ, "Y": OBJ, "<O>": OBJ, "$T$": TERM}

# Multi-word expressions first (longest match wins); values refine the category.
PHRASES: dict[tuple[str, ...], Item] = {}


def _entry(category: str, words: str, value: Any = None) -> None:
    for form in words.split("|"):
        PHRASES[tuple(form.split())] = Item(category, value)


_entry("$Word", "word|words|phrase|phrases|term|terms|string|strings|token|tokens")
_entry("$And", "and|as well as")
_entry("$Comma", ",")
_entry("$Or", "or")
_entry("$Not", "not|never|does not|do not|is not|are not|isn't|doesn't|don't|no")
_entry("$Between", "between")
_entry("$Sandwich", "sandwich|sandwiches|surround|surrounds")
_entry("$Link", "links|link|connects|connect|joins|join")
_entry("$Position", "before|precedes|precede|preceding|to the left of|left of", BEFORE)
_entry("$Position", "after|follows|follow|following|to the right of|right of", AFTER)
_entry("$Passive", "preceded", BEFORE)
_entry("$Passive", "followed", AFTER)
_entry("$By", "by")
_entry("$Directly", "directly|immediately|right|just")
_entry("$Within", "within")
_entry("$Of", "of|from")
_entry("$Bound", "no more than|not more than|at most|up to|no greater than|a maximum of", ("<=", 0))
_entry("$Bound", "less than|fewer than", ("<=", -1))
_entry("$Bound", "at least|no less than|no fewer than|a minimum of", (">=", 0))
_entry("$Bound", "more than|greater than", (">=", 1))
_entry("$Bound", "exactly", ("==", 0))
_entry("$Only", "only")
_entry("$Edge", "starts with|start with|begins with|begin with", "start")
_entry("$Edge", "ends with|end with", "end")
_entry("$Contains", "contains|contain|includes|include|mentions|mention|has")
_entry("$Capitalized", "capitalized|capitalised|upper case|uppercase|in capitals")

_LONGEST = max(len(k) for k in PHRASES)
_QUOTED = re.compile(r'"([^"]+)"|(?<![\w])\'(.+?)\'(?![\w])|“([^”]+)”|‘([^’]+)’')
_ARGUMENT = re.compile(r"^(SUBJ|OBJ)(?:-([A-Za-z_]+))?$|^(X|Y|<S>|<O>|\$T\$)$")
_WORDS = re.compile(r"<[SO]>|\$T\$|(?:SUBJ|OBJ)(?:-[A-Za-z_]+)?\b|\w+(?:[-']\w+)*|[^\w\s]")


def _argument(token: str) -> Item | None:
    match = _ARGUMENT.match(token)
    if not match:
        return None
    name = match.group(1) or match.group(3)
    entity_type = (match.group(2) or "").upper()
    return Item("$Arg", (Arg(ARGUMENTS[name]), "" if entity_type == "O" else entity_type))


def _plain_items(text: str) -> list[Item]:
    raw = _WORDS.findall(text)
    items: list[Item] = []
    i = 0
    while i < len(raw):
        argument = _argument(raw[i])
        if argument:
            items.append(argument)
            i += 1
            continue
        lowered = [w.lower() for w in raw[i:i + _LONGEST]]
        for size in range(len(lowered), 0, -1):
            item = PHRASES.get(tuple(lowered[:size]))
            if item:
                items.append(item)
                i += size
                break
        else:
            word = lowered[0]
            if word.isdigit():
                items.append(Item("$Num", int(word)))
            elif word in NUMBERS:
                items.append(Item("$Num", NUMBERS[word]))
            i += 1  # any other word is not in the lexicon: dropped
    return items


def lexical_items(explanation: str) -> list[Item]:
    """The explanation as lexical items, quoted strings kept whole as phrases."""
    items: list[Item] = []
    cursor = 0
    for match in _QUOTED.finditer(explanation):
        items.extend(_plain_items(explanation[cursor:match.start()]))
        quoted = next(g for g in match.groups() if g is not None)
        words = tuple(normalize(t) for t in tokenize(quoted))
        if words:
            items.append(Item("$Str", Phrase(words)))
        cursor = match.end()
    items.extend(_plain_items(explanation[cursor:]))
    return items
