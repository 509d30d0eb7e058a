#!/usr/bin/env bash
# Phone-unit tokens (speechtok/syllables/phone_units.py; docs/syllables.md) against issue 18's target 5:
# the small LM tier's rows (content only, and all three codebooks in a delay layout), then the
# resynthesis of every <= 12.5 steps/s tokenizer on the English Asterisk test prompts (pocketsphinx WER,
# speaker similarity, STOI), then the table. One thread; about 15 CPU-minutes.
# Needs benchmarks/lm/run.sh's data. The larger LM tier's rows: benchmarks/lm/run_large.sh -t "phone-units:v4+codebooks=1".
# The teachers' PER: benchmarks/phone_units/teacher_per.py (its header has the command).
#   make venv && benchmarks/lm/run.sh && benchmarks/phone_units/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
# the small tier's own script: its data, LM config and table (rows already in results.jsonl are kept)
benchmarks/lm/run.sh -t "phone-units:v2+codebooks=1" -t "phone-units:v2+layout=delay" -t "phone-units:v1+codebooks=1" \
    -t "phone-units:v3+codebooks=1" -t "phone-units:v3+layout=delay" -t "speechtok-fast-6p25hz@0.3875kbps+layout=delay" \
    -t "phone-units:v4+codebooks=1" -t "phone-units:v5+codebooks=1" -t "phone-units:v6+codebooks=1" -t "phone-units:v7+codebooks=1"
"$PY" -m speechtok bench -t phone-units:v1 -t phone-units:v2 -t phone-units:v3 -t phone-units:v4 -t phone-units:v5 -t phone-units:v6 -t phone-units:v7 -t syllables -t speechtok-fast-12p5hz@0.5kbps \
    -t speechtok-fast-6p25hz@0.3875kbps \
    --data data/asterisk-en/test.jsonl --metrics asr speaker_sim stoi --jobs 1 --out runs/phone-units/resynth
"$PY" benchmarks/phone_units/report.py > benchmarks/phone_units/results.md
cat benchmarks/phone_units/results.md
