#!/usr/bin/env bash
# The codec's quantizer switches (model.quantizer.kind: rvq, fsq, lfq, bsq, mcrvq; docs/codec.md) at the
# same bit budget: configs/quantizer-bench-50hz.yaml (a small 50 Hz codec, 3 x 10-bit codebooks =
# 0.5 / 1 / 1.5 kbps, 1500 steps of 8 x 1 s, reconstruction losses only, seeds 0 and 1), trained on the
# many-voice corpus (data/speech/train.jsonl) and measured on its valid split (16 utterances of
# voices in training, other sentences). One thread; about 5 CPU-minutes per kind and seed.
# Needs: speechtok data asterisk && speechtok data speech --asterisk data/asterisk
#   make venv && benchmarks/quantizers/codec/run.sh
# A finished kind's run folder is kept (rerun: it is skipped); delete runs/quantizer-bench/<kind> to redo it.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
KINDS=(${KINDS:-rvq fsq lfq bsq mcrvq})
SEEDS=(${SEEDS:-0 1})  # seed 0 -> runs/quantizer-bench/<kind>, seed N -> runs/quantizer-bench/<kind>-sN
for seed in "${SEEDS[@]}"; do
  for kind in "${KINDS[@]}"; do
    out=runs/quantizer-bench/$kind$( [ "$seed" != 0 ] && echo "-s$seed" )
    [ -f "$out/model.safetensors" ] && [ -f "$out/done" ] && continue
    start=$(date +%s)
    "$PY" -m speechtok train configs/quantizer-bench-50hz.yaml --out "$out" --set model.quantizer.kind="$kind" \
      --set train.seed="$seed" --no-progress $( [ -f "$out/checkpoints/last.ckpt" ] && echo --resume )
    echo "$(( $(date +%s) - start ))" > "$out/done"
  done
done
"$PY" benchmarks/quantizers/codec/report.py runs/quantizer-bench > benchmarks/quantizers/codec/results.md
cat benchmarks/quantizers/codec/results.md
