#!/usr/bin/env bash
# Adaptation to one voice (issue 16 item 5), as it was run: speechtok-fast adapted to the Russian
# real voice (ru_ivrvoice: never in any training set), measured on that voice's held-out 10 % and on
# the other voices (es_co, it_menardi of test-voices; the asterisk test split) before and after.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-runs/adapt-ru}
MIN=${MIN:-10}
mkdir -p runs
python - <<'PY'
from speechtok.data.manifest import read_manifest, write_manifest
utts = [u for u in read_manifest("data/speech/prompts/all.jsonl") if u.speaker == "ru_ivrvoice"]
write_manifest("runs/ru_ivrvoice.jsonl", utts)
others = [u for u in read_manifest("data/speech/test-voices.jsonl") if u.speaker != "ru_ivrvoice"]
write_manifest("runs/adapt-others.jsonl", others)
PY
[ -f "$OUT/adaptation.json" ] || speechtok train --init speechtok-fast --data runs/ru_ivrvoice.jsonl --out "$OUT" --max-minutes "$MIN"
T=(-t speechtok-fast@1.45kbps -t "$OUT@1.45kbps" -t speechtok-fast@0.9kbps -t "$OUT@0.9kbps")
speechtok bench "${T[@]}" --data "$OUT/adapt-valid.jsonl" --jobs 2 --metrics pesq_wb stoi speaker_sim --out "$OUT-bench-self"
speechtok bench "${T[@]}" --data runs/adapt-others.jsonl --jobs 2 --metrics pesq_wb stoi speaker_sim --out "$OUT-bench-others"
speechtok bench "${T[@]}" --data data/asterisk/test.jsonl --limit 60 --jobs 2 --metrics pesq_wb stoi speaker_sim --out "$OUT-bench-asterisk"
{ echo "# Adaptation of speechtok-fast to one held-out real voice (ru_ivrvoice)"; echo
  echo "\`benchmarks/generalize/adaptation.sh\`; adaptation report: \`$OUT/adaptation.json\` (copied to adaptation.json here)."; echo
  python benchmarks/generalize/report.py "$OUT-bench-self" "$OUT-bench-others" "$OUT-bench-asterisk"; } > benchmarks/generalize/adaptation.md
cp "$OUT/adaptation.json" benchmarks/generalize/adaptation.json
