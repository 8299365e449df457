"""Database rows. Character offsets everywhere; tokens are derived by the plugins."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy import select as sa_select
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from sqlalchemy.sql import false, true

from leanlife_server.active.letters import has_letter
from leanlife_server.credentials import username_key
from leanlife_server.db import db

OWNER, ANNOTATOR = "owner", "annotator"
ROLES = (OWNER, ANNOTATOR)
SOURCE_MANUAL, SOURCE_RECOMMENDATION, SOURCE_IMPORT = "manual", "recommendation", "import"
SOURCES = (SOURCE_MANUAL, SOURCE_RECOMMENDATION, SOURCE_IMPORT)
# A document's review (curation) state: annotators' work, an owner curating it, gold done.
ANNOTATED, IN_REVIEW, CURATED = "annotated", "in review", "curated"
REVIEW_STATES = (ANNOTATED, IN_REVIEW, CURATED)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _text_has_letters(context: Any) -> bool:
    return has_letter(context.get_current_parameters()["text"])


def _created() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)


class User(db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True, nullable=False)
    # The case-folded NFKC username (credentials.username_key): unique, and what logins look up.
    # Text: case folding may lengthen a name. Kept in step with ``username`` by _set_key.
    username_key: Mapped[str] = mapped_column(Text, unique=True, index=True, nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[datetime] = _created()

    @validates("username")
    def _set_key(self, _attribute: str, value: str) -> str:
        self.username_key = username_key(value)
        return value


class UserSession(db.Model):
    """A browser's login. The signed cookie carries a random id whose SHA-256 is stored here:
    deleting the row (logout, log out everywhere, password change) ends the session at once."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, so a leaked database leaks no tokens."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="", nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    created_at: Mapped[datetime] = _created()
    revoked_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship()


class Project(db.Model):
    __tablename__ = "projects"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, default="", nullable=False)
    task: Mapped[str] = mapped_column(String(100), nullable=False)
    explanation_kind: Mapped[str] = mapped_column(String(50), default="none", nullable=False)
    multi_label: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    # Whether annotators may read each other's annotations.
    annotators_see_others: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    model: Mapped[Optional[str]] = mapped_column(String(100))
    # The models whose suggestions compete (pipeline/recommenders.py); null: the default list.
    recommenders: Mapped[Optional[list[str]]] = mapped_column(JSON)
    model_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    retrain_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    query_strategy: Mapped[Optional[str]] = mapped_column(String(100))
    confidence_threshold: Mapped[Optional[float]] = mapped_column(Float)
    device: Mapped[Optional[str]] = mapped_column(String(20))
    # How many annotators a document goes to, for a share of the documents (0..1) chosen by
    # id; the others go to one (active/overlap.py).
    overlap: Mapped[int] = mapped_column(Integer, default=1, server_default="1", nullable=False)
    overlap_share: Mapped[float] = mapped_column(Float, default=1.0, server_default="1", nullable=False)
    # Versions kept of each learned model besides its active one (older ones are deleted).
    versions_kept: Mapped[int] = mapped_column(Integer, default=10, server_default="10", nullable=False)
    # Members who have not chosen their own threshold are shown suggestions from this
    # confidence on (api/members.py); a new project starts with its task's suggestion.
    min_recommendation_confidence: Mapped[float] = mapped_column(Float, default=0.0, server_default="0",
                                                                 nullable=False)
    created_at: Mapped[datetime] = _created()


