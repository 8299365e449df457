"""Validated records kept on disk between an import's two passes.

The first pass parses and validates every record; the second writes them. Keeping what the
first pass produced in a temporary file (pickled a batch at a time) spares the second pass
reading and parsing the file and validating every annotation again, which took about as long
as the whole write, and memory still holds one batch, whatever the size of the file.
"""

from __future__ import annotations

import pickle
import tempfile
from typing import Generic, Iterator, TypeVar

Item = TypeVar("Item")


class Spool(Generic[Item]):
    """Append items, then read them back once, in order."""

    def __init__(self, batch: int = 1000):
        self._file = tempfile.TemporaryFile(prefix="leanlife-import-")
        self._batch: list[Item] = []
        self._size = batch

    def append(self, item: Item) -> None:
        self._batch.append(item)
        if len(self._batch) >= self._size:
            self._dump()

    def _dump(self) -> None:
        if self._batch:
            pickle.dump(self._batch, self._file, protocol=pickle.HIGHEST_PROTOCOL)
            self._batch = []

    def __iter__(self) -> Iterator[Item]:
        self._dump()
        self._file.seek(0)
        while True:
            try:
                batch = pickle.load(self._file)  # our own file, written just before
            except EOFError:
                return
            yield from batch

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "Spool[Item]":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
