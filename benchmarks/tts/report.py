"""Collect `speechtok tts bench` results into a markdown file.

    python benchmarks/tts/report.py voices   # benchmarks/tts/*.json      -> benchmarks/tts/results.md
    python benchmarks/tts/report.py dasb     # benchmarks/tts/dasb/*.json -> benchmarks/tts/dasb/results.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from speechtok.tts.bench import markdown  # noqa: E402

HERE = Path(__file__).resolve().parent


def _f(v, fmt):
    return format(v, fmt) if isinstance(v, (int, float)) else "–"


def main(kind: str) -> int:
    folder = HERE if kind == "voices" else HERE / "dasb"
    results = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json")) if not p.name.startswith("curve-")]
    results = [r for r in results if "summary" in r]
    out = ["# speechtok tts bench" + (": one recipe, one budget, one tokenizer per row (DASB-style)" if kind == "dasb" else ""), ""]
    if kind == "dasb":
        import yaml

        out += ["Each row: the same model (configs/tts-dasb-en.yaml, hidden 128) trained for the same CPU budget "
                "on the English studio voice, predicting that tokenizer's tokens (or, first row, the codec's "
                "continuous parameters); scored on the 21 validation sentences with pocketsphinx. "
                "Command: `benchmarks/tts/dasb.sh`.", "",
                "| model | target | tokenizer | frame rate | codebooks | CPU-min | WER | CER | speaker sim | DNSMOS | F0 range st |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        orig = None
        for r in results:
            run = Path("runs") / f"tts-dasb-{r['model'].removeprefix('dasb-')}"
            cfg = yaml.safe_load((run / "config.yaml").read_text()) if (run / "config.yaml").is_file() else {}
            log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()] if (run / "log.jsonl").is_file() else []
            s = r["summary"][f"speechtok-tts ({r['model']})"]
            orig = r["summary"].get("original recording", orig)
            lr = cfg.get("learned", {})
            cb = len(lr.get("codebook_sizes", [])) or "params"
            out.append(f"| {r['model']} | {cfg.get('target', '?')} | {cfg.get('codec', '?')} | {_f(lr.get('frame_rate'), 'g')} | "
                       f"{cb} | {_f(log[-1]['cpu_minutes'] if log else None, '.1f')} | {_f(s.get('wer_corpus'), '.3f')} | "
                       f"{_f(s.get('cer_corpus'), '.3f')} | {_f(s.get('speaker_sim'), '.3f')} | {_f(s.get('dnsmos'), '.2f')} | "
                       f"{_f(s.get('f0_range_st'), '.1f')} |")
        if orig:
            out.append(f"| original recordings | | | | | | {_f(orig.get('wer_corpus'), '.3f')} | {_f(orig.get('cer_corpus'), '.3f')} | "
                       f"{_f(orig.get('speaker_sim'), '.3f')} | {_f(orig.get('dnsmos'), '.2f')} | {_f(orig.get('f0_range_st'), '.1f')} |")
        out.append("")
    for r in results:
        out.append(markdown(r))
    (folder / "results.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "voices"))
