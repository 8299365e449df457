"""Path ids no database column can hold name no row: 404 before the view runs, instead of
reaching the driver and overflowing there (a 500).

A bounded URL converter would not do: werkzeug answers 405 rather than 404 when a path
matches one route's pattern but fails its converter while another method's route fits."""

from __future__ import annotations

from typing import Any

from flask import Flask

from leanlife_server.db.lookup import is_row_id
from leanlife_server.errors import not_found


def refuse_unbindable_ids(app: Flask) -> None:
    """Every ``<int:...>`` path parameter of this app is a row id (``project_id``, ...)."""

    @app.url_value_preprocessor
    def _ids_in_range(_endpoint: str | None, values: dict[str, Any] | None) -> None:
        for name, value in (values or {}).items():
            if isinstance(value, int) and not is_row_id(value):
                raise not_found(f"{name.removesuffix('_id').replace('_', ' ')} {value}")
