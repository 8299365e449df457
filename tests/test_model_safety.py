"""Loading a model version executes nothing from the version (robustness issue, item 1).

Each hostile version would, if loaded, create a marker file; the tests check both the error
(naming the offending file) and that the marker never appears.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from safetensors.torch import save as safetensors_bytes

from leanlife_server import extract
from leanlife_server.model_safety import UnsafeModelError, is_pickle
from tests import test_jobs_toy_models
from tests.test_jobs_support import REPO


class Payload:
    """Unpickling this creates ``marker``: the proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def manifest(model: str, cls: str) -> str:
    return json.dumps({"format": extract.FORMAT, "model": model, "class": cls, "task": "sa",
                       "labels": {"pos": "document"}, "config": {}})


def write_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def toy_models():
    return test_jobs_toy_models.leanlife_models()


def test_joblib_archive_from_the_issue_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    joblib.dump(Payload(marker), tmp_path / "model")
    archive = write_zip(tmp_path / "hostile.zip", {
        "leanlife-model.json": manifest("toy.bow.v1", "joblib"),
        "model": (tmp_path / "model").read_bytes()})
    with pytest.raises(UnsafeModelError) as error:
        extract.load(archive, unpack_to=tmp_path / "unpacked", models=toy_models())
    assert error.value.member == "model" and "pickle" in str(error.value)
    assert not marker.exists()
    assert not (tmp_path / "unpacked").exists(), "nothing is unpacked from a refused archive"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_pickle_under_any_name_and_protocol_is_refused(tmp_path, protocol):
    marker = tmp_path / "pwned"
    archive = write_zip(tmp_path / "hostile.zip", {
        "leanlife-model.json": manifest("toy.bow.v1", "tests.test_jobs_toy_models:ToyModel"),
        "model/model.json": "{}",
        "model/weights.safetensors": pickle.dumps(Payload(marker), protocol=protocol)})
    with pytest.raises(UnsafeModelError) as error:
        extract.load(archive, unpack_to=tmp_path / "unpacked", models=toy_models())
    assert error.value.member == "model/weights.safetensors"
    assert not marker.exists()


def test_a_version_directory_is_checked_too(tmp_path):
    marker = tmp_path / "pwned"
    version = tmp_path / "version"
    (version / "model").mkdir(parents=True)
    (version / "leanlife-model.json").write_text(manifest("toy.bow.v1", "tests.test_jobs_toy_models:ToyModel"))
    (version / "model" / "state.pkl").write_bytes(b"not even a pickle")
    with pytest.raises(UnsafeModelError, match="model/state.pkl"):
        extract.load(version, models=toy_models())
    (version / "model" / "state.pkl").unlink()
    (version / "model" / "weights.npz").write_bytes(pickle.dumps(Payload(marker), protocol=0))
    with pytest.raises(UnsafeModelError, match="model/weights.npz"):
        extract.load(version, models=toy_models())
    assert not marker.exists()


@pytest.mark.parametrize("model, cls, reason", [
    ("toy.bow.v1", "subprocess:Popen", "does not belong to the plugin package 'tests'"),
    ("toy.bow.v1", "tests.test_model_safety:Payload", "is not a LeanLife Model"),
    ("toy.bow.v1", "joblib", "does not belong"),
    ("no.such.model", "tests.test_jobs_toy_models:ToyModel", "not registered"),
])
def test_the_manifest_class_must_be_the_registered_plugins_model(tmp_path, model, cls, reason):
    archive = write_zip(tmp_path / "version.zip", {"leanlife-model.json": manifest(model, cls),
                                                   "model/model.json": "{}"})
    with pytest.raises(UnsafeModelError, match=reason) as error:
        extract.load(archive, unpack_to=tmp_path / "unpacked", models=toy_models())
    assert error.value.member == "leanlife-model.json"


def test_safe_formats_are_not_mistaken_for_pickles():
    torch_file, npy_file = io.BytesIO(), io.BytesIO()
    torch.save({"weight": torch.zeros(3)}, torch_file)
    np.save(npy_file, np.arange(4))
    for data in (torch_file.getvalue(), npy_file.getvalue(),
                 safetensors_bytes({"weight": torch.zeros(3)}),
                 json.dumps({"vocabulary": ["(", "c", "."]}).encode(), b"[PAD]\n[UNK]\ncat\n.\n",
                 pickle.dumps({"plain": [1, 2]}, protocol=0)):  # data only: nothing to run
        assert not is_pickle(io.BytesIO(data)), data[:20]


def test_an_installed_plugins_archive_loads_in_a_fresh_process_without_the_server(tmp_path):
    """``load`` with no ``models`` finds the installed plugins by their entry points."""
    from leanlife_next.model import NextModel
    from leanlife_server.plugin_api import Dataset
    from tests.test_next_model import _relation_example

    labels = {"Cause-Effect(e2,e1)": "relation", "O": "span"}
    labeled = [_relation_example(1, "The fire was caused by the spark.", "fire", "spark",
                                 "Cause-Effect(e2,e1)", 'SUBJ and OBJ sandwich the phrase "caused by the"')]
    model = NextModel({"epochs": 1}, labels)
    model.train(Dataset("re", labels, "natural_language", labeled, ()), lambda f, d: None)
    extract.write_version(tmp_path / "version", model, {"model": "next.v1", "task": "re", "labels": labels})
    names = {p.name for p in (tmp_path / "version" / "model").iterdir()}
    assert "classifier.safetensors" in names and "classifier.pt" not in names
    extract.write_archive(tmp_path / "version", tmp_path / "version.zip")
    script = ("import sys\nfrom leanlife_server.extract import load\n"
              "model = load(sys.argv[1])\nprint(type(model.model).__name__)\n"
              "assert 'flask' not in sys.modules\n")
    fresh = subprocess.run([sys.executable, "-c", script, str(tmp_path / "version.zip")], cwd=REPO,
                           capture_output=True, text=True, timeout=120, env={**os.environ})
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.strip() == "NextModel"


def test_archives_store_weights_as_they_are_and_deflate_the_rest(tmp_path):
    """Deflating MiniLM's 90 MB of float weights took about a second of each retraining round
    and saved a few percent: weights are stored, text is deflated, and both unpack the same."""
    version = tmp_path / "version"
    (version / "model").mkdir(parents=True)
    weights = safetensors_bytes({"w": torch.randn(256, 64)})
    (version / "model" / "model.safetensors").write_bytes(weights)
    (version / "leanlife-model.json").write_text(json.dumps({"labels": ["a"] * 500}))
    extract.write_archive(version, tmp_path / "version.zip")
    with zipfile.ZipFile(tmp_path / "version.zip") as archive:
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
    assert kinds == {"model/model.safetensors": zipfile.ZIP_STORED, "leanlife-model.json": zipfile.ZIP_DEFLATED}
    extract.unpack(tmp_path / "version.zip", tmp_path / "unpacked")
    assert (tmp_path / "unpacked" / "model" / "model.safetensors").read_bytes() == weights
