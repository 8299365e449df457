"""Batched inserts of validated records on one connection, inside the caller's transaction.

SQLAlchemy Core ``executemany`` with ``RETURNING`` (ordered by parameter) gives the new ids
of documents and annotations, which the next tables of the batch refer to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leanlife_server.db.models import Annotation, Document, Explanation, TriggerSpan, utcnow
from leanlife_server.formats.validate import source_of
from leanlife_server.plugin_api import RELATION, AnnotationData, DocumentRecord, FormatError

KEEP, SKIP, FAIL = "keep", "skip", "fail"
DUPLICATE_POLICIES = (KEEP, SKIP, FAIL)

documents = Document.__table__
annotations = Annotation.__table__
explanations = Explanation.__table__
trigger_spans = TriggerSpan.__table__


@dataclass
class WriteCounts:
    documents: int = 0
    annotations: int = 0
    explanations: int = 0
    skipped_duplicates: int = 0


def _insert(conn: Connection, table: sa.Table, rows: list[dict], ids: bool) -> list[int]:
    if not rows:
        return []
    if not ids:
        conn.execute(table.insert(), rows)
        return []
    result = conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows)
    return list(result.scalars())


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class SeenTexts:
    """Digests of the project's texts and of the records written so far, kept in a temporary
    table on the import's connection so that memory does not grow with the file."""

    def __init__(self, conn: Connection, project_id: int, page: int = 5000):
        self.conn = conn
        self.table = sa.Table("leanlife_import_digests", sa.MetaData(),
                              sa.Column("digest", sa.String(32), primary_key=True),
                              prefixes=["TEMPORARY"])
        self.table.drop(conn, checkfirst=True)
        self.table.create(conn)
        last = 0
        while True:
            rows = conn.execute(sa.select(documents.c.id, documents.c.text)
                                .where(documents.c.project_id == project_id, documents.c.id > last)
                                .order_by(documents.c.id).limit(page)).all()
            if not rows:
                break
            last = rows[-1].id
            new = {digest(r.text) for r in rows}
            known = self._known(list(new))
            self._add([d for d in new if d not in known])

    def _known(self, digests: Sequence[str]) -> set[str]:
        if not digests:
            return set()
        return set(self.conn.execute(sa.select(self.table.c.digest)
                                     .where(self.table.c.digest.in_(digests))).scalars())

    def _add(self, digests: Sequence[str]) -> None:
        if digests:
            self.conn.execute(self.table.insert(), [{"digest": d} for d in digests])

    def new_texts(self, texts: Sequence[str]) -> list[bool]:
        """For each text, whether it is new (not in the project nor earlier in the file); the
        new ones are remembered."""
        digests = [digest(t) for t in texts]
        known = self._known(list(set(digests)))
        fresh, added = [], []
        for d in digests:
            is_new = d not in known
            fresh.append(is_new)
            if is_new:
                known.add(d)
                added.append(d)
        self._add(added)
        return fresh

    def close(self) -> None:
        self.table.drop(self.conn)


@dataclass
class _Pending:
    record: DocumentRecord
    parsed: list[AnnotationData]


@dataclass
class BatchWriter:
    """Collects validated records and writes them ``batch_size`` at a time."""

    conn: Connection
    project_id: int
    label_ids: Mapping[str, int]
    user_ids: Mapping[str, int]  # member user name -> id
    duplicates: str = KEEP
    batch_size: int = 2000
    counts: WriteCounts = field(default_factory=WriteCounts)

    def __post_init__(self) -> None:
        self._pending: list[_Pending] = []
        self._seen = SeenTexts(self.conn, self.project_id) if self.duplicates != KEEP else None

    def add(self, record: DocumentRecord, parsed: list[AnnotationData]) -> None:
        self._pending.append(_Pending(record, parsed))
        if len(self._pending) >= self.batch_size:
            self.flush()

    def close(self) -> None:
        self.flush()
        if self._seen is not None:
            self._seen.close()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if self._seen is not None:
            pending = self._without_duplicates(pending)
        if not pending:
            return
        now = utcnow()
        labeled = any(p.parsed for p in pending)
        document_ids = _insert(self.conn, documents, [
            {"project_id": self.project_id, "text": p.record.text, "meta": dict(p.record.meta),
             "created_at": now} for p in pending], ids=labeled)
        self.counts.documents += len(pending)
        if labeled:
            self._write_annotations(pending, document_ids, now)

    def _without_duplicates(self, pending: list[_Pending]) -> list[_Pending]:
        fresh = self._seen.new_texts([p.record.text for p in pending])
        kept = []
        for item, is_new in zip(pending, fresh):
            if is_new:
                kept.append(item)
            elif self.duplicates == FAIL:
                raise FormatError("duplicates a document already in the project or earlier in "
                                  "the file (duplicates=fail; choose skip or keep)",
                                  item.record.location, "text")
            else:
                self.counts.skipped_duplicates += 1
        return kept

    def _annotation_row(self, item: _Pending, index: int, document_id: int, now) -> dict:
        parsed, original = item.parsed[index], item.record.annotations[index]
        return {"project_id": self.project_id, "document_id": document_id,
                "user_id": self.user_ids.get(original.annotator) if original.annotator else None,
                "label_id": self.label_ids[parsed.label], "kind": parsed.kind,
                "start": parsed.start, "end": parsed.end, "subject_id": None, "object_id": None,
                "source": source_of(original.source), "created_at": now, "updated_at": now}

    def _write_annotations(self, pending: list[_Pending], document_ids: list[int], now) -> None:
        # Entities and document labels first: relations refer to the entities' new ids.
        ids: dict[tuple[int, int], int] = {}
        for relations in (False, True):
            keys, rows = [], []
            for n, (item, document_id) in enumerate(zip(pending, document_ids)):
                for i, parsed in enumerate(item.parsed):
                    if (parsed.kind == RELATION) != relations:
                        continue
                    row = self._annotation_row(item, i, document_id, now)
                    if relations:
                        row["subject_id"] = ids[(n, parsed.subject_id)]
                        row["object_id"] = ids[(n, parsed.object_id)]
                    keys.append((n, i))
                    rows.append(row)
            ids.update(zip(keys, _insert(self.conn, annotations, rows, ids=True)))
        self.counts.annotations += len(ids)
        self._write_explanations(pending, ids, now)

    def _write_explanations(self, pending: list[_Pending], ids: dict[tuple[int, int], int], now) -> None:
        rows, spans = [], []
        for n, item in enumerate(pending):
            for i, parsed in enumerate(item.parsed):
                for explanation in parsed.explanations:
                    rows.append({"annotation_id": ids[(n, i)], "kind": explanation.kind,
                                 "text": explanation.text, "parse": None, "created_at": now})
                    spans.append(explanation.spans)
        has_spans = any(spans)
        explanation_ids = _insert(self.conn, explanations, rows, ids=has_spans)
        self.counts.explanations += len(rows)
        if has_spans:
            _insert(self.conn, trigger_spans, [
                {"explanation_id": eid, "start": s.start, "end": s.end}
                for eid, group in zip(explanation_ids, spans) for s in group], ids=False)
