"""Every setting LeanLife reads, from ``LEANLIFE_*`` environment variables, in one place."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

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
    max_document_chars: int = 1_000_000
    max_request_bytes: int = 64 * 1024 * 1024
    page_size_max: int = 500
    # Prefix of every Redis key and channel (RQ queue, Socket.IO channel): several
    # installations (or test runs) can share one Redis.
    redis_prefix: str = "leanlife"
    # How long GET .../queue/next reserves a document for one annotator.
    lease_seconds: int = 600
    # A running job writes a heartbeat this often; one silent for job_heartbeat_timeout
    # seconds is marked failed (its worker died), so the next trigger retrains.
    job_heartbeat_seconds: int = 5
    job_heartbeat_timeout: int = 60
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def plugin_names(self) -> list[str] | None:
        names = [n.strip() for n in self.plugins.split(",") if n.strip()]
        return names or None


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
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment, then ``overrides`` (used by tests and the CLI)."""
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
    if not settings.secret_key:
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
