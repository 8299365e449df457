"""Which format reads a file: named by the user, or guessed from the extension and the first
characters of the file."""

from __future__ import annotations

from pathlib import Path

from leanlife_server.plugin_api import FormatDefinition, FormatError, load_object
from leanlife_server.plugins import Plugins

SNIFF_CHARS = 1 << 15


def _usable(definition: FormatDefinition, task: str, direction: str) -> bool:
    return definition.serves(task) and getattr(definition, direction) is not None


def _names(plugins: Plugins, task: str, direction: str) -> list[str]:
    return [d.name for d in plugins.formats if _usable(d, task, direction)]


def format_for(plugins: Plugins, name: str, task: str, direction: str) -> FormatDefinition:
    """The format ``name`` where it can ``direction`` ("importer" or "exporter") for ``task``."""
    definition = plugins.formats.get(name)
    if definition is None or not _usable(definition, task, direction):
        verb = "import" if direction == "importer" else "export"
        raise FormatError(f"{name!r} is not a format that can {verb} {task!r} projects "
                          f"(available: {', '.join(_names(plugins, task, direction))})",
                          field="format")
    return definition


def _head(path: Path) -> str:
    with open(path, "rb") as raw:
        return raw.read(SNIFF_CHARS).decode("utf-8-sig", errors="replace")


def detect_format(plugins: Plugins, path: Path, task: str, filename: str | None = None) -> FormatDefinition:
    """Guess the import format of ``path`` (``filename`` gives the extension of an upload).
    Formats with a ``sniff`` that recognises the file win; otherwise the one format for the
    extension without a ``sniff`` (the generic one)."""
    path = Path(path)
    candidates = [d for d in plugins.formats if _usable(d, task, "importer")]
    if path.is_dir():
        candidates = [d for d in candidates if d.directories]
        head = ""
    else:
        suffix = Path(filename or path.name).suffix.lower().lstrip(".")
        candidates = [d for d in candidates if not d.directories and suffix in d.extensions]
        head = _head(path)
    sniffed = [d for d in candidates if d.sniff and load_object(d.sniff)(head)]
    generic = [d for d in candidates if not d.sniff]
    chosen = sniffed[:1] or (generic if len(generic) == 1 else [])
    if not chosen:
        raise FormatError(f"cannot tell the format of {filename or path.name}; pass one of "
                          f"{', '.join(_names(plugins, task, 'importer'))}", field="format")
    return chosen[0]
