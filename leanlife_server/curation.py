"""Where a document's annotators disagree, for the curation view (api/curation.py).

Items are those of the training merge rule (pipeline/merge.py ``item_of``): a document label's
item is the document, a span's its offsets, a relation's its entity pair by offsets. Every
annotator of the document answers on every item with the set of labels they gave it (maybe
none); an item is disagreed on when the answers are not all the same. Task-agnostic.
"""

from __future__ import annotations

from typing import Any, Hashable, Mapping, Sequence

from leanlife_server.annotation_identity import IDENTITY_FIELDS
from leanlife_server.pipeline.merge import LINKS, item_of
from leanlife_server.plugin_api import AnnotationData

_ITEM_FIELDS = tuple(name for name in IDENTITY_FIELDS if name != "label")


def _item_json(item: tuple[Hashable, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in zip(_ITEM_FIELDS, item):
        if value is None:
            continue
        if name in LINKS:  # ("span", start, end), or ("annotation", id) when not found
            name = name.removesuffix("_id")
            value = {"start": value[1], "end": value[2]} if len(value) == 3 else {"id": value[1]}
        out[name] = value
    return out


def disagreements(work: Mapping[int, Sequence[AnnotationData]], by_id: Mapping[int, AnnotationData]
                  ) -> tuple[list[dict[str, Any]], set[int]]:
    """The items the annotators in ``work`` (user id -> their annotations) answer differently,
    with each annotator's labels there, and the ids of the annotations on those items."""
    answers: dict[Hashable, dict[int, list[AnnotationData]]] = {}
    for who, annotations in work.items():
        for annotation in annotations:
            answers.setdefault(item_of(annotation, by_id), {}).setdefault(who, []).append(annotation)
    items: list[dict[str, Any]] = []
    marked: set[int] = set()
    for item, given in answers.items():
        labels = {who: sorted({a.label for a in given.get(who, ())}) for who in work}
        if len({tuple(v) for v in labels.values()}) > 1:
            items.append({"item": _item_json(item),
                          "answers": [{"user_id": who, "labels": v} for who, v in labels.items()]})
            marked.update(a.id for annotations in given.values() for a in annotations if a.id is not None)
    return items, marked
