#!/usr/bin/env bash
# The autoregressive alternative (`speechtok lm say`) against the non-autoregressive voice:
# data, tokens, LM training (resumable), the curve over kept snapshots on the validation
# sentences, the test sentences with the snapshot the validation curve picks, and speed
# (plain vs speculative greedy). Results: benchmarks/tts/ar/results.md.
set -euo pipefail
cd "$(dirname "$0")/../../.."
S=.venv/bin/speechtok
PY=.venv/bin/python
$PY benchmarks/tts/ar/manifests.py
for s in train valid; do
  [ -f runs/ar-tts/tok25-$s/index.json ] || $S tokenize -t speechtok-fast-25hz --data runs/ar-tts/$s.jsonl --out runs/ar-tts/tok25-$s --no-progress
done
run=runs/lm-tts-en-allison
if [ -f $run/checkpoints/last.ckpt ]; then resume=--resume; else resume=; fi
# keep a copy of the weights at every checkpoint (every 100 steps) for the curve
( while :; do
    s=$(grep -a "val_bits" runs/lm-tts-en-allison.log 2>/dev/null | tr '\r' '\n' | grep -o "step [0-9]*:" | tail -1 | tr -dc 0-9)
    if [ -n "$s" ] && [ -f $run/model.safetensors ] && [ ! -d runs/lm-tts-snaps/step$s ]; then
      sleep 5; mkdir -p runs/lm-tts-snaps/step$s; cp $run/model.safetensors $run/config.yaml runs/lm-tts-snaps/step$s/
    fi
    sleep 10
  done ) & keeper=$!
$S lm train configs/lm-tts-en-allison.yaml --out $run $resume > runs/lm-tts-en-allison.log 2>&1 || true
kill $keeper
$PY benchmarks/tts/ar/curve.py runs/lm-tts-snaps --manifest runs/ar-tts/valid.jsonl --out benchmarks/tts/ar/curve.json
best=$($PY -c "import json; p=min(json.load(open('benchmarks/tts/ar/curve.json'))['points'], key=lambda p: p['cer_corpus']); print(p['step'])")
$S tts bench --model runs/lm-tts-snaps/step$best --voice allison_smith --manifest runs/ar-tts/test.jsonl --limit 22 \
  --no-classic --out benchmarks/tts/ar --no-progress
$PY benchmarks/tts/ar/speed.py runs/lm-tts-snaps/step$best --manifest runs/ar-tts/test.jsonl --out benchmarks/tts/ar/speed.json
$PY benchmarks/tts/ar/report.py
