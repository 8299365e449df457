"""Batched inserts of validated records, a chunk per short transaction of the import's
:class:`~leanlife_server.formats.staging.Staging`, the rows hidden until it publishes.

Ids are reserved by the writer (:func:`reserve_ids`), so every table of a chunk goes in with
one plain ``executemany``: ``INSERT ... RETURNING`` in parameter order became one statement
per row on SQLite.
"""

from __future__ import annotations

import hashlib
import sqlite3
import tempfile
from dataclasses import dataclass, field
from typing import Mapping, NamedTuple, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leanlife_server.active.letters import has_letter
from leanlife_server.annotation_identity import identity
from leanlife_server.annotation_parts import has_links
from leanlife_server.db.models import Annotation, Document, Explanation, Label, TriggerSpan, utcnow
from leanlife_server.db.staging import published
from leanlife_server.formats.staging import Staging
from leanlife_server.formats.validate import source_of
from leanlife_server.plugin_api import AnnotationData, DocumentRecord, FormatError

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
    duplicate_annotations: int = 0


def _insert(conn: Connection, table: sa.Table, rows: list[dict]) -> None:
    """One executemany of ``rows`` (dicts with the same keys). On SQLite the values go
    through the columns' own bind processors straight to the driver: SQLAlchemy's per-row
    parameter handling cost about as much as SQLite's inserts, all of it holding the write lock."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(table.insert(), rows)
        return
    names = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    processors = [table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
                  for name in names]
    conn.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join('?' * len(names))})",
        [tuple(process(row[name]) if process else row[name]
               for name, process in zip(names, processors)) for row in rows])


def reserve_ids(conn: Connection, table: sa.Table, count: int) -> list[int]:
    """``count`` new ids for ``table``. On SQLite the caller's transaction must already have
    written (so it holds the database's write lock): nobody else inserts until it commits.
    On PostgreSQL they come from the column's sequence, which stays in step."""
    if count == 0:
        return []
    if conn.dialect.name == "sqlite":
        last = conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0
        return list(range(last + 1, last + 1 + count))
    sequence = sa.func.pg_get_serial_sequence(table.name, "id")
    return list(conn.execute(sa.select(sa.func.nextval(sequence))
                             .select_from(sa.func.generate_series(1, count))).scalars())


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class SeenTexts:
    """Digests of the project's (published) texts and of the records written so far, kept in a
    temporary SQLite file of the import's own so that memory does not grow with the file (the
    import's database transactions last one chunk each, so a temporary table there would not
    outlive one)."""

    def __init__(self, engine: Engine, project_id: int, page: int = 5000):
        self._file = tempfile.NamedTemporaryFile(prefix="leanlife-digests-", suffix=".sqlite3")
        self.store = sqlite3.connect(self._file.name, isolation_level=None)
        self.store.execute("PRAGMA journal_mode=OFF")
        self.store.execute("PRAGMA synchronous=OFF")
        self.store.execute("CREATE TABLE digests (digest TEXT PRIMARY KEY) WITHOUT ROWID")
        last = 0
        with engine.connect() as conn:
            while True:
                rows = conn.execute(sa.select(documents.c.id, documents.c.text).where(
                    documents.c.project_id == project_id, documents.c.id > last,
                    published(documents.c.import_id)).order_by(documents.c.id).limit(page)).all()
                if not rows:
                    break
                last = rows[-1].id
                self._add({digest(r.text) for r in rows})

    def _known(self, digests: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for i in range(0, len(digests), 500):  # SQLite's limit on bound parameters
            part = digests[i:i + 500]
            known.update(d for (d,) in self.store.execute(
                f"SELECT digest FROM digests WHERE digest IN ({','.join('?' * len(part))})", part))
        return known

    def _add(self, digests) -> None:
        self.store.executemany("INSERT OR IGNORE INTO digests VALUES (?)", ((d,) for d in digests))

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
        self.store.close()
        self._file.close()


class CheckedAnnotation(NamedTuple):
    """What the writer needs of a validated annotation; explanations as (kind, text, spans as
    (start, end) pairs), relations' ends as indexes into the record's annotations."""

    kind: str
    label: str
    start: int | None
    end: int | None
    subject_id: int | None
    object_id: int | None
    annotator: str | None
    source: str | None
    explanations: tuple[tuple[str, str | None, tuple[tuple[int, int], ...]], ...]
    attributes: dict | None = None  # the task's own part (AnnotationData.attributes)


class Checked(NamedTuple):
    """A validated record in plain tuples: what the import keeps between its passes (it
    pickles several times faster than the record's dataclasses)."""

    text: str
    meta: dict
    location: str
    annotations: tuple[CheckedAnnotation, ...]
    duplicate_annotations: int = 0  # repeated annotations of the record, left out


def checked(record: DocumentRecord, parsed: Sequence[AnnotationData]) -> Checked:
    annotations = [
        CheckedAnnotation(p.kind, p.label, p.start, p.end, p.subject_id, p.object_id,
                          original.annotator, original.source,
                          tuple((e.kind, e.text, tuple((s.start, s.end) for s in e.spans))
                                for e in p.explanations), dict(p.attributes) or None)
        for p, original in zip(parsed, record.annotations)]
    kept = without_duplicates(annotations)
    return Checked(record.text, dict(record.meta), record.location, kept,
                   len(annotations) - len(kept))


def without_duplicates(annotations: Sequence[CheckedAnnotation]) -> tuple[CheckedAnnotation, ...]:
    """The first of each group of equal annotations by one annotator (annotation_identity;
    the first one's explanations are kept), relations re-pointed to the kept entities: a
    relation through a repeated entity is the same as one through its first copy."""
    first: dict[tuple, int] = {}
    kept_as: dict[int, int] = {}  # record index -> index of the kept copy
    # What others link first (entities), so that links compare by what they end up linking.
    for i in sorted(range(len(annotations)), key=lambda i: has_links(annotations[i])):
        a = annotations[i]
        if has_links(a):
            a = a._replace(subject_id=kept_as[a.subject_id], object_id=kept_as[a.object_id])
        kept_as[i] = first.setdefault((a.annotator, *identity(a)), i)
    position = {i: n for n, i in enumerate(i for i in range(len(annotations)) if kept_as[i] == i)}
    return tuple(
        a._replace(subject_id=position[kept_as[a.subject_id]], object_id=position[kept_as[a.object_id]])
        if has_links(a) else a
        for i, a in enumerate(annotations) if kept_as[i] == i)


@dataclass
class BatchWriter:
    """Collects validated records and writes them ``batch_size`` documents (with their
    annotations, explanations and trigger spans) per chunk of ``staging``. The labels the
    records introduce are created by the first flush."""

    staging: Staging
    project_id: int
    new_labels: Mapping[str, str]  # name -> kind
    user_ids: Mapping[str, int]  # member user name -> id
    duplicates: str = KEEP
    batch_size: int = 2000
    counts: WriteCounts = field(default_factory=WriteCounts)

    def __post_init__(self) -> None:
        self._pending: list[Checked] = []
        self._label_ids: dict[str, int] | None = None
        self._seen = (SeenTexts(self.staging.engine, self.project_id)
                      if self.duplicates != KEEP else None)

    def add(self, item: Checked) -> None:
        self._pending.append(item)
        if len(self._pending) >= self.batch_size:
            self.flush()

    def close(self) -> None:
        """Let go of the digests (call :meth:`flush` first to write the last batch)."""
        if self._seen is not None:
            self._seen.close()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if self._seen is not None:
            pending = self._without_duplicates(pending)
        if self._label_ids is None:  # the first flush, even of nothing
            with self.staging.chunk() as conn:
                self._label_ids = self._create_labels(conn)
        if not pending:
            return
        rows = self._rows(pending)
        with self.staging.chunk() as conn:  # only the inserts hold the write lock
            _assign_ids(conn, rows)
            for table in (documents, annotations, explanations, trigger_spans):
                _insert(conn, table, rows[table])
        self.counts.documents += len(pending)
        self.counts.duplicate_annotations += sum(p.duplicate_annotations for p in pending)
        self.counts.annotations += len(rows[annotations])
        self.counts.explanations += len(rows[explanations])

    def _create_labels(self, conn: Connection) -> dict[str, int]:
        table = Label.__table__
        if self.new_labels:
            conn.execute(table.insert(), [{"project_id": self.project_id, "name": name, "kind": kind,
                                           "color": "#888888"} for name, kind in self.new_labels.items()])
            created = conn.execute(sa.select(table.c.id).where(
                table.c.project_id == self.project_id, table.c.name.in_(list(self.new_labels)))).scalars()
            self.staging.labels_created(conn, list(created))
        return dict(conn.execute(sa.select(table.c.name, table.c.id)
                                 .where(table.c.project_id == self.project_id)).all())

    def _without_duplicates(self, pending: list[Checked]) -> list[Checked]:
        fresh = self._seen.new_texts([p.text for p in pending])
        kept = []
        for item, is_new in zip(pending, fresh):
            if is_new:
                kept.append(item)
            elif self.duplicates == FAIL:
                raise FormatError("duplicates a document already in the project or earlier in "
                                  "the file (duplicates=fail; choose skip or keep)",
                                  item.location, "text")
            else:
                self.counts.skipped_duplicates += 1
        return kept

    def _rows(self, pending: list[Checked]) -> dict[sa.Table, list[dict]]:
        """The chunk's rows per table, ids and references to them as positions in the chunk
        (``_assign_ids`` swaps in the real ids): documents, annotations (entities and
        document labels before the relations that refer to them), explanations, spans."""
        now = utcnow()
        out: dict[sa.Table, list[dict]] = {documents: [], annotations: [], explanations: [],
                                           trigger_spans: []}
        for n, item in enumerate(pending):
            out[documents].append({"id": n, "project_id": self.project_id, "text": item.text,
                                   "meta": item.meta, "created_at": now, "import_id": self.staging.id,
                                   "has_letters": has_letter(item.text)})
        positions: dict[tuple[int, int], int] = {}
        for relations in (False, True):
            for n, item in enumerate(pending):
                for i, a in enumerate(item.annotations):
                    if has_links(a) != relations:
                        continue
                    position = positions[(n, i)] = len(out[annotations])
                    out[annotations].append({
                        "id": position, "project_id": self.project_id, "document_id": n,
                        "user_id": self.user_ids.get(a.annotator) if a.annotator else None,
                        # Not a member: kept apart by name (docs/formats.md, annotators).
                        "imported_annotator": None if a.annotator in self.user_ids else a.annotator,
                        "label_id": self._label_ids[a.label], "kind": a.kind,
                        "start": a.start, "end": a.end,
                        "subject_id": positions[(n, a.subject_id)] if relations else None,
                        "object_id": positions[(n, a.object_id)] if relations else None,
                        "source": source_of(a.source), "created_at": now, "updated_at": now,
                        "import_id": self.staging.id, "attributes": a.attributes})
                    for kind, text, spans in a.explanations:
                        explanation = len(out[explanations])
                        out[explanations].append({"id": explanation, "annotation_id": position,
                                                  "kind": kind, "text": text, "parse": None,
                                                  "created_at": now})
                        out[trigger_spans].extend({"explanation_id": explanation, "start": start,
                                                   "end": end} for start, end in spans)
        return out


def _assign_ids(conn: Connection, rows: dict[sa.Table, list[dict]]) -> None:
    """Replace the chunk positions in ``rows`` by ids reserved now, inside the chunk's
    transaction."""
    document_ids = reserve_ids(conn, documents, len(rows[documents]))
    annotation_ids = reserve_ids(conn, annotations, len(rows[annotations]))
    explanation_ids = reserve_ids(conn, explanations, len(rows[explanations]))
    for row in rows[documents]:
        row["id"] = document_ids[row["id"]]
    for row in rows[annotations]:
        row["id"], row["document_id"] = annotation_ids[row["id"]], document_ids[row["document_id"]]
        if row["subject_id"] is not None:
            row["subject_id"] = annotation_ids[row["subject_id"]]
            row["object_id"] = annotation_ids[row["object_id"]]
    for row in rows[explanations]:
        row["id"], row["annotation_id"] = explanation_ids[row["id"]], annotation_ids[row["annotation_id"]]
    for row in rows[trigger_spans]:
        row["explanation_id"] = explanation_ids[row["explanation_id"]]
