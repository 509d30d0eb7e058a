"""Table of benchmarks/quantizers/codec/run.sh: one row per quantizer kind (a run folder each).

Per kind (over its seeds: ``<kind>`` is seed 0, ``<kind>-sN`` seed N): the validation log-mel L1, STOI and PESQ-WB after training (the trainer's own
validation on the valid split's first 16 utterances) with 1 and all 3 codebooks (0.5 / 1.5 kbps),
the codebooks' use on those utterances (perplexity of each codebook's code histogram, i.e.
2**entropy, out of 1024; and the share of codes used at least once), and training minutes.

    python benchmarks/quantizers/codec/report.py runs/quantizer-bench > benchmarks/quantizers/codec/results.md
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))


def last_valid(metrics: Path) -> dict[str, float]:
    rows = [r for r in csv.DictReader(metrics.open()) if r.get("val_mel_q1")]
    return {k: float(v) for k, v in rows[-1].items() if v} if rows else {}


def usage(run: Path, manifest: str, n: int = 16) -> list[tuple[float, float]]:
    """(perplexity, share of codes used) of each codebook over the first ``n`` utterances."""
    import speechtok
    from speechtok.audio import load_audio
    from speechtok.data.manifest import list_inputs

    tok = speechtok.load(str(run))
    codes = [tok.encode(*load_audio(u.path, tok.sample_rate)).codes for u in list_inputs(ROOT / manifest)[:n]]
    allc = np.concatenate(codes, axis=1)
    out = []
    for k, size in enumerate(tok.codebook_sizes):
        counts = np.bincount(allc[k], minlength=size).astype(float)
        p = counts[counts > 0] / counts.sum()
        out.append((float(2 ** -(p * np.log2(p)).sum()), float((counts > 0).mean())))
    return out


def main(base: str) -> int:
    import torch
    import yaml

    torch.set_num_threads(1)
    base = Path(base)
    cfg = yaml.safe_load((ROOT / "configs/quantizer-bench-50hz.yaml").read_text())
    print("# The codec's quantizer switches at the same bit budget\n")
    print("Written by benchmarks/quantizers/codec/report.py from the run folders of "
          "benchmarks/quantizers/codec/run.sh (configs/quantizer-bench-50hz.yaml: a small 50 Hz codec, "
          "3 codebooks x 10 bits, quantizer dropout, 1500 steps of 8 x 1 s, reconstruction losses only, seeds 0 and 1; "
          f"trained on `{cfg['data']['train']}`, measured on the first 16 utterances of `{cfg['data']['valid']}`: voices "
          "seen in training, other sentences). Mel = log-mel L1 (lower is better); with two seeds, their mean and (each seed's value). STOI, PESQ: means over the "
          "seeds. Codebook use (seed 0's model): perplexity of each codebook's codes on those utterances (of 1024) / share "
          "of the 1024 codes used at least once.\n")
    print("| kind | seeds | mel, 0.5 kbps | mel, 1.5 kbps | STOI 0.5 / 1.5 kbps | PESQ 0.5 / 1.5 kbps | codebook use, seed 0 (perplexity / share used) | train minutes |")
    print("|---|---:|---|---|---|---|---|---:|")
    runs: dict[str, list[Path]] = {}
    for run in sorted(p for p in base.iterdir() if (p / "done").exists()):
        runs.setdefault(run.name.split("-s")[0], []).append(run)

    def cell(ms: list[dict], key: str, nd: int) -> str:
        vals = [m.get(key, float("nan")) for m in ms]
        if len(vals) == 1:
            return f"{vals[0]:.{nd}f}"
        return f"{np.mean(vals):.{nd}f} ({' / '.join(f'{v:.{nd}f}' for v in vals)})"

    for kind, folders in runs.items():
        ms = [last_valid(f / "logs" / "metrics.csv") for f in folders]
        use = usage(folders[0], cfg["data"]["valid"])
        minutes = np.mean([int((f / "done").read_text()) / 60 for f in folders])
        uses = " · ".join(f"{px:.0f} / {sh:.2f}" for px, sh in use)
        mean = lambda k: np.mean([m.get(k, float("nan")) for m in ms])  # noqa: E731
        print(f"| `{kind}` | {len(ms)} | {cell(ms, 'val_mel_q1', 3)} | {cell(ms, 'val_mel_q3', 3)} | "
              f"{mean('val_stoi_q1'):.3f} / {mean('val_stoi_q3'):.3f} | {mean('val_pesq_q1'):.2f} / {mean('val_pesq_q3'):.2f} | "
              f"{uses} | {minutes:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "runs/quantizer-bench"))
