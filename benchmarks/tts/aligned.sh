#!/usr/bin/env bash
# Durations from forced alignment vs learned: speechtok-tts-en's recipe with data.alignment
# pocketsphinx (configs/tts-en-allison-aligned.yaml, 20 CPU-minutes) against the shipped voice's own
# curve (curve-en.json, MAS), snapshot by snapshot on the 21 validation sentences (never the test split).
set -euo pipefail
cd "$(dirname "$0")/../.."
S=.venv/bin/speechtok
out=runs/tts-en-allison-aligned
if [ -f "$out/checkpoint.pt" ]; then resume=--resume; else resume=; fi
$S tts train configs/tts-en-allison-aligned.yaml --out "$out" --max-cpu-minutes 20 $resume --no-progress
.venv/bin/python benchmarks/tts/curve.py "$out" --manifest data/asterisk/valid.jsonl --out benchmarks/tts/curve-en-aligned.json
.venv/bin/python benchmarks/tts/aligned.py
