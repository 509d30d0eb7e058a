#!/usr/bin/env bash
# LM-friendliness of tokenizers, larger tier (benchmarks/lm/README.md): about 13 h of training speech
# (7,200 Debian fortunes, each read once by one of 12 English synthetic voices, plus the English
# Asterisk train split) and configs/lm-10m.yaml (10.7 M parameters, 1,000 steps of 8 x 512 ids:
# about one CPU-hour per row on this 2-core machine). Same test, lexical and syntactic items as the
# small tier (benchmarks/lm/run.sh builds them). Reproduce:
#   make venv && benchmarks/lm/run.sh && benchmarks/lm/run_large.sh
# Rows already in benchmarks/lm/large/results.jsonl are kept; an interrupted row resumes from its
# LM checkpoint (runs/lm-bench-large/lm/<row>/).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
st() { nice -n 10 "$PY" -m speechtok "$@"; }

[ -f data/asterisk-en/train.jsonl ] || st data asterisk --out data/asterisk-en --languages en
[ -f data/lm/reading/train.jsonl ] || st lm fortunes --out data/lm/reading --voices large --per-voice 600 --no-progress
[ -f data/lm/lexical/manifest.jsonl ] && [ -f data/lm/syntactic/manifest.jsonl ] || { echo "run benchmarks/lm/run.sh first (it builds the lexical and syntactic tests)"; exit 1; }

ROWS=(-t phones -t "speechtok-fast-12p5hz@0.5kbps+layout=delay" -t "syllables+layout=delay" -t "phone-units:v2+codebooks=1"
      -t "phone-units:v3+codebooks=1" -t "phone-units:v4+codebooks=1" -t "phone-units:v5+codebooks=1" -t "phone-units:v6+codebooks=1" -t "phone-units:v7+codebooks=1" -t mfcc-kmeans@50hz:k500)
[ $# -gt 0 ] && ROWS=("$@")
st lm bench "${ROWS[@]}" \
    --train data/asterisk-en/train.jsonl --train data/lm/reading/train.jsonl \
    --valid data/asterisk-en/valid.jsonl --test data/asterisk-en/test.jsonl \
    --lexical data/lm/lexical --syntactic data/lm/syntactic \
    --config configs/lm-10m.yaml --work runs/lm-bench-large --out benchmarks/lm/large --no-progress
