#!/bin/sh
# The source-filter semantic model (speechtok-semantic) beside its acoustic twin (speechtok-25hz,
# same rate and bits, plain k-means), speechtok-base and an MFCC k-means reference:
# semantic measures on the English test prompts, quality on the valid and test splits, speed.
# Results: benchmarks/semantic/README.md ("The source-filter semantic model").
set -e
export OMP_NUM_THREADS=1
speechtok probe --threads 1 -t speechtok-semantic@0.725kbps -t speechtok-25hz@0.725kbps -t speechtok-base@1.45kbps \
    -t mfcc-kmeans@25hz:k500 --data data/asterisk/test.jsonl --train data/asterisk/train.jsonl --out runs/semantic-sf
speechtok probe --table --out runs/semantic-sf
# quality: valid split (where the weight was chosen), then the 60 test utterances of benchmarks/sourcefilter
speechtok bench -t speechtok-semantic@0.45kbps -t speechtok-semantic@0.725kbps -t speechtok-semantic@1kbps \
    -t speechtok-25hz@0.725kbps --metrics pesq_wb stoi --data data/asterisk/valid.jsonl --jobs 2 --out runs/semantic-sf-valid
speechtok bench -t speechtok-semantic@0.45kbps -t speechtok-semantic@0.725kbps -t speechtok-semantic@1kbps \
    -t speechtok-25hz@0.725kbps --data data/asterisk/test.jsonl --limit 60 --jobs 2 --out runs/semantic-sf-test
# speed: 1 thread (the teacher's small recurrent net loses with 2 threads on a busy machine), then 2
speechtok bench --speed-only -t speechtok-semantic@0.725kbps -t speechtok-25hz@0.725kbps --threads 1 --seconds 10 --repeats 3 \
    --out runs/semantic-sf-speed-1thread
speechtok bench --speed-only -t speechtok-semantic@0.725kbps -t speechtok-25hz@0.725kbps --threads 2 --seconds 10 --repeats 3 \
    --out runs/semantic-sf-speed
