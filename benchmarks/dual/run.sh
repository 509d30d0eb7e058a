#!/usr/bin/env bash
# Dual resolution (issue 18, item 2; speechtok/codec/sourcefilter/dual.py): speechtok-dual-12p5hz (pitch +
# 2 content stages at 12.5 Hz + one 25 Hz residual stage, two 11-bit codebooks per 80 ms frame: 0.6375
# kbps) against the base model at the same budget spent at 12.5 Hz (speechtok-fast-12p5hz@0.6375kbps:
# a 4th 12.5 Hz stage), at 0.5 kbps, and the content stream alone (what an LM that skips the residual
# models; decoded by the base model at 0.3625 kbps). English Asterisk test prompts (22, real speech;
# the base model's training voices include this speaker): pocketsphinx WER, speaker similarity, STOI;
# held-out real voices (ru/es/it, 75 utterances, never trained on): PESQ-WB, STOI, speaker similarity.
# Needs: speechtok data asterisk --out data/asterisk-en --languages en; speechtok data speech.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
TOKS=(-t speechtok-dual-12p5hz -t "speechtok-dual-12p5hz+codebooks=3" -t speechtok-fast-12p5hz@0.6375kbps
      -t speechtok-fast-12p5hz@0.5kbps)
"$PY" -m speechtok bench "${TOKS[@]}" --data data/asterisk-en/test.jsonl --metrics asr speaker_sim stoi --jobs 1 \
    --out runs/dual/asterisk-en-test
"$PY" -m speechtok bench "${TOKS[@]}" --data data/speech/test-voices.jsonl --metrics pesq_wb stoi speaker_sim --jobs 1 \
    --out runs/dual/speech-test-voices
"$PY" benchmarks/dual/report.py > benchmarks/dual/results.md
