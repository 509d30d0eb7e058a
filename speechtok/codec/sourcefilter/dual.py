"""Dual resolution: a 12.5 Hz content stream plus a 25 Hz acoustic residual an LM may skip
(issue 18, item 2; LM-SPT's and DualSpeechLM's split of a slow stream an LM models from a faster
one that only the decoder needs).

Built on a shipped low-rate source-filter model (``speechtok-fast-12p5hz``: one 80 ms frame holds
4 envelope samples of 20 ms). Each frame's codebooks are

    pitch | content stage 1 .. C (the model's own residual k-means, at 12.5 Hz)
          | residual stage 1, first 40 ms | residual stage 1, second 40 ms | stage 2 ... (25 Hz)

The residual is what the content stages leave of the envelope's cepstra, cut into the frame's two
40 ms halves (2 envelope samples x 24 coefficients each); each half is coded on its own by a
residual k-means fitted on the training voices' halves, so it has 25 Hz time resolution. The
aperiodicity stays at 12.5 Hz in the content. Decoding adds the residual to the content's
codewords (no refiner: the model's refiner corrects content-only features; with the residual it
would correct twice); with the first ``1 + C`` codebooks alone (an LM that skipped the residual)
decoding is the base model's own, refiner included.

Names: ``speechtok-dual-12p5hz`` (every codebook). ``+codebooks=1+C`` in the LM bench keeps the
content only. The residual's codebooks ship in ``speechtok/assets/dual/``; fitted by::

    python -m speechtok.codec.sourcefilter.dual --data data/speech/train.jsonl \\
        --valid data/speech/valid.jsonl --content-stages 2 --residual-stages 1
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
from pathlib import Path

import numpy as np

from ...errors import SpeechtokError
from ...tokenizers.base import Tokenizer

ASSET_DIR = Path(__file__).resolve().parents[2] / "assets" / "dual"
_NAME = re.compile(r"^speechtok-dual-(?P<rate>12p5hz)$")
HALVES = 2
STREAMS = ("pitch", "content", "residual")


def asset_path(name: str = "speechtok-dual-12p5hz") -> Path:
    return ASSET_DIR / f"{name}.safetensors"


def content_and_residual(codec, wav: np.ndarray, content_stages: int):
    """``(frames, codes (1 + C, T), side mean or None, residual halves (2T, half_dim))`` of one
    utterance: the base model's encoding with ``C`` stages and what it leaves of the cepstra."""
    import torch

    fr = codec.analyze(wav)
    x = codec.features(fr)
    mean = codec.quantize_mean(x) if codec.normalized else None
    codes = codec.quantize(fr, content_stages, None, None, mean)
    if mean is not None:
        x = x - codec.dequantize_mean(mean)
    r = x - codec.rvq.decode(torch.from_numpy(codes[1:]))
    return fr, codes, mean, halves_of(codec, r)


