"""How long the NER task takes to validate one annotation with many trigger spans.

    python bench/spans.py [--sizes 20000,100000] [--repeat 3]

Each size N builds one NER annotation payload whose trigger explanation has N one-character
spans, given in a shuffled order, over a text of about 2N characters, and times
``TaskDefinition.parse_annotation`` on it (bounds, overlap with the entity, overlap and
duplicates among the trigger spans). The per-annotation limit is raised to N for this, so
the check itself is timed; the time the server takes to refuse the same payload at the
default limit (LEANLIFE_MAX_SPANS_PER_ANNOTATION) is printed beside it. Best of --repeat runs.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from leanlife_ner import NER  # noqa: E402
from leanlife_server.config import Settings  # noqa: E402
from leanlife_server.plugin_api import (  # noqa: E402
    EXPLANATION_TRIGGER,
    SPAN,
    DocumentContext,
    ValidationError,
)


def payload_and_text(count: int) -> tuple[dict, str]:
    """``count`` disjoint trigger spans "x" in "x x x ... ENTITY", listed in a shuffled order."""
    text = "x " * count + "ENTITY"
    spans = [{"start": 2 * i, "end": 2 * i + 1} for i in range(count)]
    random.Random(count).shuffle(spans)
    entity = len(text) - len("ENTITY")
    return ({"label": "PER", "start": entity, "end": len(text),
             "explanations": [{"kind": EXPLANATION_TRIGGER, "spans": spans}]}, text)


def context(text: str, max_spans: int) -> DocumentContext:
    return DocumentContext(text=text, labels={"PER": SPAN}, explanation_kind=EXPLANATION_TRIGGER,
                           max_spans_per_annotation=max_spans)


def best_seconds(payload: dict, doc: DocumentContext, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        try:
            NER.parse_annotation(payload, doc)
        except ValidationError:
            pass  # refused at the limit: that time is what we measure
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    default_limit = Settings().max_spans_per_annotation
    print(f"| trigger spans | validate (limit raised) s | refuse at default limit ({default_limit}) ms |")
    print("|---:|---:|---:|")
    for count in (int(s) for s in args.sizes.split(",")):
        payload, text = payload_and_text(count)
        checked = best_seconds(payload, context(text, count), args.repeat)
        refused = best_seconds(payload, context(text, default_limit), args.repeat)
        print(f"| {count:,} | {checked:.3f} | {refused * 1000:.2f} |", flush=True)


if __name__ == "__main__":
    main()
