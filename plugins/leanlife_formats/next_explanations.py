"""The NExT explanation files (Wang et al., ICLR 2020): a JSON list of labeled sentences,
each with a natural-language explanation.

- relation entries (``rel`` or ``relation``, ``sent``, ``exp``): the subject and object are
  written ``SUBJ-TYPE`` / ``OBJ-TYPE`` in the sentence; those words become the entity spans
  (labelled TYPE, or ``entity`` for ``O``), for a relation project;
- aspect sentiment entries (``term``, ``sent`` with ``$T$``, ``label`` -1/0/1, ``exp``): the
  term is put back into the sentence (its offsets go to the metadata) and the label becomes
  negative / neutral / positive, for a classification project.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping

from leanlife_formats.common import DEFAULT_ENTITY_LABEL, explanations_from
from leanlife_server.plugin_api import (
    DOCUMENT,
    RELATION,
    DocumentRecord,
    FormatError,
    ImportSource,
    RecordAnnotation,
)

_PLACEHOLDER = re.compile(r"\b(SUBJ|OBJ)-([A-Za-z_]+)\b")
TERM = "$T$"
POLARITY = {-1: "negative", 0: "neutral", 1: "positive"}


def sniff_next(head: str) -> bool:
    return '"exp"' in head and '"sent"' in head


def _relation(entry: Mapping[str, Any], location: str) -> DocumentRecord:
    text = entry["sent"]
    found = {m.group(1): m for m in _PLACEHOLDER.finditer(text)}
    if set(found) != {"SUBJ", "OBJ"}:
        raise FormatError("must contain SUBJ-TYPE and OBJ-TYPE", location, "sent")
    entities = tuple(RecordAnnotation(DEFAULT_ENTITY_LABEL if found[k].group(2) == "O" else found[k].group(2),
                                      found[k].start(), found[k].end()) for k in ("SUBJ", "OBJ"))
    relation = RecordAnnotation(entry.get("rel", entry.get("relation")), subject=0, object=1,
                                explanations=explanations_from(entry.get("exp"), location, "exp"))
    pattern = entry.get("pat", entry.get("pattern"))
    return DocumentRecord(text, {"pattern": pattern} if pattern else {}, entities + (relation,), location)


def _aspect(entry: Mapping[str, Any], location: str) -> DocumentRecord:
    sentence, term = entry["sent"], entry.get("term")
    if not isinstance(term, str) or TERM not in sentence:
        raise FormatError(f"an aspect entry needs a term and {TERM} in its sentence", location, "term")
    if entry.get("label") not in POLARITY:
        raise FormatError(f"must be one of {list(POLARITY)}", location, "label")
    start = sentence.index(TERM)
    text = sentence.replace(TERM, term)
    return DocumentRecord(text, {"term": term, "term_start": start, "term_end": start + len(term)},
                          (RecordAnnotation(POLARITY[entry["label"]],
                                            explanations=explanations_from(entry.get("exp"), location, "exp")),),
                          location)


def read_next(source: ImportSource) -> Iterator[DocumentRecord]:
    kinds = source.context.label_kinds
    for location, entry in source.json_values():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("sent"), str):
            raise FormatError("must be an object with a sentence", location, "sent")
        is_relation = "rel" in entry or "relation" in entry
        needed = RELATION if is_relation else DOCUMENT
        if needed not in kinds:
            raise FormatError(f"a {'relation' if is_relation else 'sentiment'} entry needs a project "
                              f"with {needed} labels", location, "rel" if is_relation else "label")
        yield _relation(entry, location) if is_relation else _aspect(entry, location)
