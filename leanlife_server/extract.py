"""Model versions as self-contained directories and archives that load without the server.

A version directory (and the ``.zip`` archive of one) holds::

    leanlife-model.json   manifest: format, model name, class, task, labels, config,
                          metrics, data counts, creation time
    labels.json           the label map: label name -> label kind
    config.json           the model's configuration
    MODEL_CARD.md         what the model is, what it saw, how well it did, how to load it
    model/                what the model plugin's ``save`` wrote (weights, vocabulary or
                          tokenizer)

Load one in any Python process where the model's plugin package is installed::

    from leanlife_server.extract import load
    model = load("project-1-version-3.zip")
    model.predict(["Barack Obama visited Paris."])   # -> list of DocumentPrediction

This module imports nothing of the server (no Flask, no database).
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from leanlife_server import model_safety
from leanlife_server.plugin_api import DocumentPrediction, Example, Model, ModelDefinition

FORMAT = 1
MANIFEST = "leanlife-model.json"
LABELS = "labels.json"
CONFIG = "config.json"
CARD = "MODEL_CARD.md"
MODEL_DIR = "model"


def class_path(model: Model) -> str:
    cls = type(model)
    return f"{cls.__module__}:{cls.__qualname__}"


def _table(values: Mapping[str, Any], indent: str = "") -> list[str]:
    lines = []
    for key, value in values.items():
        if isinstance(value, Mapping):
            lines.append(f"{indent}- {key}:")
            lines.extend(_table(value, indent + "  "))
        else:
            lines.append(f"{indent}- {key}: {value:.4f}" if isinstance(value, float)
                         else f"{indent}- {key}: {value}")
    return lines


def model_card(manifest: Mapping[str, Any]) -> str:
    lines = [f"# {manifest['model']} for {manifest['task']}", "",
             f"Trained by LeanLife {manifest.get('leanlife_version', '')} on "
             f"{manifest.get('created_at', '')}; explanations: {manifest.get('explanation_kind')}.", "",
             "## Labels", "", *(f"- {name} ({kind})" for name, kind in manifest["labels"].items()), "",
             "## Data", "", *_table(manifest.get("data_counts", {})), "",
             "## Metrics", "", *(_table(manifest.get("metrics", {})) or ["- none (too few labeled documents "
                                                                          "to hold some out)"]), "",
             "## Configuration", "", "```json", json.dumps(manifest.get("config", {}), indent=2), "```", "",
             "## Loading", "", "```python", "from leanlife_server.extract import load",
             "model = load('this-archive.zip')", "predictions = model.predict(['some text'])", "```", ""]
    return "\n".join(lines)


def write_version(directory: Path, model: Model, manifest: Mapping[str, Any]) -> None:
    """Write a complete version into ``directory`` (which must not exist yet)."""
    directory.mkdir(parents=True)
    model.save(directory / MODEL_DIR)
    manifest = {"format": FORMAT, "class": class_path(model), **manifest}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    (directory / LABELS).write_text(json.dumps(manifest["labels"], indent=2))
    (directory / CONFIG).write_text(json.dumps(manifest.get("config", {}), indent=2))
    (directory / CARD).write_text(model_card(manifest))


def read_manifest(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a LeanLife model (no {MANIFEST})")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path}: model format {manifest.get('format')!r}; this LeanLife reads {FORMAT}")
    return manifest


# Weights are floats that deflate by a few percent at most, while deflating MiniLM's 90 MB took
# 3.2 s of every retraining round (py-spy, bench/loop.py --task sa): stored as they are.
STORED_SUFFIXES = (".safetensors", ".npy", ".npz")


def write_archive(directory: Path, target: Path) -> None:
    """Zip a version directory into ``target`` atomically (weights stored, the rest deflated)."""
    tmp = target.with_name(f".{target.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(Path(directory).rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix(),
                              compress_type=zipfile.ZIP_STORED if path.suffix in STORED_SUFFIXES else None)
    os.replace(tmp, target)


def unpack(archive_path: Path, target: Path) -> None:
    """Unpack an archive into ``target``, refusing members outside it and pickles before
    anything is written."""
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            name = info.filename
            if name.startswith("/") or ".." in Path(name).parts:
                raise ValueError(f"{archive_path}: archive member {name!r} points outside the archive")
            if not info.is_dir():
                model_safety.check_member(name, lambda i=info: archive.open(i))
        archive.extractall(target)


@dataclass
class LoadedModel:
    """A loaded version: the plugin's ``Model`` and the manifest that describes it."""

    model: Model
    manifest: dict[str, Any]
    directory: Path

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.manifest["labels"])

    def predict(self, texts: Sequence[str]) -> list[DocumentPrediction]:
        return self.model.predict([Example(None, text) for text in texts])


def load(path: str | os.PathLike, device: str = "cpu", unpack_to: str | os.PathLike | None = None,
         models: Iterable[ModelDefinition] | None = None) -> LoadedModel:
    """Load a version from its directory or its ``.zip`` archive. An archive is unpacked
    into ``unpack_to`` (default: a new temporary directory, kept while the process runs,
    because a model may read its files lazily).

    Nothing in the version runs: a pickle anywhere in it, or a manifest class outside the
    plugin that registered its model (``models``: default, every installed plugin's), raises
    :class:`~leanlife_server.model_safety.UnsafeModelError` naming the file."""
    path = Path(path)
    if path.is_file():
        target = Path(unpack_to) if unpack_to else Path(tempfile.mkdtemp(prefix="leanlife-model-"))
        unpack(path, target)
        path = target
    else:
        model_safety.check_directory(path)
    manifest = read_manifest(path)
    if models is None:
        from leanlife_server.plugins import load_plugins  # only when loading outside a server
        models = load_plugins().models
    model_class = model_safety.model_class(manifest, models)
    return LoadedModel(model_class.load(path / MODEL_DIR, device), manifest, path)
