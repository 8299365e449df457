"""SemEval ABSA XML, read and written.

Reads both shapes the shared tasks used: 2014 (Task 4) ``<aspectTerm term polarity from to>``
in a sentence's ``<aspectTerms>``, labelled "ASPECT" (that year's terms had no category), and
2015/2016 (Tasks 12 and 5) ``<Opinion target category polarity from to>``, labelled with the
category. Opinions whose target is "NULL" (a category without a term) are left out: they have
no span. Writes the 2016 shape, which keeps the category.

The file is fed to the parser line by line, so an error names its line; nothing is read twice,
and each sentence is let go once read (memory stays flat on large files).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Iterable, Iterator
from xml.sax.saxutils import escape, quoteattr

from leanlife_absa.task import POLARITIES
from leanlife_server.plugin_api import (
    DocumentRecord,
    FormatContext,
    FormatError,
    ImportSource,
    RecordAnnotation,
)

TERM_LABEL = "ASPECT"  # 2014 aspect terms have no category


def sniff_semeval(head: str) -> bool:
    return "<sentence" in head and ("<aspectTerm" in head or "<Opinion" in head
                                    or "<sentences" in head)


def _offset(element: ET.Element, name: str, where: str, location: str) -> int:
    value = element.get(name)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FormatError(f"must be a whole number, not {value!r}", location, f"{where}.{name}") from None


def _aspect(element: ET.Element, text: str, where: str, location: str) -> RecordAnnotation | None:
    opinion = element.tag == "Opinion"
    term = element.get("target" if opinion else "term")
    if opinion and (term is None or term == "NULL"):
        return None
    start, end = _offset(element, "from", where, location), _offset(element, "to", where, location)
    if not 0 <= start < end <= len(text):
        raise FormatError(f"[{start}, {end}) is outside the sentence ({len(text)} characters)",
                          location, f"{where}.from")
    if term is not None and text[start:end] != term:
        raise FormatError(f"the sentence has {text[start:end]!r} at [{start}, {end}), not the term "
                          f"{term!r}", location, f"{where}.from")
    polarity = element.get("polarity")
    if polarity not in POLARITIES:
        raise FormatError(f"must be one of {', '.join(POLARITIES)}, not {polarity!r}", location,
                          f"{where}.polarity")
    label = element.get("category") if opinion else TERM_LABEL
    if not label:
        raise FormatError("is missing", location, f"{where}.category")
    return RecordAnnotation(label=label, start=start, end=end, attributes={"polarity": polarity})


def _record(sentence: ET.Element, location: str) -> DocumentRecord:
    text = sentence.findtext("text")
    if text is None:
        raise FormatError("has no <text>", location, "sentence")
    meta = {"id": sentence.get("id")} if sentence.get("id") is not None else {}
    annotations = []
    for i, element in enumerate(e for e in sentence.iter() if e.tag in ("aspectTerm", "Opinion")):
        aspect = _aspect(element, text, f"{element.tag}[{i}]", location)
        if aspect is not None:
            annotations.append(aspect)
    return DocumentRecord(text, meta, tuple(annotations), location)


def read_semeval(source: ImportSource) -> Iterator[DocumentRecord]:
    parser = ET.XMLPullParser(events=("start", "end"))
    started = None  # the line where the open <sentence> began
    number = 0
    try:
        for number, line in source.lines():
            parser.feed(line + "\n")
            for event, element in parser.read_events():
                if element.tag != "sentence":
                    continue
                if event == "start":
                    started = number
                    continue
                yield _record(element, f"line {started}")
                element.clear()
        parser.close()
    except ET.ParseError as error:  # expat's message ends with the position it also gives apart
        line, column = error.position
        raise FormatError(f"not well-formed XML ({str(error).split(':')[0]}, column {column + 1})",
                          f"line {line}") from None


def write_semeval(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]:
    yield '<?xml version="1.0" encoding="UTF-8"?>\n<sentences>\n'
    for n, record in enumerate(records, 1):
        sentence_id = str(record.meta.get("id", n))
        yield f"  <sentence id={quoteattr(sentence_id)}>\n    <text>{escape(record.text)}</text>\n"
        opinions = [a for a in record.annotations
                    if a.start is not None and a.attributes.get("polarity") in POLARITIES]
        if opinions:
            yield "    <Opinions>\n"
            for a in opinions:
                yield (f"      <Opinion target={quoteattr(record.text[a.start:a.end])} "
                       f"category={quoteattr(a.label)} polarity={quoteattr(a.attributes['polarity'])} "
                       f'from="{a.start}" to="{a.end}"/>\n')
            yield "    </Opinions>\n"
        yield "  </sentence>\n"
    yield "</sentences>\n"
