"""A trained token LM as one object: config + layout (+ BPE) + network, loaded from a run folder.

Run folder (written by ``LMTrainer``)::

    config.yaml          LMRunConfig, with ``vocab`` (tokenizer, frame rate, codebook sizes)
    model.safetensors    the network's weights
    bpe.json             acoustic BPE model, when ``data.bpe_vocab`` > 0
    mtp.safetensors      multi-token-prediction heads added after training (``speechtok lm mtp``)
    checkpoints/last.ckpt  full training state (exact resume)
    logs/                CSV logs (+ TensorBoard when installed)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .config import LMRunConfig, load_lm_config
from .layout import Layout
from .model import TokenLM

LN2 = math.log(2.0)


def make_layout(cfg: LMRunConfig, bpe=None) -> Layout:
    skip = cfg.data.skip_codebooks
    sizes = cfg.vocab["codebook_sizes"][skip:]
    k = cfg.data.codebooks or len(sizes)
    return Layout(cfg.data.layout, sizes[:k], bpe=bpe, skip=skip, text_vocab=len(cfg.vocab.get("phones", [])))


class SpeechLM:
    def __init__(self, cfg: LMRunConfig, layout: Layout, model: TokenLM, device: str = "cpu"):
        self.cfg, self.layout, self.model = cfg, layout, model.to(device).eval()
        self.device = device
        self.mtp = model.mtp  # MTP heads trained with the LM, or added later (``load`` reads mtp.safetensors)
        self._ranges: dict[tuple, tuple[int, int]] = {}

    @property
    def frame_rate(self) -> float:
        return float(self.cfg.vocab["frame_rate"])

    @property
    def tokenizer(self) -> str:
        return self.cfg.vocab["tokenizer"]

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "cpu") -> "SpeechLM":
        from safetensors.torch import load_file

        from .bpe import AcousticBPE

        p = Path(run_dir)
        if not (p / "config.yaml").exists() or not (p / "model.safetensors").exists():
            raise FileNotFoundError(f"{p}: not an LM run folder (needs config.yaml and model.safetensors from `speechtok lm train`)")
        cfg = load_lm_config(p / "config.yaml")
        bpe = AcousticBPE.load(p / "bpe.json") if cfg.data.bpe_vocab else None
        layout = make_layout(cfg, bpe)
        model = TokenLM(cfg.model, layout.vocab_sizes)
        model.load_state_dict(load_file(str(p / "model.safetensors")))
        lm = cls(cfg, layout, model, device)
        from .mtp import load_mtp_heads

        lm.mtp = load_mtp_heads(p, lm) or lm.mtp
        return lm

    def allowed_range(self, stream: int, base_count: int, position: int) -> tuple[int, int]:
        """The ids ``[lo, hi)`` of stream ``stream`` a sampler may emit next (``Layout.allowed``, which
        is always one contiguous range: a codebook, all content ids, or PAD), memoized: it is
        asked every step, and a head evaluated on that range only costs a fraction of the whole
        vocabulary (a third for 3 flat codebooks)."""
        lay = self.layout
        if lay.kind == "flat" and lay.bpe is None:
            key = (stream, base_count % lay.num_codebooks)
        elif lay.kind == "delay":
            key = (stream, position < stream)
        else:
            key = (stream,)
        r = self._ranges.get(key)
        if r is None:
            idx = np.flatnonzero(lay.allowed(stream, base_count, position))
            r = self._ranges[key] = (int(idx[0]), int(idx[-1]) + 1)
        return r

    def step_ranges(self, base_count: int, position: int, text: bool = False, end_frames: int | None = None,
                    max_frames: int = 0) -> list[tuple[int, int]]:
        """The id range of every stream at the next step. ``text``: speech after a text prefix,
        where stream 0 may also choose END (its PAD, right after the content ids) once a frame is
        out; after END at frame ``end_frames`` (or when ``max_frames`` is reached) every stream
        pads once its own frames are done."""
        lay = self.layout
        out = []
        for s, pad in enumerate(lay.content_sizes):  # a stream's PAD id is its content size
            if text and ((end_frames is not None and position >= end_frames + s) or (s == 0 and position >= max_frames)):
                out.append((pad, pad + 1))
                continue
            lo, hi = self.allowed_range(s, base_count, position)
            if text and s == 0 and position >= 1:
                hi = lay.end + 1
            out.append((lo, hi))
        return out

    def next_logits(self, h: torch.Tensor, ranges: list[tuple[int, int]], heads=None) -> list[torch.Tensor]:
        """Logits over the allowed range of each stream from hidden state ``h (hidden,)`` through
        ``heads`` (default: the LM's own output layers); index ``i`` is id ``lo + i``."""
        return [F.linear(h, head.weight[lo:hi]).float() for head, (lo, hi) in zip(heads if heads is not None else self.model.heads, ranges)]

    def greedy_rows(self, h: torch.Tensor, ranges: list[list[tuple[int, int]]], weights: list[torch.Tensor] | None = None) -> list[list[int]]:
        """Greedy ids of ``n`` steps at once: row ``i`` of ``h (n, hidden)`` through each stream's
        output weights (``(vocab, hidden)``, default the LM's; or ``(>= n, vocab, hidden)``, one
        per row: MTP heads), over the ids ``ranges[i]`` allows (one ``(lo, hi)`` per stream). Rows
        with the same range share one matrix product over that range only: at most one product
        per codebook, over a third of the vocabulary for 3 flat codebooks."""
        n = h.shape[0]
        out = [[0] * len(ranges[0]) for _ in range(n)]
        for s, w in enumerate(weights if weights is not None else [head.weight for head in self.model.heads]):
            if w.dim() == 3:  # a weight per row (views, no copy of the weights)
                for i, r in enumerate(ranges):
                    lo, hi = r[s]
                    out[i][s] = lo + int(torch.argmax(F.linear(h[i], w[i, lo:hi])))
                continue
            groups: dict[tuple[int, int], list[int]] = {}
            for i, r in enumerate(ranges):
                groups.setdefault(r[s], []).append(i)
            for (lo, hi), rows in groups.items():
                logits = F.linear(h if len(rows) == n else h[rows], w[lo:hi])
                for i, v in zip(rows, logits.argmax(-1).tolist()):
                    out[i][s] = lo + v
        return out

    # ---- likelihood ---------------------------------------------------------------------------
    @torch.no_grad()
    def score(self, codes_list: list[np.ndarray], batch_tokens: int = 8192) -> list[dict]:
        """Per utterance (codes ``[K, T]``): ``bits`` (−log2 p of its content ids given BOS; EOS
        not counted), ``tokens`` (content ids: supertokens with BPE, K·T with delay) and ``steps``
        (AR steps to generate it). Utterances longer than the context are scored in windows that
        overlap by half a context, each id scored once with at least half a context before it."""
        ctx = self.cfg.model.context
        windows = []  # (utterance, ids [S, n + 1], counted targets [S, n])
        out = []
        for u, codes in enumerate(codes_list):
            seq = self.layout.wrap(self.layout.encode(codes))
            content = self.layout.is_content(seq)
            last = seq.shape[1] - 1  # index of the last target
            start, covered = 0, 0
            while True:
                end = min(start + ctx, last)
                new = np.arange(start + 1, end + 1) > covered
                windows.append((u, seq[:, start : end + 1], content[:, start + 1 : end + 1] & new[None]))
                covered = end
                if end >= last:
                    break
                start = end - ctx // 2
            out.append({"bits": 0.0, "tokens": int(content.sum()), "steps": int(seq.shape[1] - 2)})
        order = sorted(range(len(windows)), key=lambda i: windows[i][1].shape[1])
        pad = self.layout.pad()
        i = 0
        while i < len(order):
            n = windows[order[i]][1].shape[1]
            j = i
            while j < len(order) and (j - i + 1) * windows[order[j]][1].shape[1] <= max(batch_tokens, n):
                j += 1
            group = [windows[k] for k in order[i:j]]
            width = max(g[1].shape[1] for g in group)
            ids = np.repeat(pad[None, :, None], len(group), axis=0).repeat(width, axis=2)
            mask = np.zeros((len(group), len(pad), width - 1), dtype=np.float32)
            for b, (_, seq, m) in enumerate(group):
                ids[b, :, : seq.shape[1]] = seq
                mask[b, :, : m.shape[1]] = m
            nll = self.model.token_nll(torch.from_numpy(ids).to(self.device)).cpu().numpy()
            for b, (u, _, _) in enumerate(group):
                out[u]["bits"] += float((nll[b] * mask[b]).sum() / LN2)
            i = j
        return out

    # ---- sampling -----------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, prompt: np.ndarray | None, frames: int, temperature: float = 1.0, top_k: int = 0,
                 seed: int = 0) -> np.ndarray:
        """Continue ``prompt`` (codes ``[K, T]``, or None) by ``frames`` frames; returns only the new
        codes ``[K, frames]``. ``temperature`` 0 is greedy. BOS/EOS/PAD are never sampled."""
        lay = self.layout
        k = lay.num_codebooks
        t0 = 0 if prompt is None else int(np.asarray(prompt).shape[1])
        seq = lay.prompt_sequence(prompt)
        want = (t0 + frames + k) - seq.shape[1]  # delay: positions until the last stream is done
        gen = torch.Generator().manual_seed(seed)
        ctx = self.cfg.model.context
        window = torch.from_numpy(seq).to(self.device)  # what the model reads, at most a context
        generated: list[list[int]] = []
        cache, fed, base_ids = None, 0, 0
        while True:
            if window.shape[1] > ctx:  # past the trained context: restart on the last half context
                window, cache, fed = window[:, -(ctx // 2) :], None, 0
            h, cache = self.model.hidden_states(window[None, :, fed:], cache=cache, use_cache=True)
            fed = window.shape[1]
            position = seq.shape[1] - 1 + len(generated)  # content index of the id being chosen
            ranges = [self.allowed_range(s, base_ids, position) for s in range(lay.num_streams)]
            nxt = [lo + _pick(lg, temperature, top_k, gen) for lg, (lo, _) in zip(self.next_logits(h[0, -1], ranges), ranges)]
            generated.append(nxt)
            window = torch.cat([window, torch.tensor(nxt, dtype=torch.long, device=self.device)[:, None]], dim=1)
            base_ids += lay.base_length(nxt[0])
            if (lay.kind == "delay" and len(generated) >= want) or (lay.kind != "delay" and base_ids >= frames * k):
                break
        self.last_steps = len(generated)  # AR steps this call took (the sampling-speed measure reads it)
        return lay.generated_codes(seq, np.array(generated, dtype=np.int64).T, t0, frames)

    @torch.no_grad()
    def say_codes(self, phones, max_frames: int, temperature: float = 1.0, top_k: int = 0, seed: int = 0) -> np.ndarray:
        """Speech for a text prefix (phone ids of the run's phone set, ``lm/text.py``): frames until
        the LM chooses END, at most ``max_frames`` (and what the trained context holds). Returns
        codes ``[K, frames]``. ``temperature`` 0 is greedy."""
        lay = self.layout
        seq = lay.text_prefix(phones)
        max_frames = self.text_max_frames(seq.shape[1], max_frames)
        gen = torch.Generator().manual_seed(seed)
        window = torch.from_numpy(seq).to(self.device)
        generated: list[list[int]] = []
        cache, fed, end = None, 0, None
        while end is None or len(generated) < lay.text_steps(end):
            h, cache = self.model.hidden_states(window[None, :, fed:], cache=cache, use_cache=True)
            fed = window.shape[1]
            ranges = self.step_ranges(len(generated) * lay.num_codebooks, len(generated), True, end, max_frames)
            nxt = [lo + _pick(lg, temperature, top_k, gen) for lg, (lo, _) in zip(self.next_logits(h[0, -1], ranges), ranges)]
            if end is None and nxt[0] == lay.end:
                end = len(generated)
            generated.append(nxt)
            window = torch.cat([window, torch.tensor(nxt, dtype=torch.long, device=self.device)[:, None]], dim=1)
        self.last_steps = len(generated)
        return lay.text_generated_codes(np.array(generated, dtype=np.int64).T, end)

    def text_max_frames(self, prefix: int, max_frames: int) -> int:
        """``max_frames``, capped so the prefix and every step fit the trained context."""
        lay = self.layout
        if not lay.text_vocab:
            raise ValueError(f"this LM ({self.cfg.name}) was trained without text (data.text), so it cannot speak text")
        room = self.cfg.model.context - prefix - (lay.text_steps(0))
        if room < 1:
            raise ValueError(f"the text is too long for this LM: {prefix} prefix ids in a context of {self.cfg.model.context}; "
                             "say it in shorter sentences")
        return max(1, min(int(max_frames), room))


def _pick(logits: torch.Tensor, temperature: float, top_k: int, gen: torch.Generator) -> int:
    if temperature <= 0:
        return int(torch.argmax(logits))
    logits = logits / temperature
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, -float("inf"))
    return int(torch.multinomial(torch.softmax(logits, -1), 1, generator=gen))
