"""Quality figures cheap enough for training validation and the demo (no model downloads).

The benchmark (`speechtok.eval`) has the full, versioned metrics; this module only wraps
PESQ/STOI when their packages are installed and always gives a log-mel distance.
"""

from __future__ import annotations

import numpy as np


def log_mel_distance(ref: np.ndarray, deg: np.ndarray, sample_rate: int = 16000) -> float:
    """Mean |log10 mel(ref) - log10 mel(deg)| with a 1024-point STFT, hop 256, 80 mels."""
    import torch

    from .codec.loss import MelSpectrogram

    mel = MelSpectrogram(sample_rate, 1024, 256, 80)
    n = min(len(ref), len(deg))
    a = mel(torch.from_numpy(np.ascontiguousarray(ref[:n], dtype=np.float32))[None])
    b = mel(torch.from_numpy(np.ascontiguousarray(deg[:n], dtype=np.float32))[None])
    return float((a - b).abs().mean())


def quality_metrics(ref: np.ndarray, deg: np.ndarray, sample_rate: int = 16000) -> dict[str, float]:
    out = {"mel": log_mel_distance(ref, deg, sample_rate)}
    n = min(len(ref), len(deg))
    ref, deg = ref[:n].astype(np.float64), deg[:n].astype(np.float64)
    try:
        from pystoi import stoi

        out["stoi"] = float(stoi(ref, deg, sample_rate, extended=False))
    except ImportError:
        pass
    try:
        from pesq import pesq

        out["pesq"] = float(pesq(sample_rate, ref, deg, "wb"))
    except ImportError:
        pass
    except Exception:  # pesq raises on e.g. no utterance detected; skip rather than invent a value
        pass
    return out
