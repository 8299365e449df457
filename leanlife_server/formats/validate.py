"""Records checked against the project's task, so that nothing invalid is stored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from leanlife_server.annotation_parts import has_links, has_span, is_document_label
from leanlife_server.db.models import SOURCE_IMPORT, SOURCES
from leanlife_server.plugin_api import (
    DEFAULT_MAX_SPANS_PER_ANNOTATION,
    AnnotationData,
    DocumentContext,
    DocumentRecord,
    FormatError,
    Span,
    TaskDefinition,
    ValidationError,
)

MAX_LABEL_CHARS = 100
MAX_ANNOTATOR_CHARS = 150  # users.username, annotations.imported_annotator


class RecordValidator:
    """Parses each record's annotations with ``TaskDefinition.parse_annotation``. Labels the
    project lacks are accepted with the kind the annotation needs, and remembered in
    ``new_labels`` so that the import creates them."""

    def __init__(self, task: TaskDefinition, labels: Mapping[str, str], explanation_kind: str,
                 multi_label: bool, max_chars: int,
                 max_spans_per_annotation: int = DEFAULT_MAX_SPANS_PER_ANNOTATION,
                 max_annotations_per_document: int | None = None):
        self.task = task
        self.labels = dict(labels)
        self.new_labels: dict[str, str] = {}
        self.explanation_kind = explanation_kind
        self.multi_label = multi_label
        self.max_chars = max_chars
        self.max_spans_per_annotation = max_spans_per_annotation
        self.max_annotations_per_document = max_annotations_per_document

    def check(self, record: DocumentRecord) -> list[AnnotationData]:
        """The record's annotations, parsed, in order; relations keep record indexes as ids."""
        where = record.location
        if not isinstance(record.text, str) or not record.text.strip():
            raise FormatError("must be a non-empty string", where, "text")
        if len(record.text) > self.max_chars:
            raise FormatError(f"is {len(record.text)} characters long; the limit is "
                              f"{self.max_chars} (LEANLIFE_MAX_DOCUMENT_CHARS)", where, "text")
        if not isinstance(record.meta, Mapping):
            raise FormatError("must be an object", where, "meta")
        if not record.annotations:
            return []
        self._check_annotation_count(record)
        for i, annotation in enumerate(record.annotations):
            self._check_label(annotation.label, annotation.kind, where, f"annotations[{i}]")
            if annotation.annotator is not None and (not isinstance(annotation.annotator, str)
                                                     or len(annotation.annotator) > MAX_ANNOTATOR_CHARS):
                raise FormatError(f"must be an annotator name of at most {MAX_ANNOTATOR_CHARS} characters",
                                  where, f"annotations[{i}].annotator")
            if annotation.source is not None and annotation.source not in SOURCES:
                raise FormatError(f"must be one of {list(SOURCES)}", where, f"annotations[{i}].source")
        # What others link first (entities), so that links can name any annotation of the record.
        order = sorted(range(len(record.annotations)), key=lambda i: has_links(record.annotations[i]))
        parsed: dict[int, AnnotationData] = {}
        entity_spans: dict[int, Span] = {}
        for i in order:
            context = DocumentContext(text=record.text, labels=self.labels,
                                      explanation_kind=self.explanation_kind,
                                      entity_spans=entity_spans, multi_label=self.multi_label,
                                      max_spans_per_annotation=self.max_spans_per_annotation)
            try:
                result = self.task.parse_annotation(record.annotations[i].payload(), context)
            except ValidationError as exc:
                raise FormatError(exc.message, where, f"annotations[{i}].{exc.field}") from None
            parsed[i] = result
            if has_span(result) and not has_links(result):
                entity_spans[i] = Span(result.start, result.end)
        self._check_single_label(record, parsed)
        self._check_overlaps(record, parsed)
        return [parsed[i] for i in range(len(record.annotations))]

    def _check_overlaps(self, record: DocumentRecord, parsed: dict[int, AnnotationData]) -> None:
        """Where the task's spans may not overlap (NER), one annotator's spans in a record may
        not either (the same span and label given twice is one span: the writer keeps one)."""
        if self.task.overlapping_spans:
            return
        spans: dict[tuple, int] = {}
        for i, a in parsed.items():
            if has_span(a):
                spans.setdefault((record.annotations[i].annotator, a.start, a.end, a.label), i)
        ordered = sorted(spans.items(), key=lambda item: (item[0][0] or "", item[0][1], item[0][2]))
        for (before, i), (after, j) in zip(ordered, ordered[1:]):
            if before[0] == after[0] and after[1] < before[2]:
                who = f"annotator {before[0]!r}" if before[0] else "the import"
                raise FormatError(
                    f"entities [{before[1]}, {before[2]}) {before[3]} (annotations[{i}]) and "
                    f"[{after[1]}, {after[2]}) {after[3]} (annotations[{j}]) by {who} overlap; in a "
                    f"{self.task.name!r} project one annotator's entities may not overlap (a word "
                    f"takes one label): keep one of them", record.location, f"annotations[{j}]")

    def _check_annotation_count(self, record: DocumentRecord) -> None:
        if self.max_annotations_per_document is None:
            return
        per_annotator = Counter(a.annotator for a in record.annotations)
        annotator, count = per_annotator.most_common(1)[0]
        if count > self.max_annotations_per_document:
            raise FormatError(f"{count} annotations by {annotator or 'the import'}; one annotator "
                              f"may have at most {self.max_annotations_per_document} on a document "
                              f"(LEANLIFE_MAX_ANNOTATIONS_PER_DOCUMENT)", record.location, "annotations")

    def _check_label(self, name: str, kind: str, where: str, field: str) -> None:
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_LABEL_CHARS:
            raise FormatError(f"must be a label name of 1 to {MAX_LABEL_CHARS} characters",
                              where, f"{field}.label")
        if name in self.labels:
            return
        if kind not in self.task.label_kinds:
            raise FormatError(f"label {name!r} would be a {kind} label, which a {self.task.name!r} "
                              f"project does not have", where, f"{field}.label")
        self.labels[name] = self.new_labels[name] = kind

    def _check_single_label(self, record: DocumentRecord, parsed: dict[int, AnnotationData]) -> None:
        if self.multi_label:
            return
        # The same label given twice is one label (the writer keeps one copy).
        per_annotator = Counter(annotator for annotator, _label in {
            (record.annotations[i].annotator, a.label) for i, a in parsed.items() if is_document_label(a)})
        for annotator, count in per_annotator.items():
            if count > 1:
                who = annotator or "the import"
                raise FormatError(f"{count} document labels by {who}; this project takes one label "
                                  f"per document (make it multi-label to keep them all)",
                                  record.location, "annotations")


def source_of(annotation_source: str | None) -> str:
    return annotation_source or SOURCE_IMPORT
