"""Streaming latency of the fast source-filter models, and what the low-latency mode costs.

    OMP_NUM_THREADS=1 python benchmarks/sourcefilter/latency.py --data data/asterisk/valid.jsonl \
        --limit 104 --out benchmarks/sourcefilter/latency.json

Per model (``speechtok-fast@1.45kbps``, ``speechtok-fast-25hz@0.725kbps``) and latency mode
("file": the trained 1 s analysis segments and the refiner; "low": ``+lowlatency``, one frame
per segment, the low-latency refiner where the model ships one; ``streaming.py``):

* **latency**: the stated algorithmic latency (``open_stream().latency_seconds``) and the
  measured one: a clip is streamed in chunks of 1 ms (and of 20 ms, as a browser sends them) and
  every output sample's lag is the input received when it came out minus its own position; the
  worst lag over the clip (before the end of input) is the latency the chunking adds nothing to
  but the chunk length. Also the compute per 20 ms chunk (encode + decode, one thread).
* **quality** on the validation split, with the metric code of ``speechtok bench`` (PESQ-WB,
  STOI): the file mode, the low mode, and each analysis without a refiner and with the file
  mode's (non-streamable) refiner, which splits the cost into analysis and refiner;
  plus the unquantized analysis-synthesis of both analyses and the feature error of the low
  analysis against the file analysis (voicing disagreement, F0 error in cents on frames both
  call voiced, envelope error in dB). STOI averages the utterances long enough for pystoi.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import speechtok
from speechtok.audio import load_audio
from speechtok.data.manifest import read_manifest
from speechtok.eval.metrics.perceptual import pesq_wb, stoi

MODELS = ("speechtok-fast@1.45kbps", "speechtok-fast-25hz@0.725kbps")
CLIP = "speechtok/assets/clips/en_privacy-prompt.wav"


def low_name(name: str) -> str:
    base, _, rate = name.partition("@")
    return f"{base}+lowlatency@{rate}" if rate else f"{base}+lowlatency"


def measured_lag(tok, wav: np.ndarray, chunk: int) -> dict:
    """Stream ``wav`` in chunks of ``chunk`` samples; the lag of every output sample emitted
    before the end of input (in ms): worst and mean; and the compute per chunk."""
    s = tok.open_stream()
    out, lags, ms = 0, [], []
    for i in range(0, len(wav) - chunk + 1, chunk):
        t0 = time.perf_counter()
        y = s.decode(s.encode(wav[i : i + chunk]))
        ms.append((time.perf_counter() - t0) * 1000)
        received = i + chunk
        lags.append(received - (out + np.arange(len(y))))
        out += len(y)
    lag = np.concatenate(lags) / tok.sample_rate * 1000
    return {"worst_ms": round(float(lag.max()), 2), "mean_ms": round(float(lag.mean()), 2),
            "compute_ms_per_chunk_mean": round(float(np.mean(ms)), 3),
            "compute_ms_per_chunk_max": round(float(np.max(ms)), 3)}


def feature_error(codec, fa, fb) -> dict:
    """Frames of the low analysis (fb) against the file analysis (fa) of the same audio."""
    va, vb = fa.f0 > 0, fb.f0 > 0
    both = va & vb
    cents = 1200 * np.abs(np.log2(fb.f0[both] / fa.f0[both])) if both.any() else np.zeros(1)
    # envelope: warped cepstrum -> log amplitude on 65 bins, in dB
    from speechtok.codec.sourcefilter.envelope import from_cepstrum

    S, D = fa.cep.shape[1], fa.cep.shape[2]
    la = from_cepstrum(fa.cep.reshape(-1, D), 65, codec.cfg.analysis.alpha)
    lb = from_cepstrum(fb.cep.reshape(-1, D), 65, codec.cfg.analysis.alpha)
    db = 20 / np.log(10) * np.sqrt(np.mean((la - lb) ** 2, 1))
    return {"frames": int(len(va)), "voicing_disagree": float(np.mean(va != vb)), "f0_cents": float(np.mean(cents)),
            "f0_gross": float(np.mean(cents > 200)) if both.any() else 0.0, "env_db": float(np.mean(db))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/asterisk/valid.jsonl")
    ap.add_argument("--limit", type=int, default=104)
    ap.add_argument("--models", nargs="+", default=list(MODELS))
    ap.add_argument("--out", type=Path, default=Path("benchmarks/sourcefilter/latency.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    utts = read_manifest(args.data)
    utts = utts[:: max(1, len(utts) // args.limit)][: args.limit]
    wavs = [load_audio(u.path, 16000)[0] for u in utts]
    clip = load_audio(CLIP, 16000)[0]
    out = {"data": args.data, "utterances": len(utts), "seconds": round(sum(len(w) for w in wavs) / 16000, 1),
           "clip": CLIP, "models": {}}
    for name in args.models:
        res = out["models"][name] = {"latency": {}, "quality": {}}
        for mode, tname in (("file", name), ("low", low_name(name))):
            tok = speechtok.load(tname)
            tok.decode(tok.encode(clip[:8000], 16000))  # lazy tables
            stated = {k: round(v * 1000, 2) for k, v in tok.latency_seconds.items()}
            res["latency"][mode] = {"name": tname, "stated_ms": stated,
                                    "measured_1ms_chunks": measured_lag(tok, clip, 16),
                                    "measured_20ms_chunks": measured_lag(tok, clip, 320)}
            print(tname, json.dumps(res["latency"][mode]), flush=True)
        codec, stages = tok.codec, tok.stages
        low = codec.low_refiner
        low_row = ("low mode (low analysis, no refiner)" if low is None else
                   f"low mode (low analysis + its refiner, {low.lookahead} frame(s) ahead)")
        res["low_latency_refiner"] = None if low is None else {"lookahead_frames": low.lookahead, "file": codec.low_refiner_id}
        scores: dict[str, list] = {}
        ferr = []
        t_enc = {"file": 0.0, "low": 0.0}
        for x in wavs:
            fr = {}
            for mode in ("file", "low"):
                t0 = time.perf_counter()
                fr[mode] = codec.analyze(x, mode)
                t_enc[mode] += time.perf_counter() - t0
            ferr.append(feature_error(codec, fr["file"], fr["low"]))
            codes = {m: codec.quantize(fr[m], stages) for m in fr}
            ys = {
                "file mode (file analysis + refiner)": codec.decode(codes["file"], len(x)),
                "file analysis, no refiner": codec.decode(codes["file"], len(x), refine=False),
                low_row: codec.decode(codes["low"], len(x), latency="low"),
                "low analysis, no refiner": codec.decode(codes["low"], len(x), refine=False),
                "low analysis + the file mode's refiner (not streamable)": codec.decode(codes["low"], len(x)),
                "file analysis, unquantized": codec.render(fr["file"], len(x)),
                "low analysis, unquantized": codec.render(fr["low"], len(x)),
            }
            for k, y in ys.items():
                scores.setdefault(k, []).append((pesq_wb(x, y), stoi(x, y)))
        # pystoi gives 1e-5 for utterances too short for it: STOI averages the others
        ok = np.array([b > 1e-4 for _, b in scores["file analysis, unquantized"]])
        res["stoi_utterances"] = int(ok.sum())
        for k, v in scores.items():
            res["quality"][k] = {"pesq_wb": round(float(np.mean([a for a, _ in v])), 3),
                                 "stoi": round(float(np.mean(np.array([b for _, b in v])[ok])), 4)}
            print(f"{name:32s} {k:52s} PESQ-WB {res['quality'][k]['pesq_wb']:.3f}  STOI {res['quality'][k]['stoi']:.4f}", flush=True)
        n = sum(e["frames"] for e in ferr)
        res["low_vs_file_analysis"] = {
            "voicing_disagree": round(sum(e["voicing_disagree"] * e["frames"] for e in ferr) / n, 4),
            "f0_cents_mean": round(float(np.mean([e["f0_cents"] for e in ferr])), 2),
            "f0_gross_errors_over_200_cents": round(float(np.mean([e["f0_gross"] for e in ferr])), 4),
            "envelope_db_rms": round(sum(e["env_db"] * e["frames"] for e in ferr) / n, 3),
        }
        audio = out["seconds"]
        res["analysis_x_realtime_1thread"] = {m: round(audio / t, 1) for m, t in t_enc.items()}
        print(name, json.dumps(res["low_vs_file_analysis"]), json.dumps(res["analysis_x_realtime_1thread"]), flush=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
