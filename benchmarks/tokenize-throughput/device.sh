# On the device machine: install the two missing wheels and libopus/libcodec2, replicate the
# 320-clip asterisk subset 4x (1.02 h), run the throughput benchmark with 1..16 workers.
set -e
R=$PWD; T=$R/.carry/tokbench
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site $T/whl/*.whl
for d in $T/*.deb; do dpkg -x $d /tmp/deb; done
export PYTHONPATH=/tmp/site:$R LD_LIBRARY_PATH=/tmp/deb/usr/lib/x86_64-linux-gnu
mkdir -p /tmp/bin; printf '#!/bin/sh\nexec python3 -m speechtok "$@"\n' > /tmp/bin/speechtok; ln -sf $(which python3) /tmp/bin/python; chmod +x /tmp/bin/speechtok
python3 - $T <<'PY'
import json, sys
t = sys.argv[1]
rows = [json.loads(l) for l in open(f"{t}/sub.jsonl")]
with open(f"{t}/rep4.jsonl", "w") as f:
    for k in range(4):
        for r in rows:
            f.write(json.dumps(dict(r, id=f"{r['id']}#{k}")) + "\n")
PY
nproc; python3 --version; grep -m1 "model name" /proc/cpuinfo
python3 benchmarks/tokenize-throughput/encode_cpu.py $T/sub.jsonl 200 opus@6kbps codec2@3200 mulaw pcm16 | tee $OUT/encode_cpu.md
BIN=/tmp/bin WORKERS="1 2 4 8 15" benchmarks/tokenize-throughput/run.sh $T/rep4.jsonl codec2@3200 opus@6kbps mulaw | tee $OUT/throughput.md
