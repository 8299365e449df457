"""Parser coverage on the NExT explanation files: the share of explanations that parse into
a logical form holding on their own sentence, per file.

    python bench/next_parser.py [--data ../shared/data/next_explanations] [--show-failures]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from leanlife_next.datasets import read_explanations
from leanlife_next.parser import ParseError, parse

FILES = ("semeval", "tacred", "restaurant", "laptop")


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--data", type=Path, default=Path("../shared/data/next_explanations"))
    args.add_argument("--show-failures", action="store_true")
    options = args.parse_args()
    print(f"{'file':<12}{'parsed':>8}{'total':>8}{'share':>9}{'ms/parse':>10}")
    for name in FILES:
        entries = read_explanations(options.data / f"{name}.json")
        failures = []
        started = time.perf_counter()
        for entry in entries:
            try:
                parse(entry.explanation, entry.instance)
            except ParseError as exc:
                failures.append(str(exc))
        elapsed = (time.perf_counter() - started) * 1000 / len(entries)
        parsed = len(entries) - len(failures)
        print(f"{name:<12}{parsed:>8}{len(entries):>8}{parsed / len(entries):>9.1%}{elapsed:>10.1f}")
        if options.show_failures:
            for failure in failures:
                print("   ", failure)


if __name__ == "__main__":
    main()
