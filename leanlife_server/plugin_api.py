"""What plugins import from LeanLife: definition types, validated shapes and checking helpers.

This module is the only core module a plugin needs. It holds no state and imports nothing
heavy, so a plugin can be imported without starting the server.
"""

from __future__ import annotations

import importlib
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator, Mapping, Protocol, Sequence

# The live loop's events, which event hooks receive (leanlife_server/events.py: plain data).
from leanlife_server.events import (  # noqa: F401
    AnnotationDeleted,
    AnnotationSaved,
    Event,
    GoldChanged,
    ModelTrained,
    QueueRanked,
    RecommendationsMade,
    TrainingFinished,
)
# Pretrained resources shared by model plugins (GloVe, MiniLM), read from installed packages.
from leanlife_server.pretrained import WordVectors, glove_directory, load_glove, minilm_path  # noqa: F401

# Label kinds: what a label can be attached to.
SPAN, RELATION, DOCUMENT = "span", "relation", "document"
ANY_TASK = "*"  # FormatDefinition.tasks: every task
# Explanation kinds a project can collect.
EXPLANATION_NONE, EXPLANATION_TRIGGER, EXPLANATION_NATURAL_LANGUAGE = "none", "trigger", "natural_language"
# Most trigger spans (all trigger explanations together), and most explanations, one
# annotation may carry; the server passes LEANLIFE_MAX_SPANS_PER_ANNOTATION instead.
DEFAULT_MAX_SPANS_PER_ANNOTATION = 1000


