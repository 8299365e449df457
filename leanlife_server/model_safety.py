"""Checks that make loading a model version execute no code from the version itself.

A version directory or archive may come from anywhere (downloaded, uploaded, copied between
machines). Loading it must not unpickle: pickle runs whatever callables the file names. So

- no file of a version may be a pickle (plain ``pickle``/``joblib`` output, whatever its
  name), checked before anything is unpacked or imported;
- the manifest's ``class`` must belong to the installed plugin that registered the
  manifest's ``model``, and be a :class:`~leanlife_server.plugin_api.Model`, so a manifest
  cannot make the loader import and call an arbitrary module.

Model plugins then read only safe formats (JSON, safetensors, ``numpy`` without pickle,
``torch.load(weights_only=True)``). This module imports nothing of the server.
"""

from __future__ import annotations

import io
import pickletools
from pathlib import Path
from typing import IO, Any, Iterable, Mapping

from leanlife_server.plugin_api import Model, ModelDefinition, load_object

# Names that announce pickled objects even when their content would not parse as a pickle
# on its own (joblib's compressed files, for instance).
PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".joblib", ".pck", ".dill"})


class UnsafeModelError(ValueError):
    """A version that would run code when loaded. ``member`` names the offending file."""

    def __init__(self, member: str, reason: str):
        super().__init__(f"{member}: {reason}; refusing to load this model")
        self.member = member
        self.reason = reason


# Opcodes through which a pickle imports or calls something; a pickle without them only
# builds plain data. Requiring one keeps binary files that happen to parse from counting.
CODE_OPCODES = frozenset({"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ", "NEWOBJ",
                          "NEWOBJ_EX", "BUILD", "EXT1", "EXT2", "EXT4"})
# Formats that are safe to read (as model plugins read them) and start with their own magic.
SAFE_MAGIC = (b"PK\x03\x04",  # zip: torch.save's format, read with weights_only=True
              b"\x93NUMPY")    # .npy, read without allow_pickle


def _is_safetensors(head: bytes) -> bool:
    return len(head) > 8 and head[8:9] == b"{"  # 8-byte header length, then the JSON header


def is_pickle(stream: IO[bytes]) -> bool:
    """Whether ``stream`` holds a pickle that ``pickle.load`` would act on: protocol 2 and
    newer announce themselves; older ones are parsed (parsing executes nothing) up to a
    STOP, and count when they import or call something."""
    head = stream.read(16)
    if head.startswith(SAFE_MAGIC) or _is_safetensors(head):
        return False
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return True
    seen_code = False
    try:
        for opcode, _arg, _pos in pickletools.genops(io.BytesIO(head + stream.read())):
            if opcode.name == "STOP":
                return seen_code
            seen_code = seen_code or opcode.name in CODE_OPCODES
    except Exception:  # genops raises ValueError, struct.error, UnicodeDecodeError, ...
        return False
    return False


def check_member(name: str, open_member) -> None:
    """Refuse one file of a version (``open_member()`` opens it for reading bytes)."""
    if Path(name).suffix.lower() in PICKLE_SUFFIXES:
        raise UnsafeModelError(name, "a pickle file (by its name)")
    with open_member() as stream:
        if is_pickle(stream):
            raise UnsafeModelError(name, "a pickle, which would run code when loaded")


def check_directory(directory: Path) -> None:
    for path in sorted(Path(directory).rglob("*")):
        if path.is_symlink():
            raise UnsafeModelError(path.relative_to(directory).as_posix(), "a symbolic link")
        if path.is_file():
            check_member(path.relative_to(directory).as_posix(), lambda p=path: p.open("rb"))


def _top_package(dotted: str) -> str:
    return dotted.partition(":")[0].split(".")[0]


def model_class(manifest: Mapping[str, Any], definitions: Iterable[ModelDefinition]) -> type[Model]:
    """The ``Model`` class that loads this version, resolved only within the package of
    the installed plugin that registered ``manifest["model"]``."""
    name, class_path = manifest.get("model"), manifest.get("class")
    definition = next((d for d in definitions if d.name == name), None)
    if definition is None:
        raise UnsafeModelError("leanlife-model.json", f"model {name!r} is not registered by any "
                               f"installed plugin")
    if not isinstance(class_path, str) or ":" not in class_path \
            or _top_package(class_path) != _top_package(definition.factory):
        raise UnsafeModelError("leanlife-model.json", f"class {class_path!r} does not belong to the "
                               f"plugin package {_top_package(definition.factory)!r} of model {name!r}")
    cls = load_object(class_path)
    if not (isinstance(cls, type) and issubclass(cls, Model)):
        raise UnsafeModelError("leanlife-model.json", f"class {class_path!r} is not a LeanLife Model")
    return cls