class Membership(db.Model):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("project_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    user: Mapped[User] = relationship()


class Label(db.Model):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("project_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    color: Mapped[str] = mapped_column(String(20), default="#888888", nullable=False)
    shortcut: Mapped[Optional[str]] = mapped_column(String(10))


class Document(db.Model):
    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_project_id_id", "project_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    created_at: Mapped[datetime] = _created()
    # The import that wrote the row; hidden while that import is unfinished (db/staging.py).
    import_id: Mapped[Optional[int]] = mapped_column(Integer, index=True)
    # Whether the text has a letter (active/letters.py): documents without one (numbers,
    # table rows) go to the end of every queue. Set from ``text`` on insert.
    has_letters: Mapped[bool] = mapped_column(Boolean, default=_text_has_letters, server_default=true(),
                                              nullable=False)
    # Curation (api/curation.py): training takes the gold layer of a ``curated`` document.
    review_state: Mapped[str] = mapped_column(String(20), default=ANNOTATED, server_default=ANNOTATED,
                                              nullable=False)


class DocumentSkip(db.Model):
    """An annotator skipped a document: out of their queue, not finished, until a version of
    a learned model trained after ``created_at`` is active (active/skips.py)."""

    __tablename__ = "document_skips"
    __table_args__ = (UniqueConstraint("document_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _created()


class DocumentCompletion(db.Model):
    """An annotator marked a document finished."""

    __tablename__ = "document_completions"
    __table_args__ = (UniqueConstraint("document_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = _created()


class Annotation(db.Model):
    """A label by one user: on a span (start, end), on a relation (subject, object), or on the document."""

    __tablename__ = "annotations"
    __table_args__ = (
        Index("ix_annotations_document_user", "document_id", "user_id"),
        Index("ix_annotations_project_user", "project_id", "user_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    start: Mapped[Optional[int]] = mapped_column(Integer)
    end: Mapped[Optional[int]] = mapped_column(Integer)
    # Indexed: deleting an annotation looks up the relations that point at it.
    subject_id: Mapped[Optional[int]] = mapped_column(ForeignKey("annotations.id", ondelete="CASCADE"),
                                                      index=True)
    object_id: Mapped[Optional[int]] = mapped_column(ForeignKey("annotations.id", ondelete="CASCADE"),
                                                     index=True)
    source: Mapped[str] = mapped_column(String(20), default=SOURCE_MANUAL, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow,
                                                 onupdate=utcnow, nullable=False)
    import_id: Mapped[Optional[int]] = mapped_column(Integer)  # as Document.import_id
    # The document's gold layer (api/curation.py): written by owners, belongs to no user
    # (user_id null), and is neither an annotator's work nor shared imported ground.
    gold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    # An imported annotation's annotator when the file named one who is not a project member
    # (user_id null): keeps several imported annotators' work apart (docs/formats.md).
    imported_annotator: Mapped[Optional[str]] = mapped_column(String(150))
    # What the task adds to the generic shape (label, span, links), as the task validated it:
    # e.g. an aspect term's polarity. Null when the task adds nothing (NER, RE, SA).
    attributes: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    label: Mapped[Label] = relationship()
    explanations: Mapped[list["Explanation"]] = relationship(
        back_populates="annotation", cascade="all, delete-orphan", order_by="Explanation.id")


class Explanation(db.Model):
    """Why a label was given: a trigger (its spans) or a natural-language text (and its parse)."""

    __tablename__ = "explanations"
    id: Mapped[int] = mapped_column(primary_key=True)
    annotation_id: Mapped[int] = mapped_column(ForeignKey("annotations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    text: Mapped[Optional[str]] = mapped_column(Text)
    parse: Mapped[Optional[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = _created()
    annotation: Mapped[Annotation] = relationship(back_populates="explanations")
    spans: Mapped[list["TriggerSpan"]] = relationship(
        cascade="all, delete-orphan", order_by="TriggerSpan.start")


class TriggerSpan(db.Model):
    __tablename__ = "trigger_spans"
    id: Mapped[int] = mapped_column(primary_key=True)
    explanation_id: Mapped[int] = mapped_column(ForeignKey("explanations.id", ondelete="CASCADE"), index=True)
    start: Mapped[int] = mapped_column(Integer, nullable=False)
    end: Mapped[int] = mapped_column(Integer, nullable=False)


class ImportStaging(db.Model):
    """An import still writing its rows in chunks (or being removed after it failed): rows
    whose ``import_id`` is this id are hidden everywhere. Publishing deletes this row, so
    it is the only row the final transaction writes. AUTOINCREMENT: a new import must never
    get the id of a published one, or that import's rows would hide again."""

    __tablename__ = "import_stagings"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[Optional[int]] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(20), default="writing", nullable=False)
    # Labels the import created, removed with it if it fails (unless used meanwhile).
    labels_created: Mapped[list[int]] = mapped_column(JSON, default=list, nullable=False)
    created_at: Mapped[datetime] = _created()
    # Written with every chunk: an import that stopped writing long ago was killed.
    touched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)


def _next_version_number(context: Any) -> int:
    """The project's next version number (1, 2, ...): its largest plus one. Writers hold the
    project's row lock (pipeline/model_store.store_version); the unique index refuses a clash."""
    project_id = context.get_current_parameters()["project_id"]
    table = ModelVersion.__table__
    return context.connection.execute(
        sa_select(func.coalesce(func.max(table.c.number), 0) + 1).where(table.c.project_id == project_id)
    ).scalar_one()


class ModelVersion(db.Model):
    __tablename__ = "model_versions"
    __table_args__ = (Index("uq_model_versions_project_number", "project_id", "number", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    # Counted per project, beside the global id (migration 0008 numbered the older rows).
    number: Mapped[int] = mapped_column(Integer, default=_next_version_number, server_default="0",
                                        nullable=False)
    model: Mapped[str] = mapped_column(String(100), nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    data_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    artifact_path: Mapped[Optional[str]] = mapped_column(String(500))
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    created_at: Mapped[datetime] = _created()


class Job(db.Model):
    """Background work (train, predict, import, export): its state, progress and outcome."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    state: Mapped[str] = mapped_column(String(20), default="queued", nullable=False)
    progress: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    device: Mapped[Optional[str]] = mapped_column(String(20))
    error: Mapped[Optional[str]] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    model_version_id: Mapped[Optional[int]] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))
    # Written while the job runs; a stale heartbeat means its worker died.
    heartbeat_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True))


class Recommendation(db.Model):
    """A model version's proposed annotation for a document, with its confidence."""

    __tablename__ = "recommendations"
    __table_args__ = (Index("ix_recommendations_version_document", "model_version_id", "document_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)


class UncertaintyScore(db.Model):
    __tablename__ = "uncertainty_scores"
    __table_args__ = (UniqueConstraint("model_version_id", "document_id"),
                      Index("ix_uncertainty_version_score", "model_version_id", "score"))
    id: Mapped[int] = mapped_column(primary_key=True)
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float, nullable=False)
    # How sure the model is of its whole prediction for the document (0..1); documents
    # above the project's confidence_threshold leave the annotation queue.
    confidence: Mapped[Optional[float]] = mapped_column(Float)


class DocumentLease(db.Model):
    """A document handed to an annotator by the queue until ``expires_at``. Up to the
    project's ``overlap`` annotators hold one document at once (active/queue.py counts them
    under the project's row lock); one lease per document and annotator."""

    __tablename__ = "document_leases"
    __table_args__ = (UniqueConstraint("document_id", "user_id", name="uq_document_leases_document_user"),
                      Index("ix_document_leases_project_expires", "project_id", "expires_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=False)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