class ValidationError(Exception):
    """Input that breaks a task's rules. ``field`` names where (a dotted path into the payload)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Span:
    start: int
    end: int


@dataclass(frozen=True)
class ExplanationIn:
    """A validated explanation: a trigger (one or more spans) or a natural-language text."""

    kind: str
    text: str | None = None
    spans: tuple[Span, ...] = ()


@dataclass(frozen=True)
class AnnotationData:
    """An annotation as plain data: validated input, a training example's label, or a
    prediction (then ``confidence`` is set and ``evidence`` says why, e.g. matched triggers).

    The generic shape every task's annotations take: a label, an optional span, optional links
    to other annotations of the document (``subject_id``, ``object_id``) and ``attributes``, a
    JSON object whose keys and values the task defines and validates (e.g. an aspect term's
    polarity); the core stores, serves, imports and exports it as given."""

    kind: str
    label: str
    start: int | None = None
    end: int | None = None
    subject_id: int | None = None
    object_id: int | None = None
    explanations: tuple[ExplanationIn, ...] = ()
    id: int | None = None
    confidence: float | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DocumentContext:
    """What a task sees of the document and project while validating an annotation."""

    text: str
    labels: Mapping[str, str]  # label name -> label kind
    explanation_kind: str
    entity_spans: Mapping[int, Span] = field(default_factory=dict)  # annotation id -> span
    multi_label: bool = False
    max_spans_per_annotation: int = DEFAULT_MAX_SPANS_PER_ANNOTATION


@dataclass(frozen=True)
class Example:
    """One document for a model: its text and (for labeled data) its annotations. Relations
    refer to entity annotations by ``AnnotationData.id``."""

    document_id: int | None
    text: str
    annotations: tuple[AnnotationData, ...] = ()


@dataclass(frozen=True)
class Dataset:
    """What a model trains on: labels (name -> kind), labeled and unlabeled documents."""

    task: str
    labels: Mapping[str, str]
    explanation_kind: str
    labeled: Sequence[Example]
    unlabeled: Sequence[Example] = ()


@dataclass(frozen=True)
class DocumentPrediction:
    """A model's output for one document. ``probabilities`` feeds the query strategies: one
    row of class probabilities for a classified document, one row per token for a sequence."""

    document_id: int | None
    annotations: tuple[AnnotationData, ...]
    probabilities: Sequence[Sequence[float]] = ()


ProgressCallback = Callable[[float, Mapping[str, Any]], None]  # (fraction done, details)


class Model(ABC):
    """What a model plugin's factory returns: ``factory(config, labels, device) -> Model``."""

    @abstractmethod
    def train(self, data: Dataset, progress: ProgressCallback) -> Mapping[str, float]:
        """Fit on ``data``; report progress; return training metrics."""

    @abstractmethod
    def predict(self, examples: Sequence[Example]) -> list[DocumentPrediction]:
        """Predict annotations with confidences, one DocumentPrediction per example, in order."""

    @abstractmethod
    def save(self, directory: Path) -> None:
        """Write everything needed to load the model again into ``directory``."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, device: str = "cpu") -> "Model":
        """Load a model that ``save`` wrote, without the server."""


def is_relative_static_path(path: str) -> bool:
    """A path that stays inside the folder it is joined to: relative, '/'-separated, no '..'."""
    parts = path.split("/")
    return bool(path) and "\\" not in path and not path.startswith("/") and all(
        part not in ("", ".", "..") for part in parts)


@dataclass(frozen=True)
class TaskDefinition:
    """An annotation task. ``parse_annotation`` turns a JSON payload into an ``AnnotationData``
    or raises ``ValidationError``."""

    name: str
    title: str
    label_kinds: tuple[str, ...]
    explanation_kinds: tuple[str, ...]
    ui_component: str
    parse_annotation: Callable[[Mapping[str, Any], DocumentContext], AnnotationData]
    version: str = "1"
    description: str = ""
    # Annotation kinds that are a model's input rather than its target (RE: the entity spans
    # that relations connect). A document counts as labeled only once it has a target-kind
    # annotation, and examples given to predict() carry their input-kind annotations.
    input_kinds: tuple[str, ...] = ()
    # Whether one annotator's span annotations on a document may overlap (nest or cross). False
    # (NER: a token carries one tag): the API refuses a span that overlaps one of the same
    # annotator's (or of the gold layer) with 409, and an import that gives one annotator
    # overlapping spans fails, naming file and line.
    overlapping_spans: bool = True
    # evaluate(gold examples, predictions in the same order) -> metrics, e.g. {"f1": 0.8}
    evaluate: Callable[[Sequence[Example], Sequence[DocumentPrediction]], Mapping[str, float]] | None = None
    # The annotation view: an ES module's path inside the plugin package's ``static/`` folder
    # (the core serves it at /plugins/<plugin>/static/<path>; docs/plugins.md, "Writing a task
    # view"). None: the browser shows the document and its annotations read-only.
    view: str | None = None
    # The task whose projects a project of this task can be made from (POST .../derived-project;
    # RE names NER). The new project collects the first of ``explanation_kinds``.
    derived_from: str | None = None
    # How each document record of the source project is cut down for the new project (RE: its
    # entity spans, without their explanations). None: records are copied whole.
    derive_record: Callable[[DocumentRecord], DocumentRecord] | None = None
    # The confidence from which a new project of this task shows suggestions to members who
    # have not chosen their own threshold (0: all). Owners change it per project.
    suggested_min_confidence: float = 0.0

    def __post_init__(self) -> None:
        if self.view is not None and not is_relative_static_path(self.view):
            raise ValueError(f"task {self.name!r}: view {self.view!r} must be a relative path inside "
                             f"the plugin's static/ folder, without '..'")


@dataclass(frozen=True)
class ModelDefinition:
    """A trainable model. ``factory`` is a dotted path (``package.module:attr``) to a callable
    ``(config, labels, device) -> Model``, so heavy libraries load only when a model is built."""

    name: str
    tasks: tuple[str, ...]
    factory: str
    explanation_kinds: tuple[str, ...] = ()
    default_config: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    # Live feedback on a natural-language explanation while it is typed: a dotted path to a
    # callable ``(text, example, annotation, corpus_key, load_unlabeled, limit) -> dict`` with
    # the readable parse, whether it holds on ``example``, and its matches among the documents
    # ``load_unlabeled()`` returns (called only when ``corpus_key`` changes, so it may cache).
    explanation_parser: str | None = None
    # Explanation kinds ("none", "trigger", "natural_language") for which this model is the
    # one a new project of its tasks starts with, unless the owner names another.
    suggested_for: tuple[str, ...] = ()
    # Trains in milliseconds: retrained after every saved annotation, whatever the project's
    # retraining policy, and among a new project's recommenders ahead of its model (it
    # serves until a learned model beats it on held-out data; docs/models.md).
    cheap: bool = False


@dataclass(frozen=True)
class FormatDefinition:
    """An import and/or export format. ``importer`` and ``exporter`` are dotted paths:
    ``importer(source: ImportSource) -> Iterator[DocumentRecord]`` and
    ``exporter(records: Iterable[DocumentRecord], context: FormatContext) -> Iterator[str]``.
    ``sniff`` (dotted path, ``sniff(head: str) -> bool``) tells this format apart from others
    with the same file extension by the first characters of a file; ``directories`` says the
    importer reads a folder rather than a file. ``tasks`` may be ``(ANY_TASK,)``: a format of
    the generic annotation shape (label, span, links, attributes) serves every task, those of
    other plugins included."""

    name: str
    tasks: tuple[str, ...]
    importer: str | None = None
    exporter: str | None = None
    extensions: tuple[str, ...] = ()
    description: str = ""
    sniff: str | None = None
    directories: bool = False
    media_type: str = "text/plain"

    def serves(self, task: str) -> bool:
        return task in self.tasks or ANY_TASK in self.tasks


class FormatError(Exception):
    """A malformed record in an import: ``location`` says where ("line 12", "record 3") and
    ``field`` what; the core adds the file name."""

    def __init__(self, message: str, location: str = "", field: str = "", file: str = ""):
        self.message, self.location, self.field, self.file = message, location, field, file
        where = ", ".join(part for part in (file, location) if part)
        super().__init__(f"{where + ': ' if where else ''}{field + ': ' if field else ''}{message}")


@dataclass(frozen=True)
class RecordAnnotation:
    """An annotation read from or written to a file. Relations name their subject and object by
    their index in ``DocumentRecord.annotations``; a record with neither offsets nor entities
    labels the whole document. ``annotator`` is a user name (None: nobody in particular)."""

    label: str
    start: int | None = None
    end: int | None = None
    subject: int | None = None
    object: int | None = None
    explanations: tuple[ExplanationIn, ...] = ()
    annotator: str | None = None
    source: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        if self.subject is not None or self.object is not None:
            return RELATION
        return SPAN if self.start is not None or self.end is not None else DOCUMENT

    def payload(self) -> dict[str, Any]:
        """The shape ``TaskDefinition.parse_annotation`` reads (as the REST API takes it)."""
        out: dict[str, Any] = {"label": self.label}
        for key in ("start", "end", "subject", "object"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.explanations:
            out["explanations"] = [
                {"kind": e.kind, "spans": [{"start": s.start, "end": s.end} for s in e.spans]}
                if e.spans else {"kind": e.kind, "text": e.text} for e in self.explanations]
        if self.attributes:
            out["attributes"] = dict(self.attributes)
        return out


@dataclass(frozen=True)
class DocumentRecord:
    """One document with its annotations, as formats read and write it. ``location`` says
    where an imported record came from, for error messages."""

    text: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    annotations: tuple[RecordAnnotation, ...] = ()
    location: str = ""


@dataclass(frozen=True)
class FormatContext:
    """The project a format reads for or writes from, and the user's format options."""

    task: str
    label_kinds: tuple[str, ...] = ()
    explanation_kind: str = EXPLANATION_NONE
    options: Mapping[str, Any] = field(default_factory=dict)


