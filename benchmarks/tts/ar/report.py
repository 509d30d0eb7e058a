"""benchmarks/tts/ar/{curve,speed}.json and the test-sentence benches -> benchmarks/tts/ar/results.md."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
TTS = HERE.parent


def _f(v, fmt):
    return format(v, fmt) if isinstance(v, (int, float)) else "–"


def _row(label, s):
    return (f"| {label} | {_f(s.get('wer_corpus'), '.3f')} | {_f(s.get('cer_corpus'), '.3f')} | {_f(s.get('speaker_sim'), '.3f')} | "
            f"{_f(s.get('dnsmos'), '.2f')} | {_f(s.get('f0_mean'), '.0f')} | {_f(s.get('f0_range_st'), '.1f')} | "
            f"{_f(s.get('rtf'), '.3f')} | {_f(s.get('first_audio_s'), '.2f')} |")


def main() -> int:
    out = ["# Autoregressive (`speechtok lm say`) vs non-autoregressive (`speechtok tts`) text to speech", "",
           "The English studio voice (Allison Smith). Non-autoregressive: the shipped `speechtok-tts-en` "
           "(phones -> durations -> speechtok-base parameters, 50 CPU-min on her 22.8 min). Autoregressive: "
           "configs/lm-tts-en-allison.yaml, a 3 M-parameter LM over speechtok-fast-25hz tokens (pitch + 2 envelope "
           "codebooks, delay layout) reading `<speaker> phones`, trained 1200 steps (about 1 CPU-hour, 2 training "
           "jobs and helpers sharing the 2 cores) on her 22.8 min plus 28 min of five other English voices of the corpus "
           "(no held-out text in any voice). Greedy decoding. Command: `benchmarks/tts/ar/run.sh`.", ""]
    c = json.loads((HERE / "curve.json").read_text())
    out += ["## Validation sentences against training steps (picks the snapshot for the test)", "",
            "| step | WER | CER | speaker sim | DNSMOS | seconds spoken (recordings) |", "|---:|---:|---:|---:|---:|---|"]
    for p in c["points"]:
        out.append(f"| {p['step']} | {_f(p.get('wer_corpus'), '.3f')} | {_f(p.get('cer_corpus'), '.3f')} | "
                   f"{_f(p.get('speaker_sim'), '.3f')} | {_f(p.get('dnsmos'), '.2f')} | {p['seconds']:.1f} ({p['original_seconds']:.1f}) |")
    best = min(c["points"], key=lambda p: p["cer_corpus"])
    out += ["", f"Validation bits per speech token of the LM (runs/lm-tts-en-allison/logs): lowest at step 400, rising after "
            "(the LM overfits its 51 minutes); the snapshot with the lowest validation CER is step "
            f"{best['step']}.", ""]
    ar = sorted(HERE.glob("*allison_smith.json"))
    nar = json.loads((TTS / "speechtok-tts-en-allison_smith.json").read_text())
    out += ["## Test sentences (22, never in training; pocketsphinx)", "",
            "| system | WER | CER | speaker sim | DNSMOS | F0 mean Hz | F0 range st | RTF (2 threads) | first audio s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    s = nar["summary"]
    out.append(_row("original recordings", s["original recording"]))
    out.append(_row("speechtok-base resynthesis (NAR topline)", s["codec resynthesis (topline)"]))
    out.append(_row("**speechtok-tts-en (non-autoregressive)**", s["speechtok-tts (speechtok-tts-en)"]))
    for f in ar:
        r = json.loads(f.read_text())
        for label, v in r["summary"].items():
            if label == "codec resynthesis (topline)":
                out.append(_row("speechtok-fast-25hz resynthesis (AR topline)", v))
            elif label.startswith("speechtok-tts"):
                out.append(_row(f"**{r['model']} (autoregressive, step {best['step']} snapshot)**", v))
    out.append(_row("flite (slt)", s["flite (slt)"]))
    out += ["", "The RTF / first-audio columns are wall-clock figures of each bench run (the non-autoregressive row from "
            "an idle machine, the autoregressive one measured while other jobs shared the 2 cores, load about 2.5); "
            "the speed table below is process CPU time and comparable across rows."]
    sp = HERE / "speed.json"
    if sp.exists():
        d = json.loads(sp.read_text())
        out += ["", "## Speed: plain vs speculative greedy (test sentences, process CPU time)", "",
                f"Same codes from both: **{d['identical_codes']}**. {d['threads']} threads.", "",
                "| decoding | audio s | CPU s generating | x real time (generate) | x real time (with decoding) | AR steps | LM passes |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        for name, r in d["rows"].items():
            out.append(f"| {name} | {r['audio_s']} | {r['cpu_generate_s']} | {r['x_realtime_generate']} | {r['x_realtime_total']} | "
                       f"{r['ar_steps']} | {r['lm_passes']} |")
    (HERE / "results.md").write_text("\n".join(out) + "\n")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
