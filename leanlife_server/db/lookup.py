"""Fetching a project's row by id, for the API and the jobs alike."""

from __future__ import annotations

from typing import TypeVar

from leanlife_server.db import db
from leanlife_server.errors import not_found

Row = TypeVar("Row")


def get_in_project(model: type[Row], row_id: int, project_id: int, what: str) -> Row:
    """The row ``row_id`` of ``model`` when it belongs to the project, else 404 (the same
    answer as for a row that does not exist, so ids of other projects do not leak)."""
    row = db.session.get(model, row_id)
    if row is None or row.project_id != project_id:
        raise not_found(f"{what} {row_id}")
    return row
