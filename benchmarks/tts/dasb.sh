#!/usr/bin/env bash
# Which tokens are easiest to generate: one recipe (configs/tts-dasb-en.yaml: the same model,
# target tokens, durations from speechtok-tts-en's alignment), the same CPU budget, one tokenizer
# per row; then intelligibility etc. on the validation sentences (never the test split).
set -euo pipefail
cd "$(dirname "$0")/../.."
S=.venv/bin/speechtok
train() {  # NAME, then --set overrides
  local out=runs/tts-dasb-$1; shift
  if [ -f "$out/checkpoint.pt" ]; then resume=--resume; else resume=; fi
  $S tts train configs/tts-dasb-en.yaml "$@" --out "$out" $resume --no-progress
}
# the parameter recipe at the same budget (what the shipped voice does, without its longer training)
train params-speechtok-base --set codec=speechtok-base --set target=parameters --set name=dasb-params-speechtok-base
for tok in speechtok-base speechtok-fast speechtok-fast-25hz speechtok-semantic; do
  train $tok --set codec=$tok --set name=dasb-$tok
done
for tok in params-speechtok-base speechtok-base speechtok-fast speechtok-fast-25hz speechtok-semantic; do
  $S tts bench --model runs/tts-dasb-$tok --manifest data/asterisk/valid.jsonl --limit 21 --no-classic \
    --out benchmarks/tts/dasb --no-progress
done
.venv/bin/python benchmarks/tts/report.py dasb
