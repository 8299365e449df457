"""What an annotation is made of, asked of its parts rather than of its kind's name.

The core stores one generic annotation shape (plugin_api.AnnotationData, db.models.Annotation):

- a ``label``;
- an optional span, ``start`` and ``end`` (character offsets into the document's text);
- optional links to other annotations of the same document, ``subject_id`` and ``object_id``;
- ``attributes``, a JSON object whose keys and values the task defines and validates.

Which of these parts an annotation has is the task's business (its label kinds, validated by
the task plugin); the core only looks at the parts themselves. An annotation with a span is a
span annotation, one with links connects other annotations, and one with neither labels the
whole document. These predicates work on anything with ``start``/``end`` and
``subject_id``/``object_id`` attributes (ORM rows, AnnotationData, SQLAlchemy result rows), and
on a file's RecordAnnotation, whose links are record indexes (``subject``, ``object``).
``span_sql`` is has_span as an SQL expression on the ``annotations`` table, for queries.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import or_

from leanlife_server.db.models import Annotation
from leanlife_server.plugin_api import DOCUMENT, RELATION, SPAN


def has_span(annotation: Any) -> bool:
    """The annotation covers a stretch of text (start, end)."""
    return annotation.start is not None or annotation.end is not None


def has_links(annotation: Any) -> bool:
    """The annotation links other annotations of its document (subject, object)."""
    if hasattr(annotation, "subject_id"):
        return annotation.subject_id is not None or annotation.object_id is not None
    return annotation.subject is not None or annotation.object is not None  # RecordAnnotation


def is_document_label(annotation: Any) -> bool:
    """The annotation labels the whole document: it has neither a span nor links."""
    return not has_span(annotation) and not has_links(annotation)


def span_sql():
    """SQL twin of has_span for queries on Annotation."""
    return or_(Annotation.start.is_not(None), Annotation.end.is_not(None))


class KindParts(NamedTuple):
    """The parts every annotation of a label kind has."""

    span: bool
    links: bool


# The parts of plugin_api's label kinds, for the few decisions taken before any annotation is
# at hand (agreement picks its unit per kind, also for a project nobody has annotated yet).
# The one place in the core that ties kind names to parts; everywhere else asks the parts.
_KIND_PARTS = {SPAN: KindParts(span=True, links=False), RELATION: KindParts(span=False, links=True),
               DOCUMENT: KindParts(span=False, links=False)}


def kind_parts(kind: str) -> KindParts:
    """The parts annotations of label kind ``kind`` have (an unknown kind: neither, as a
    document label)."""
    return _KIND_PARTS.get(kind, KindParts(span=False, links=False))
