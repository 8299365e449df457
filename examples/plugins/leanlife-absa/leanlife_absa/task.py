"""The task: what an aspect annotation is, how it is checked and how predictions are scored."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from leanlife_server.plugin_api import (
    EXPLANATION_NATURAL_LANGUAGE,
    SPAN,
    AnnotationData,
    DocumentContext,
    DocumentPrediction,
    Example,
    TaskDefinition,
    ValidationError,
    check_aligned,
    precision_recall_f1,
    read_label,
    read_natural_language_explanations,
    read_span,
)

POLARITIES = ("positive", "negative", "neutral", "conflict")


def read_polarity(payload: Mapping[str, Any]) -> str:
    attributes = payload.get("attributes")
    if not isinstance(attributes, Mapping):
        raise ValidationError("attributes", "must be an object with a polarity, e.g. "
                                            '{"polarity": "positive"}')
    unknown = sorted(set(attributes) - {"polarity"})
    if unknown:
        raise ValidationError(f"attributes.{unknown[0]}", "is not an attribute of an aspect term "
                                                          "(only polarity is)")
    polarity = attributes.get("polarity")
    if polarity not in POLARITIES:
        raise ValidationError("attributes.polarity", f"must be one of {', '.join(POLARITIES)}, "
                                                     f"not {polarity!r}")
    return polarity


def parse_aspect(payload: Mapping[str, Any], doc: DocumentContext) -> AnnotationData:
    """An aspect term: a label, a span of the text and a polarity; maybe explanations."""
    for key in ("subject", "object"):
        if key in payload:
            raise ValidationError(key, "an aspect term links no other annotation")
    label = read_label(payload, doc, SPAN)
    span = read_span(payload, doc.text)
    if not doc.text[span.start:span.end].strip():
        raise ValidationError("start", "an aspect term must contain more than white space")
    return AnnotationData(SPAN, label, start=span.start, end=span.end,
                          explanations=read_natural_language_explanations(payload, doc),
                          attributes={"polarity": read_polarity(payload)})


def _aspects(annotations: Sequence[AnnotationData], with_polarity: bool) -> set[tuple]:
    return {(a.start, a.end, a.label, a.attributes.get("polarity") if with_polarity else None)
            for a in annotations if a.start is not None}


def evaluate(gold: Sequence[Example], predicted: Sequence[DocumentPrediction]) -> dict[str, float]:
    """Exact match of term, category and polarity (``precision``, ``recall``, ``f1``), and of
    the term and category alone (``term_f1``)."""
    check_aligned(gold, predicted)
    scores: dict[str, float] = {}
    for with_polarity, prefix in ((True, ""), (False, "term_")):
        wanted = {(i, *item) for i, e in enumerate(gold) for item in _aspects(e.annotations, with_polarity)}
        found = {(i, *item) for i, p in enumerate(predicted)
                 for item in _aspects(p.annotations, with_polarity)}
        scores.update({prefix + name: value for name, value in precision_recall_f1(wanted, found).items()
                       if not prefix or name == "f1"})
    return scores


ABSA = TaskDefinition(
    name="absa",
    title="Aspect-based sentiment",
    label_kinds=(SPAN,),
    explanation_kinds=(EXPLANATION_NATURAL_LANGUAGE,),  # or none: every task may do without
    ui_component="absa",
    view="view.js",  # static/view.js: a plain ES module, no build step
    parse_annotation=parse_aspect,
    description="Aspect terms labelled with their category, each with a polarity "
                "(positive, negative, neutral, conflict).",
    evaluate=evaluate,
    overlapping_spans=False,  # one aspect term per word: nested terms are one term
)
