"""Fetching a project's row by id, for the API and the jobs alike."""

from __future__ import annotations

from typing import Any, TypeVar

from leanlife_server.db import db
from leanlife_server.errors import not_found

Row = TypeVar("Row")

# The id columns are INTEGER: 32 bits on PostgreSQL, 64 on SQLite. A bigger number names no
# row, and binding it fails in the driver (OverflowError) or the server (DataError).
_MAX_ID = {"postgresql": 2**31 - 1}
_MAX_ID_DEFAULT = 2**63 - 1


def max_row_id() -> int:
    """The largest id the current database's id columns can hold."""
    return _MAX_ID.get(db.engine.dialect.name, _MAX_ID_DEFAULT)


def is_row_id(value: Any) -> bool:
    """An integer (not a bool) that an id column can hold."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= max_row_id()


def get_in_project(model: type[Row], row_id: int, project_id: int, what: str) -> Row:
    """The row ``row_id`` of ``model`` when it belongs to the project, else 404 (the same
    answer as for a row that does not exist, so ids of other projects do not leak)."""
    row = db.session.get(model, row_id) if is_row_id(row_id) else None
    if row is None or row.project_id != project_id:
        raise not_found(f"{what} {row_id}")
    return row
