#!/usr/bin/env bash
# Rate-distortion of speechtok.quantizers on speechtok-fast's envelope features (docs/quantizers.md).
# Needs the speech manifests (speechtok data speech). About an hour on one thread (the SE fits are
# most of it); rows already in results.json with the same settings are kept (--redo NAME recomputes).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
nice -n 10 "$PY" benchmarks/quantizers/run.py --train-utts 300 --bits 11 22 33 --graph-size 16000 --lfq-steps 300 "$@"
