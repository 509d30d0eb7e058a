#!/usr/bin/env bash
# The papers' quantizers as LM-bench rows (issue 18, item 3; docs/quantizers.md): each quantizer over
# the same frame features (MFCC, or MFCC fused with PhoneCTC posteriors) at the same budget (10 bits
# per 20 ms frame, one token id of 1024 per frame), fitted on the English Asterisk train split, then
# scored as rows of the small LM tier (benchmarks/lm/small, beside the topline and MFCC k-means).
# Needs benchmarks/lm/run.sh's data. Fitting: about 30 CPU-min (the SE graph partitions are most
# of it); each LM row about 5 CPU-min. Reproduce:
#   make venv && benchmarks/lm/run.sh && benchmarks/quantizers/lm/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
QS=(kmeans rkm mcrvq lfq bsq se)
for feat in mfcc fused; do
  missing=()
  for q in "${QS[@]}"; do [ -f "speechtok/assets/feature_vq/${feat}-vq_50hz_${q}10.safetensors" ] || missing+=("$q"); done
  [ ${#missing[@]} -eq 0 ] || "$PY" -m speechtok.tokenizers.feature_vq --data data/asterisk-en/train.jsonl \
      --valid data/asterisk-en/valid.jsonl --features "$feat" --quantizers "${missing[@]}" --bits 10
done
ROWS=()
for feat in mfcc fused; do for q in "${QS[@]}"; do ROWS+=(-t "${feat}-vq@50hz:${q}10"); done; done
[ $# -gt 0 ] && ROWS=("$@")
# the small tier's own script: its data, LM config and table (rows already in results.jsonl are kept)
benchmarks/lm/run.sh "${ROWS[@]}"
"$PY" benchmarks/quantizers/lm/report.py > benchmarks/quantizers/lm/results.md
