"""What agreement compares in a project: the annotators' items, read with a few SQL queries.

The task decides what is compared through the annotation kind it labels: the first of its
``label_kinds`` that is not one of its ``input_kinds`` (RE's entity spans are input, its
relations the target). The kind's parts (annotation_parts.kind_parts) pick the unit:

* neither span nor links (document labels): the document;
* links (relations): the directed pair it links, by the offsets of its subject and object (so
  annotators who drew the same entities separately still share the pair);
* a span: the span's offsets for exact-span F1, and the document's tokens for alpha.

Only annotations made by users count (imported ones without an annotator, ``user_id`` NULL,
do not), and nothing of an unfinished import.
"""

from __future__ import annotations

import json
from itertools import chain
from typing import Any

import numpy as np
import sqlalchemy as sa

from leanlife_server.agreement import (
    LabelTables,
    SpanItems,
    coverage,
    label_agreement,
    span_agreement,
    span_disagreements,
    tokenize,
)
from leanlife_server.annotation_parts import kind_parts
from leanlife_server.db import db
from leanlife_server.db.models import Annotation, Document, DocumentCompletion, Label
from leanlife_server.db.staging import published
from leanlife_server.plugin_api import TaskDefinition


def compared_kind(task: TaskDefinition) -> str:
    """The annotation kind whose agreement is measured: the task's first target kind."""
    targets = [kind for kind in task.label_kinds if kind not in task.input_kinds]
    return (targets or list(task.label_kinds))[0]


def project_labels(project_id: int, kind: str) -> dict[int, str]:
    """Label id -> name of the project's labels of ``kind``, in id order."""
    rows = db.session.execute(sa.select(Label.id, Label.name).where(
        Label.project_id == project_id, Label.kind == kind).order_by(Label.id))
    return {row.id: row.name for row in rows}


def _annotated(project_id: int, kind: str) -> list[Any]:
    return [Annotation.project_id == project_id, Annotation.kind == kind,
            Annotation.user_id.is_not(None), published(Annotation.import_id)]


def _columns(rows: Any, count: int) -> list[np.ndarray]:
    """Result rows as one int64 array per column (chain: numpy reads plain ints fast)."""
    table = np.fromiter(chain.from_iterable(rows), dtype=np.int64).reshape(-1, count)
    return [table[:, k] for k in range(count)]


# Bits that tell the labels of a set apart (an annotator who gave one unit several labels).
MAX_SET_LABELS = 62


def _unit_columns(kind: str) -> tuple[list[Any], Any]:
    """The columns that name a unit (the first is the document) and the query they come from."""
    if kind_parts(kind).links:
        subject, obj = sa.orm.aliased(Annotation), sa.orm.aliased(Annotation)
        unit = [Annotation.document_id.label("u0"), subject.start.label("u1"), subject.end.label("u2"),
                obj.start.label("u3"), obj.end.label("u4")]
        return unit, (sa.select(*unit).join(subject, subject.id == Annotation.subject_id)
                      .join(obj, obj.id == Annotation.object_id))
    unit = [Annotation.document_id.label("u0")]
    return unit, sa.select(*unit)


def _label_bit(labels: dict[int, str]) -> Any:
    bits = {lid: 1 << rank for rank, lid in enumerate(labels) if rank < MAX_SET_LABELS}
    return sa.case(bits, value=Annotation.label_id, else_=0) if bits else sa.literal(0)


def _value_of(user_id: Any, labels: dict[int, str]) -> Any:
    """Aggregated over a unit: the label ``user_id`` gave it, minus the bit set of its labels
    where they gave several, NULL where none."""
    label = sa.case((Annotation.user_id == user_id, Annotation.label_id))
    several = sa.func.min(label) < sa.func.max(label)
    bits = sa.func.sum(sa.distinct(sa.case((Annotation.user_id == user_id, _label_bit(labels)))))
    return sa.case((several, -sa.cast(bits, sa.BigInteger)), else_=sa.cast(sa.func.max(label), sa.BigInteger))


def _value_labels(values: np.ndarray, labels: dict[int, str]) -> dict[int, frozenset[int]]:
    by_bit = {1 << rank: lid for rank, lid in enumerate(labels) if rank < MAX_SET_LABELS}
    return {int(v): frozenset([int(v)]) if v > 0 else
            frozenset(lid for b, lid in by_bit.items() if -int(v) & b) for v in values}


def _label_tables(project_id: int, kind: str, labels: dict[int, str]) -> LabelTables:
    """One query: each unit's values by annotator (GROUP BY unit), then how many units share
    each combination (GROUP BY the values)."""
    where = _annotated(project_id, kind)
    annotators = np.array(db.session.scalars(sa.select(Annotation.user_id).where(*where).distinct()
                                             .order_by(Annotation.user_id)).all(), dtype=np.int64)
    if not len(annotators):
        return LabelTables(annotators, np.zeros((0, 0)), np.zeros(0, dtype=np.int64), {})
    unit, query = _unit_columns(kind)
    per_unit = (query.with_only_columns(*(_value_of(int(u), labels).label(f"v{k}")
                                          for k, u in enumerate(annotators)))
                .where(*where).group_by(*unit).subquery())
    rows = db.session.execute(sa.select(*per_unit.c, sa.func.count()).group_by(*per_unit.c)).all()
    table = np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)
    table = table.reshape(-1, len(annotators) + 1)
    values = table[:, :-1]
    return LabelTables(annotators, values, table[:, -1].astype(np.int64),
                       _value_labels(np.unique(values[~np.isnan(values)]), labels))


