"""A project's annotations as a model ``Dataset``: the same for every task.

A labeled document is one somebody annotated or marked finished (a finished document with
no annotations says "nothing to label here"). Where several annotators labeled a document,
the most recently active one's annotations are used, so a model never sees two
contradicting versions of one document.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterator, Sequence

from sqlalchemy import exists, or_
from sqlalchemy.orm import selectinload

from leanlife_server.db import db
from leanlife_server.db.models import Annotation, Document, DocumentCompletion, Explanation, Label, Project
from leanlife_server.plugin_api import AnnotationData, Dataset, Example, ExplanationIn, Span

# Evaluate on a held-out share only once there are enough labeled documents to spare some.
HELDOUT_SHARE = 0.2
MIN_LABELED_FOR_HELDOUT = 10
CHUNK = 500


def _annotation_data(row: Annotation) -> AnnotationData:
    explanations = tuple(
        ExplanationIn(e.kind, text=e.text, spans=tuple(Span(s.start, s.end) for s in e.spans))
        for e in row.explanations)
    return AnnotationData(row.kind, row.label.name, start=row.start, end=row.end,
                          subject_id=row.subject_id, object_id=row.object_id,
                          explanations=explanations, id=row.id)


def _latest_annotator(rows: list[Annotation]) -> list[Annotation]:
    if not rows:
        return []
    by_user: dict[int | None, list[Annotation]] = defaultdict(list)
    for row in rows:
        by_user[row.user_id].append(row)
    latest = max(by_user.values(), key=lambda group: max(r.updated_at for r in group))
    return sorted(latest, key=lambda r: r.id)


def labeled_examples(project_id: int) -> list[Example]:
    annotated = exists().where(Annotation.document_id == Document.id)
    finished = exists().where(DocumentCompletion.document_id == Document.id)
    documents = db.session.execute(db.select(Document.id, Document.text).where(
        Document.project_id == project_id, or_(annotated, finished)).order_by(Document.id)).all()
    rows = db.session.scalars(
        db.select(Annotation).where(Annotation.project_id == project_id)
        .options(selectinload(Annotation.label),
                 selectinload(Annotation.explanations).selectinload(Explanation.spans)))
    by_document: dict[int, list[Annotation]] = defaultdict(list)
    for row in rows:
        by_document[row.document_id].append(row)
    return [Example(doc.id, doc.text, tuple(map(_annotation_data, _latest_annotator(by_document[doc.id]))))
            for doc in documents]


def unlabeled_chunks(project_id: int, size: int = CHUNK) -> Iterator[list[Example]]:
    """Documents nobody annotated or finished, in id order, ``size`` at a time."""
    annotated = exists().where(Annotation.document_id == Document.id)
    finished = exists().where(DocumentCompletion.document_id == Document.id)
    after = 0
    while True:
        rows = db.session.execute(db.select(Document.id, Document.text).where(
            Document.project_id == project_id, Document.id > after, ~annotated, ~finished)
            .order_by(Document.id).limit(size)).all()
        if not rows:
            return
        yield [Example(r.id, r.text) for r in rows]
        after = rows[-1].id


def build_dataset(project: Project) -> Dataset:
    labels = dict(db.session.execute(db.select(Label.name, Label.kind)
                                     .where(Label.project_id == project.id)).all())
    unlabeled = [example for chunk in unlabeled_chunks(project.id) for example in chunk]
    return Dataset(task=project.task, labels=labels, explanation_kind=project.explanation_kind,
                   labeled=labeled_examples(project.id), unlabeled=unlabeled)


@dataclass(frozen=True)
class Split:
    train: Dataset
    heldout: Sequence[Example]


def _held_out(document_id: int) -> bool:
    # A fixed hash of the id: a document stays on the same side of the split across runs.
    return (document_id * 2654435761) % 1000 < HELDOUT_SHARE * 1000


def split_heldout(data: Dataset) -> Split:
    """Hold out about ``HELDOUT_SHARE`` of the labeled documents for evaluation."""
    if len(data.labeled) < MIN_LABELED_FOR_HELDOUT:
        return Split(data, ())
    heldout = [e for e in data.labeled if _held_out(e.document_id)]
    train = [e for e in data.labeled if not _held_out(e.document_id)]
    if not heldout or not train:
        return Split(data, ())
    return Split(Dataset(data.task, data.labels, data.explanation_kind, train, data.unlabeled), heldout)
