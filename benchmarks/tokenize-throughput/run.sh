#!/usr/bin/env bash
# Throughput of `speechtok tokenize` in audio-hours per wall-clock hour, for 1 and 2 workers.
# Usage: benchmarks/tokenize-throughput/run.sh [MANIFEST] [TOKENIZER...]
#   default: data/asterisk/train.jsonl (made by `speechtok data asterisk`), opus@6kbps codec2@3200 mulaw
#   WORKERS="1 2 4" to try other worker counts; BIN=folder holding `speechtok` and `python`.
# Each job starts from an empty output folder. "job" is the whole command (start-up, listing and
# planning, reading, encoding, writing); "encode" is the reading+encoding+writing phase the job
# reports itself. On a shared machine note the load average: other work slows every figure.
set -euo pipefail
cd "$(dirname "$0")/../.."
MANIFEST=${1:-data/asterisk/train.jsonl}
shift || true
TOKENIZERS=${*:-opus@6kbps codec2@3200 mulaw}
WORKERS=${WORKERS:-1 2}
BIN=${BIN:-.venv/bin}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "| tokenizer | workers | audio h | job wall s | job h/h | encode h/h | load avg before |"
echo "|---|---|---|---|---|---|---|"
for tok in $TOKENIZERS; do
  for w in $WORKERS; do
    dir="$OUT/$tok-$w"
    load=$(cut -d' ' -f1 /proc/loadavg)
    "$BIN/python" - "$dir" "$tok" "$w" "$load" "$MANIFEST" "$BIN/speechtok" <<'PY'
import json, re, subprocess, sys, time
d, tok, w, load, manifest, exe = sys.argv[1:]
t0 = time.perf_counter()
res = subprocess.run([exe, "tokenize", "-t", tok, "--data", manifest, "--out", d, "--workers", w,
                      "--shard-size", "500", "--no-progress"], capture_output=True, text=True)
wall = time.perf_counter() - t0
if res.returncode not in (0, 1):
    sys.exit(f"{tok} failed: {res.stderr[-2000:]}")
totals = json.load(open(f"{d}/index.json"))["totals"]
if totals["utterances"] == 0:
    sys.exit(f"{tok}: no utterance was tokenized; see {d}/errors.jsonl")
hours = totals["hours"]
m = re.search(r"= (\d+)x real time", res.stdout)
enc = f"{int(m.group(1)):,}" if m else "?"
print(f"| {tok} | {w} | {hours:.3f} | {wall:.1f} | {hours * 3600 / wall:,.0f} | {enc} | {load} |")
PY
  done
done
