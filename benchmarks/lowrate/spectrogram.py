"""Log spectrograms of one held-out real utterance: the original, speechtok-fast-25hz@0.725kbps,
speechtok-fast-12p5hz@0.5kbps and speechtok-fast-6p25hz@0.3875kbps, one above the other (harmonics
and formant movement by eye).

    python benchmarks/lowrate/spectrogram.py data/speech/test-voices.jsonl it_menardi benchmarks/lowrate/spectrogram-it_menardi.png

Other tokenizers in place of those three: name them after the output path, e.g.
``... out.png phone-units:v4 phone-units:v5``.
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import speechtok  # noqa: E402
from speechtok.audio import load_audio  # noqa: E402
from speechtok.data.manifest import list_inputs  # noqa: E402
from speechtok.dsp import stft_magnitude  # noqa: E402

manifest, speaker, out = sys.argv[1:4]
names = sys.argv[4:] or ["speechtok-fast-25hz@0.725kbps", "speechtok-fast-12p5hz@0.5kbps", "speechtok-fast-6p25hz@0.3875kbps"]
utt = max((u for u in list_inputs(manifest) if u.speaker == speaker), key=lambda u: u.duration or 0)
wav, sr = load_audio(utt.path, 16000)
rows = [("original", wav)]
for name in names:
    tok = speechtok.load(name)
    decoded, _ = tok.decode(tok.encode(wav, sr))  # (audio, sample rate)
    rows.append((name, np.asarray(decoded, dtype=np.float64).ravel()))
fig, axes = plt.subplots(len(rows), 1, figsize=(10, 2.6 * len(rows)), sharex=True)
for ax, (name, x) in zip(axes, rows):
    mag = stft_magnitude(x, 512, 160)
    ax.imshow(20 * np.log10(mag + 1e-6), origin="lower", aspect="auto", vmin=-60, vmax=40,
              extent=[0, mag.shape[1] * 0.01, 0, 8000], cmap="magma")
    ax.set_title(f"{name}  ({utt.id})", fontsize=9)
    ax.set_ylabel("Hz")
axes[-1].set_xlabel("s")
fig.tight_layout()
fig.savefig(out, dpi=80)
print(out)
