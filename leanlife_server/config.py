"""Every setting LeanLife reads, from ``LEANLIFE_*`` environment variables, in one place."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from leanlife_server.plugin_api import DEFAULT_MAX_SPANS_PER_ANNOTATION

PREFIX = "LEANLIFE_"


@dataclass
class Settings:
    """Resolved settings. Field names are the variable names without the prefix, lower-cased."""

    data_dir: Path = Path("./leanlife-data")
    database_url: str = ""
    secret_key: str = ""
    redis_url: str = ""
    # Comma-separated entry point names; empty loads every installed plugin.
    plugins: str = ""
    # Comma-separated plugin names never registered: a built-in reaction (plugins.DEFAULT_PLUGINS)
    # that a plugin replaces, or an installed entry point.
    blocked_plugins: str = ""
    max_document_chars: int = 1_000_000
    max_request_bytes: int = 64 * 1024 * 1024
    page_size_max: int = 500
    # Bounds on what one save may ask the server to check and store: trigger spans (and
    # explanations) of one annotation, and annotations one annotator has on one document.
    max_spans_per_annotation: int = DEFAULT_MAX_SPANS_PER_ANNOTATION
    max_annotations_per_document: int = 10_000
    # Prefix of every Redis key and channel (RQ queue, Socket.IO channel): several
    # installations (or test runs) can share one Redis.
    redis_prefix: str = "leanlife"
    # How long GET .../queue/next reserves a document for one annotator.
    lease_seconds: int = 600
    # A running job writes a heartbeat this often; one silent for job_heartbeat_timeout
    # seconds is marked failed (its worker died), so the next trigger retrains.
    job_heartbeat_seconds: int = 5
    job_heartbeat_timeout: int = 60
    # Queued and running jobs one user, and one project, may have at once (0: no limit);
    # past either, starting a job answers 429, so nobody fills the job queue for everyone.
    max_jobs_per_user: int = 8
    max_jobs_per_project: int = 16
    # Jobs up to these sizes go to the "small" lane, which big imports and exports never
    # hold up: imports of files up to this many bytes, exports (and relation projects made)
    # from projects of up to this many documents.
    small_import_bytes: int = 1024 * 1024
    small_export_documents: int = 2000
    # A browser session ends this many days after its login (sooner at logout, "log out
    # everywhere" or a password change).
    session_days: int = 14
    # Failed password checks allowed per account and per client address (Flask-Limiter rate
    # strings); past either, logins, tokens and password changes answer 429 for a while.
    login_limit_per_account: str = "10 per 15 minutes"
    login_limit_per_address: str = "50 per 15 minutes"
    # Lanes whose jobs `leanlife serve` without Redis runs in a child process rather than a
    # thread (comma-separated; empty: none): a big import's busy Python then does not slow
    # the server's requests (leanlife_server/jobs/child.py).
    child_process_lanes: str = "imports"
    # Where files live (leanlife_server/storage.py): empty for the data dir, or
    # s3://BUCKET/PREFIX with this endpoint (empty: AWS) and region (empty: AWS_DEFAULT_REGION);
    # credentials come from the usual AWS variables.
    storage_url: str = ""
    s3_endpoint_url: str = ""
    s3_region: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def plugin_names(self) -> list[str] | None:
        names = [n.strip() for n in self.plugins.split(",") if n.strip()]
        return names or None

    @property
    def blocked_plugin_names(self) -> list[str]:
        return [n.strip() for n in self.blocked_plugins.split(",") if n.strip()]


def _coerce(name: str, raw: Any, default: Any) -> Any:
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, bool):
        return str(raw).lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise ValueError(f"{PREFIX}{name.upper()} must be an integer, got {raw!r}") from exc
    return raw


def load_settings(overrides: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None, secret: bool = True) -> Settings:
    """Build settings from the environment, then ``overrides`` (used by tests and the CLI).
    With ``secret`` false a missing secret key stays empty instead of being generated in the
    data dir, for commands that sign nothing and should leave no data dir behind."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    settings = Settings()
    for f in fields(Settings):
        if f.name == "extra":
            continue
        default = getattr(settings, f.name)
        if f.name in overrides:
            value = overrides.pop(f.name)
        elif PREFIX + f.name.upper() in environ:
            value = environ[PREFIX + f.name.upper()]
        else:
            continue
        setattr(settings, f.name, _coerce(f.name, value, default))
    settings.extra = overrides
    settings.data_dir = Path(settings.data_dir).resolve()
    if not settings.database_url:
        settings.database_url = f"sqlite:///{settings.data_dir / 'leanlife.sqlite3'}"
    if not settings.secret_key and secret:
        settings.secret_key = _persistent_secret(settings.data_dir)
    return settings


def _persistent_secret(data_dir: Path) -> str:
    """A secret generated once and kept in the data dir, so sessions survive restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(key)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return key
