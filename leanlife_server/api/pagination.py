"""Keyset (cursor) pagination: pages cost the same at document 10 and at document 1,000,000."""

from __future__ import annotations

from typing import Any, Callable

from flask import current_app
from sqlalchemy import Select

from leanlife_server.api.payload import query_int
from leanlife_server.db import db
from leanlife_server.db.lookup import max_row_id


def paginate(query: Select, id_column: Any, render: Callable[[Any], dict]) -> dict[str, Any]:
    """Rows with ``id > cursor`` in id order; ``next_cursor`` is null on the last page."""
    limit = query_int("limit", 50, minimum=1, maximum=current_app.config["LEANLIFE"].page_size_max)
    cursor = query_int("cursor", 0, maximum=max_row_id())
    rows = list(db.session.scalars(query.where(id_column > cursor).order_by(id_column).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [render(r) for r in rows], "next_cursor": rows[-1].id if more else None}
