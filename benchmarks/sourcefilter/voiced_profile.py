"""The voiced band-aperiodicity profile of the fast analysis (``analysis.voiced_bap_db``).

D4C (WORLD) band aperiodicity, averaged in dB over the frames DIO calls voiced, on a subsample of
the TRAINING split. The fast analysis (``fast.py``) uses this profile, scaled by each frame's
periodicity, instead of a per-band estimate (why: benchmarks/sourcefilter/README.md, "Fast
analysis").

    python benchmarks/sourcefilter/voiced_profile.py --data data/asterisk/train.jsonl --bands 5
"""

from __future__ import annotations

import argparse
import json
import warnings

import numpy as np

from speechtok.audio import load_audio
from speechtok.codec.sourcefilter.analysis import FFT_SIZE, band_matrix
from speechtok.data.manifest import read_manifest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pyworld


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", required=True)
    ap.add_argument("--bands", type=int, default=5)
    ap.add_argument("--limit", type=int, default=80)
    args = ap.parse_args()
    utts = read_manifest(args.data)
    utts = utts[:: max(1, len(utts) // args.limit)][: args.limit]
    rows = []
    for u in utts:
        x = load_audio(u.path, 16000)[0].astype(np.float64)
        f0, t = pyworld.dio(x, 16000, f0_floor=60, f0_ceil=600, frame_period=20, allowed_range=0.4)
        f0 = pyworld.stonemask(x, f0, t, 16000)
        a = pyworld.d4c(x, f0, t, 16000, fft_size=FFT_SIZE)
        rows.append((20 * np.log10(np.clip(a, 1e-3, 1.0)) @ band_matrix(16000, args.bands))[f0 > 0])
    b = np.concatenate(rows)
    print(json.dumps({"data": args.data, "utterances": len(utts), "voiced_frames": len(b),
                      "mean_db": b.mean(0).round(1).tolist(), "std_db": b.std(0).round(1).tolist()}))


if __name__ == "__main__":
    main()
