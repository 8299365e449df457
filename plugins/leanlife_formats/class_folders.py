"""Classification data as a folder with one file per class (each line a document, e.g.
``rt-polarity.pos`` and ``rt-polarity.neg``) or one subfolder per class (each file a
document). A file's class is its extension (``rt-polarity.pos``: ``pos``) unless that is
``.txt`` or missing, then its name (``positive.txt``: ``positive``)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from leanlife_server.plugin_api import DocumentRecord, FormatError, ImportSource, RecordAnnotation

PLAIN_SUFFIXES = ("", ".txt")


def class_of(path: Path) -> str:
    return path.stem if path.suffix.lower() in PLAIN_SUFFIXES else path.suffix[1:]


def read_class_folders(source: ImportSource) -> Iterator[DocumentRecord]:
    if not source.path.is_dir():
        raise FormatError("needs a folder with one file or subfolder per class", source.name, "path")
    for entry in sorted(source.path.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            for document in sorted(p for p in entry.iterdir() if p.is_file()):
                text = "\n".join(line for _, line in source.lines(document)).strip()
                if text:
                    yield DocumentRecord(text, annotations=(RecordAnnotation(entry.name),),
                                         location=f"{entry.name}/{document.name}")
        else:
            label = class_of(entry)
            for number, line in source.lines(entry):
                if line.strip():
                    yield DocumentRecord(line, annotations=(RecordAnnotation(label),),
                                         location=f"{entry.name} line {number}")
