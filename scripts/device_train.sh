#!/usr/bin/env bash
# Train several configs side by side on one lent GPU within a fixed time budget.
# Used for the shipped models (see speechtok/assets/models/*/TRAINING.md). Expects, carried
# beside the repo (ignored by git): .carry/whl/*.whl (packages the GPU image lacks) and
# .carry/data/{train,valid}.jsonl + wav/*.opus (the asterisk train/valid splits as Ogg/Opus
# 32 kbps), and data/asterisk/alignments/en.jsonl (forced alignments, for semantic configs). Results go to $OUT (fp16 weights + logs).
# usage: scripts/device_train.sh MINUTES CONFIG...
set -u
minutes=$1; shift
OUT=${OUT:-out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .carry/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null
pids=()
for cfg in "$@"; do
  name=$(basename "$cfg" .yaml)
  python3 -m speechtok train "$cfg" --out "runs/$name" --no-progress --workers 4 \
    --max-minutes "$minutes" \
    --set data.train=${TRAIN_MANIFEST:-.carry/data/train.jsonl} --set data.valid=.carry/data/valid.jsonl \
    --set train.batch_size=32 --set train.lr=8.0e-4 --set train.disc_lr=8.0e-4 --set train.warmup_steps=300 \
    --set train.steps=100000 --set train.anneal_by_time=true --set loss.disc_start_step=${DISC_START:-1500} \
    --set train.checkpoint_every=1000 --set train.valid_every=0 --set train.log_every=50 \
    > "$OUT/$name.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; echo "exit $?"; done
# $OUT takes at most 8 files of 16 MiB: fp16 weights per run (split in two when larger),
# and one combined log with each run's output, config and metrics.
python3 - "$OUT" "$@" <<'PY'
import sys
from pathlib import Path
from safetensors.torch import load_file, save_file
out, cfgs = Path(sys.argv[1]), sys.argv[2:]
combined = []
for cfg in cfgs:
    name = Path(cfg).stem
    run = Path("runs") / name
    log = out / f"{name}.log"
    combined.append(f"##### {name}\n" + (log.read_text() if log.exists() else "(no log)\n"))
    log.unlink(missing_ok=True)
    if not (run / "model.safetensors").exists():
        continue
    state = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(run / "model.safetensors")).items()}
    nbytes = sum(v.numel() * v.element_size() for v in state.values())
    parts = [state] if nbytes < 15 * 2**20 else [
        {k: v for k, v in state.items() if not k.startswith("decoder.")},
        {k: v for k, v in state.items() if k.startswith("decoder.")},
    ]
    for i, part in enumerate(parts):
        save_file(part, str(out / (f"{name}.safetensors" if len(parts) == 1 else f"{name}.part{i}.safetensors")))
    combined.append("=== config.yaml\n" + (run / "config.yaml").read_text())
    combined.append("=== metrics.csv\n" + (run / "logs" / "metrics.csv").read_text())
(out / "runs.log").write_text("\n".join(combined))
PY
ls -la "$OUT"
