#!/usr/bin/env bash
# Fast decoding: plain vs speculative greedy decoding of token LMs, per draft, draft length and
# thread count (benchmarks/lm/speculative/README.md). Needs the LMs and token folders of the
# LM benchmark (benchmarks/lm/run.sh writes them under $WORK).
#   WORK=runs/lm-bench benchmarks/lm/speculative/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-runs/lm-bench}
OUT=benchmarks/lm/speculative
export OMP_NUM_THREADS=1
st() { nice -n 10 "$PY" -m speechtok "$@"; }
TOK=$WORK/tokens/speechtok-base_1.45kbps
FLAT=$WORK/lm/speechtok-base_1.45kbps                # 3 codebooks flat (150 AR steps per second of audio)
FIRST=$WORK/lm/speechtok-base_1.45kbps_layout_first  # codebook 0 only (50 steps/s)
DELAY=$WORK/lm/speechtok-base_1.45kbps_layout_delay  # 3 codebooks, delay pattern (50 steps/s)
BIG=runs/spec/lm-12m                                  # a 14 M-parameter LM on the same tokens (flat)

# 1. MTP heads on the trained LMs (frozen), self-distilled from their own greedy continuations
#    (the flat LM got 300 steps on 64 continuations; the others 120 on 32, to save CPU time)
[ -f "$FLAT/mtp.safetensors" ] || st lm mtp "$FLAT" --heads 4 --steps 300 --distill 64 --valid "$TOK/valid" --no-progress
for run in "$FIRST" "$DELAY"; do
    [ -f "$run/mtp.safetensors" ] || st lm mtp "$run" --heads 4 --steps 120 --distill 32 --valid "$TOK/valid" --no-progress
done
# 2. small LMs as drafts (same tokens and layout): one transformer layer of width 64, 200 steps
for layout in flat delay; do
    [ -f runs/spec/draft-$layout/model.safetensors ] || st lm train configs/lm-tiny.yaml --train "$TOK/train" \
        --set data.layout=$layout --set model.hidden=64 --set model.layers=1 --set model.heads=2 --set train.steps=200 \
        --out runs/spec/draft-$layout --no-progress
done
# 3. the larger LM (flat; stopped by --max-minutes 30), its heads; the bench's tiny flat LM is its small-LM draft
[ -f $BIG/model.safetensors ] || st lm train $OUT/lm-12m.yaml --train "$TOK/train" --valid "$TOK/valid" --out $BIG \
    --max-minutes 30 --no-progress
[ -f $BIG/mtp.safetensors ] || st lm mtp $BIG --heads 4 --steps 120 --distill 32 --valid "$TOK/valid" --no-progress

# 4. measure: 4 prompts of 2 s (the longest test utterances), 3 s greedy continuations; one thread
#    (and mtp at k=3 on two threads: on a busy 2-core machine that measures contention, see README)
rm -f $OUT/results.jsonl
m() { st lm speedup "$@" --data "$TOK/test" --out $OUT/results.jsonl --table $OUT/results.md; }
m "$FIRST" --label tiny-first --draft mtp --draft ngram --k 1 2 3 4 --adaptive
m "$DELAY" --label tiny-delay --draft mtp --draft runs/spec/draft-delay --k 1 2 3 4 --adaptive
m $BIG --label 14M-flat --draft mtp --draft "$FLAT" --draft ngram --k 2 3 4 --adaptive
m "$FLAT" --label tiny-flat --draft mtp --k 3 --threads 2
m $BIG --label 14M-flat --draft mtp --k 3 --threads 2
m "$FLAT" --label tiny-flat --draft mtp --draft runs/spec/draft-flat --draft ngram --k 1 2 3 4 --adaptive
# the delay LM's heads again with the flat LM's longer recipe (in a copy of its run folder)
mkdir -p runs/spec/delay-long && cp "$DELAY"/{config.yaml,model.safetensors} runs/spec/delay-long/
[ -f runs/spec/delay-long/mtp.safetensors ] || st lm mtp runs/spec/delay-long --heads 4 --steps 300 --distill 64 --valid "$TOK/valid" --no-progress
m runs/spec/delay-long --label tiny-delay-heads300 --draft mtp --k 1 2 3 4 --adaptive
# 5. what one LM pass costs at larger sizes (random weights): the speed-up's ceiling there
st lm passcost --hidden 128 384 768 1024 --layers 4 6 12 16 --vocab 4227 --blocks 1 2 3 4 5 --mtp-heads 4 --threads 1 \
    --acceptance $OUT/results.jsonl --acceptance-lm 14M-flat --out $OUT/pass_costs.json
