"""The file an importer reads, with streaming helpers that number lines and records."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, BinaryIO, Iterator, TextIO

from leanlife_server.plugin_api import FormatContext, FormatError

CHUNK_CHARS = 1 << 16
_DECODER = json.JSONDecoder()


class FileSource:
    """An :class:`~leanlife_server.plugin_api.ImportSource` over a file or a folder. Memory
    stays bounded: lines and JSON values are read one at a time."""

    def __init__(self, path: Path, context: FormatContext, name: str | None = None,
                 encoding: str = "utf-8-sig"):
        self.path = Path(path)
        self.name = name or self.path.name
        self.context = context
        self.encoding = encoding
        self._open_files: list[BinaryIO] = []
        self._size = sum(p.stat().st_size for p in self._files()) or 1
        self._done_bytes = 0

    def _files(self) -> list[Path]:
        if self.path.is_dir():
            return sorted(p for p in self.path.rglob("*") if p.is_file())
        return [self.path]

    def fraction_read(self) -> float:
        """How much of the input the importer has consumed, for progress reports."""
        current = sum(f.tell() for f in self._open_files if not f.closed)
        return min(1.0, (self._done_bytes + current) / self._size)

    def open(self, path: Path | None = None) -> TextIO:
        """A text stream (newlines untranslated, as the csv module wants)."""
        raw = open(path or self.path, "rb")
        self._open_files.append(raw)
        return _TrackedText(io.TextIOWrapper(raw, encoding=self.encoding, newline=""), self, raw)

    def _closed(self, raw: BinaryIO) -> None:
        if raw in self._open_files:
            self._done_bytes += raw.tell()
            self._open_files.remove(raw)

    def lines(self, path: Path | None = None) -> Iterator[tuple[int, str]]:
        number = 0
        with self.open(path) as stream:
            try:
                for number, line in enumerate(stream, 1):
                    yield number, line.rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise FormatError(f"is not valid {self.encoding} text ({exc.reason}); pass the "
                                  f"file's encoding", f"line {number + 1}", "encoding") from None

    def json_values(self) -> Iterator[tuple[str, Any]]:
        with self.open() as stream:
            first, skipped_lines = _skip_space(stream)
            if first == "[":
                yield from _array_values(stream)
                return
            yield from _json_lines(first, stream, skipped_lines)


class _TrackedText(io.TextIOBase):
    """A text stream that reports to its source when closed (for progress)."""

    def __init__(self, inner: io.TextIOWrapper, source: FileSource, raw: BinaryIO):
        self._inner, self._source, self._raw = inner, source, raw

    def __iter__(self):
        return iter(self._inner)

    def __next__(self) -> str:
        return next(self._inner)

    def read(self, size: int = -1) -> str:
        return self._inner.read(size)

    def readline(self, size: int = -1) -> str:
        return self._inner.readline(size)

    def close(self) -> None:
        self._source._closed(self._raw)
        self._inner.close()
        super().close()


def _skip_space(stream: TextIO) -> tuple[str, int]:
    """The first character that is not white space, and how many line breaks came before it."""
    newlines = 0
    while True:
        char = stream.read(1)
        if not char or not char.isspace():
            return char, newlines
        newlines += char == "\n"


def _json_lines(first: str, stream: TextIO, skipped_lines: int) -> Iterator[tuple[str, Any]]:
    for number, line in enumerate(stream, skipped_lines + 1):
        if number == skipped_lines + 1:
            line = first + line
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"is not valid JSON ({exc.msg} at column {exc.colno})",
                              f"line {number}", "json") from None
        yield f"line {number}", value


def _array_values(stream: TextIO) -> Iterator[tuple[str, Any]]:
    """Elements of a JSON array, decoded one at a time from a growing buffer."""
    buffer, position, index = "", 0, 0

    def more() -> bool:
        nonlocal buffer, position
        chunk = stream.read(CHUNK_CHARS)
        buffer, position = buffer[position:] + chunk, 0
        return bool(chunk)

    def next_char() -> str:
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position].isspace():
                position += 1
            if position < len(buffer):
                return buffer[position]
            if not more():
                return ""

    expect_value = True
    while True:
        char = next_char()
        if char == "]" and (index == 0 or not expect_value):
            return
        if not char:
            raise FormatError("the JSON array is not closed with ]", f"record {index + 1}", "json")
        if not expect_value:
            if char != ",":
                raise FormatError(f"expected , or ] between records, got {char!r}",
                                  f"record {index + 1}", "json")
            position += 1
            expect_value = True
            continue
        while True:
            try:
                value, end = _DECODER.raw_decode(buffer, position)
            except json.JSONDecodeError as exc:
                if more():
                    continue
                raise FormatError(f"is not valid JSON ({exc.msg})", f"record {index + 1}",
                                  "json") from None
            if end == len(buffer) and more():  # a number may go on in the next chunk
                continue
            break
        position = end
        index += 1
        expect_value = False
        yield f"record {index}", value
