#!/usr/bin/env bash
# Reproduce benchmarks/corpus/README.md: the fast model's corpus job on this machine, this
# checkout and (optionally) an older one, idle and beside one other CPU-bound process; the
# bit-identity check against the older one; the two-node Ray cluster.
#
#   benchmarks/corpus/run.sh [OLD_CHECKOUT]     e.g. OLD=$(mktemp -d); git archive 0d10a21 speechtok | tar -x -C $OLD
#
# Run it on an otherwise idle machine (`uptime` load near 0, nothing else in `top`): "idle"
# means no other process, "busy" means exactly one (`python -c "while True: pass"`, started by
# throughput.py). DATA (default data/asterisk/train.jsonl, made by `speechtok data asterisk`),
# PYTHON (default .venv/bin/python) and OUT (default benchmarks/corpus/results) can be set.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
DATA=${DATA:-data/asterisk/train.jsonl}
OUT=${OUT:-benchmarks/corpus/results}
OLD=${1:-}
mkdir -p "$OUT"
echo "# $(date -u +%FT%TZ) $(uname -n), $(nproc) CPUs; load: $(cat /proc/loadavg)"
ps aux --sort=-%cpu | head -5
$PY benchmarks/corpus/throughput.py --data "$DATA" --modes idle busy --repeats 3 --json "$OUT/new.json" | tee "$OUT/new.md"
if [ -n "$OLD" ]; then
  $PY benchmarks/corpus/throughput.py --code "$OLD" --data "$DATA" --modes idle busy --workers 2 1 --repeats 2 \
      --json "$OUT/old.json" | tee "$OUT/old.md"
  $PY benchmarks/corpus/stages.py --data "$DATA" --compare "$OLD" --rounds 2 --json "$OUT/stages.json" | tee "$OUT/stages.md"
  $PY benchmarks/corpus/identical.py --old "$OLD" --data "$DATA" --json "$OUT/identical.json"
fi
$PY benchmarks/corpus/ray_two_nodes.py --data "$DATA" --json "$OUT/ray.json"
