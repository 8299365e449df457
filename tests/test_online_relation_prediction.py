"""Online prediction for a task that predicts from entity spans (RE): the request carries
``entities``, the model receives them as the example's annotations, and a request without
them (or with bad ones) is a 422 naming the field."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

import pluggy
import pytest

from leanlife_server.plugin_api import (RELATION, SPAN, AnnotationData, Dataset, DocumentPrediction,
                                        Example, Model, ModelDefinition, ProgressCallback)
from tests.conftest import add_document, create_project
from tests.test_model_api import train

hookimpl = pluggy.HookimplMarker("leanlife")
TEXT = "Ann founded Acme."  # Ann [0, 3), Acme [12, 16)


class PairModel(Model):
    """Relates each entity to the next one in the text with the relation label it saw most."""

    def __init__(self, labels: Mapping[str, str], relation: str | None = None):
        self.labels, self.relation = dict(labels), relation

    def train(self, data: Dataset, progress: ProgressCallback) -> Mapping[str, float]:
        seen = Counter(a.label for e in data.labeled for a in e.annotations if a.kind == RELATION)
        self.relation = seen.most_common(1)[0][0]
        return {}

    def predict(self, examples: Sequence[Example]) -> list[DocumentPrediction]:
        out = []
        for example in examples:
            spans = sorted((a for a in example.annotations if a.kind == SPAN), key=lambda a: a.start)
            out.append(DocumentPrediction(example.document_id, tuple(
                AnnotationData(RELATION, self.relation, subject_id=a.id, object_id=b.id, confidence=0.9,
                               evidence={"subject_label": a.label})
                for a, b in zip(spans, spans[1:]))))
        return out

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True)
        (directory / "model.json").write_text(json.dumps({"labels": self.labels, "relation": self.relation}))

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> "PairModel":
        return cls(**json.loads((directory / "model.json").read_text()))


def make_pair_model(config, labels, device) -> Model:
    return PairModel(labels)


@hookimpl
def leanlife_models() -> list[ModelDefinition]:
    return [ModelDefinition("toy.pairs.v1", ("re",), f"{__name__}:make_pair_model")]


@pytest.fixture
def app(make_app):
    return make_app(extra_plugins=[sys.modules[__name__]])


def test_relation_prediction_takes_the_entities(make_caller):
    owner = make_caller("owner")
    project = create_project(owner, "re", labels=(("PER", "span"), ("ORG", "span"),
                                                   ("founder_of", "relation")))
    base = f"/api/v1/projects/{project['id']}"
    assert owner.patch(f"{base}/settings", json={"model": "toy.pairs.v1"}).status_code == 200
    document = add_document(owner, project["id"], TEXT)
    url = f"{base}/documents/{document['id']}/annotations"
    ann = owner.post(url, json={"label": "PER", "start": 0, "end": 3}).get_json()
    acme = owner.post(url, json={"label": "ORG", "start": 12, "end": 16}).get_json()
    assert owner.post(url, json={"label": "founder_of", "subject": ann["id"],
                                 "object": acme["id"]}).status_code == 201
    assert train(owner, project)["state"] == "finished"

    entities = [{"start": 0, "end": 3, "label": "PER"}, {"start": 12, "end": 16, "label": "ORG"}]
    r = owner.post(f"{base}/model/predict", json={"text": TEXT, "entities": entities})
    assert r.status_code == 200, r.get_json()
    [prediction] = r.get_json()["predictions"]
    assert [(a["label"], a["subject"], a["object"], a["evidence"]["subject_label"])
            for a in prediction["annotations"]] == [("founder_of", 1, 2, "PER")]
    assert prediction["confidence"] is not None

    def refused(body: dict, field: str) -> None:
        r = owner.post(f"{base}/model/predict", json=body)
        assert r.status_code == 422, r.get_json()
        assert r.get_json()["error"]["details"]["field"] == field, r.get_json()

    refused({"text": TEXT}, "entities")
    refused({"texts": [TEXT]}, "entities")
    refused({"text": TEXT, "entities": [{"start": 12, "end": 40, "label": "ORG"}]}, "entities[0].span")
    refused({"text": TEXT, "entities": [entities[0], {"start": 12, "end": 16, "label": "CITY"}]},
            "entities[1].label")
    refused({"text": TEXT, "entities": [{"start": 0, "end": 3, "label": "founder_of"}]}, "entities[0].label")
    refused({"text": TEXT, "entities": [{"start": 0, "label": "PER"}]}, "entities[0].end")
