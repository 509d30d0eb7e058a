#!/usr/bin/env bash
# Issue 18, item 2: the source-filter codec at 12.5 Hz (configs/sourcefilter-general-12p5hz.yaml, trained on
# the many-voice corpus; shipped as speechtok-fast-12p5hz) against the 50 and 25 Hz models, codec2 and the
# original audio: pocketsphinx WER / CER, Resemblyzer speaker similarity and STOI of the resynthesis
# on the English Asterisk test split (22 prompts, real speech) and the English synthetic test voices
# (60 utterances of 5 voices), and PESQ / STOI / speaker similarity on the held-out real voices of data/speech. Needs: speechtok data asterisk --out data/asterisk-en --languages en;
# speechtok data speech (for test-synthetic.jsonl). M12=runs/general-12p5hz (M6=runs/general-6p25hz) measures a
# run folder instead of the shipped 12.5 Hz (6.25 Hz) model.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
export OMP_NUM_THREADS=1
M12=${M12:-speechtok-fast-12p5hz}
M6=${M6:-speechtok-fast-6p25hz}
TOKS=(-t speechtok-fast@1.45kbps -t speechtok-fast-25hz@0.725kbps -t speechtok-fast-25hz@1kbps
      -t "$M12@0.225kbps" -t "$M12@0.5kbps" -t "$M12@0.6375kbps"
      -t "$M6@0.25kbps" -t "$M6@0.3875kbps"
      -t codec2@700C -t codec2@1300)
for set in asterisk-en/test speech/test-synthetic; do
  out=runs/lowrate/$(basename "$(dirname "data/$set.jsonl")")-$(basename "$set")
  "$PY" -m speechtok bench "${TOKS[@]}" --data "data/$set.jsonl" --metrics asr speaker_sim stoi --jobs 1 --out "$out"
done
# the held-out real voices (ru, es, it; not English: no WER)
"$PY" -m speechtok bench -t speechtok-fast-25hz@0.725kbps -t "$M12@0.5kbps" -t "$M6@0.3875kbps" \
    --data data/speech/test-voices.jsonl --metrics pesq_wb stoi speaker_sim --jobs 1 --out runs/lowrate/speech-test-voices
"$PY" benchmarks/lowrate/report.py runs/lowrate/asterisk-en-test runs/lowrate/speech-test-synthetic \
    runs/lowrate/speech-test-voices > benchmarks/lowrate/results.md
cat benchmarks/lowrate/notes.md >> benchmarks/lowrate/results.md
