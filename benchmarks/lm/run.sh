#!/usr/bin/env bash
# LM-friendliness of tokenizers (benchmarks/lm/README.md). Reproduce from a clean clone:
#   make venv && benchmarks/lm/run.sh
# Add a tokenizer (a row) later:   benchmarks/lm/run.sh -t NEW_TOKENIZER
# Rows already in benchmarks/lm/results.jsonl are kept (not recomputed; --redo recomputes them).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
st() { nice -n 10 "$PY" -m speechtok "$@"; }

# data: the English Asterisk prompts (train/valid/test), Debian fortunes read by 6 synthetic
# voices (training only), and the lexical test (653 pairs x 3 espeak-ng voices, one held out)
[ -f data/asterisk/train.jsonl ] || st data asterisk --languages en
[ -f data/lm/fortunes/train.jsonl ] || st lm fortunes --out data/lm/fortunes --per-voice 60 --no-progress
[ -f data/lm/lexical/manifest.jsonl ] || st lm lexical build --out data/lm/lexical --pairs 800 \
    --train-text data/asterisk/train.jsonl --train-text data/lm/fortunes/train.jsonl --no-progress

st lm bench -t mfcc-kmeans@50hz:k500 -t "mfcc-kmeans@50hz:k500+bpe=2000" \
    -t speechtok-base@1.45kbps -t "speechtok-base@1.45kbps+layout=delay" -t speechtok-25hz@0.725kbps \
    -t "speechtok-base@1.45kbps+skip=1+codebooks=1" -t "speechtok-base@1.45kbps+layout=first" \
    -t codec2@1300 -t opus@6kbps "$@" \
    --train data/asterisk/train.jsonl --train data/lm/fortunes/train.jsonl \
    --valid data/asterisk/valid.jsonl --test data/asterisk/test.jsonl \
    --lexical data/lm/lexical --continuation data/asterisk/test.jsonl --speculative \
    --config configs/lm-tiny.yaml --work runs/lm-bench --out benchmarks/lm --no-progress
