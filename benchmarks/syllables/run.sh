#!/usr/bin/env bash
# Syllable tokens on the asterisk-en valid and test splits: boundary F1 against forced-aligned
# syllables, PNMI/purity/held-out accuracy of the content codes, rates. One thread, a few minutes.
#   DATA=/path/to/data bash benchmarks/syllables/run.sh      (DATA holds asterisk-en/)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-data}
PY=${PY:-python}
ALIGN=${ALIGN:-runs/syllables/alignments.jsonl}   # pocketsphinx alignments, made here when missing
export OMP_NUM_THREADS=1
for split in valid test; do
  $PY -m speechtok.syllables eval -t syllables --data "$DATA/asterisk-en/$split.jsonl" --align "$ALIGN" \
      --map-data "$DATA/asterisk-en/train.jsonl" --out "benchmarks/syllables/$split" > /dev/null
done
$PY benchmarks/syllables/table.py benchmarks/syllables/valid benchmarks/syllables/test > benchmarks/syllables/table.md
cat benchmarks/syllables/table.md
