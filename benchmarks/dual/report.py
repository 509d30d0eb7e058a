"""Table of benchmarks/dual/run.sh: the residual's feature error (from the shipped file's header)
and the `speechtok bench` folders (runs/dual/*).

    python benchmarks/dual/report.py > benchmarks/dual/results.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks" / "lowrate"))
from report import ci, table  # noqa: E402  (benchmarks/lowrate/report.py)

from speechtok import quantizers as Q  # noqa: E402
from speechtok.codec.sourcefilter.dual import asset_path  # noqa: E402


def main() -> int:
    _, meta = Q.load(asset_path())
    r = meta["report"]
    out = ["# Dual resolution: 12.5 Hz content + a 25 Hz residual an LM may skip", "",
           "`speechtok-dual-12p5hz` (speechtok/codec/sourcefilter/dual.py): the shipped `speechtok-fast-12p5hz`'s pitch and "
           f"first {meta['content_stages']} envelope stages (12.5 Hz), then one residual stage of the cepstra coded per 40 ms "
           "half-frame (two 11-bit codebooks per 80 ms frame: 25 Hz time resolution) = 0.6375 kbps, the same budget as the "
           "base model's 4th 12.5 Hz stage. Written by `benchmarks/dual/report.py`; reproduce with `benchmarks/dual/run.sh`.", "",
           f"Held-out feature error (cepstra, mean squared per coefficient, no refiner; `{meta['command']}`; "
           f"{r['train_halves']} training half-frames from {meta['train_utterances']} utterances of data/speech/train.jsonl, "
           f"{r['valid_frames']} frames of data/speech/valid.jsonl):", "",
           "| coding | bits per 80 ms | cepstral MSE |", "|---|---:|---:|",
           f"| content only (pitch + 2 stages) | 29 | {r['content']:.4f} |",
           f"| base model, 3 stages at 12.5 Hz | 40 | {r['base_3_stages']:.4f} |",
           f"| base model, 4 stages at 12.5 Hz | 51 | {r['base_4_stages']:.4f} |",
           f"| content + the 25 Hz residual stage (dual) | 51 | {r['residual_1']:.4f} |", ""]
    for folder in ("runs/dual/asterisk-en-test", "runs/dual/speech-test-voices"):
        f = ROOT / folder
        if not (f / "summary.json").exists():
            continue
        if "asterisk" in folder:
            out += table(f)
        else:
            s = json.loads((f / "summary.json").read_text())
            out += [f"### `{s['run']['data']}` (held-out real voices: ru_ivrvoice, es_co, it_menardi; not English, so no WER)", "",
                    "| tokenizer | kbps (measured) | PESQ-WB | STOI | speaker similarity |", "|---|---:|---|---|---|"]
            for name, t in s["tokenizers"].items():
                if name == "original":
                    continue
                m = t["metrics"]
                out.append(f"| `{name}` | {m['kbps']['mean']:.3f} | {ci(m.get('pesq_wb'), 2)} | {ci(m.get('stoi'))} | {ci(m.get('speaker_sim'))} |")
            out.append("")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
