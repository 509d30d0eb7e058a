#!/usr/bin/env bash
# How good must a phone teacher be? The small LM tier's phone topline with simulated recognition
# errors (`phones:per<P>`, speechtok/lm/topline.py: independent substitutions, deletions and
# insertions at phone error rate P in training speech and test items alike), next to the
# phone-unit rows whose teachers' measured PER is known (teacher_per.md). One thread; about
# 5 CPU-minutes per row. Needs benchmarks/lm/run.sh's data; the table: per_curve.md.
#   make venv && benchmarks/lm/run.sh && benchmarks/phone_units/per_curve.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
ROWS=(-t "phones:per0.05" -t "phones:per0.1" -t "phones:per0.2" -t "phones:per0.35")
[ $# -gt 0 ] && ROWS=("$@")
# the small tier's own script: its data, LM config and table (rows already in results.jsonl are kept)
benchmarks/lm/run.sh "${ROWS[@]}"
OMP_NUM_THREADS=1 "$PY" benchmarks/phone_units/per_curve.py > benchmarks/phone_units/per_curve.md
cat benchmarks/phone_units/per_curve.md
