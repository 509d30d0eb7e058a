"""Manifests of the autoregressive TTS comparison (configs/lm-tts-en-allison.yaml), in runs/ar-tts/:

* ``valid.jsonl`` / ``test.jsonl``: Allison Smith's English validation / test prompts of the asterisk
  corpus (the same held-out sentences `speechtok tts bench` reads for speechtok-tts-en);
* ``train.jsonl``: her English training prompts (less the 2 whose text repeats a held-out one), plus every other English voice of the many-voice
  corpus's training split (`speechtok data speech`: festival, flite and espeak-ng voices reading
  the asterisk prompt texts), leaving out any utterance whose text is one of the held-out
  sentences, so no held-out text is ever read in training, in any voice.

Paths are made absolute so the manifests work from runs/ar-tts/.

    python benchmarks/tts/ar/manifests.py
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "runs" / "ar-tts"
VOICE = "allison_smith"


def rows(path: Path) -> list[dict]:
    out = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        p = Path(r["path"])
        r["path"] = str(p if p.is_absolute() else (path.parent / p).resolve())
        out.append(r)
    return out


def write(name: str, items: list[dict]) -> None:
    (OUT / name).write_text("".join(json.dumps(r) + "\n" for r in items))
    print(f"{OUT / name}: {len(items)} utterances, {sum(r['duration'] for r in items) / 60:.1f} min, "
          f"{len({r['speaker'] for r in items})} voice(s)")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    ast = ROOT / "data" / "asterisk"
    mine = {s: [r for r in rows(ast / f"{s}.jsonl") if r["speaker"] == VOICE and r["language"] == "en" and r.get("text")]
            for s in ("train", "valid", "test")}
    held_out = {r["text"].strip().lower() for s in ("valid", "test") for r in mine[s]}
    others = [r for r in rows(ROOT / "data" / "speech" / "train.jsonl")
              if r["language"] == "en" and r["speaker"] != VOICE and r.get("text") and r["text"].strip().lower() not in held_out]
    own = [r for r in mine["train"] if r["text"].strip().lower() not in held_out]  # 2 prompts repeat a held-out text
    write("train.jsonl", own + others)
    write("valid.jsonl", mine["valid"])
    write("test.jsonl", mine["test"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
