"""Where the syllable decoder's errors come from, on a manifest (default asterisk-en test).

Pocketsphinx WER / CER (corpus level: errors over reference words/characters, and the mean over
utterances) and Resemblyzer speaker similarity to the original, for
  - original: the recording;
  - frames-warped: the recording's own speechtok-fast frame parameters, each token's frames
    time-warped onto its quantized duration (what the decoder is trained to output), rendered
    the same way: the topline of this decoder's synthesis path and duration quantization;
  - decoder: the shipped decoder from the syllable codes (default voice).

    OMP_NUM_THREADS=1 python benchmarks/syllables/decoder_oracle.py data/asterisk-en/test.jsonl > benchmarks/syllables/decoder_oracle.json
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch


def main(manifest: str) -> None:
    import jiwer

    import speechtok
    from speechtok.audio import load_audio
    from speechtok.data.manifest import list_inputs
    from speechtok.eval.metrics.content import error_rates, get_asr, normalize_text
    from speechtok.eval.metrics.speaker import speaker_embedding, speaker_similarity
    from speechtok.syllables.decoder import syllable_frames, warp_targets
    from speechtok.tts.data import frame_targets

    torch.set_num_threads(1)
    tok = speechtok.load("syllables")
    dec = tok.decoder
    asr = get_asr("pocketsphinx")
    systems = ("original", "frames-warped", "decoder")
    refs, hyps, per, sims = [], {s: [] for s in systems}, {s: [] for s in systems}, {s: [] for s in systems}
    for u in list_inputs(manifest):
        wav, _ = load_audio(u.path, 16000)
        wav = np.asarray(wav, np.float32)
        codes, spans = tok.codes_and_spans(wav)
        tg = frame_targets(dec.codec, wav)
        dur = syllable_frames(codes[1], len(tg))
        audio = {"original": wav, "frames-warped": dec.render(warp_targets(tg, spans, dur), len(wav)),
                 "decoder": dec.decode(codes, len(wav))}
        ref_emb = speaker_embedding(wav)
        refs.append(normalize_text(u.text))
        for s, a in audio.items():
            h = asr.transcribe(a)
            hyps[s].append(normalize_text(h) or "<nothing>")
            per[s].append(error_rates(u.text, h))
            sims[s].append(speaker_similarity(ref_emb, a))
    out = {"manifest": manifest, "utterances": len(refs), "asr": "pocketsphinx", "systems": {}}
    for s in systems:
        out["systems"][s] = {"wer_corpus": round(float(jiwer.wer(refs, hyps[s])), 4),
                             "cer_corpus": round(float(jiwer.cer(refs, hyps[s])), 4),
                             "wer_mean": round(float(np.mean([w for w, _ in per[s]])), 4),
                             "cer_mean": round(float(np.mean([c for _, c in per[s]])), 4),
                             "speaker_sim_mean": round(float(np.mean(sims[s])), 4),
                             "hypotheses": hyps[s]}
    out["references"] = refs
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "data/asterisk-en/test.jsonl")
