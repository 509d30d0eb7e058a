"""How much phonetic content tokens carry, without training anything.

Cluster quality (HuBERT, Hsu et al. 2021, sec. IV-C), from the joint distribution p(y, z) of
frame-level phone labels y and units z over all frames of a data set:

- phone purity   = E_z [ max_y p(y | z) ]   (how pure each unit is),
- cluster purity = E_y [ max_z p(z | y) ]   (how concentrated each phone is),
- PNMI           = I(y; z) / H(y)           (share of phone uncertainty a unit removes).

Token stability (Gat et al. 2022, "augmentation invariant discrete representation"): unit edit
distance (UED) = Levenshtein(units(clean), units(perturbed)) / len(units(clean)), on units with
consecutive repeats merged (as a unit LM sees them), for mild perturbations: white noise at
20 dB SNR, speed ×0.9 and ×1.1 (resampling: tempo and pitch change together), and a 10 ms shift.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np

from ...data.phones import SAMPLE_RATE
from ...dsp import edit_distance  # noqa: F401  (UED's Levenshtein; phone_ctc's PER uses it too)


# ---- cluster quality ----------------------------------------------------------------------
def joint_counts(labels: np.ndarray, units: np.ndarray) -> np.ndarray:
    """``(frames,)`` labels and units (ints >= 0, same length) -> counts ``[label, unit]``
    over the values that occur (rows/columns of never-seen values are dropped)."""
    labels, units = np.asarray(labels).ravel(), np.asarray(units).ravel()
    if labels.shape != units.shape:
        raise ValueError(f"{labels.size} labels but {units.size} units: align them to the same frames first")
    if labels.size == 0:
        raise ValueError("no frames to measure")
    _, y = np.unique(labels, return_inverse=True)
    _, z = np.unique(units, return_inverse=True)
    counts = np.zeros((y.max() + 1, z.max() + 1), dtype=np.float64)
    np.add.at(counts, (y, z), 1.0)
    return counts


def cluster_quality(labels: np.ndarray, units: np.ndarray) -> dict[str, float]:
    """PNMI, phone purity and cluster purity of ``units`` against ``labels`` (see module doc).

    Also gives ``H_phone`` and ``mutual_info`` in bits. PNMI is 1 when units determine
    labels, ~0 for independent units (plus a small positive bias when there are few frames)."""
    p = joint_counts(labels, units)
    p /= p.sum()
    py, pz = p.sum(1), p.sum(0)
    nz = p > 0
    mi = float((p[nz] * np.log2(p[nz] / np.outer(py, pz)[nz])).sum())
    hy = float(-(py * np.log2(py)).sum())
    return {
        "pnmi": mi / hy if hy > 0 else 0.0,
        "phone_purity": float(p.max(0).sum()),  # sum_z p(z) max_y p(y|z) = sum_z max_y p(y,z)
        "cluster_purity": float(p.max(1).sum()),
        "mutual_info": mi,
        "H_phone": hy,
    }


def heldout_unit_accuracy(train_units: np.ndarray, train_labels: np.ndarray, test_units: np.ndarray,
                          test_labels: np.ndarray) -> float:
    """Phone purity that many units cannot inflate: each unit is mapped to its most frequent label
    on the *training* frames, and the mapping is scored on the *test* frames. A unit never seen
    in training gets the commonest training label. Labels < 0 (unaligned frames) are skipped."""
    tu, tl = np.asarray(train_units).ravel(), np.asarray(train_labels).ravel()
    eu, el = np.asarray(test_units).ravel(), np.asarray(test_labels).ravel()
    if tu.shape != tl.shape or eu.shape != el.shape:
        raise ValueError("units and labels must be aligned to the same frames")
    keep, ekeep = tl >= 0, el >= 0
    tu, tl, eu, el = tu[keep], tl[keep], eu[ekeep], el[ekeep]
    if tl.size == 0 or el.size == 0:
        raise ValueError("no labelled frames to measure")
    n_units = int(max(tu.max(), eu.max())) + 1
    counts = np.zeros((n_units, int(max(tl.max(), el.max())) + 1))
    np.add.at(counts, (tu, tl), 1.0)
    majority = counts.argmax(1)
    majority[counts.sum(1) == 0] = np.bincount(tl).argmax()
    return float((majority[eu] == el).mean())


# ---- token stability ----------------------------------------------------------------------
def dedup(units: Sequence[int]) -> np.ndarray:
    """Merge consecutive repeats: [3, 3, 5, 3] -> [3, 5, 3]."""
    u = np.asarray(units).ravel()
    if u.size == 0:
        return u
    return u[np.concatenate([[True], u[1:] != u[:-1]])]


def unit_edit_distance(clean: Sequence[int], perturbed: Sequence[int], merge_repeats: bool = True) -> float:
    """Levenshtein(clean, perturbed) / len(clean), repeats merged first by default."""
    if merge_repeats:
        clean, perturbed = dedup(clean), dedup(perturbed)
    return edit_distance(clean, perturbed) / max(len(clean), 1)


def add_noise(wav: np.ndarray, snr_db: float = 20.0, seed: int = 0) -> np.ndarray:
    """White Gaussian noise at ``snr_db`` relative to the signal's mean power (seeded)."""
    power = float(np.mean(wav.astype(np.float64) ** 2)) or 1e-10
    noise = np.random.default_rng(seed).standard_normal(len(wav)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (wav + noise).astype(np.float32)


def change_speed(wav: np.ndarray, factor: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Play ``factor`` times faster (tempo and pitch both, like sox ``speed``)."""
    from ...audio import resample

    return resample(wav, int(round(sample_rate * factor)), sample_rate)


def shift(wav: np.ndarray, seconds: float = 0.01, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Delay by ``seconds`` (prepend silence), so frame boundaries fall elsewhere in the speech."""
    return np.concatenate([np.zeros(int(round(seconds * sample_rate)), np.float32), wav]).astype(np.float32)


PERTURBATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "noise_20db": lambda w: add_noise(w, 20.0),
    "speed_0.9": lambda w: change_speed(w, 0.9),
    "speed_1.1": lambda w: change_speed(w, 1.1),
    "shift_10ms": lambda w: shift(w, 0.01),
}


def token_stability(
    tokenizer, wavs: Iterable[np.ndarray], codebook: int = 0, perturbations=None, sample_rate: int = SAMPLE_RATE
) -> dict[str, list[float]]:
    """UED of ``codebook``'s units, clean vs each perturbation, per utterance:
    ``{perturbation name: [ued per wav]}``. ``wavs`` are float32 ``(samples,)`` at ``sample_rate``."""
    perturbations = PERTURBATIONS if perturbations is None else perturbations
    out: dict[str, list[float]] = {name: [] for name in perturbations}
    for wav in wavs:
        clean = tokenizer.encode(wav, sample_rate).codes[codebook]
        for name, fn in perturbations.items():
            other = tokenizer.encode(fn(wav), sample_rate).codes[codebook]
            out[name].append(unit_edit_distance(clean, other))
    return out
