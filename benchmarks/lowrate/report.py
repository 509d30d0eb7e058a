"""Table of the low-rate codec benchmark (benchmarks/lowrate/run.sh) from `speechtok bench` folders.

Per set and tokenizer: kbps measured from the codes, frames (AR steps with the delay layout) per
second, corpus WER / CER of pocketsphinx on the decoded audio (per-utterance rates weighted by the
reference's word / character count, i.e. total edits over total reference length), the same for
the original audio, the ratio WER / original WER (the issue's target: at most 2), mean Resemblyzer
speaker similarity and STOI with their bootstrap CIs from the bench summary.

    python benchmarks/lowrate/report.py BENCH_DIR [BENCH_DIR ...] > benchmarks/lowrate/results.md
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from speechtok.eval.metrics.content import normalize_text  # noqa: E402


def corpus_rates(folder: Path) -> dict[str, dict[str, float]]:
    texts = {}
    for line in (folder / "inputs.jsonl").read_text().splitlines():
        u = json.loads(line)
        texts[u["id"]] = normalize_text(u.get("text") or "")
    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: {"wer": [0.0, 0.0], "cer": [0.0, 0.0]})
    for line in (folder / "rows.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["metric"] not in ("wer", "cer") or r.get("value") is None or r["utt"] not in texts:
            continue
        n = len(texts[r["utt"]].split()) if r["metric"] == "wer" else len(texts[r["utt"]].replace(" ", ""))
        a = acc[r["tokenizer"]][r["metric"]]
        a[0] += r["value"] * n
        a[1] += n
    return {t: {m: (v[0] / v[1] if v[1] else float("nan")) for m, v in d.items()} for t, d in acc.items()}


def ci(m: dict | None, nd: int = 3) -> str:
    if not m or m.get("mean") is None:
        return "–"
    return f"{m['mean']:.{nd}f} [{m['ci_low']:.{nd}f}, {m['ci_high']:.{nd}f}]"


def table(folder: Path) -> list[str]:
    s = json.loads((folder / "summary.json").read_text())
    rates = corpus_rates(folder)
    n = len((folder / "inputs.jsonl").read_text().splitlines())
    orig = rates.get("original", {})
    lines = [f"### `{s['run']['data']}` ({n} utterances)", "",
             f"Original audio: corpus WER {orig.get('wer', float('nan')):.3f}, CER {orig.get('cer', float('nan')):.3f}.", "",
             "| tokenizer | kbps (measured) | frames/s | WER | CER | WER / original | speaker similarity | STOI |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    for name, t in s["tokenizers"].items():
        if name == "original":
            continue
        m = t["metrics"]
        r = rates.get(name, {})
        ratio = r.get("wer", float("nan")) / orig["wer"] if orig.get("wer") else float("nan")
        lines.append(f"| `{name}` | {m['kbps']['mean']:.3f} | {m['frames_per_s']['mean']:.1f} | {r.get('wer', float('nan')):.3f} | "
                     f"{r.get('cer', float('nan')):.3f} | {ratio:.2f} | {ci(m.get('speaker_sim'))} | {ci(m.get('stoi'))} |")
    return lines + [""]


def quality_table(folder: Path) -> list[str]:
    """A set without transcripts pocketsphinx can read (the held-out real voices: ru, es, it):
    PESQ-WB, STOI and speaker similarity only."""
    s = json.loads((folder / "summary.json").read_text())
    n = len((folder / "inputs.jsonl").read_text().splitlines())
    lines = [f"### `{s['run']['data']}` ({n} utterances; held-out real voices, no model trained on them; "
             "not English, so no WER)", "", f"`{s['run']['command']}`", "",
             "| tokenizer | PESQ-WB | STOI | speaker similarity |", "|---|---|---|---|"]
    for name, t in sorted(s["tokenizers"].items()):
        if name == "original":
            continue
        m = t["metrics"]
        lines.append(f"| `{name}` | {ci(m.get('pesq_wb'), 2)} | {ci(m.get('stoi'))} | {ci(m.get('speaker_sim'))} |")
    return lines + [""]


def main(argv: list[str]) -> int:
    out = ["# Low-rate source-filter codecs: intelligibility of the resynthesis", "",
           "Written by `benchmarks/lowrate/report.py` from the `speechtok bench` folders of `benchmarks/lowrate/run.sh`. "
           "WER / CER: pocketsphinx on the decoded audio against the manifest text, pooled over the set (total edits over "
           "total reference words / characters); the issue's bar for a tokenizer at <= 12.5 AR steps/s is WER at most "
           "twice the original's. Speaker similarity (Resemblyzer, to the original) and STOI: mean [95% bootstrap CI].", ""]
    for folder in argv:
        if (Path(folder) / "summary.json").exists():
            has_asr = '"wer"' in (Path(folder) / "rows.jsonl").read_text()
            out += table(Path(folder)) if has_asr else quality_table(Path(folder))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
