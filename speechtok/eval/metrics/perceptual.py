"""Perceptual quality: PESQ (ITU-T P.862.2 wideband at 16 kHz, P.862 narrowband at 8 kHz),
STOI (Taal et al. 2011, via ``pystoi``), and the non-intrusive DNSMOS P.835 (SIG, BAK, OVRL) and
P.808 MOS (Microsoft's ONNX models shipped in ``speechmos``).

PESQ wideband ranges about 1.04-4.64 and narrowband about 1.02-4.55 (MOS-LQO); STOI 0-1.
Inputs are mono float32 ``(samples,)`` at the stated rate, of equal length.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ._deps import require


def pesq_wb(ref: np.ndarray, deg: np.ndarray, sample_rate: int = 16000) -> float:
    if sample_rate != 16000:
        raise ValueError(f"wideband PESQ needs 16 kHz audio, got {sample_rate}")
    return float(require("pesq", "pesq").pesq(16000, ref, deg, "wb"))


def pesq_nb(ref: np.ndarray, deg: np.ndarray, sample_rate: int = 8000) -> float:
    if sample_rate != 8000:
        raise ValueError(f"narrowband PESQ is run at 8 kHz here, got {sample_rate}")
    return float(require("pesq", "pesq").pesq(8000, ref, deg, "nb"))


def stoi(ref: np.ndarray, deg: np.ndarray, sample_rate: int = 16000) -> float:
    return float(require("pystoi", "pystoi").stoi(ref, deg, sample_rate, extended=False))


DNSMOS_SR = 16000
DNSMOS_WINDOW = 9.01  # seconds: the models' input length


@lru_cache(maxsize=1)
def _dnsmos_model():
    """speechmos's DNSMOS with both ONNX sessions on one thread (the bench runs one process per
    core), built once per process."""
    dn = require("speechmos.dnsmos", "speechmos")
    ort = require("onnxruntime", "onnxruntime")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    folder = Path(dn.__file__).parent / "dnsmos_models"
    model = dn.DNSMOS.__new__(dn.DNSMOS)
    model.primary_model_path = str(folder / "sig_bak_ovr.onnx")
    model.onnx_sess = ort.InferenceSession(model.primary_model_path, opts, providers=["CPUExecutionProvider"])
    model.p808_onnx_sess = ort.InferenceSession(str(folder / "model_v8.onnx"), opts, providers=["CPUExecutionProvider"])
    return model


def dnsmos(deg: np.ndarray, sample_rate: int = DNSMOS_SR) -> dict[str, float]:
    """Non-intrusive: ``{"dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"}`` (1-5).

    Microsoft's models and polynomial calibration (non-personalised), as in speechmos and the
    DNS-Challenge script: 9.01 s windows at 1 s hops, scores averaged. One difference, for speed:
    a clip shorter than 9.01 s is looped to 9.01 s and scored on that one window, where the
    reference script doubles it to >= 9.01 s and scores every 1 s hop of the doubled copy (the
    same content at shifted offsets; up to 9 windows for a 2 s clip). Longer clips are scored
    exactly as there.
    """
    if sample_rate != DNSMOS_SR:
        raise ValueError(f"DNSMOS needs {DNSMOS_SR} Hz audio, got {sample_rate}")
    model = _dnsmos_model()
    audio = np.clip(np.asarray(deg, np.float32), -1.0, 1.0)
    win = int(DNSMOS_WINDOW * sample_rate)
    if len(audio) < win:
        audio = np.tile(audio, -(-win // len(audio)))[:win]
    hops = int(np.floor(len(audio) / sample_rate - DNSMOS_WINDOW)) + 1
    sig, bak, ovr, p808 = [], [], [], []
    for i in range(max(1, hops)):
        seg = audio[i * sample_rate : i * sample_rate + win]
        if len(seg) < win:
            continue
        raw = model.onnx_sess.run(None, {"input_1": seg[None, :]})[0][0]
        mel = np.asarray(model.audio_melspec(audio=seg[:-160]), np.float32)[None]
        p808.append(model.p808_onnx_sess.run(None, {"input_1": mel})[0][0][0])
        s_, b_, o_ = model.get_polyfit_val(*raw, False)
        sig.append(s_)
        bak.append(b_)
        ovr.append(o_)
    return {
        "dnsmos_sig": float(np.mean(sig)),
        "dnsmos_bak": float(np.mean(bak)),
        "dnsmos_ovrl": float(np.mean(ovr)),
        "dnsmos_p808": float(np.mean(p808)),
    }