def halves_of(codec, r):
    """(T, D) feature residual -> (T * 2, half_dim) cepstral halves, frame-major."""
    a = codec.cfg.analysis
    if a.envelope_subframes % HALVES:
        raise SpeechtokError(f"dual resolution needs an even number of envelope samples per frame, not {a.envelope_subframes}")
    n = a.envelope_subframes * a.cep_order
    return r[:, :n].reshape(len(r) * HALVES, n // HALVES)


class DualResolutionTokenizer(Tokenizer):
    """Pitch + ``C`` content stages at 12.5 Hz, then the 25 Hz residual stages (two codebooks per
    stage: the frame's two 40 ms halves). Encode and decode, whole files."""

    sample_rate = 16000
    min_codebooks = 2

    def __init__(self, name: str = "speechtok-dual-12p5hz", path: str | Path | None = None, codebooks: int | None = None):
        from ... import quantizers as Q
        from ..pretrained import resolve as load_shipped

        p = Path(path) if path else asset_path(name)
        if not p.exists():
            raise SpeechtokError(f"{p}: no fitted residual for {name}; fit it with `python -m speechtok.codec.sourcefilter.dual "
                                 "--data TRAIN.jsonl --valid VALID.jsonl`")
        self.residual, self.meta = Q.load(p)
        base = load_shipped(self.meta["base"])
        if base is None:
            raise SpeechtokError(f"{p}: its base model {self.meta['base']!r} is not shipped with this speechtok")
        self.base, self.codec = base, base.codec
        self.content_stages = int(self.meta["content_stages"])
        self.frame_rate = float(self.codec.cfg.frame_rate)
        self.sample_rate = self.codec.cfg.sample_rate
        sizes = tuple(self.codec.codebook_sizes[: 1 + self.content_stages])
        for n in self.residual.codebook_sizes:
            sizes += (n,) * HALVES
        self._all = sizes
        k = codebooks or len(sizes)
        if not self.min_codebooks <= k <= len(sizes) or (k > 1 + self.content_stages and (k - 1 - self.content_stages) % HALVES):
            raise SpeechtokError(f"{name}: codebooks must be 2..{1 + self.content_stages} (content) or content plus whole residual "
                                 f"stages ({', '.join(str(1 + self.content_stages + HALVES * s) for s in range(1, len(self.residual.codebook_sizes) + 1))})")
        self.codebook_sizes = sizes[:k]
        self.name = name if k == len(sizes) else f"{name}+codebooks={k}"
        self.version = f"1+{base.version}+{self.meta.get('digest', '')}"

    @property
    def all_codebook_sizes(self) -> tuple[int, ...]:
        return self._all

    def with_codebooks(self, k: int) -> "DualResolutionTokenizer":
        if k == self.num_codebooks:
            return self
        return DualResolutionTokenizer(self.name.split("+")[0], codebooks=k)

    @property
    def streams(self) -> list[str]:
        out = ["pitch"] + ["content"] * self.content_stages + ["residual@25hz"] * (len(self._all) - 1 - self.content_stages)
        return out[: self.num_codebooks]

    @property
    def residual_stages(self) -> int:
        return (self.num_codebooks - 1 - self.content_stages) // HALVES if self.num_codebooks > 1 + self.content_stages else 0

    def _encode(self, wav: np.ndarray):
        from .tokenizer import ENVELOPE_MEAN

        fr, codes, mean, halves = content_and_residual(self.codec, wav, min(self.content_stages, self.num_codebooks - 1))
        rows = [codes]
        if self.residual_stages:
            rc = self.residual.encode(halves, self.residual_stages).numpy()  # (R, 2T)
            rows.append(rc.reshape(len(rc), -1, HALVES).transpose(0, 2, 1).reshape(-1, codes.shape[1]))
        extra = {"streams": self.streams}
        if mean is not None:
            extra[ENVELOPE_MEAN] = mean.tolist()
        return np.concatenate(rows).astype(np.int64), extra

    def _decode(self, codes: np.ndarray, num_samples: int, tokens) -> np.ndarray:
        import torch

        from .tokenizer import envelope_mean_of

        mean = envelope_mean_of(tokens, self.codec)
        c = 1 + self.content_stages
        if codes.shape[0] <= c:  # content only: the base model's own decoding (refiner on)
            return self.codec.decode(codes, num_samples, mean=mean)
        T = codes.shape[1]
        rc = codes[c:].reshape(-1, HALVES, T).transpose(0, 2, 1).reshape(-1, T * HALVES)
        r = self.residual.decode(torch.from_numpy(np.ascontiguousarray(rc)))
        feats = self.codec.rvq.decode(torch.from_numpy(codes[1:c]))
        a = self.codec.cfg.analysis
        feats[:, : a.envelope_subframes * a.cep_order] += r.reshape(T, -1)
        if mean is not None:
            feats = feats + self.codec.dequantize_mean(mean)
        fr = self.codec.unfeatures(self.codec.pitch.decode(codes[0]), feats)
        return self.codec.render(fr, num_samples)


def fit(codec, train_wavs: list[np.ndarray], valid_wavs: list[np.ndarray], content_stages: int, residual_stages: int,
        codebook_size: int = 2048, seed: int = 0, log=print):
    """The residual k-means over the training utterances' cepstral halves; returns it and a report
    of the held-out feature error (cepstra, per coefficient) with content only and with each
    residual stage, beside the base model's own next stages at the same bits."""
    import torch

    from ... import quantizers as Q

    train = torch.cat([content_and_residual(codec, w, content_stages)[3] for w in train_wavs])
    log(f"{len(train)} training halves of {train.shape[1]} coefficients")
    q = Q.ResidualKMeansVQ(codebook_size, residual_stages).fit(train, seed=seed)
    a = codec.cfg.analysis
    n = a.envelope_subframes * a.cep_order
    err = {"content": 0.0, **{f"residual_{s + 1}": 0.0 for s in range(residual_stages)},
           **{f"base_{content_stages + s + 1}_stages": 0.0 for s in range(2 * residual_stages) if content_stages + s + 1 <= codec.cfg.quant.num_stages}}
    frames = 0
    for w in valid_wavs:
        fr, codes, mean, halves = content_and_residual(codec, w, content_stages)
        frames += len(fr)
        err["content"] += float((halves**2).sum()) / n
        for s in range(residual_stages):
            rec = q.decode(q.encode(halves, s + 1))
            err[f"residual_{s + 1}"] += float(((halves - rec) ** 2).sum()) / n
        x = codec.features(fr)
        if mean is not None:
            x = x - codec.dequantize_mean(mean)
        for key in [k for k in err if k.startswith("base_")]:
            k = int(key.split("_")[1])
            full = codec.rvq.decode(codec.rvq.encode(x, k))
            err[key] += float(((x[:, :n] - full[:, :n]) ** 2).sum()) / n
    report = {k: v / max(frames, 1) for k, v in err.items()}
    report.update(valid_frames=frames, train_halves=len(train))
    return q, report


# ---- registry family ----------------------------------------------------------------------
def names() -> list[str]:
    return [p.stem for p in sorted(ASSET_DIR.glob("speechtok-dual-*.safetensors")) if _NAME.match(p.stem)]


def _header(path: Path) -> dict:
    """The ``__metadata__`` of a fitted residual, read straight from the safetensors header (no
    torch, no safetensors), so that ``speechtok list`` answers at once."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__") or {}


def describe(name: str) -> dict | None:
    """``{sample_rate, frame_rate, codebook_sizes}`` of a dual-resolution name without loading it."""
    from ..catalogue import describe as describe_base

    base, _, k = name.partition("+codebooks=")
    if not _NAME.match(base) or not asset_path(base).exists() or (k and not k.isdigit()):
        return None
    try:
        h = _header(asset_path(base))
        meta, cfg = json.loads(h["meta"]), json.loads(h["config"])
    except (OSError, KeyError, ValueError, struct.error):
        return None
    b = describe_base(meta["base"])
    if b is None:
        return None
    c = int(meta["content_stages"])
    size = cfg["codebook_size"]
    sizes = [int(s) for s in (size if isinstance(size, list) else [size] * int(cfg["stages"]))]
    if len(sizes) == 1:
        sizes = sizes * int(cfg["stages"])
    all_sizes = list(b["codebook_sizes"][: 1 + c]) + [s for s in sizes for _ in range(HALVES)]
    n = int(k) if k else len(all_sizes)
    if not 2 <= n <= len(all_sizes):
        return None
    return {"sample_rate": b["sample_rate"], "frame_rate": b["frame_rate"], "codebook_sizes": all_sizes[:n]}


def resolve(name: str):
    base, _, k = name.partition("+codebooks=")
    if not _NAME.match(base) or not asset_path(base).exists():
        return None
    return DualResolutionTokenizer(base, codebooks=int(k) if k.isdigit() else None)


def main(argv=None) -> int:
    import hashlib

    from tqdm import tqdm

    from ... import quantizers as Q
    from ...audio import load_audio
    from ...data.manifest import list_inputs
    from ..pretrained import resolve as load_shipped

    ap = argparse.ArgumentParser(description="Fit the 25 Hz residual of a dual-resolution tokenizer on a low-rate shipped model.")
    ap.add_argument("--data", required=True, help="training manifest (.jsonl): the base model's training voices")
    ap.add_argument("--valid", required=True, help="held-out manifest for the report")
    ap.add_argument("--base", default="speechtok-fast-12p5hz")
    ap.add_argument("--name", default="speechtok-dual-12p5hz")
    ap.add_argument("--content-stages", type=int, default=2)
    ap.add_argument("--residual-stages", type=int, default=1)
    ap.add_argument("--max-utterances", type=int, default=1500, help="a seeded sample of the training manifest")
    ap.add_argument("--out", default=None, help="output file (default: speechtok/assets/dual/NAME.safetensors)")
    args = ap.parse_args(argv)
    base = load_shipped(args.base)
    if base is None:
        raise SpeechtokError(f"{args.base}: not a shipped model")
    utts = list_inputs(args.data)
    if len(utts) > args.max_utterances:
        pick = np.sort(np.random.default_rng(0).choice(len(utts), args.max_utterances, replace=False))
        utts = [utts[i] for i in pick]
    train = [load_audio(u.path, base.sample_rate)[0] for u in tqdm(utts, desc="load train", unit="utt")]
    valid = [load_audio(u.path, base.sample_rate)[0] for u in tqdm(list_inputs(args.valid), desc="load valid", unit="utt")]
    q, report = fit(base.codec.eval(), train, valid, args.content_stages, args.residual_stages,
                    log=lambda s: print(s, file=sys.stderr))
    out = Path(args.out) if args.out else asset_path(args.name)
    state = q.state()
    digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in state.values())).hexdigest()[:12]
    Q.save(q, out, {"base": args.base, "content_stages": args.content_stages, "digest": digest, "report": report,
                    "train_utterances": len(train), "command": "python -m speechtok.codec.sourcefilter.dual " + " ".join(argv or sys.argv[1:])})
    print(json.dumps(report, indent=1), file=sys.stderr)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
