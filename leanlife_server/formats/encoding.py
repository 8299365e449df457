"""The text encoding an import reads with, and where a file stops being text in it.

Python's text streams decode a block of bytes at a time, so a decoding error says neither the
line nor the column. When one happens the file is decoded again here, counting line breaks the
way the importers count lines (``\\n``, ``\\r\\n`` or ``\\r``), to name the exact place.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from leanlife_server.plugin_api import FormatError

# UTF-8, with or without a byte order mark (Excel and Notepad write one).
DEFAULT_ENCODING = "utf-8-sig"
CHUNK_BYTES = 1 << 16


def text_encoding(name: str | None) -> str:
    """The codec for a user's ``encoding`` (None or empty: the default). Any spelling of UTF-8
    also reads a byte order mark; names Python does not know as a text encoding are refused."""
    if not name:
        return DEFAULT_ENCODING
    try:
        b"a".decode(name, errors="ignore")  # LookupError for unknown names and bytes codecs (base64)
    except LookupError:
        raise FormatError(f"{name!r} is not a text encoding (e.g. utf-8, latin-1, cp1252)",
                          field="encoding") from None
    return DEFAULT_ENCODING if codecs.lookup(name).name == "utf-8" else name


@dataclass(frozen=True)
class DecodeFailure:
    line: int
    column: int
    bad: bytes
    reason: str


class _LineCounter:
    """Line and column after the text seen so far, a line break being \\n, \\r\\n or \\r."""

    def __init__(self):
        self.line, self.column, self._after_cr = 1, 1, False

    def add(self, text: str) -> None:
        if not text:
            return
        joined = self._after_cr and text[0] == "\n"  # the \n of a \r\n split across pieces
        self.line += text.count("\n") + text.count("\r") - text.count("\r\n") - joined
        last_break = max(text.rfind("\n"), text.rfind("\r"))
        self.column = len(text) - last_break if last_break >= 0 else self.column + len(text)
        self._after_cr = text[-1] == "\r"


def first_decode_failure(path: Path, encoding: str) -> DecodeFailure | None:
    """Where ``path`` first fails to decode in ``encoding``, or None if it decodes."""
    decoder = codecs.getincrementaldecoder(encoding)()
    counter = _LineCounter()
    with open(path, "rb") as raw:
        while True:
            chunk = raw.read(CHUNK_BYTES)
            state = decoder.getstate()
            try:
                counter.add(decoder.decode(chunk, final=not chunk))
            except UnicodeDecodeError:
                decoder.setstate(state)
                return _in_chunk(decoder, chunk, counter)
            if not chunk:
                return None


def _in_chunk(decoder: codecs.IncrementalDecoder, chunk: bytes, counter: _LineCounter) -> DecodeFailure:
    """Replay the failing chunk a byte at a time to find the byte (only on the error path)."""
    for i in range(len(chunk) + 1):
        try:
            counter.add(decoder.decode(chunk[i:i + 1], final=i == len(chunk)))
        except UnicodeDecodeError as exc:
            return DecodeFailure(counter.line, counter.column, exc.object[exc.start:exc.end], exc.reason)
    raise AssertionError("the chunk decoded a byte at a time but not whole")


def undecodable(path: Path, encoding: str, file: str) -> FormatError:
    """The error for a file that is not text in ``encoding``; ``file`` names it."""
    failure = first_decode_failure(path, encoding)
    hint = "name the file's encoding (the encoding option, e.g. latin-1 or cp1252)"
    if failure is None:  # the file changed while it was read
        return FormatError(f"is not valid {encoding} text; {hint}", field="encoding", file=file)
    shown = " ".join(f"0x{b:02x}" for b in failure.bad)
    return FormatError(f"bytes {shown} at column {failure.column} are not valid {encoding} text "
                       f"({failure.reason}); {hint}", f"line {failure.line}", "encoding", file)
