#!/usr/bin/env bash
# The shipped voices on their held-out test sentences (never in training, never used for tuning),
# beside the original recordings, the codec's resynthesis and classic TTS; then the curve of each
# voice against training CPU-minutes on the validation sentences (needs the run folders).
set -euo pipefail
cd "$(dirname "$0")/../.."
S=.venv/bin/speechtok
$S tts bench --model speechtok-tts-en --manifest data/asterisk/test.jsonl --limit 22 --out benchmarks/tts --no-progress
$S tts bench --model speechtok-tts-fr --manifest data/asterisk/test.jsonl --limit 27 --out benchmarks/tts --no-progress
.venv/bin/python benchmarks/tts/report.py voices
for v in en-allison fr-june; do
  [ -d runs/tts-$v/snapshots ] && .venv/bin/python benchmarks/tts/curve.py runs/tts-$v \
    --manifest data/asterisk/valid.jsonl --out benchmarks/tts/curve-${v%%-*}.json
done
