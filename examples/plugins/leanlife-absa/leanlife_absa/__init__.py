"""Aspect-based sentiment analysis for LeanLife: a task, its view, a file format and a model.

An annotation is an aspect term (a span of the review, labelled with its aspect category, or
"ASPECT" where a project has no categories) with a **polarity** attribute: positive,
negative, neutral or conflict. LeanLife's core stores the polarity as the annotation's
``attributes`` without knowing what it means; this package says what it means.
"""

from __future__ import annotations

import pluggy

from leanlife_absa.task import ABSA
from leanlife_server.plugin_api import EXPLANATION_NONE, FormatDefinition, ModelDefinition, TaskDefinition

hookimpl = pluggy.HookimplMarker("leanlife")

LEXICON = ModelDefinition(
    name="absa.lexicon.v1",
    tasks=(ABSA.name,),
    factory="leanlife_absa.model:build_lexicon_model",
    # Trains in milliseconds: retrained on every save, so suggestions follow the first labels.
    cheap=True,
    suggested_for=(EXPLANATION_NONE, *ABSA.explanation_kinds),
    default_config={"window": 4, "min_confidence": 0.3},
    description="Aspect lexicon: suggests every occurrence of an annotated aspect term with its "
                "category, and a polarity from the words around it (naive Bayes).",
)

SEMEVAL_ABSA = FormatDefinition(
    name="semeval_absa",
    tasks=(ABSA.name,),
    importer="leanlife_absa.semeval:read_semeval",
    exporter="leanlife_absa.semeval:write_semeval",
    extensions=("xml",),
    description="SemEval ABSA XML: 2014 aspect terms, or 2015/2016 opinions with categories",
    sniff="leanlife_absa.semeval:sniff_semeval",
    media_type="application/xml",
)


@hookimpl
def leanlife_tasks() -> list[TaskDefinition]:
    return [ABSA]


@hookimpl
def leanlife_models() -> list[ModelDefinition]:
    return [LEXICON]


@hookimpl
def leanlife_formats() -> list[FormatDefinition]:
    return [SEMEVAL_ABSA]
