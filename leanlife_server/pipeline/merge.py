"""Several annotators' work on one document as one training example: the majority per item.

An item is what an annotation is about: its identity without the label
(``annotation_identity``), with a relation's entities read as their offsets, so annotators
who drew the same entities separately still share the pair. So a document label's item is the
document, a span's its offsets, a relation's its entity pair. On each item every annotator
of the document votes with the labels they gave it, or with nothing (an annotator who
finished the document without labeling it votes nothing everywhere). The answer more
annotators gave than any other wins; a tie drops the item; a winning "nothing" leaves it
out. A document where items tied and none won is left out of training. One annotator's
work is kept as it is. Task-agnostic: every task's annotations have these fields.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Hashable, Mapping, Sequence

from leanlife_server.annotation_identity import IDENTITY_FIELDS
from leanlife_server.plugin_api import AnnotationData

LINKS = ("subject_id", "object_id")


def _by_id(annotation: AnnotationData) -> int:
    return annotation.id if annotation.id is not None else 0


def item_of(annotation: AnnotationData, by_id: Mapping[int, AnnotationData]) -> tuple[Hashable, ...]:
    """What ``annotation`` is about: its identity fields but the label, links as offsets."""
    def field(name: str) -> Hashable:
        value = getattr(annotation, name)
        if name not in LINKS or value is None:
            return value
        linked = by_id.get(value)
        return ("annotation", value) if linked is None else (linked.kind, linked.start, linked.end)
    return tuple(field(name) for name in IDENTITY_FIELDS if name != "label")


def majority(work: Mapping[Hashable, Sequence[AnnotationData]],
             by_id: Mapping[int, AnnotationData]) -> list[AnnotationData] | None:
    """The annotations the majority of the annotators in ``work`` (annotator -> their
    target annotations, maybe none) agree on, one copy each, in id order; None when the
    document has no majority on anything and ties on something."""
    if len(work) == 1:
        return sorted(next(iter(work.values())), key=_by_id)
    on_item: dict[Hashable, dict[Hashable, list[AnnotationData]]] = {}
    for who, annotations in work.items():
        for annotation in annotations:
            on_item.setdefault(item_of(annotation, by_id), {}).setdefault(who, []).append(annotation)
    kept: list[AnnotationData] = []
    tied = False
    for answers in on_item.values():
        votes = Counter(frozenset(a.label for a in answers.get(who, ())) for who in work)
        (winner, count), *others = votes.most_common()
        if others and others[0][1] == count:
            tied = True
        elif winner:  # the first annotator (by annotation id) who gave the winning labels
            kept.extend(min((a for a in answers.values() if frozenset(x.label for x in a) == winner),
                            key=lambda a: min(map(_by_id, a))))
    return None if tied and not kept else sorted(kept, key=_by_id)


def with_inputs(targets: Sequence[AnnotationData], inputs: Sequence[AnnotationData]) -> tuple[AnnotationData, ...]:
    """``targets`` with the input annotations (RE's entities), one per kind, label and
    offsets whoever drew it; links point at those kept copies."""
    if not inputs:  # NER and SA: nothing to add or relink (a dataset builds one per document)
        return tuple(sorted(targets, key=_by_id))
    first: dict[tuple, AnnotationData] = {}
    same: dict[int | None, int | None] = {}
    for annotation in sorted(inputs, key=_by_id):
        copy = first.setdefault((annotation.kind, annotation.label, annotation.start, annotation.end), annotation)
        same[annotation.id] = copy.id
    linked = [replace(t, **{name: same.get(getattr(t, name), getattr(t, name)) for name in LINKS})
              for t in targets]
    return tuple(sorted([*first.values(), *linked], key=_by_id))