class ImportSource(Protocol):
    """What an importer reads: a file (or folder) with streaming helpers that number lines and
    records, so errors can say where."""

    name: str
    path: Path
    context: FormatContext

    def lines(self, path: Path | None = None) -> Iterator[tuple[int, str]]:
        """(line number from 1, line without its line break) of the file, or of ``path``."""

    def json_values(self) -> Iterator[tuple[str, Any]]:
        """(location, value) for each line of a JSON Lines file or each element of a JSON array."""


@dataclass(frozen=True)
class QueryStrategyDefinition:
    """A ranking strategy for the annotation queue. ``factory`` is a dotted path."""

    name: str
    tasks: tuple[str, ...]
    factory: str
    description: str = ""


def load_object(dotted: str) -> Any:
    """Resolve ``package.module:attribute``."""
    module_name, _, attr = dotted.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


# Checking helpers shared by task plugins ------------------------------------------------

def read_int(payload: Mapping[str, Any], key: str, where: str = "") -> int:
    name = f"{where}{key}"
    if key not in payload:
        raise ValidationError(name, "is required")
    value = payload[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, f"must be an integer, got {type(value).__name__}")
    return value


def read_label(payload: Mapping[str, Any], doc: DocumentContext, kind: str) -> str:
    label = payload.get("label")
    if not isinstance(label, str) or not label:
        raise ValidationError("label", "is required and must be a label name")
    if label not in doc.labels:
        raise ValidationError("label", f"unknown label {label!r} in this project")
    if doc.labels[label] != kind:
        raise ValidationError("label", f"label {label!r} is a {doc.labels[label]} label, "
                                       f"this annotation needs a {kind} label")
    return label


def check_span(text: str, start: int, end: int, where: str) -> Span:
    """Offsets are code-point indexes; a span must lie inside the text, be non-empty and not
    split a character from its combining marks."""
    if start < 0 or end > len(text) or start >= end:
        raise ValidationError(where, f"span [{start}, {end}) must satisfy 0 <= start < end <= "
                                     f"{len(text)} (the text length)")
    for offset, name in ((start, "start"), (end, "end")):
        if offset < len(text) and offset > 0 and unicodedata.combining(text[offset]):
            raise ValidationError(f"{where}.{name}", f"offset {offset} splits a character "
                                                     f"from its combining mark")
        if 0 < offset < len(text) and "\udc00" <= text[offset] <= "\udfff":
            raise ValidationError(f"{where}.{name}", f"offset {offset} splits a surrogate pair")
    return Span(start, end)


