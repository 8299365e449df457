"""A project's annotations as a model ``Dataset``: the same for every task.

A labeled document is one somebody annotated with a target-kind annotation or marked
finished (a finished document with no annotations says "nothing to label here"); annotations
of the task's ``input_kinds`` (RE's entity spans) travel with the documents as model input.
The best layer a document has is used: a curated document (api/curation.py) carries its
gold layer only; else, where several annotators labeled or finished it, what most of them
agree on (pipeline/merge.py: majority per item, ties dropped), so a model never sees two
contradicting versions of one document; else its one annotator's work.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

from sqlalchemy import ColumnElement, exists, or_

from leanlife_server.db import db
from leanlife_server.db.models import (CURATED, Annotation, Document, DocumentCompletion, Explanation, Label, Project,
                                       TriggerSpan)
from leanlife_server.db.staging import published
from leanlife_server.pipeline.merge import majority, with_inputs
from leanlife_server.plugin_api import AnnotationData, Dataset, Example, ExplanationIn, Span

# Evaluate on a held-out share only once there are enough labeled documents to spare some.
HELDOUT_SHARE = 0.2
MIN_LABELED_FOR_HELDOUT = 10
CHUNK = 500


def annotation_data(row: Annotation) -> AnnotationData:
    """An ORM annotation (its label, explanations and spans loaded) as model input."""
    return _data(row, row.label.name, tuple(
        ExplanationIn(e.kind, text=e.text, spans=tuple(Span(s.start, s.end) for s in e.spans))
        for e in row.explanations))


@dataclass(frozen=True)
class AnnotationRow:
    """What a dataset needs of one stored annotation."""

    id: int
    document_id: int
    user_id: int | None
    kind: str
    gold: bool
    label_id: int
    data: AnnotationData


def annotation_rows(condition: ColumnElement[bool]) -> list[AnnotationRow]:
    """The annotations that ``condition`` (on the annotations table) selects, in id order,
    with their label names, explanations and trigger spans: three queries of plain tuples.
    ORM objects cost minutes for the hundreds of thousands of annotations a large import
    brings, and every cheap retraining reads them all."""
    spans: dict[int, list[Span]] = defaultdict(list)
    for explanation_id, start, end in db.session.execute(
            db.select(TriggerSpan.explanation_id, TriggerSpan.start, TriggerSpan.end)
            .join(Explanation, Explanation.id == TriggerSpan.explanation_id)
            .join(Annotation, Annotation.id == Explanation.annotation_id).where(condition)
            .order_by(TriggerSpan.explanation_id, TriggerSpan.start, TriggerSpan.id)):
        spans[explanation_id].append(Span(start, end))
    explanations: dict[int, list[ExplanationIn]] = defaultdict(list)
    for explanation_id, annotation_id, kind, text in db.session.execute(
            db.select(Explanation.id, Explanation.annotation_id, Explanation.kind, Explanation.text)
            .join(Annotation, Annotation.id == Explanation.annotation_id).where(condition)
            .order_by(Explanation.id)):
        explanations[annotation_id].append(ExplanationIn(kind, text=text, spans=tuple(spans[explanation_id])))
    rows = db.session.execute(
        db.select(Annotation.id, Annotation.document_id, Annotation.user_id, Annotation.kind, Annotation.gold,
                  Annotation.label_id, Label.name, Annotation.start, Annotation.end, Annotation.subject_id,
                  Annotation.object_id, Annotation.attributes)
        .join(Label, Label.id == Annotation.label_id).where(condition).order_by(Annotation.id))
    return [AnnotationRow(r.id, r.document_id, r.user_id, r.kind, r.gold, r.label_id,
                          _data(r, r.name, tuple(explanations.get(r.id, ())))) for r in rows]


def _data(row: Any, label: str, explanations: tuple[ExplanationIn, ...]) -> AnnotationData:
    return AnnotationData(row.kind, label, start=row.start, end=row.end, subject_id=row.subject_id,
                          object_id=row.object_id, explanations=explanations, id=row.id,
                          attributes=row.attributes or {})


def annotated(input_kinds: Sequence[str]):
    """SQL condition: the document has a target-kind annotation (someone labeled it)."""
    target = Annotation.kind.not_in(input_kinds) if input_kinds else db.true()
    return or_(exists().where(Annotation.document_id == Document.id, target), Document.review_state == CURATED)


def labeled_examples(project_id: int, input_kinds: Sequence[str] = ()) -> list[Example]:
    """Documents with a target annotation, or finished, with their annotators' merged targets
    (pipeline/merge.py) and the input annotations (imported, or those annotators') they build on.
    Documents whose annotators agree on nothing are left out."""
    finished = exists().where(DocumentCompletion.document_id == Document.id)
    documents = db.session.execute(db.select(Document.id, Document.text, Document.review_state).where(
        Document.project_id == project_id, published(Document.import_id),
        or_(annotated(input_kinds), finished)).order_by(Document.id)).all()
    by_document: dict[int, list[AnnotationRow]] = defaultdict(list)
    # Not the rows of an import still running: hidden, and (a big import) most of the table.
    for row in annotation_rows((Annotation.project_id == project_id) & published(Annotation.import_id)):
        by_document[row.document_id].append(row)
    finishers: dict[int, list[int]] = defaultdict(list)
    for document_id, user_id in db.session.execute(
            db.select(DocumentCompletion.document_id, DocumentCompletion.user_id)
            .join(Document, Document.id == DocumentCompletion.document_id)
            .where(Document.project_id == project_id).order_by(DocumentCompletion.id)):
        finishers[document_id].append(user_id)
    examples = []
    for doc in documents:
        data = {row.id: row.data for row in by_document[doc.id]}
        curated = doc.review_state == CURATED
        work: dict[int | None, list[AnnotationData]] = defaultdict(list)
        for row in by_document[doc.id]:
            # Curated: the gold layer is the document's one "annotator"; else gold is left out.
            if row.kind not in input_kinds and row.gold == curated:
                work[row.user_id].append(data[row.id])
        if curated:
            work.setdefault(None, [])  # an empty gold layer says "nothing to label here"
        else:
            for user_id in finishers[doc.id]:
                work.setdefault(user_id, [])
        targets = majority(work, data)
        if targets is None:
            continue
        inputs = [data[row.id] for row in by_document[doc.id] if row.kind in input_kinds and (
            row.gold or row.user_id is None if curated else
            not row.gold and (row.user_id is None or row.user_id in work))]
        examples.append(Example(doc.id, doc.text, with_inputs(targets, inputs)))
    return examples


def input_annotations(document_ids: Sequence[int], input_kinds: Sequence[str]
                      ) -> dict[int, tuple[AnnotationData, ...]]:
    """Each document's input-kind annotations, one per (kind, label, offsets) whoever made it."""
    if not input_kinds or not document_ids:
        return {}
    seen: set[tuple] = set()
    found: dict[int, list[AnnotationData]] = defaultdict(list)
    for row in annotation_rows(Annotation.document_id.in_(document_ids) & Annotation.kind.in_(input_kinds)):
        key = (row.document_id, row.kind, row.label_id, row.data.start, row.data.end)
        if key not in seen:
            seen.add(key)
            found[row.document_id].append(row.data)
    return {document_id: tuple(rows) for document_id, rows in found.items()}


def examples_for(rows: Sequence, input_kinds: Sequence[str]) -> list[Example]:
    """(id, text) rows as examples to predict on, carrying their input annotations."""
    inputs = input_annotations([r.id for r in rows], input_kinds)
    return [Example(r.id, r.text, inputs.get(r.id, ())) for r in rows]


def unlabeled_chunks(project_id: int, input_kinds: Sequence[str] = (),
                     size: int = CHUNK) -> Iterator[list[Example]]:
    """Documents without target annotations and not finished, in id order, ``size`` at a time."""
    labeled = annotated(input_kinds)
    finished = exists().where(DocumentCompletion.document_id == Document.id)
    after = 0
    while True:
        rows = db.session.execute(db.select(Document.id, Document.text).where(
            Document.project_id == project_id, Document.id > after, published(Document.import_id),
            ~labeled, ~finished)
            .order_by(Document.id).limit(size)).all()
        if not rows:
            return
        yield examples_for(rows, input_kinds)
        after = rows[-1].id


def build_dataset(project: Project, input_kinds: Sequence[str] = ()) -> Dataset:
    labels = dict(db.session.execute(db.select(Label.name, Label.kind)
                                     .where(Label.project_id == project.id)).all())
    unlabeled = [example for chunk in unlabeled_chunks(project.id, input_kinds) for example in chunk]
    return Dataset(task=project.task, labels=labels, explanation_kind=project.explanation_kind,
                   labeled=labeled_examples(project.id, input_kinds), unlabeled=unlabeled)


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
