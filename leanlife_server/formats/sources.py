"""The file an importer reads, with streaming helpers that number lines and records."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, BinaryIO, Iterator, TextIO

from leanlife_server.formats.encoding import DEFAULT_ENCODING, undecodable
from leanlife_server.plugin_api import FormatContext, FormatError

CHUNK_CHARS = 1 << 16
_DECODER = json.JSONDecoder()


class FileSource:
    """An :class:`~leanlife_server.plugin_api.ImportSource` over a file or a folder. Memory
    stays bounded: lines and JSON values are read one at a time. Bytes that are not text in
    ``encoding`` raise a FormatError naming the file (inside a folder too) and the line."""

    def __init__(self, path: Path, context: FormatContext, name: str | None = None,
                 encoding: str = DEFAULT_ENCODING):
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
        path = Path(path or self.path)
        raw = open(path, "rb")
        self._open_files.append(raw)
        return _TrackedText(io.TextIOWrapper(raw, encoding=self.encoding, newline=""), self, raw, path)

    def file_name(self, path: Path) -> str:
        """How errors name ``path``: the source's name, or for a file in a folder its path there."""
        if path == self.path:
            return self.name
        return f"{self.name}/{path.relative_to(self.path).as_posix()}"

    def undecodable(self, path: Path) -> FormatError:
        return undecodable(path, self.encoding, self.file_name(path))

    def _closed(self, raw: BinaryIO) -> None:
        if raw in self._open_files:
            self._done_bytes += raw.tell()
            self._open_files.remove(raw)

    def lines(self, path: Path | None = None) -> Iterator[tuple[int, str]]:
        with self.open(path) as stream:
            for number, line in enumerate(stream, 1):
                yield number, line.rstrip("\r\n")

    def json_values(self) -> Iterator[tuple[str, Any]]:
        with self.open() as stream:
            first, skipped_lines = _skip_space(stream)
            if first == "[":
                yield from _array_values(stream)
                return
            yield from _json_lines(first, stream, skipped_lines)


class _TrackedText(io.TextIOBase):
    """A text stream that reports to its source when closed (for progress), and turns a
    decoding error into a FormatError that names the file and line."""

    def __init__(self, inner: io.TextIOWrapper, source: FileSource, raw: BinaryIO, path: Path):
        self._inner, self._source, self._raw, self._path = inner, source, raw, path

    def __iter__(self):
        return self

    def __next__(self) -> str:
        return self._decoded(next, self._inner)

    def read(self, size: int = -1) -> str:
        return self._decoded(self._inner.read, size)

    def readline(self, size: int = -1) -> str:
        return self._decoded(self._inner.readline, size)

    def _decoded(self, read, *args) -> str:
        try:
            return read(*args)
        except UnicodeDecodeError:
            raise self._source.undecodable(self._path) from None

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
