"""Continuation: prompt the LM with the first seconds of held-out speech, sample a few seconds,
decode them with the tokenizer, and ask whether they sound like speech in the same voice.

Per prompt: pocketsphinx's transcript of the continuation (words per second; babble and silence
give few words, so this is a rough intelligibility proxy, not a WER: there is no reference
text), and the Resemblyzer cosine similarity between the original prompt and the continuation.
The same two figures for the tokenizer's own resynthesis of the prompt are the ceiling a perfect
LM could reach through this tokenizer.
"""

from __future__ import annotations

import numpy as np


def continuation_eval(lm, manifest: str, prompt_seconds: float = 2.5, seconds: float = 3.0, limit: int = 12,
                      temperature: float = 0.8, top_k: int = 50, seed: int = 0) -> dict:
    import speechtok

    from ..audio import load_audio
    from ..data.manifest import list_inputs
    from ..eval.metrics.content import PocketSphinxASR
    from ..eval.metrics.speaker import speaker_embedding, speaker_similarity
    from ..eval.stats import summarize
    from ..tokens import Tokens

    from .topline import parse_topline

    if parse_topline(lm.tokenizer) is not None:
        return {"skipped": f"{lm.tokenizer} is the phone topline (no audio to decode)"}
    tok = speechtok.load(lm.tokenizer)
    if not tok.can_decode:
        return {"skipped": f"{tok.name} is encode-only"}
    k = lm.layout.num_codebooks
    if lm.layout.skip:
        return {"skipped": f"the LM leaves out codebooks 0..{lm.layout.skip - 1}, which {tok.name} needs to decode"}
    asr = PocketSphinxASR()
    rows = []
    utts = [u for u in list_inputs(manifest) if (u.duration or 0) >= prompt_seconds][:limit]
    for i, u in enumerate(utts):
        wav, sr = load_audio(u.path, tok.sample_rate)
        prompt = wav[: int(prompt_seconds * sr)]
        codes = np.asarray(tok.encode(prompt, sr).codes)[:k]
        frames = int(round(seconds * lm.frame_rate))
        new = lm.generate(codes, frames, temperature=temperature, top_k=top_k, seed=seed + i)
        full = np.concatenate([codes, new], axis=1)
        n = int(round(full.shape[1] / lm.frame_rate * tok.sample_rate))
        try:
            audio, out_sr = tok.decode(Tokens(full, tok.name, tok.version, lm.frame_rate, tok.codebook_sizes[:k], n, tok.sample_rate))
        except Exception as e:  # a tokenizer that cannot decode a subset of its codebooks
            return {"skipped": f"{tok.name} cannot decode {k} of its {tok.num_codebooks} codebooks ({e})"}
        audio, _ = load_audio_array(audio, out_sr)
        cut = int(round(codes.shape[1] / lm.frame_rate * 16000))
        resyn, cont = audio[:cut], audio[cut:]
        ref = speaker_embedding(load_audio_array(prompt, sr)[0])
        row = {"id": u.id, "continuation_text": asr.transcribe(cont), "resynth_text": asr.transcribe(resyn)}
        row["words_per_second"] = len(row["continuation_text"].split()) / (len(cont) / 16000)
        row["resynth_words_per_second"] = len(row["resynth_text"].split()) / (len(resyn) / 16000)
        for key, x in (("speaker_similarity", cont), ("resynth_speaker_similarity", resyn)):
            try:
                row[key] = speaker_similarity(ref, x)
            except ValueError:  # nothing left after voice-activity trimming: not the voice
                row[key] = 0.0
        rows.append(row)
    if not rows:
        return {"skipped": f"no utterance of {manifest} lasts {prompt_seconds} s"}
    out = {"prompts": len(rows), "prompt_seconds": prompt_seconds, "seconds": seconds, "temperature": temperature, "top_k": top_k}
    for key in ("words_per_second", "resynth_words_per_second", "speaker_similarity", "resynth_speaker_similarity"):
        out[key] = summarize([r[key] for r in rows])
    out["examples"] = [{"id": r["id"], "continuation_text": r["continuation_text"]} for r in rows[:3]]
    return out


def load_audio_array(audio: np.ndarray, sample_rate: int, target: int = 16000):
    """``(samples,)`` at ``sample_rate`` -> float32 at ``target`` (ASR and speaker encoder rate)."""
    from ..audio import prepare

    return prepare(audio, sample_rate, target), target
