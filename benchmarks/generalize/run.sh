#!/usr/bin/env bash
# The held-out-voices protocol of issue 16, as it was run. Needs the corpus:
#   speechtok data asterisk && speechtok data speech --asterisk data/asterisk
# Sets measured (never used to choose anything):
#   test-voices    3 real voices no model was trained on: ru_ivrvoice (G.722 wideband), es_co (GSM 8 kHz),
#                  it_menardi (8 kHz PCM); 25 utterances each
#   test-synthetic flite slt/rms/awb, espeak en-us+f3, festival slt HTS; 12 each
#   test           the asterisk in-domain test split (60 of 97, as benchmarks/sourcefilter)
# The models before this issue are taken from git (OLD) and run with the band limit off, as they ran
# then, and on (the new narrowband handling alone); old-speechtok-base is the WORLD model that had the
# name speechtok-base before. NEW50 / NEW25 are the models retrained on the many-voice corpus.
set -euo pipefail
cd "$(dirname "$0")/../.."
OLD=${OLD:-46fb35c}          # main before issue 16
OUT=${OUT:-runs/generalize}
NEW50=${NEW50:-speechtok-base}             # the retrained models; as run: NEW50=runs/general-50hz NEW25=runs/general-25hz
NEW25=${NEW25:-checkpoints/general-25hz}  # (speechtok-base has the weights of runs/general-50hz; general-25hz is not shipped)
mkdir -p "$OUT/models"
for m in speechtok-fast speechtok-fast-25hz speechtok-base; do
  for band in off auto; do
    [ "$m" = speechtok-base ] && [ "$band" = off ] && continue  # the WORLD model: band limit on only
    d="$OUT/models/old-$m-band-$band"
    mkdir -p "$d"
    git show "$OLD:speechtok/assets/models/$m/model.safetensors" > "$d/model.safetensors"
    git show "$OLD:speechtok/assets/models/$m/config.yaml" | sed "s/^  quant:/  quant:\n    band_limit: \"$band\"/; s/^name: .*/name: old-$m-band-$band/" > "$d/config.yaml"
  done
done
M="$OUT/models"
TOKS=(-t "$M/old-speechtok-fast-band-off@1.45kbps" -t "$M/old-speechtok-fast-band-auto@1.45kbps"
      -t "$M/old-speechtok-fast-25hz-band-off@0.725kbps" -t "$M/old-speechtok-fast-25hz-band-auto@0.725kbps"
      -t "$M/old-speechtok-base-band-auto@1.45kbps" -t "$NEW50@0.9kbps" -t "$NEW50@1.45kbps" -t "$NEW25@0.45kbps" -t "$NEW25@0.725kbps"
      -t opus@6kbps -t opus@6kbps-vbr -t codec2@3200)
speechtok bench "${TOKS[@]}" --data data/speech/test-voices.jsonl --jobs 2 --metrics pesq_wb stoi speaker_sim --out "$OUT/test-voices"
speechtok bench "${TOKS[@]}" --data data/speech/test-synthetic.jsonl --jobs 2 --metrics pesq_wb stoi speaker_sim --out "$OUT/test-synthetic"
speechtok bench "${TOKS[@]}" --data data/asterisk/test.jsonl --limit 60 --jobs 2 --metrics pesq_wb stoi speaker_sim --out "$OUT/test"
python benchmarks/generalize/report.py "$OUT/test-voices" "$OUT/test-synthetic" "$OUT/test" > benchmarks/generalize/results.md
