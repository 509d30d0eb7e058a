"""The metric table: what each metric is called, what it needs, at what rate it runs.

A *metric* (the unit ``--metrics`` selects) produces one or more *outputs* (the ``metric`` field
of a result row): ``dnsmos`` gives ``dnsmos_sig``, ``dnsmos_bak``, ... Each runs at a fixed
sample rate; :class:`UtteranceEvaluator` resamples both signals there (soxr) and records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...audio import resample


@dataclass(frozen=True)
class MetricSpec:
    name: str
    group: str  # signal | perceptual | speaker | content | prosody
    outputs: tuple[str, ...]
    sample_rate: int
    evaluator: str
    package: str | None  # whose version is the evaluator version (None: speechtok itself)
    #: also scored on the original audio, as a row of the pseudo-tokenizer "original"
    on_original: bool = False


SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("log_mel_l1", "signal", ("log_mel_l1",), 16000, "speechtok.log_mel_l1", None),
    MetricSpec("mrstft", "signal", ("mrstft",), 16000, "speechtok.mrstft", None),
    MetricSpec("si_sdr", "signal", ("si_sdr",), 16000, "speechtok.si_sdr", None),
    MetricSpec("pesq_wb", "perceptual", ("pesq_wb",), 16000, "pesq (P.862.2 wb)", "pesq"),
    MetricSpec("pesq_nb", "perceptual", ("pesq_nb",), 8000, "pesq (P.862 nb)", "pesq"),
    MetricSpec("stoi", "perceptual", ("stoi",), 16000, "pystoi", "pystoi"),
    MetricSpec("dnsmos", "perceptual", ("dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_p808"),
               16000, "speechmos DNSMOS P.835 + P.808", "speechmos", on_original=True),
    MetricSpec("speaker_sim", "speaker", ("speaker_sim",), 16000, "resemblyzer d-vector cosine", "resemblyzer"),
    MetricSpec("asr", "content", ("wer", "cer", "dwer", "dcer"), 16000, "pocketsphinx", "pocketsphinx",
               on_original=True),
    MetricSpec("f0", "prosody", ("f0_rmse", "f0_corr", "f0_gpe", "vde"), 16000, "librosa yin/pyin", "librosa"),
)
BY_NAME = {s.name: s for s in SPECS}
#: every row metric a report shows: (unit, what it measures). Direction comes from
#: HIGHER_IS_BETTER / LOWER_IS_BETTER; the rest are facts (rates, sizes).
DESCRIPTIONS = {
    "kbps": ("kbps", "bits of the codes at their codebook sizes per second of audio, measured from the codes"),
    "entropy_kbps": ("kbps", "pooled over all utterances: Σ over codebooks of the unigram entropy of its codes × "
                             "frames/s, the rate an ideal per-codebook entropy coder would reach"),
    "tokens_per_s": ("tokens/s", "codes per second of audio (codebooks × frames/s)"),
    "frames_per_s": ("frames/s", "code frames per second of audio"),
    "codebooks": ("count", "codebooks used"),
    "encode_rtf": ("s/s", "encode compute seconds per second of audio on this machine (real-time factor)"),
    "decode_rtf": ("s/s", "decode compute seconds per second of audio on this machine (real-time factor)"),
    "log_mel_l1": ("nats", "mean absolute difference of the natural-log mel spectrograms (80 Slaney bands) of "
                           "original and decoded; 0 is identical"),
    "mrstft": ("–", "multi-resolution STFT distance (spectral convergence + mean absolute log-magnitude difference, "
                    "three resolutions); 0 is identical"),
    "si_sdr": ("dB", "scale-invariant signal-to-distortion ratio against the original"),
    "pesq_wb": ("MOS-LQO, 1–4.64", "PESQ wideband (ITU-T P.862.2) at 16 kHz"),
    "pesq_nb": ("MOS-LQO, 1–4.5", "PESQ narrowband (ITU-T P.862) at 8 kHz"),
    "stoi": ("0–1", "short-time objective intelligibility"),
    "dnsmos_sig": ("MOS, 1–5", "DNSMOS P.835 speech quality (no reference)"),
    "dnsmos_bak": ("MOS, 1–5", "DNSMOS P.835 background quality (no reference)"),
    "dnsmos_ovrl": ("MOS, 1–5", "DNSMOS P.835 overall quality (no reference)"),
    "dnsmos_p808": ("MOS, 1–5", "DNSMOS P.808 overall quality (no reference)"),
    "speaker_sim": ("cosine, −1–1", "cosine of resemblyzer speaker embeddings of original and decoded audio"),
    "wer": ("fraction", "word error rate of the ASR transcript of the decoded audio against the reference text"),
    "cer": ("fraction", "character error rate against the reference text"),
    "dwer": ("fraction", "word error rate against the ASR transcript of the original (the recogniser's own "
                         "errors cancel)"),
    "dcer": ("fraction", "character error rate against the ASR transcript of the original"),
    "f0_rmse": ("Hz", "RMS error of F0 (yin) over the original's voiced frames"),
    "f0_corr": ("Pearson r, −1–1", "correlation of F0 contours over the original's voiced frames"),
}
#: outputs where a smaller value is better; with HIGHER_IS_BETTER, every other output is a fact
LOWER_IS_BETTER = {"log_mel_l1", "mrstft", "wer", "cer", "dwer", "dcer", "f0_rmse", "encode_rtf", "decode_rtf"}
#: outputs computed only for some utterances: which, and why
ONLY_FOR = {o: "English utterances with a transcript (pocketsphinx is English-only)" for o in ("wer", "cer", "dwer", "dcer")}


def direction(output: str) -> str:
    """'↑' (higher is better), '↓' (lower is better) or '' (a fact)."""
    return "↑" if output in HIGHER_IS_BETTER else "↓" if output in LOWER_IS_BETTER else ""


#: the optional packages (the `bench` extra) each metric imports, checked before a run starts
MODULES = {"pesq_wb": ("pesq",), "pesq_nb": ("pesq",), "stoi": ("pystoi",), "dnsmos": ("speechmos", "onnxruntime"),
           "speaker_sim": ("resemblyzer",), "asr": ("jiwer",), "f0": ("librosa",)}


def missing_modules(specs: list[MetricSpec], asr: str = "pocketsphinx", report: bool = True) -> list[str]:
    """``["pesq (pesq_wb)", ...]``: modules the chosen metrics (and the report's plots) need that are
    not installed, found without importing them."""
    from importlib.util import find_spec

    need: dict[str, list[str]] = {}
    for s in specs:
        mods = MODULES.get(s.name, ()) + ((("pocketsphinx",) if asr == "pocketsphinx" else ("transformers",))
                                          if s.name == "asr" else ())
        for m in mods:
            need.setdefault(m, []).append(s.name)
    if report:
        need.setdefault("matplotlib", []).append("report plots")
    missing = []
    for module, users in need.items():
        try:
            found = find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(f"{module} ({', '.join(users)})")
    return missing
GROUPS = sorted({s.group for s in SPECS})
#: outputs where a larger value is better (used by reports for arrows)
HIGHER_IS_BETTER = {"si_sdr", "pesq_wb", "pesq_nb", "stoi", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl",
                    "dnsmos_p808", "speaker_sim", "f0_corr"}


def select(names: list[str] | None) -> list[MetricSpec]:
    """Metric names or group names -> specs (all when ``names`` is empty). Unknown names raise."""
    if not names:
        return list(SPECS)
    chosen: list[MetricSpec] = []
    for n in names:
        specs = [s for s in SPECS if n in (s.name, s.group) or n in s.outputs]
        if not specs:
            known = ", ".join([s.name for s in SPECS] + GROUPS)
            raise ValueError(f"unknown metric {n!r}; known metrics and groups: {known}")
        chosen += [s for s in specs if s not in chosen]
    return [s for s in SPECS if s in chosen]  # table order


@lru_cache(maxsize=None)
def evaluator_version(spec: MetricSpec, asr: str = "pocketsphinx") -> str:
    from importlib.metadata import PackageNotFoundError, version

    if spec.name == "asr" and asr != "pocketsphinx":
        return version("transformers")
    if spec.package is None:
        from ...version import __version__

        return __version__
    try:
        return version(spec.package)
    except PackageNotFoundError:
        return "not installed"


def evaluator_name(spec: MetricSpec, asr: str = "pocketsphinx") -> str:
    return asr if spec.name == "asr" else spec.evaluator


def applies(spec: MetricSpec, language: str | None, asr: str = "pocketsphinx") -> bool:
    """Whether ``spec`` means anything for an utterance in ``language`` (pocketsphinx is English-only)."""
    if spec.name == "asr" and asr == "pocketsphinx":
        from .content import is_english

        return is_english(language)
    return True


def resample_note(from_sr: int, to_sr: int) -> str | None:
    return None if from_sr == to_sr else f"{from_sr}->{to_sr} soxr"


class UtteranceEvaluator:
    """Scores decoded versions of one utterance against its original.

    What depends only on the original (its resampled copies, speaker embedding, F0 contour, ASR
    transcript) is computed once and reused for every tokenizer.
    """

    def __init__(self, ref: np.ndarray, ref_sr: int, text: str | None = None, language: str | None = None,
                 asr: str = "pocketsphinx"):
        self.ref, self.ref_sr, self.text, self.language, self.asr = ref, ref_sr, text, language, asr
        self._cache: dict = {}

    def _once(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def ref_at(self, sr: int) -> np.ndarray:
        return self._once(("ref", sr), lambda: resample(self.ref, self.ref_sr, sr))

    def score(self, spec: MetricSpec, deg: np.ndarray | None) -> dict[str, float | Exception]:
        """Outputs of ``spec`` for ``deg`` (at ``spec.sample_rate``, same duration as the original),
        or for the original itself when ``deg`` is None (only for ``on_original`` metrics).
        Raises on failure; an output may also be an Exception when only it is undefined."""
        sr = spec.sample_rate
        ref = self.ref_at(sr)
        if deg is not None:
            n = min(len(ref), len(deg))  # resampling may leave them a sample apart
            ref, deg = ref[:n], np.asarray(deg[:n], np.float32)
        name = spec.name
        if name in ("log_mel_l1", "mrstft", "si_sdr"):
            from . import signal

            return {name: getattr(signal, name)(ref, deg, sr)}
        if name in ("pesq_wb", "pesq_nb", "stoi"):
            from . import perceptual

            return {name: getattr(perceptual, name)(ref, deg, sr)}
        if name == "dnsmos":
            from .perceptual import dnsmos

            return dnsmos(ref if deg is None else deg, sr)
        if name == "speaker_sim":
            from .speaker import speaker_embedding, speaker_similarity

            emb = self._once("spk", lambda: speaker_embedding(ref, sr))
            return {"speaker_sim": speaker_similarity(emb, deg, sr)}
        if name == "f0":
            from .prosody import f0_errors, reference_f0

            f0, voiced = self._once("f0", lambda: reference_f0(ref, sr))
            return f0_errors(f0, voiced, deg, sr)
        if name == "asr":
            return self._asr_scores(ref, deg)
        raise ValueError(f"no implementation for metric {name!r}")

    def _asr_scores(self, ref: np.ndarray, deg: np.ndarray | None) -> dict[str, float | Exception]:
        from .content import error_rates, get_asr

        model = get_asr(self.asr)
        ref_hyp = self._once("asr", lambda: model.transcribe(ref))
        out: dict[str, float | Exception] = {}
        if deg is None:  # the original: only its error against the transcript means anything
            hyp, pairs = ref_hyp, (("wer", "cer", self.text),)
        else:
            hyp = model.transcribe(deg)
            pairs = (("wer", "cer", self.text), ("dwer", "dcer", ref_hyp))
        for w, c, target in pairs:
            if target is None:  # no transcript: WER does not apply (no row), it did not fail
                continue
            try:
                out[w], out[c] = error_rates(target, hyp)
            except ValueError as e:
                out[w] = out[c] = e
        return out

