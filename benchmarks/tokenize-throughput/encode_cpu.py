"""Ceiling for tokenize throughput: audio seconds per CPU second of the encoder alone, one core.

CPU time (time.process_time), not wall time, so the figure holds on a busy shared machine.
Usage: python benchmarks/tokenize-throughput/encode_cpu.py MANIFEST N TOKENIZER...
"""

import sys
import time

import speechtok
from speechtok.audio import load_audio
from speechtok.data import read_manifest

manifest, n, names = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
utts = read_manifest(manifest)[:n]
print("| tokenizer | clips | audio s | read+resample CPU s | encode CPU s | encode x real time per core |")
print("|---|---|---|---|---|---|")
for name in names:
    tok = speechtok.load(name)
    t0 = time.process_time()
    waves = [load_audio(u.path, target_sr=tok.sample_rate)[0] for u in utts]
    t1 = time.process_time()
    for w in waves:
        tok.encode(w, tok.sample_rate)
    t2 = time.process_time()
    audio = sum(len(w) for w in waves) / tok.sample_rate
    print(f"| {name} | {len(waves)} | {audio:.1f} | {t1 - t0:.2f} | {t2 - t1:.2f} | {audio / (t2 - t1):,.0f} |")
