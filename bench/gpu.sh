#!/usr/bin/env bash
# Issue 19's GPU figures (goals 4 and 5) on a bare GPU machine: python3 with torch and
# transformers, this checkout, and the .gpu/ folder that bench/gpu_carry.sh made here.
# Prints, for MiniLM SA and NER, 3 retraining rounds (round 1 pays the start-up) and the
# throughput over 100,000 sentences; extra arguments go to bench/throughput.py. About 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
site=${TMPDIR:-/tmp}/leanlife-gpu-site
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" .gpu/wheels/*.whl
export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import sys, torch; sys.exit(not torch.cuda.is_available())" || { echo "torch sees no CUDA device here" >&2; exit 1; }
for model in transformer_sa.v1 transformer_ner.v1; do
    python3 bench/throughput.py --model "$model" --device cuda --sentences 100000 --rounds 3 --pool 1000 \
        --checkpoint .gpu/minilm --random-weights "$@"
done
