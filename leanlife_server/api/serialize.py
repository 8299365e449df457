"""Rows as JSON-ready dicts, one function per resource."""

from __future__ import annotations

import hashlib
import json
from datetime import timezone
from typing import Any

from sqlalchemy.orm import joinedload, selectinload

from leanlife_server.annotation_parts import has_links, has_span
from leanlife_server.api.shapes import Body, Field, always, maybe_null

from leanlife_server.db.models import (
    Annotation,
    ApiToken,
    Explanation,
    Label,
    Membership,
    Project,
    User,
)


def _time(value) -> str | None:
    if value is None:
        return None
    # Times are stored in UTC; SQLite gives them back without their zone, and a save's answer
    # (made from the time it wrote) must read, and hash into its etag, as a later GET does.
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


# Each serializer's answer is declared next to it, for the OpenAPI document: every field is
# always present unless declared with plain ``Field``, and no others (the fuzz test checks).
def user(row: User) -> dict[str, Any]:
    return {"id": row.id, "username": row.username, "is_admin": row.is_admin}


USER = Body({"id": always(int), "username": always(str), "is_admin": always(bool)})


def token(row: ApiToken) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created_at": _time(row.created_at),
            "revoked": row.revoked_at is not None}


TOKEN = Body({"id": always(int), "name": always(str), "created_at": maybe_null(str),
              "revoked": always(bool)})


PROJECT_SETTINGS = ("model", "recommenders", "model_config", "retrain_policy", "query_strategy",
                    "confidence_threshold", "device", "versions_kept", "overlap", "overlap_share",
                    "min_recommendation_confidence")


def project_settings(row: Project) -> dict[str, Any]:
    return {name: getattr(row, name) for name in PROJECT_SETTINGS}


PROJECT_SETTINGS_SHAPE = Body({
    "model": maybe_null(str), "recommenders": maybe_null(list, items=Field(str)),
    "model_config": always(dict), "retrain_policy": always(dict),
    "query_strategy": maybe_null(str), "confidence_threshold": maybe_null(float),
    "device": maybe_null(str), "versions_kept": always(int), "overlap": always(int),
    "overlap_share": always(float), "min_recommendation_confidence": always(float)})


def project(row: Project, role: str | None = None) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "task": row.task,
            "explanation_kind": row.explanation_kind, "multi_label": row.multi_label,
            "annotators_see_others": row.annotators_see_others, "role": role,
            "created_at": _time(row.created_at), "settings": project_settings(row)}


PROJECT = Body({"id": always(int), "name": always(str), "description": always(str), "task": always(str),
                "explanation_kind": always(str), "multi_label": always(bool),
                "annotators_see_others": always(bool), "role": maybe_null(str),
                "created_at": maybe_null(str), "settings": always(PROJECT_SETTINGS_SHAPE)})


def label(row: Label) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "kind": row.kind, "color": row.color,
            "shortcut": row.shortcut}


LABEL = Body({"id": always(int), "name": always(str), "kind": always(str), "color": always(str),
              "shortcut": maybe_null(str)})


def member(row: Membership) -> dict[str, Any]:
    return {"user": user(row.user), "role": row.role, "settings": row.settings}


MEMBER = Body({"user": always(USER), "role": always(str), "settings": always(dict)})


def explanation(row: Explanation) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "kind": row.kind}
    if row.text is None:  # a trigger: its spans (a natural-language explanation has text)
        out["spans"] = [{"start": s.start, "end": s.end} for s in row.spans]
    else:
        out["text"] = row.text
    return out


EXPLANATION = Body({"id": always(int), "kind": always(str), "text": Field(str, nullable=True),
                    "spans": Field(list, items=Field(Body({"start": always(int), "end": always(int)})))},
                   description="A trigger explanation has spans, a natural-language one text.")


# Query options for lists of annotations that are serialised: a fixed number of queries
# instead of one for each annotation's explanations and one for each explanation's spans.
ANNOTATION_LOADING = (joinedload(Annotation.label),
                      selectinload(Annotation.explanations).selectinload(Explanation.spans))


def annotation(row: Annotation, label: str | None = None) -> dict[str, Any]:
    """``label``: the name of the row's label where the caller knows it (a save does), which
    spares loading the Label row."""
    out: dict[str, Any] = {"id": row.id, "document_id": row.document_id, "user_id": row.user_id,
                           "kind": row.kind, "label": row.label.name if label is None else label,
                           "source": row.source,
                           "explanations": [explanation(e) for e in row.explanations],
                           "updated_at": _time(row.updated_at)}
    if has_span(row):  # the generic shape's parts (annotation_parts), whatever the kind
        out.update(start=row.start, end=row.end)
    elif has_links(row):
        out.update(subject=row.subject_id, object=row.object_id)
    if row.attributes:  # likewise: only for tasks that add attributes
        out["attributes"] = row.attributes
    if row.gold:  # only then, so that other annotations read (and tag) as before
        out["gold"] = True
    out["etag"] = content_tag(out)
    return out


ANNOTATION = Body({
    "id": always(int), "document_id": always(int), "user_id": maybe_null(int), "kind": always(str),
    "label": always(str), "source": always(str), "explanations": always(list, items=Field(EXPLANATION)),
    "updated_at": maybe_null(str), "start": Field(int), "end": Field(int), "subject": Field(int),
    "object": Field(int), "gold": Field(bool, description="true in the gold layer (api/curation.py)"),
    "attributes": Field(dict, description="the task's own part of the annotation, as the task "
                                          "validated it (absent when the task adds none)"),
    "etag": always(str)},
    description="Spans have start and end, relations subject and object (annotation ids).")


# Serializers that live with the jobs, declared here with the rest.
JOB = Body({
    "id": always(int), "project_id": always(int), "kind": always(str), "state": always(str),
    "progress": maybe_null(float), "device": maybe_null(str), "result": maybe_null(dict),
    "error": maybe_null(str), "model_version_id": maybe_null(int), "created_at": maybe_null(str),
    "started_at": maybe_null(str), "finished_at": maybe_null(str)},
    description="leanlife_server.jobs.job_json")
MODEL_VERSION = Body({
    "id": always(int), "number": always(int, description="1, 2, ... within the project"),
    "model": always(str), "config": maybe_null(dict), "metrics": maybe_null(dict),
    "data_counts": maybe_null(dict), "is_active": always(bool), "created_at": maybe_null(str)},
    description="leanlife_server.pipeline.model_store.version_json")
PREDICTION = Body({"document_id": maybe_null(int), "confidence": maybe_null(float),
                   "annotations": always(list, items=Field(dict))},
                  description="leanlife_server.pipeline.predictions.prediction_json")


def content_tag(data: dict[str, Any]) -> str:
    """An entity tag for ``If-Match``: a digest of everything the client sees of the row."""
    return hashlib.blake2b(json.dumps(data, sort_keys=True, default=str).encode(), digest_size=12).hexdigest()
