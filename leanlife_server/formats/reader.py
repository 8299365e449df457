"""A project's documents as :class:`DocumentRecord` objects, read a chunk of documents at a
time (keyset pagination), so that exports hold one chunk in memory whatever the project size."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator

import sqlalchemy as sa

from leanlife_server.annotation_parts import has_links
from leanlife_server.db import db
from leanlife_server.db.models import (
    SOURCE_RECOMMENDATION,
    Annotation,
    Document,
    DocumentCompletion,
    Explanation,
    Label,
    TriggerSpan,
    User,
)
from leanlife_server.db.staging import published
from leanlife_server.plugin_api import (
    DocumentRecord,
    ExplanationIn,
    RecordAnnotation,
    Span,
)


# Which layer an export writes: the annotators' work (and imported annotations), the gold
# layer (api/curation.py), or both, gold annotations then by the annotator GOLD_AUTHOR.
ANNOTATORS, GOLD, ALL = "annotators", "gold", "all"
LAYERS = (ANNOTATORS, GOLD, ALL)
GOLD_AUTHOR = "gold"


@dataclass(frozen=True)
class ExportFilters:
    """Which annotations (and documents) go out. ``annotator`` is a user id: only that user's
    annotations (plus the entities their relations point at); ``finished_only`` keeps the
    documents marked finished (by that annotator, or by anyone); ``layer``: see LAYERS."""

    annotator: int | None = None
    finished_only: bool = False
    include_recommendations: bool = True
    layer: str = ANNOTATORS


def count_documents(project_id: int, filters: ExportFilters) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(
        _documents(project_id, filters).subquery()))


def _documents(project_id: int, filters: ExportFilters) -> sa.Select:
    query = sa.select(Document.id, Document.text, Document.meta).where(
        Document.project_id == project_id, published(Document.import_id))
    if filters.finished_only:
        done = sa.exists().where(DocumentCompletion.document_id == Document.id)
        if filters.annotator is not None:
            done = done.where(DocumentCompletion.user_id == filters.annotator)
        query = query.where(done)
    return query


def _annotation_columns():
    return (Annotation.id, Annotation.document_id, Annotation.user_id, Label.name.label("label"),
            Annotation.kind, Annotation.start, Annotation.end, Annotation.subject_id,
            Annotation.object_id, Annotation.source, Annotation.gold, Annotation.imported_annotator,
            Annotation.attributes)


def project_records(project_id: int, filters: ExportFilters = ExportFilters(),
                    chunk: int = 1000) -> Iterator[DocumentRecord]:
    usernames = dict(db.session.execute(sa.select(User.id, User.username).where(
        User.id.in_(sa.select(Annotation.user_id).where(Annotation.project_id == project_id)
                    .distinct()))).all())
    last = 0
    while True:
        docs = db.session.execute(_documents(project_id, filters).where(Document.id > last)
                                  .order_by(Document.id).limit(chunk)).all()
        if not docs:
            return
        first, last = docs[0].id, docs[-1].id
        annotations = _annotations(project_id, first, last, filters)
        explanations = _explanations(project_id, first, last, {a.id for a in annotations})
        by_document = defaultdict(list)
        for row in annotations:
            by_document[row.document_id].append(row)
        for doc in docs:
            yield _record(doc, by_document.get(doc.id, []), explanations, usernames,
                          GOLD_AUTHOR if filters.layer == ALL else None)


def _annotations(project_id: int, first: int, last: int, filters: ExportFilters) -> list:
    query = (sa.select(*_annotation_columns()).join(Label, Label.id == Annotation.label_id)
             .where(Annotation.project_id == project_id,
                    Annotation.document_id.between(first, last)))
    if filters.annotator is not None:
        query = query.where(Annotation.user_id == filters.annotator)
    if filters.layer != ALL:
        query = query.where(Annotation.gold.is_(filters.layer == GOLD))
    if not filters.include_recommendations:
        query = query.where(Annotation.source != SOURCE_RECOMMENDATION)
    rows = db.session.execute(query.order_by(Annotation.document_id, Annotation.id)).all()
    have = {r.id for r in rows}
    # Annotations that kept ones link (relations' entities), whoever made them.
    missing = {i for r in rows if has_links(r) for i in (r.subject_id, r.object_id)} - have
    if missing:
        rows += db.session.execute(sa.select(*_annotation_columns())
                                   .join(Label, Label.id == Annotation.label_id)
                                   .where(Annotation.id.in_(missing))).all()
        rows.sort(key=lambda r: (r.document_id, r.id))
    return rows


def _explanations(project_id: int, first: int, last: int, wanted: set[int]
                  ) -> dict[int, list[ExplanationIn]]:
    in_range = (sa.select(Annotation.id).where(Annotation.project_id == project_id,
                                               Annotation.document_id.between(first, last)))
    rows = db.session.execute(sa.select(Explanation.id, Explanation.annotation_id, Explanation.kind,
                                        Explanation.text)
                              .where(Explanation.annotation_id.in_(in_range))
                              .order_by(Explanation.id)).all()
    spans = defaultdict(list)
    for row in db.session.execute(sa.select(TriggerSpan.explanation_id, TriggerSpan.start,
                                            TriggerSpan.end)
                                  .join(Explanation, Explanation.id == TriggerSpan.explanation_id)
                                  .where(Explanation.annotation_id.in_(in_range))
                                  .order_by(TriggerSpan.explanation_id, TriggerSpan.start)):
        spans[row.explanation_id].append(Span(row.start, row.end))
    out = defaultdict(list)
    for row in rows:
        if row.annotation_id in wanted:
            out[row.annotation_id].append(ExplanationIn(row.kind, text=row.text,
                                                        spans=tuple(spans.get(row.id, ()))))
    return out


def _record(doc, rows: list, explanations: dict, usernames: dict, gold_author: str | None) -> DocumentRecord:
    index = {row.id: i for i, row in enumerate(rows)}
    annotations = []
    for row in rows:
        relation = has_links(row)
        annotations.append(RecordAnnotation(
            label=row.label, start=None if relation else row.start, end=None if relation else row.end,
            subject=index[row.subject_id] if relation else None,
            object=index[row.object_id] if relation else None,
            explanations=tuple(explanations.get(row.id, ())),
            annotator=gold_author if row.gold else usernames.get(row.user_id, row.imported_annotator),
            source=row.source, attributes=row.attributes or {}))
    return DocumentRecord(text=doc.text, meta=doc.meta or {}, annotations=tuple(annotations),
                          location=f"document {doc.id}")