def _label_disagreements(project_id: int, kind: str, pair: tuple[int, int] | None, label: int | None,
                         cursor: int, limit: int) -> list[int]:
    """Documents above ``cursor`` holding a unit both labelled with different values (or where
    one chose ``label`` and the other did not), a page of them in SQL. Without ``pair``: a
    unit ``label`` was given by some of the annotators who labelled it and not by others."""
    labels = project_labels(project_id, kind)
    unit, query = _unit_columns(kind)
    where = _annotated(project_id, kind)
    if pair is None:
        givers = sa.func.count(sa.distinct(sa.case((Annotation.label_id == label, Annotation.user_id))))
        having = [givers > 0, givers < sa.func.count(sa.distinct(Annotation.user_id))]
    else:
        first, second = _value_of(pair[0], labels), _value_of(pair[1], labels)
        if label is None:
            differ = first != second
        else:
            bit = 1 << list(labels).index(label)

            def has(value: Any) -> Any:
                return sa.or_(value == label, sa.and_(value < 0, (-value).op("&")(bit) != 0))
            differ = has(first) != has(second)
        where.append(Annotation.user_id.in_(pair))
        having = [first.is_not(None), second.is_not(None), differ]
    document = unit[0]
    query = (query.with_only_columns(document.element).distinct()
             .where(*where, document.element > cursor)
             .group_by(*unit).having(*having)
             .order_by(document.element).limit(limit))
    return list(db.session.scalars(query))


def _plain_rows(query: sa.Select) -> list[tuple]:
    """The DBAPI's plain tuples: on hundreds of thousands of rows SQLAlchemy's Row objects
    cost more than the query itself."""
    result = db.session.connection().execute(query)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _texts(ids: list[int]) -> dict[int, str]:
    """The texts of documents ``ids``, passed as one parameter: a PostgreSQL array, a JSON
    list for SQLite (an IN list of 100,000 parameters costs seconds to render and parse on
    PostgreSQL, and SQLite allows 32,766)."""
    query = sa.select(Document.id, Document.text)
    if db.session.get_bind().dialect.name == "postgresql":
        array = sa.bindparam("ids", ids, type_=sa.ARRAY(sa.Integer))
        return dict(_plain_rows(query.where(Document.id == sa.any_(array))))
    listed = sa.select(sa.column("value")).select_from(sa.func.json_each(sa.bindparam("ids", json.dumps(ids))))
    return dict(_plain_rows(query.where(Document.id.in_(listed))))


def _span_items(project_id: int, kind: str, with_tokens: bool = True) -> SpanItems:
    """Every user's span of ``kind`` and the documents each covered (marked finished or marked
    a span in), read as plain tuples; duplicates are harmless downstream, so no DISTINCT."""
    document, start, end, annotator, label = _columns(_plain_rows(sa.select(
        Annotation.document_id, Annotation.start, Annotation.end, Annotation.user_id,
        Annotation.label_id).where(*_annotated(project_id, kind))), 5)
    finished_document, finished_by = _columns(_plain_rows(
        sa.select(DocumentCompletion.document_id, DocumentCompletion.user_id)
        .join(Document, Document.id == DocumentCompletion.document_id)
        .where(Document.project_id == project_id, published(Document.import_id))), 2)
    covered_document, covered_annotator = np.r_[document, finished_document], np.r_[annotator, finished_by]
    texts: dict[int, str] = {}
    if with_tokens:  # only documents two annotators covered have tokens to compare
        documents, _, covered = coverage(covered_document, covered_annotator)
        texts = _texts(documents[covered.sum(axis=1) >= 2].tolist())
    token_document, token_start, token_end = tokenize(texts)
    return SpanItems(document, start, end, annotator, label, covered_document, covered_annotator,
                     token_document, token_start, token_end)


def project_agreement(project_id: int, task: TaskDefinition) -> dict[str, Any]:
    """The figures GET /projects/{id}/agreement answers (docs/api.md, "Agreement")."""
    kind = compared_kind(task)
    labels = project_labels(project_id, kind)
    if kind_parts(kind).span:
        figures = span_agreement(_span_items(project_id, kind), labels)
    else:
        figures = label_agreement(_label_tables(project_id, kind, labels), labels)
    return {"kind": kind, **figures}


def disagreeing_documents(project_id: int, task: TaskDefinition, pair: tuple[int, int] | None,
                          label: int | None, cursor: int, limit: int) -> list[int]:
    """Ids above ``cursor`` of the documents where the pair (None: any two annotators)
    disagrees (on ``label``, if given), in id order, at most ``limit``."""
    kind = compared_kind(task)
    if kind_parts(kind).span:
        documents = span_disagreements(_span_items(project_id, kind, with_tokens=False), pair, label)
        return [int(d) for d in documents[documents > cursor][:limit]]
    return _label_disagreements(project_id, kind, pair, label, cursor, limit)
