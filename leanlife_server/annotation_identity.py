"""When two annotations are the same one: equal kind, label, offsets and linked entities, by
the same annotator on the same document. Explanations do not count: a second copy that only
explains differently is still a duplicate (the first one is changed instead). Task-agnostic:
every task's annotations have these fields, unused ones being null."""

from __future__ import annotations

from typing import Any, Hashable

IDENTITY_FIELDS = ("kind", "label", "start", "end", "subject_id", "object_id")


def identity(annotation: Any) -> tuple[Hashable, ...]:
    """The values that make ``annotation`` (anything with the IDENTITY_FIELDS) what it is."""
    return tuple(getattr(annotation, name) for name in IDENTITY_FIELDS)
