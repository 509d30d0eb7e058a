"""``speechtok tts bench``: a voice on held-out sentences, beside its own recordings, the codec's
resynthesis of them (the topline through our tokens) and classic TTS (flite, espeak-ng, festival).

Per system: WER / CER of an offline ASR (pocketsphinx, English only; other languages get no
WER here and say so), speaker similarity to the voice's real recordings (Resemblyzer, against the
mean embedding of the held-out originals), DNSMOS (speechmos), F0 mean and range (5-95th
percentile, semitones) against the originals, and for our voice the real-time factor of the
whole sentence and the time to its first audio.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..audio import load_audio
from .data import read_manifest

#: classic systems per language: (label, data.synthetic voice id)
CLASSIC = {
    "en": [("flite (slt)", "flite_slt"), ("flite (kal16)", "flite_kal16"), ("espeak-ng (en-us+f3)", "espeak_en-us+f3"),
           ("festival (slt HTS)", "festival_slt_hts"), ("festival (kal diphone)", "festival_kal")],
    "fr": [("espeak-ng (fr+f1)", "espeak_fr+f1")],
    "es": [("espeak-ng (es+f4)", "espeak_es+f4")],
    "it": [("espeak-ng (it+f5)", "espeak_it+f5")],
}


def _f0_stats(wav: np.ndarray, sr: int) -> tuple[float, float]:
    """(mean F0 in Hz over voiced frames, 5-95th percentile range in semitones)."""
    import pyworld

    x = np.asarray(wav, np.float64)
    f0, t = pyworld.harvest(x, sr, f0_floor=60, f0_ceil=500, frame_period=10) if len(x) > sr // 10 else (np.zeros(1), None)
    v = f0[f0 > 0]
    if len(v) < 5:
        return float("nan"), float("nan")
    lo, hi = np.percentile(v, [5, 95])
    return float(v.mean()), float(12 * np.log2(hi / lo))


def _asr(wav, sr):
    from ..eval.metrics.content import get_asr

    asr = get_asr("pocketsphinx")
    if sr != 16000:
        from ..audio import resample

        wav = resample(wav, sr, 16000)
    return asr.transcribe(wav)


def bench_voice(voice, manifest: str | Path, limit: int = 20, classic: bool = True, progress: bool = True,
                voice_name: str | None = None, references: bool = True) -> dict:
    """Measure ``voice`` (a ``Voice``) on the held-out rows of ``manifest`` for one of its voices."""
    from ..data.synthetic import VOICES, synthesize
    from ..eval.metrics.content import error_rates
    from ..eval.metrics.perceptual import dnsmos
    from ..eval.metrics.speaker import speaker_embedding

    name = voice_name or voice.voices[0]
    lang = voice.languages.get(name, ["en"])[0]
    rows = read_manifest(manifest, [name], [lang])[:limit]
    if not rows:
        raise ValueError(f"{manifest}: no transcribed rows of voice {name!r} ({lang})")
    english = lang == "en"
    sr = voice.sample_rate
    systems: dict[str, list[dict]] = {}
    originals = []
    tmp = Path(tempfile.mkdtemp(prefix="tts-bench-"))
    classic_voices = [(label, VOICES[v]) for label, v in CLASSIC.get(lang, [])] if classic else []
    for r in tqdm(rows, desc=f"tts bench {name}", unit="sentence", disable=not progress):
        ref, _ = load_audio(r["path"], sr)
        originals.append(ref)
        outs = {"original recording": (ref, None)}
        if references:
            outs["codec resynthesis (topline)"] = (voice.tokenizer.decode(voice.tokenizer.encode(ref, sr))[0], None)
        t0 = time.perf_counter()
        first = None
        chunks = []
        for c in voice.stream(r["text"], name):
            first = first if first is not None else time.perf_counter() - t0
            chunks.append(c)
        total = time.perf_counter() - t0
        outs[f"speechtok-tts ({voice.name})"] = (np.concatenate(chunks), {"first_audio_s": first, "total_s": total})
        for label, sv in classic_voices:
            dst = tmp / f"{sv.id}-{len(originals)}.wav"
            try:
                synthesize(sv, r["text"], dst)
                outs[label] = (load_audio(dst, sr)[0], None)
            except Exception as e:  # a classic engine that is missing or fails: reported, not fatal
                outs[label] = (None, {"error": str(e)[:200]})
        for label, (wav, timing) in outs.items():
            row = {"id": r["id"], "text": r["text"]}
            if wav is None:
                row.update(timing or {})
                systems.setdefault(label, []).append(row)
                continue
            row["seconds"] = len(wav) / sr
            if english:
                hyp = _asr(wav, sr)
                row["hyp"] = hyp
                row["wer"], row["cer"] = error_rates(r["text"], hyp)
            row["f0_mean"], row["f0_range_st"] = _f0_stats(wav, sr)
            row["dnsmos"] = dnsmos(wav, sr)["dnsmos_ovrl"] if len(wav) > sr // 2 else float("nan")
            try:
                row["_emb"] = speaker_embedding(wav, sr)
            except ValueError:  # nothing speech-like left to embed (e.g. an AR model that spoke silence)
                row["no_speech"] = True
            if timing:
                row.update(timing)
                row["rtf"] = timing["total_s"] / row["seconds"]
            systems.setdefault(label, []).append(row)
    ref_emb = np.mean([row["_emb"] for row in systems["original recording"]], 0)
    ref_emb /= np.linalg.norm(ref_emb)
    summary = {}
    for label, rs in systems.items():
        ok = [x for x in rs if "seconds" in x]
        for x in ok:
            if "_emb" in x:
                x["speaker_sim"] = float(np.dot(x.pop("_emb"), ref_emb))
        s = {"sentences": len(ok), "failed": len(rs) - len(ok)}
        if any(x.get("no_speech") for x in ok):
            s["no_speech"] = sum(bool(x.get("no_speech")) for x in ok)  # left out of the speaker similarity
        for k in ("wer", "cer", "speaker_sim", "dnsmos", "f0_mean", "f0_range_st", "rtf", "first_audio_s"):
            vals = [x[k] for x in ok if k in x and x[k] == x[k]]
            if vals:
                s[k] = float(np.mean(vals))
        if english and ok:  # corpus-level WER: errors over all reference words
            s["wer_corpus"], s["cer_corpus"] = error_rates(" ".join(x["text"] for x in ok), " ".join(x["hyp"] for x in ok))
        summary[label] = s
    return {"voice": name, "language": lang, "model": voice.name, "manifest": str(manifest), "sentences": len(rows),
            "asr": "pocketsphinx (en-us)" if english else "none: no offline ASR for this language here",
            "summary": summary, "rows": systems}


def markdown(result: dict) -> str:
    lines = [f"### {result['model']} — voice {result['voice']} ({result['language']}), {result['sentences']} held-out sentences",
             "", f"ASR: {result['asr']}", "",
             "| system | WER | CER | speaker sim | DNSMOS | F0 mean Hz | F0 range st | RTF | first audio s |",
             "|---|---|---|---|---|---|---|---|---|"]

    def f(v, fmt):
        return format(v, fmt) if isinstance(v, float) else "–"

    for label, s in result["summary"].items():
        lines.append(f"| {label} | {f(s.get('wer_corpus'), '.3f')} | {f(s.get('cer_corpus'), '.3f')} | "
                     f"{f(s.get('speaker_sim'), '.3f')} | {f(s.get('dnsmos'), '.2f')} | {f(s.get('f0_mean'), '.0f')} | "
                     f"{f(s.get('f0_range_st'), '.1f')} | {f(s.get('rtf'), '.4f')} | {f(s.get('first_audio_s'), '.3f')} |")
    return "\n".join(lines) + "\n"


def write_result(result: dict, out: Path) -> None:
    from ..fsutil import write_atomic

    out.mkdir(parents=True, exist_ok=True)
    stem = f"{result['model']}-{result['voice']}"
    write_atomic(out / f"{stem}.json", lambda p: p.write_text(json.dumps(result, indent=1, default=float)))
    write_atomic(out / f"{stem}.md", lambda p: p.write_text(markdown(result)))