def read_span(payload: Mapping[str, Any], text: str, where: str = "") -> Span:
    start = read_int(payload, "start", where)
    end = read_int(payload, "end", where)
    return check_span(text, start, end, where.rstrip(".") or "span")


def check_span_limit(count: int, doc: DocumentContext, where: str, what: str) -> None:
    """Refuse more than ``doc.max_spans_per_annotation`` items before checking any of them."""
    if count > doc.max_spans_per_annotation:
        raise ValidationError(where, f"has {count} {what}; one annotation may carry at most "
                                     f"{doc.max_spans_per_annotation} "
                                     f"(LEANLIFE_MAX_SPANS_PER_ANNOTATION)")


def check_disjoint(spans: Sequence[Span], where: str, what: str = "span") -> tuple[Span, ...]:
    """``spans`` in start order; raise if two overlap or repeat, naming both by their index in
    ``spans``. Sorting, then comparing neighbours, takes O(n log n): when any two spans
    overlap, so do two neighbours in start order."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i].start, spans[i].end))
    for before, after in zip(order, order[1:]):
        first, second = spans[before], spans[after]
        if second.start < first.end:
            earlier, later = sorted((before, after))
            relation = "repeats" if first == second else "overlaps"
            raise ValidationError(f"{where}[{later}]",
                                  f"{what} [{spans[later].start}, {spans[later].end}) {relation} "
                                  f"{where}[{earlier}] [{spans[earlier].start}, {spans[earlier].end})")
    return tuple(spans[i] for i in order)


def read_span_list(raw_spans: Any, text: str, where: str) -> list[Span]:
    """A non-empty JSON list of ``{start, end}`` objects, each checked against ``text``."""
    if not isinstance(raw_spans, list) or not raw_spans:
        raise ValidationError(where, "must be a non-empty list of spans")
    spans = []
    for j, raw in enumerate(raw_spans):
        if not isinstance(raw, Mapping):
            raise ValidationError(f"{where}[{j}]", "must be an object with start and end")
        spans.append(read_span(raw, text, f"{where}[{j}]."))
    return spans


def read_explanation_list(payload: Mapping[str, Any], doc: DocumentContext,
                          allowed: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """The raw ``explanations`` list, after checking that the project collects that kind."""
    items = payload.get("explanations", [])
    if not isinstance(items, list):
        raise ValidationError("explanations", "must be a list")
    check_span_limit(len(items), doc, "explanations", "explanations")
    if items and doc.explanation_kind == EXPLANATION_NONE:
        raise ValidationError("explanations", "this project does not collect explanations")
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValidationError(f"explanations[{i}]", "must be an object")
        kind = item.get("kind", doc.explanation_kind)
        if kind != doc.explanation_kind or kind not in allowed:
            raise ValidationError(f"explanations[{i}].kind",
                                  f"this project collects {doc.explanation_kind!r} explanations, "
                                  f"got {kind!r}")
    return items


def read_natural_language_explanations(payload: Mapping[str, Any], doc: DocumentContext,
                                       max_chars: int = 2000) -> tuple[ExplanationIn, ...]:
    result = []
    for i, item in enumerate(read_explanation_list(payload, doc, (EXPLANATION_NATURAL_LANGUAGE,))):
        text = item.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ValidationError(f"explanations[{i}].text", "must be a non-empty string")
        if len(text) > max_chars:
            raise ValidationError(f"explanations[{i}].text", f"is longer than {max_chars} characters")
        result.append(ExplanationIn(EXPLANATION_NATURAL_LANGUAGE, text=text.strip()))
    return tuple(result)


# Evaluation helpers shared by task plugins ------------------------------------------------

def check_aligned(gold: Sequence[Example], predicted: Sequence[DocumentPrediction]) -> None:
    """Predictions come one per gold example, in the same order."""
    if len(gold) != len(predicted):
        raise ValueError(f"evaluate: {len(gold)} gold examples but {len(predicted)} predictions; "
                         f"they must pair up one to one, in order")
    for i, (example, prediction) in enumerate(zip(gold, predicted)):
        if example.document_id != prediction.document_id:
            raise ValueError(f"evaluate: item {i} pairs gold document {example.document_id} with "
                             f"a prediction for document {prediction.document_id}")


def precision_recall_f1(gold: set[Hashable], predicted: set[Hashable]) -> dict[str, float]:
    """Exact-match scores of two sets; an empty side scores 0 rather than dividing by zero."""
    correct = len(gold & predicted)
    precision = correct / len(predicted) if predicted else 0.0
    recall = correct / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "gold": float(len(gold)), "predicted": float(len(predicted)), "correct": float(correct)}
