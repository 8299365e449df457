"""Rows as JSON-ready dicts, one function per resource."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import joinedload, selectinload

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
    return value.isoformat() if value is not None else None


def user(row: User) -> dict[str, Any]:
    return {"id": row.id, "username": row.username, "is_admin": row.is_admin}


def token(row: ApiToken) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "created_at": _time(row.created_at),
            "revoked": row.revoked_at is not None}


PROJECT_SETTINGS = ("model", "model_config", "retrain_policy", "query_strategy",
                    "confidence_threshold", "device")


def project_settings(row: Project) -> dict[str, Any]:
    return {name: getattr(row, name) for name in PROJECT_SETTINGS}


def project(row: Project, role: str | None = None) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description, "task": row.task,
            "explanation_kind": row.explanation_kind, "multi_label": row.multi_label,
            "annotators_see_others": row.annotators_see_others, "role": role,
            "created_at": _time(row.created_at), "settings": project_settings(row)}


def label(row: Label) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "kind": row.kind, "color": row.color,
            "shortcut": row.shortcut}


def member(row: Membership) -> dict[str, Any]:
    return {"user": user(row.user), "role": row.role, "settings": row.settings}


def explanation(row: Explanation) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "kind": row.kind}
    if row.kind == "trigger":
        out["spans"] = [{"start": s.start, "end": s.end} for s in row.spans]
    else:
        out["text"] = row.text
    return out


# Query options for lists of annotations that are serialised: a fixed number of queries
# instead of one for each annotation's explanations and one for each explanation's spans.
ANNOTATION_LOADING = (joinedload(Annotation.label),
                      selectinload(Annotation.explanations).selectinload(Explanation.spans))


def annotation(row: Annotation) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "document_id": row.document_id, "user_id": row.user_id,
                           "kind": row.kind, "label": row.label.name, "source": row.source,
                           "explanations": [explanation(e) for e in row.explanations],
                           "updated_at": _time(row.updated_at)}
    if row.kind == "span":
        out.update(start=row.start, end=row.end)
    elif row.kind == "relation":
        out.update(subject=row.subject_id, object=row.object_id)
    return out
