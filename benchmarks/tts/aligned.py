"""benchmarks/tts/curve-en.json (MAS) beside curve-en-aligned.json (MAS kept to pocketsphinx word
spans) -> benchmarks/tts/aligned.md. Run by benchmarks/tts/aligned.sh."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _f(v, fmt):
    return format(v, fmt) if isinstance(v, (int, float)) else "–"


def main() -> int:
    rows = []
    for name, label in (("curve-en.json", "MAS (speechtok-tts-en's recipe)"), ("curve-en-aligned.json", "MAS within pocketsphinx word spans")):
        c = json.loads((HERE / name).read_text())
        snaps = [p["cpu_minutes"] for p in c["points"] if p["weights"] != "model.safetensors"]
        for p in c["points"]:
            # the final weights are the last snapshot again when the CPU cap ended the run there
            if p["weights"] == "model.safetensors" and any(abs(m - p["cpu_minutes"]) < 0.5 for m in snaps):
                continue
            rows.append((p["cpu_minutes"], label, p))
        orig = c["original"]
    rows.sort(key=lambda r: (r[0], r[1]))
    out = ["# Durations: learned (MAS) or from forced alignment (pocketsphinx word spans)", "",
           "The English studio voice, the same model and training recipe; only the duration source (and the front end it "
           "needs: flite's words, espeak-ng phones per word) differs. Each row a snapshot at that many training "
           "CPU-minutes, on the 21 validation sentences (never the test split), pocketsphinx WER/CER over all words. "
           "Command: `benchmarks/tts/aligned.sh` (the MAS curve: `benchmarks/tts/run.sh`).", "",
           "| CPU-min | durations | WER | CER | speaker sim | DNSMOS | F0 range st | valid feat loss |",
           "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for cpu, label, p in rows:
        out.append(f"| {cpu:.1f} | {label} | {_f(p.get('wer_corpus'), '.3f')} | {_f(p.get('cer_corpus'), '.3f')} | "
                   f"{_f(p.get('speaker_sim'), '.3f')} | {_f(p.get('dnsmos'), '.2f')} | {_f(p.get('f0_range_st'), '.1f')} | "
                   f"{_f(p.get('valid_feat'), '.3f')} |")
    out.append(f"| | original recordings | {_f(orig.get('wer_corpus'), '.3f')} | {_f(orig.get('cer_corpus'), '.3f')} | "
               f"{_f(orig.get('speaker_sim'), '.3f')} | {_f(orig.get('dnsmos'), '.2f')} | {_f(orig.get('f0_range_st'), '.1f')} | |")
    (HERE / "aligned.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
