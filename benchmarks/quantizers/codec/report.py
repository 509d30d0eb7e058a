"""Table of benchmarks/quantizers/codec/run.sh: one row per quantizer kind (a run folder each).

Per kind: the validation log-mel L1, STOI and PESQ-WB after training (the trainer's own
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
          "3 codebooks x 10 bits, quantizer dropout, 1500 steps of 8 x 1 s, reconstruction losses only, seed 0; "
          f"trained on `{cfg['data']['train']}`, measured on the first 16 utterances of `{cfg['data']['valid']}`: voices "
          "seen in training, other sentences). Mel = log-mel L1 (lower is better). Codebook use: perplexity of each "
          "codebook's codes on those utterances (of 1024) / share of the 1024 codes used at least once. One short "
          "CPU run per kind: differences of a few percent are within what another seed could give (not measured).\n")
    print("| kind | mel, 0.5 kbps | mel, 1.5 kbps | STOI 0.5 / 1.5 kbps | PESQ 0.5 / 1.5 kbps | codebook use (perplexity / share used) | train minutes |")
    print("|---|---:|---:|---|---|---|---:|")
    for run in sorted(p for p in base.iterdir() if (p / "done").exists()):
        m = last_valid(run / "logs" / "metrics.csv")
        use = usage(run, cfg["data"]["valid"])
        minutes = int((run / "done").read_text()) / 60
        cells = " · ".join(f"{px:.0f} / {sh:.2f}" for px, sh in use)
        print(f"| `{run.name}` | {m.get('val_mel_q1', float('nan')):.3f} | {m.get('val_mel_q3', float('nan')):.3f} | "
              f"{m.get('val_stoi_q1', float('nan')):.3f} / {m.get('val_stoi_q3', float('nan')):.3f} | "
              f"{m.get('val_pesq_q1', float('nan')):.2f} / {m.get('val_pesq_q3', float('nan')):.2f} | {cells} | {minutes:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "runs/quantizer-bench"))
