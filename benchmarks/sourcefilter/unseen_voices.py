"""Speech of voices that no speechtok model was trained on: Debian's flite and espeak-ng voices
reading 12 fixed sentences. Writes 16 kHz wavs and a manifest usable by `speechtok bench`.

    python benchmarks/sourcefilter/unseen_voices.py --out data/unseen-voices
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import soundfile as sf

from speechtok.audio import load_audio

SENTENCES = [
    "The small boat drifted slowly toward the northern shore.",
    "Please leave your message after the tone and we will call you back.",
    "Seven bright lanterns were hanging above the garden gate.",
    "A cold wind blew across the empty parking lot at midnight.",
    "She counted the coins twice before paying for the bread.",
    "Your account balance will be updated within two business days.",
    "The orchestra played a quiet melody while the audience waited.",
    "Thick fog covered the valley until late in the morning.",
    "He forgot his umbrella on the train to the city.",
    "Fresh paint makes the old kitchen look bright and clean.",
    "Turn left at the second light and follow the river road.",
    "The museum will be closed on Monday for repairs.",
]
# (voice id, command making a wav at path {out} from text {text})
VOICES = {
    "flite-slt": ["flite", "-voice", "slt", "-t", "{text}", "-o", "{out}"],
    "flite-rms": ["flite", "-voice", "rms", "-t", "{text}", "-o", "{out}"],
    "flite-awb": ["flite", "-voice", "awb", "-t", "{text}", "-o", "{out}"],
    "espeak-en-us-f3": ["espeak-ng", "-v", "en-us+f3", "-w", "{out}", "{text}"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("data/unseen-voices"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for voice, cmd in VOICES.items():
            for i, text in enumerate(SENTENCES):
                raw = Path(tmp) / "raw.wav"
                subprocess.run([c.format(text=text, out=raw) for c in cmd], check=True, capture_output=True)
                wav, sr = load_audio(raw, 16000)
                dest = args.out / voice / f"{i:02d}.wav"
                dest.parent.mkdir(parents=True, exist_ok=True)
                sf.write(dest, wav, 16000, subtype="PCM_16")
                rows.append({"id": f"{voice}/{i:02d}", "path": str(dest.relative_to(args.out)), "duration": len(wav) / 16000,
                             "speaker": voice, "language": "en", "text": text, "split": "unseen"})
    (args.out / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"{len(rows)} utterances, {sum(r['duration'] for r in rows) / 60:.1f} min -> {args.out}/manifest.jsonl")


if __name__ == "__main__":
    main()
