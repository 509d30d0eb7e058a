#!/usr/bin/env bash
# Rate-distortion of speechtok.quantizers on speechtok-fast's envelope features (docs/quantizers.md).
# Needs the speech manifests (speechtok data speech). About 25 CPU-minutes on one thread.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
nice -n 10 "$PY" benchmarks/quantizers/run.py --train-utts 300 --bits 11 22 33 --graph-size 16000 --lfq-steps 300 "$@" \
    2>&1 | tee benchmarks/quantizers/run.log
