#!/usr/bin/env bash
# LM-friendliness of tokenizers (benchmarks/lm/README.md), small tier: about 1 h of training speech,
# configs/lm-tiny.yaml (a 1-2 M parameter LM, 400 steps). Reproduce from a clean clone:
#   make venv && benchmarks/lm/run.sh
# Add a tokenizer (a row) later:   benchmarks/lm/run.sh -t NEW_TOKENIZER
# Rows already in benchmarks/lm/small/results.jsonl are kept (not recomputed; --redo recomputes them).
# The larger tier (tens of hours, a 10 M parameter LM): benchmarks/lm/run_large.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
st() { nice -n 10 "$PY" -m speechtok "$@"; }

# data: the English Asterisk prompts (train/valid/test), Debian fortunes read by 6 synthetic voices
# (training only), the lexical test (653 pairs x 3 espeak-ng voices, one held out) and the
# syntactic test (6 phenomena x 40 sentence pairs x the same 3 voices)
[ -f data/asterisk-en/train.jsonl ] || st data asterisk --out data/asterisk-en --languages en
[ -f data/lm/fortunes/train.jsonl ] || st lm fortunes --out data/lm/fortunes --per-voice 60 --no-progress
[ -f data/lm/lexical/manifest.jsonl ] || st lm lexical build --out data/lm/lexical --pairs 800 \
    --train-text data/asterisk-en/train.jsonl --train-text data/lm/fortunes/train.jsonl --no-progress
[ -f data/lm/syntactic/manifest.jsonl ] || st lm syntactic build --out data/lm/syntactic --per-phenomenon 40 --no-progress

st lm bench -t phones -t phones@50hz -t mfcc-kmeans@50hz:k500 -t "mfcc-kmeans@50hz:k500+bpe=2000" \
    -t "speechtok-fast@1.45kbps+layout=delay" -t "speechtok-fast@1.45kbps+skip=1+codebooks=1" \
    -t "speechtok-fast-25hz@0.725kbps+layout=delay" -t "speechtok-fast-25hz@0.725kbps+skip=1+codebooks=1" \
    -t "speechtok-semantic@0.725kbps+skip=1+codebooks=1" -t codec2@1300 -t opus@6kbps \
    -t "speechtok-fast-12p5hz@0.5kbps+layout=delay" -t "speechtok-fast-12p5hz@0.5kbps+skip=1+codebooks=1" \
    -t "syllables+layout=delay" -t "syllables+codebooks=1" "$@" \
    --train data/asterisk-en/train.jsonl --train data/lm/fortunes/train.jsonl \
    --valid data/asterisk-en/valid.jsonl --test data/asterisk-en/test.jsonl \
    --lexical data/lm/lexical --syntactic data/lm/syntactic \
    --config configs/lm-tiny.yaml --work runs/lm-bench --out benchmarks/lm/small --no-progress
