"""Inter-annotator agreement of a project (owners), and the documents behind a disagreement."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from leanlife_server.agreement_items import compared_kind, disagreeing_documents, project_agreement, project_labels
from leanlife_server.api.access import project_access
from leanlife_server.api.payload import query_int, row_id
from leanlife_server.api.shapes import Body, Either, always, operation, page_of
from leanlife_server.db.lookup import max_row_id
from leanlife_server.errors import ApiError, invalid
from leanlife_server.plugin_api import TaskDefinition

bp = Blueprint("agreement_api", __name__, url_prefix="/api/v1/projects/<int:project_id>")


def _task(task_name: str) -> TaskDefinition:
    task = current_app.extensions["leanlife"].tasks.get(task_name)
    if task is None:
        raise ApiError(409, "task_not_installed", f"no loaded plugin registers the project's task "
                                                  f"{task_name!r}", {"task": task_name})
    return task


def _pair() -> tuple[int, int]:
    parts = request.args["pair"].split(",")
    if len(parts) != 2:
        raise invalid("pair", "must be two user ids separated by a comma, e.g. pair=3,7")
    first, second = (row_id(part.strip(), "pair") for part in parts)
    if first == second:
        raise invalid("pair", "must name two different users")
    return first, second


def _label(project_id: int, kind: str) -> int | None:
    name = request.args.get("label")
    if name is None:
        return None
    ids = {label_name: label_id for label_id, label_name in project_labels(project_id, kind).items()}
    if name not in ids:
        raise invalid("label", f"no {kind} label {name[:100]!r} in this project")
    return ids[name]


def _disagreements(project_id: int, task: TaskDefinition):
    pair = _pair() if "pair" in request.args else None
    label = _label(project_id, compared_kind(task))
    limit = query_int("limit", 50, minimum=1, maximum=current_app.config["LEANLIFE"].page_size_max)
    cursor = query_int("cursor", 0, maximum=max_row_id())
    page = disagreeing_documents(project_id, task, pair, label, cursor, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    return jsonify({"items": [{"document_id": d} for d in page],
                    "next_cursor": page[-1] if more else None})


AGREEMENT = Either("items", page_of(Body({"document_id": always(int)})),
                   Body({"kind": always(str)}, open=True, description="docs/api.md, Agreement"),
                   description="With pair= or label=: a page of disagreeing documents; else the figures.")


@bp.get("/agreement")
@operation(answers={200: AGREEMENT})
def get_agreement(project_id: int):
    """Inter-annotator agreement: kappa or F1 per annotator pair, alpha over all, per label.

    With ``pair=U1,U2`` (and optionally ``label=NAME``): the ids of the documents where those
    two disagree, in keyset pages (``limit``, ``cursor``); with ``label=NAME`` alone, where
    any two annotators disagree on that label."""
    access = project_access(project_id, owner=True)
    task = _task(access.project.task)
    if "pair" in request.args or "label" in request.args:
        return _disagreements(project_id, task)
    return jsonify(project_agreement(project_id, task))
