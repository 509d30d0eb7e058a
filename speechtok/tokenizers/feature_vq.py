"""The papers' quantizers as tokenizers: one switchable quantizer over fixed frame features, so
that LFQ, BSQ, SECodec's structural-entropy codebooks, Language-Codec's masked-channel RVQ, residual
and plain k-means can be compared as rows of the LM bench on the same features and bit budget
(issue 18, item 3), with and without FuseCodec-style fusion of phone posteriors.

Names: ``FEATURES-vq@RATEhz:QUANTIZERBITS``, e.g. ``mfcc-vq@50hz:bsq10``, ``fused-vq@50hz:se10``.

``FEATURES``
    ``mfcc``: the MFCC k-means reference's features (39 MFCC+Δ+ΔΔ pooled to the frame rate,
    utterance mean removed), standardised with the training set's statistics.
    ``fused``: the same, with the shipped PhoneCTC's frame posteriors (40 phones + silence, the
    ASR-teacher of the codec) appended, as square roots (so that Euclidean distance between them
    is the Hellinger distance) scaled to carry as much total variance as the 39 MFCC dimensions:
    the quantizer sees ``[mfcc ; s * sqrt(posteriors)]``. This is FuseCodec's idea of fusing a
    semantic teacher into the vector that gets quantized, without an encoder trained through it.
``QUANTIZER`` (``speechtok.quantizers``) and ``BITS`` per frame (even, 2..16)
    ``kmeans``: one k-means codebook of ``2**BITS``.
    ``rkm``: two residual k-means stages of ``2**(BITS/2)``.
    ``mcrvq``: the same, the first stage masked to one block of channels (the static cepstra for
    ``mfcc``; the posteriors for ``fused``: a semantic-first stage as in SpeechTokenizer).
    ``lfq`` / ``bsq``: ``BITS`` sign bits of ITQ-rotated PCA projections, 300 trained steps.
    ``se``: the centroids of a structural-entropy partition of a 10-NN graph over 16,000 training
    frames, filled to ``2**BITS`` parts (the paper's codebook: no k-means refinement).

Every variant gives one token per frame out of ``2**BITS`` (the stages' codes combined into one
id), so an LM sees the same vocabulary and steps per second whatever the quantizer. Encode only.

Fitting writes ``speechtok/assets/feature_vq/FEATURES-vq_RATEhz_QUANTIZERBITS.safetensors`` with
the held-out distortion and code usage in its header::

    python -m speechtok.tokenizers.feature_vq --data data/asterisk-en/train.jsonl \\
        --valid data/asterisk-en/valid.jsonl --features mfcc fused --quantizers kmeans rkm mcrvq lfq bsq se
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..data.phones import SAMPLE_RATE
from ..errors import SpeechtokError
from .base import Tokenizer
from .mfcc_kmeans import pooled_features

ASSET_DIR = Path(__file__).resolve().parent.parent / "assets" / "feature_vq"
FEATURES = ("mfcc", "fused")
QUANTIZER_NAMES = ("kmeans", "rkm", "mcrvq", "lfq", "bsq", "se")
MFCC_DIM = 39
STATIC_CEPSTRA = 13  # the first 13 of the 39 MFCC dims: c0..c12 without deltas
DEFAULT_BITS = 10
_NAME = re.compile(r"^(?P<feat>mfcc|fused)-vq@(?P<rate>[0-9.]+)hz:(?P<q>[a-z]+?)(?P<bits>\d+)$")


def asset_path(features: str, frame_rate: float, quantizer: str, bits: int) -> Path:
    return ASSET_DIR / f"{features}-vq_{frame_rate:g}hz_{quantizer}{bits}.safetensors"


def make_quantizer(name: str, bits: int, dim: int, features: str):
    """The quantizer a name stands for, unfitted (see the module's docstring)."""
    import torch

    from .. import quantizers as Q

    if name not in QUANTIZER_NAMES:
        raise SpeechtokError(f"unknown quantizer {name!r}: one of {', '.join(QUANTIZER_NAMES)}")
    if bits % 2 or not 2 <= bits <= 16:
        raise SpeechtokError(f"{bits} bits per frame: feature-VQ tokenizers take an even number from 2 to 16")
    if name == "kmeans":
        return Q.KMeansVQ(2**bits)
    if name == "rkm":
        return Q.ResidualKMeansVQ(2 ** (bits // 2), 2)
    if name == "mcrvq":
        first = torch.zeros(dim, dtype=torch.bool)
        if features == "fused":
            first[MFCC_DIM:] = True
        else:
            first[:STATIC_CEPSTRA] = True
        return Q.MaskedResidualVQ(2 ** (bits // 2), 2, masked=1, masks=[first])
    if name in ("lfq", "bsq"):
        return Q.QUANTIZERS[name](bits, group_bits=bits, projection="itq", train_steps=300)
    return Q.SEQuantizer(2**bits, 1, graph_size=16000, k=10, fill=True)


@lru_cache(maxsize=1)
def _teacher():
    from ..teachers.phone_ctc import PhoneCTC

    return PhoneCTC.load()


def raw_features(wav: np.ndarray, features: str, frame_rate: float) -> np.ndarray:
    """``(frames, 39)`` pooled MFCC (``mfcc``) or ``(frames, 39 + 40)`` MFCC and the square roots of
    PhoneCTC's posteriors (``fused``), before standardisation and scaling."""
    f = pooled_features(wav, frame_rate)
    if features == "mfcc":
        return f
    from ..codec.sourcefilter.teacher import teacher_posteriors

    hop = int(round(SAMPLE_RATE / frame_rate))
    p = teacher_posteriors(_teacher(), wav, hop, SAMPLE_RATE)
    return np.concatenate([f, np.sqrt(np.maximum(p, 0))], 1).astype(np.float32)


class FeatureVQTokenizer(Tokenizer):
    """One of ``speechtok.quantizers`` over fixed frame features; one token per frame."""

    version = "1"
    sample_rate = SAMPLE_RATE
    can_decode = False

    def __init__(self, features: str = "mfcc", frame_rate: float = 50.0, quantizer: str = "kmeans",
                 bits: int = DEFAULT_BITS, path: str | Path | None = None):
        import torch

        from .. import quantizers as Q

        if features not in FEATURES:
            raise SpeechtokError(f"unknown features {features!r}: one of {', '.join(FEATURES)}")
        self.features_name, self.frame_rate, self.quantizer_name, self.nbits = features, float(frame_rate), quantizer, int(bits)
        self.name = f"{features}-vq@{frame_rate:g}hz:{quantizer}{bits}"
        p = Path(path) if path else asset_path(features, frame_rate, quantizer, bits)
        if not p.exists():
            raise SpeechtokError(
                f"{p}: no fitted quantizer for {self.name}; fit it with `python -m speechtok.tokenizers.feature_vq "
                f"--data TRAIN.jsonl --features {features} --rate {frame_rate:g} --quantizers {quantizer} --bits {bits}`")
        self.quantizer, meta = Q.load(p)
        self.meta = meta
        self.mean = torch.tensor(meta["mean"], dtype=torch.float32)
        self.scale = torch.tensor(meta["scale"], dtype=torch.float32)
        self.codebook_sizes = (int(math.prod(self.quantizer.codebook_sizes)),)

    def features(self, wav: np.ndarray):
        """``(frames, dim)`` float tensor: what the quantizer sees."""
        import torch

        return (torch.from_numpy(raw_features(wav, self.features_name, self.frame_rate)) - self.mean) * self.scale

    def ids(self, codes) -> np.ndarray:
        """``(stages, frames)`` quantizer codes -> one id per frame (first stage fastest)."""
        out, base = np.zeros(codes.shape[1], np.int64), 1
        for c, n in zip(codes.numpy(), self.quantizer.codebook_sizes):
            out += c * base
            base *= n
        return out

    def _encode(self, wav):
        return self.ids(self.quantizer.encode(self.features(wav)))[None, :]

    def _decode(self, codes, num_samples, tokens):
        raise NotImplementedError(f"{self.name} is encode-only")


def standardiser(x: np.ndarray, features: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) per dimension: MFCC dims to unit variance; the posterior block of ``fused``
    centred and scaled as one, so that its total variance equals the MFCC block's (39)."""
    mean = x.mean(0)
    scale = 1.0 / (x[:, :MFCC_DIM].std(0) + 1e-5)
    if features == "fused":
        post = x[:, MFCC_DIM:]
        total = float(post.var(0).sum())
        scale = np.concatenate([scale, np.full(post.shape[1], math.sqrt(MFCC_DIM / max(total, 1e-8)))])
    return mean.astype(np.float32), scale.astype(np.float32)


def distortion(q, x, features: str) -> dict:
    """Held-out MSE of the MFCC block (per dimension, in standardised units: 1.0 = the variance) and
    code usage of the combined ids."""
    import torch

    from ..quantizers import code_usage

    codes = q.encode(x)
    y = q.decode(codes)
    mse = float(((y[:, :MFCC_DIM] - x[:, :MFCC_DIM]) ** 2).mean())
    ids = torch.zeros(codes.shape[1], dtype=torch.long)
    base = 1
    for c, n in zip(codes, q.codebook_sizes):
        ids += c * base
        base *= n
    usage = code_usage(ids[None], (base,))[0]
    out = {"mfcc_mse": mse, "mfcc_var": float(x[:, :MFCC_DIM].var(0).mean()), "used": usage["used"],
           "perplexity": usage["perplexity"], "entropy_bits": usage["entropy_bits"], "frames": int(len(x))}
    if features == "fused":
        out["posterior_mse"] = float(((y[:, MFCC_DIM:] - x[:, MFCC_DIM:]) ** 2).sum(1).mean())
    return out


def fit(train_wavs: list[np.ndarray], valid_wavs: list[np.ndarray], features: str, frame_rate: float,
        quantizers: list[str], bits: int = DEFAULT_BITS, max_frames: int = 200_000, seed: int = 0,
        out_dir: str | Path | None = None, log=print) -> list[Path]:
    """Fit each quantizer on the features of ``train_wavs`` and save it with its held-out
    distortion (on ``valid_wavs``) in the header; returns the paths."""
    import torch

    from .. import quantizers as Q

    raw = np.concatenate([raw_features(w, features, frame_rate) for w in train_wavs])
    if len(raw) > max_frames:
        raw = raw[np.random.default_rng(seed).choice(len(raw), max_frames, replace=False)]
    mean, scale = standardiser(raw, features)
    x = torch.from_numpy((raw - mean) * scale)
    xv = torch.from_numpy((np.concatenate([raw_features(w, features, frame_rate) for w in valid_wavs]) - mean) * scale)
    paths = []
    for name in quantizers:
        q = make_quantizer(name, bits, x.shape[1], features)
        t = time.process_time()
        q.fit(x, seed=seed)
        fit_s = time.process_time() - t
        if int(math.prod(q.codebook_sizes)) > 2**bits:
            raise SpeechtokError(f"{name}: {q.codebook_sizes} codes exceed {bits} bits")
        report = {"train": distortion(q, x, features), "valid": distortion(q, xv, features), "fit_cpu_s": round(fit_s, 1)}
        meta = {"features": features, "frame_rate": frame_rate, "quantizer": name, "bits": bits,
                "mean": mean.tolist(), "scale": scale.tolist(), "train_frames": int(len(x)), "report": report}
        p = (Path(out_dir) / asset_path(features, frame_rate, name, bits).name) if out_dir else asset_path(features, frame_rate, name, bits)
        Q.save(q, p, meta)
        log(f"{p.name}: fit {fit_s:.0f} CPU-s; held-out MFCC MSE {report['valid']['mfcc_mse']:.3f} "
            f"(variance {report['valid']['mfcc_var']:.3f}), perplexity {report['valid']['perplexity']:.0f}")
        paths.append(p)
    return paths


# ---- registry family ----------------------------------------------------------------------
def names() -> list[str]:
    out = []
    for p in sorted(ASSET_DIR.glob("*-vq_*hz_*.safetensors")):
        m = re.match(r"^(mfcc|fused)-vq_([0-9.]+)hz_([a-z]+?)(\d+)$", p.stem)
        if m:
            out.append(f"{m[1]}-vq@{m[2]}hz:{m[3]}{m[4]}")
    return out


def resolve(name: str):
    m = _NAME.match(name)
    if not m:
        return None
    return FeatureVQTokenizer(m["feat"], float(m["rate"]), m["q"], int(m["bits"]))


def describe(name: str) -> dict | None:
    m = _NAME.match(name)
    if not m or not asset_path(m["feat"], float(m["rate"]), m["q"], int(m["bits"])).exists():
        return None
    return {"sample_rate": SAMPLE_RATE, "frame_rate": float(m["rate"]), "codebook_sizes": [2 ** int(m["bits"])]}


def main(argv=None) -> int:
    from tqdm import tqdm

    from ..audio import load_audio
    from ..data.manifest import list_inputs

    ap = argparse.ArgumentParser(description="Fit feature-VQ tokenizers (the papers' quantizers over MFCC or "
                                             "MFCC + phone posteriors) on a manifest's audio.")
    ap.add_argument("--data", required=True, help="training manifest (.jsonl)")
    ap.add_argument("--valid", required=True, help="held-out manifest for the distortion written into each file")
    ap.add_argument("--features", nargs="+", default=list(FEATURES), choices=FEATURES)
    ap.add_argument("--quantizers", nargs="+", default=list(QUANTIZER_NAMES), choices=QUANTIZER_NAMES)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--bits", type=int, default=DEFAULT_BITS)
    ap.add_argument("--out-dir", default=None, help="where to write (default: speechtok/assets/feature_vq)")
    ap.add_argument("--report", default=None, help="also write every fit's report here (.json)")
    args = ap.parse_args(argv)

    def wavs(manifest):
        utts = list_inputs(manifest)
        return [load_audio(u.path, SAMPLE_RATE)[0] for u in tqdm(utts, desc=f"load {manifest}", unit="utt")]

    train, valid = wavs(args.data), wavs(args.valid)
    print(f"{len(train)} training utterances ({sum(map(len, train)) / SAMPLE_RATE / 60:.1f} min), "
          f"{len(valid)} held out", file=sys.stderr)
    paths = []
    for features in args.features:
        paths += fit(train, valid, features, args.rate, args.quantizers, args.bits, out_dir=args.out_dir,
                     log=lambda s: print(s, file=sys.stderr))
    if args.report:
        from .. import quantizers as Q

        rows = [{"name": p.name, **{k: v for k, v in Q.load(p)[1].items() if k not in ("mean", "scale")}} for p in paths]
        Path(args.report).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
