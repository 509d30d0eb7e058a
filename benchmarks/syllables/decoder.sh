#!/usr/bin/env bash
# The syllable decoder's resynthesis on the asterisk-en test split (22 utterances, never trained
# on): pocketsphinx WER/CER against the transcripts, Resemblyzer speaker similarity and STOI
# against the original, for `syllables` (decoded in its default voice, allison_smith, the test
# split's speaker) and speechtok-fast@1.45kbps; `original` scores the unprocessed audio.
# One thread, about 5 minutes on 2 shared cores.
#   DATA=/path/to/data bash benchmarks/syllables/decoder.sh      (DATA holds asterisk-en/)
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${DATA:-data}
PY=${PY:-python}
OUT=${OUT:-runs/syl-bench}
export OMP_NUM_THREADS=1
$PY -m speechtok bench -t syllables -t speechtok-fast@1.45kbps --data "$DATA/asterisk-en/test.jsonl" \
    --metrics asr speaker_sim stoi --jobs 1 --out "$OUT"
mkdir -p benchmarks/syllables/decoder
cp "$OUT/summary.md" "$OUT/summary.json" "$OUT/rows.jsonl" benchmarks/syllables/decoder/
