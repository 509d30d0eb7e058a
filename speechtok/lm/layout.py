"""How ``codes [codebook, frame]`` become what the LM reads: one or several streams of ids.

Three layouts (``data.layout``), each exactly invertible:

* ``first``: codebook 0 only, one id per frame (the semantic/content codebook of a codec).
* ``flat``: every codebook in turn, frame by frame (``f0c0 f0c1 … f1c0 …``), codebook k's codes
  shifted by the sizes of codebooks < k so that one vocabulary holds them all. K AR steps a frame.
* ``delay``: K parallel streams, stream k delayed by k frames (MusicGen): at step t the LM predicts
  codebook k of frame t - k for every k at once, so codebook k sees codebooks < k of its frame.
  One AR step per frame (plus K - 1 at the end); the embeddings of the K streams are summed and each
  stream has its own output head.

Optionally (single-stream layouts) acoustic BPE merges frequent runs of ids (``bpe.py``).

Optionally (``text_vocab`` > 0, layouts ``first`` and ``delay``) a text prefix: a sequence is
``BOS phones… SEP content… END EOS`` (text to speech, ``lm/text.py``). The phone ids and SEP follow
EOS in stream 0's vocabulary (other streams hold PAD there), and ``END`` is stream 0's PAD: the
id that ends the speech, adjacent to the content ids, so "content or stop" stays one contiguous
range a sampler chooses from.

Every stream has its own vocabulary: its content ids, then ``PAD`` (delay only: slots before a
stream starts / after it ends), ``BOS`` and ``EOS``. A training sequence is
``BOS content… EOS`` on every stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAYOUTS = ("first", "flat", "delay")


@dataclass
class Layout:
    kind: str
    codebook_sizes: tuple[int, ...]  # of the codebooks used (after `codebooks` truncation)
    bpe: object | None = None  # an AcousticBPE over the single stream, or None
    skip: int = 0  # codebooks of the codes left out before the ones used (``data.skip_codebooks``)
    text_vocab: int = 0  # phone symbols of a text prefix (0: no text; see the module docstring)

    def __post_init__(self):
        if self.kind not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, not {self.kind!r}")
        self.codebook_sizes = tuple(int(s) for s in self.codebook_sizes)
        if self.kind == "first":
            self.codebook_sizes = self.codebook_sizes[:1]
        if self.bpe is not None and self.kind == "delay":
            raise ValueError("BPE needs a single-stream layout (first or flat)")
        if self.text_vocab and (self.bpe is not None or (self.kind == "flat" and len(self.codebook_sizes) > 1)):
            raise ValueError("a text prefix needs layout first or delay, without BPE")

    # ---- vocabularies ----------------------------------------------------------------------
    @property
    def num_codebooks(self) -> int:
        return len(self.codebook_sizes)

    @property
    def num_streams(self) -> int:
        return self.num_codebooks if self.kind == "delay" else 1

    @property
    def base_vocab(self) -> int:
        """Ids of the single stream before BPE (first/flat)."""
        return int(sum(self.codebook_sizes))

    @property
    def content_sizes(self) -> list[int]:
        """Content ids per stream (before PAD/BOS/EOS)."""
        if self.kind == "delay":
            return list(self.codebook_sizes)
        return [self.bpe.vocab_size if self.bpe is not None else self.base_vocab]

    @property
    def vocab_sizes(self) -> list[int]:
        sizes = [n + 3 for n in self.content_sizes]
        if self.text_vocab:
            sizes[0] += self.text_vocab + 1  # phones, SEP
        return sizes

    def pad(self) -> np.ndarray:
        return np.array(self.content_sizes, dtype=np.int64)

    def bos(self) -> np.ndarray:
        return self.pad() + 1

    def eos(self) -> np.ndarray:
        return self.pad() + 2

    def offsets(self) -> np.ndarray:
        """Where each codebook's ids start in the single flat vocabulary."""
        return np.concatenate([[0], np.cumsum(self.codebook_sizes)[:-1]]).astype(np.int64)

    # ---- codes <-> streams ---------------------------------------------------------------
    def encode(self, codes: np.ndarray) -> np.ndarray:
        """``codes [>= skip + K, T]`` -> content ids ``[S, L]`` (no BOS/EOS) of codebooks skip..skip+K-1."""
        codes = np.asarray(codes, dtype=np.int64)
        if codes.shape[0] < self.skip + self.num_codebooks:
            raise ValueError(f"the layout needs {self.skip + self.num_codebooks} codebooks, the codes have {codes.shape[0]}")
        codes = codes[self.skip : self.skip + self.num_codebooks]
        k, t = codes.shape
        if self.kind == "delay":
            out = np.empty((k, t + k - 1), dtype=np.int64)
            out[:] = self.pad()[:, None]
            for i in range(k):
                out[i, i : i + t] = codes[i]
            return out
        flat = (codes + self.offsets()[:, None]).T.reshape(1, -1)
        return flat if self.bpe is None else self.bpe.encode(flat[0])[None]

    def decode(self, ids: np.ndarray) -> np.ndarray:
        """Content ids ``[S, L]`` -> ``codes [K, T]`` (inverse of ``encode``). Incomplete trailing
        frames (a sample cut mid-frame) are dropped."""
        ids = np.asarray(ids, dtype=np.int64)
        k = self.num_codebooks
        if self.kind == "delay":
            t = ids.shape[1] - (k - 1)
            if t <= 0:
                return np.zeros((k, 0), dtype=np.int64)
            return np.stack([ids[i, i : i + t] for i in range(k)])
        flat = ids[0] if self.bpe is None else self.bpe.decode(ids[0])
        t = len(flat) // k
        return flat[: t * k].reshape(t, k).T - self.offsets()[:, None]

    def wrap(self, content: np.ndarray) -> np.ndarray:
        """``[S, L]`` -> ``[S, L + 2]``: BOS first, EOS last on every stream."""
        return np.concatenate([self.bos()[:, None], content, self.eos()[:, None]], axis=1)

    def is_content(self, seq: np.ndarray) -> np.ndarray:
        """Boolean mask of the ids that carry speech (not PAD/BOS/EOS), same shape as ``seq``."""
        return np.asarray(seq) < self.pad()[:, None]

    # ---- text prefix (text to speech) ------------------------------------------------------
    @property
    def text_offset(self) -> int:
        """Stream 0 id of phone 0."""
        return self.content_sizes[0] + 3

    @property
    def sep(self) -> int:
        return self.text_offset + self.text_vocab

    @property
    def end(self) -> int:
        """Stream 0's id that ends the speech of a text sequence (its PAD)."""
        return int(self.pad()[0])

    def text_prefix(self, phones) -> np.ndarray:
        """``[S, n + 2]``: BOS, the phone ids (``0 .. text_vocab - 1``) and SEP on stream 0; BOS then PAD
        on the others. What the LM reads before the first frame of speech."""
        phones = np.asarray(phones, dtype=np.int64)
        if not self.text_vocab:
            raise ValueError("this layout has no text prefix (text_vocab = 0)")
        if len(phones) and (phones.min() < 0 or phones.max() >= self.text_vocab):
            raise ValueError(f"phone ids must lie in 0..{self.text_vocab - 1}")
        out = np.repeat(self.pad()[:, None], len(phones) + 2, axis=1)
        out[:, 0] = self.bos()
        out[0, 1:-1] = self.text_offset + phones
        out[0, -1] = self.sep
        return out

    def text_wrap(self, phones, codes: np.ndarray) -> np.ndarray:
        """A training sequence ``BOS phones SEP content END EOS`` ``[S, L]``."""
        content = self.encode(codes)
        tail = np.stack([self.pad(), self.eos()], axis=1)
        return np.concatenate([self.text_prefix(phones), content, tail], axis=1)

    def text_weight(self, batch: np.ndarray) -> np.ndarray:
        """Training weight of each target ``batch[..., 1:]`` of text sequences: 1 on speech content
        and on stream 0's END right after its last frame (the stop decision); 0 on the text, SEP,
        PAD, BOS and EOS (the text is given, never generated)."""
        content = self.is_content(batch)
        w = content[..., 1:].copy()
        w[..., 0, :] |= (batch[..., 0, 1:] == self.end) & content[..., 0, :-1]
        return w.astype(np.float32)

    # ---- generation ------------------------------------------------------------------------
    def prompt_sequence(self, prompt: np.ndarray | None) -> np.ndarray:
        """What the LM reads before generating: ``BOS`` + the prompt's ids (no EOS), ``[S, L]``.
        Delay: only up to the prompt's last frame of stream 0 (stream k then holds frames < T - k)."""
        t0 = 0 if prompt is None else int(np.asarray(prompt).shape[1])
        if t0 == 0:
            return self.bos()[:, None]
        seq = self.wrap(self.encode(prompt))
        return seq[:, : t0 + 1] if self.kind == "delay" else seq[:, :-1]

    def allowed(self, stream: int, base_count: int, position: int) -> np.ndarray:
        """Boolean mask over stream ``stream``'s vocabulary of the ids a sampler may emit next:
        never BOS/EOS; flat (no BPE): only the codebook of base id number ``base_count``; delay:
        PAD while the stream has not started (content ``position`` < stream)."""
        m = np.zeros(self.vocab_sizes[stream], dtype=bool)
        if self.kind == "flat" and self.bpe is None:
            c = base_count % self.num_codebooks
            start = self.offsets()[c]
            m[start : start + self.codebook_sizes[c]] = True
        elif self.kind == "delay" and position < stream:
            m[self.content_sizes[stream]] = True
        else:
            m[: self.content_sizes[stream]] = True
        return m

    def base_length(self, token: int) -> int:
        """Base ids (codes) one id of the single stream stands for: 1, or a BPE piece's length."""
        return 1 if self.bpe is None else int(self.bpe.piece_lengths[token])

    def generated_codes(self, prompt_seq: np.ndarray, generated: np.ndarray, t0: int, frames: int) -> np.ndarray:
        """``codes [K, frames]`` of ids ``generated [S, steps]`` that followed ``prompt_seq``
        (``prompt_sequence`` of a prompt of ``t0`` frames)."""
        if self.kind == "delay":
            return self.decode(np.concatenate([prompt_seq[:, 1:], generated], axis=1))[:, t0 : t0 + frames]
        k = self.num_codebooks
        base = (generated[0] if self.bpe is None else self.bpe.decode(generated[0]))[: frames * k]
        codes = base.reshape(frames, k).T - self.offsets()[:, None]
        # BPE pieces may straddle frames in a way the prompt never did: keep every code in its codebook
        return np.clip(codes, 0, np.array(self.codebook_sizes)[:, None] - 1)

    def text_steps(self, frames: int) -> int:
        """AR steps after SEP that speak ``frames`` frames and stop: stream 0's END at step
        ``frames``, the delayed streams' last frame at step ``frames + K - 2``."""
        return frames + max(1, self.num_codebooks - 1) if self.kind == "delay" else frames + 1

    def text_generated_codes(self, generated: np.ndarray, frames: int) -> np.ndarray:
        """``codes [K, frames]`` of the ids ``generated [S, steps]`` that followed a text prefix."""
        k = self.num_codebooks
        return self.decode(generated[:, : frames + (k - 1 if self.kind == "delay" else 0)])

    def describe(self) -> dict:
        return {"layout": self.kind, "codebook_sizes": list(self.codebook_sizes), "bpe_vocab": self.bpe.vocab_size if self.bpe else 0,
                "text_vocab": self.text_vocab}
