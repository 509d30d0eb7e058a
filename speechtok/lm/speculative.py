"""Speculative greedy decoding: the LM's greedy output, id for id, in fewer LM passes.

A draft proposes up to ``k`` steps; the LM checks them all in one forward pass over its KV
cache and keeps the longest prefix its own greedy choice agrees with, plus its own next step;
the cache is cropped to what was kept. Only the number of LM passes changes, never the output
(tested against ``SpeechLM.generate(..., temperature=0)``). A step is one id per stream: one id
for ``first``/``flat``/BPE, one per codebook for ``delay``.

Drafts (``propose(seq, hidden, n, allowed) -> n steps``: ``seq`` every step the LM has read,
BOS first, ending with the LM's next step; ``hidden`` the LM's last hidden state, the one that
next step came from; ``allowed(i)`` the id range ``(lo, hi)`` of each stream at drafted step i):

* ``MTPDraft``: the LM's multi-token-prediction heads (``model.MTPHeads``) read the hidden state
  the LM's own next step came from; nearly free, so the LM runs once per pass and nothing else.
* ``LMDraft``: a smaller trained LM over the same tokens and layout, greedy, with its own cache.
* ``NgramDraft``: a Kneser-Ney n-gram over the LM's training ids (single-stream layouts).

The context rule is the plain sampler's: when the window would pass the trained context it
restarts on the last half context, at the same point, so both see the same windows.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from .ngram import KneserNeyLM

REST = 8  # LM passes a draft that keeps failing rests before it is tried again


class NgramDraft:
    """Greedy proposals from a Kneser-Ney n-gram trained on the LM's own training ids."""

    name = "ngram"
    max_steps = None

    def __init__(self, model: KneserNeyLM):
        self.model = model

    @classmethod
    def fit(cls, layout, codes_list, order: int = 4) -> "NgramDraft":
        if layout.num_streams != 1:
            raise ValueError("the n-gram draft needs a single-stream layout (first, flat or BPE), not delay; use --draft mtp or a small LM")
        return cls(KneserNeyLM(layout.content_sizes[0], order).fit(layout.encode(c)[0] for c in codes_list))

    def reset(self) -> None:
        pass

    def propose(self, seq: list[list[int]], hidden, n: int, allowed) -> list[list[int]]:
        """``n`` greedy steps after ``seq`` (every step the LM has read, BOS first, then the LM's
        next step); ``allowed(i)`` -> the id ranges ``(lo, hi)`` (one per stream) of the i-th
        proposed step."""
        hist = [s[0] for s in seq[1:] if s[0] < self.model.content]  # speech ids only (not a text prefix, END)
        out = []
        for i in range(n):
            lo, hi = allowed(i)[0]
            nxt = lo + int(np.argmax(self.model.next_probs(hist)[lo:hi]))
            out.append([nxt])
            hist.append(nxt)
        return out


class MTPDraft:
    """The LM's multi-token-prediction heads: head d guesses the step d after the LM's next one,
    all from the hidden state that step came from (Medusa)."""

    name = "mtp"

    def __init__(self, lm, heads=None):
        self.lm, self.heads = lm, heads if heads is not None else lm.mtp
        if self.heads is None:
            raise ValueError("the LM has no MTP heads: add them with `speechtok lm mtp RUN` (or train with model.mtp_heads)")
        self.max_steps = self.heads.num_heads
        # all heads at once: one matrix product for their residual blocks, one batched product per stream
        with torch.no_grad():
            self.block_w = torch.cat([b.weight for b in self.heads.blocks])
            self.block_b = torch.cat([b.bias for b in self.heads.blocks])
            self.out_w = [torch.stack([outs[s].weight for outs in self.heads.out]) for s in range(len(self.heads.out[0]))]

    def reset(self) -> None:
        pass

    def propose(self, seq, hidden: torch.Tensor, n: int, allowed) -> list[list[int]]:
        hid = hidden.shape[-1]
        z = hidden + F.silu(F.linear(hidden, self.block_w[: n * hid], self.block_b[: n * hid])).view(n, hid)
        return self.lm.greedy_rows(z, [allowed(i) for i in range(n)], self.out_w)


class LMDraft:
    """A smaller ``SpeechLM`` over the same tokens and layout, greedy, keeping its own KV cache
    across passes (cropped to what the big LM kept)."""

    name = "lm"
    max_steps = None

    def __init__(self, draft_lm, target_lm):
        a, b = draft_lm.layout, target_lm.layout
        if (draft_lm.tokenizer, a.kind, a.codebook_sizes, a.skip) != (target_lm.tokenizer, b.kind, b.codebook_sizes, b.skip):
            raise ValueError(f"the draft LM models {draft_lm.tokenizer} ({a.kind}, codebooks {list(a.codebook_sizes)}, skip {a.skip}); "
                             f"the LM {target_lm.tokenizer} ({b.kind}, codebooks {list(b.codebook_sizes)}, skip {b.skip})")
        if (a.bpe is None) != (b.bpe is None) or (a.bpe is not None and a.bpe.tokenizer.to_str() != b.bpe.tokenizer.to_str()):
            raise ValueError("the draft LM and the LM must use the same acoustic BPE (or none)")
        self.lm = draft_lm
        self.reset()

    def reset(self) -> None:
        self.start, self.cached, self.cache = 0, [], None  # cache holds steps seq[start : start + len(cached)]

    def propose(self, seq, hidden, n: int, allowed) -> list[list[int]]:
        ctx = self.lm.cfg.model.context
        if len(seq) - self.start + n > ctx:  # this draft's own window rule: restart on the last half context
            self.start, self.cached, self.cache = max(0, len(seq) - ctx // 2), [], None
        view = seq[self.start :]
        keep = 0
        while keep < len(self.cached) and keep < len(view) and self.cached[keep] == view[keep]:
            keep += 1
        if self.cache is not None and keep < len(self.cached):
            _crop(self.cache, keep)
        if keep and keep == len(view):  # everything already cached: feed the last step again
            keep -= 1
            _crop(self.cache, keep)
        self.cached = list(view[:keep])
        feed = view[keep:]
        out = []
        for i in range(n):
            h, self.cache = self.lm.model.hidden_states(_ids(feed, self.lm.device), cache=self.cache, use_cache=True)
            self.cached += feed
            step = self.lm.greedy_rows(h[0, -1:], [allowed(i)])[0]
            out.append(step)
            feed = [step]
        return out


def make_draft(lm, kind: str = "auto", order: int = 4):
    """A draft for ``lm`` by name: ``mtp``, ``ngram`` (fitted on the LM's training shards), a run
    folder of a smaller LM, or ``auto`` (mtp when the LM has heads, else ngram)."""
    from pathlib import Path

    if kind == "auto":
        kind = "mtp" if lm.mtp is not None else "ngram"
    if kind == "mtp":
        return MTPDraft(lm)
    if kind == "ngram":
        from .data import iter_rows

        if lm.layout.num_streams != 1:
            NgramDraft.fit(lm.layout, [])  # raises the layout error before the shards are read
        return NgramDraft.fit(lm.layout, (r["codes"] for r in iter_rows(lm.cfg.data.train)), order=order)
    if not Path(kind).is_dir():
        raise ValueError(f"draft {kind!r}: neither mtp, ngram nor an LM run folder")
    from .speech_lm import SpeechLM

    return LMDraft(SpeechLM.load(kind, device=lm.device), lm)


def _ids(steps: list[list[int]], device) -> torch.Tensor:
    """Steps ``[n][streams]`` -> ids ``(1, streams, n)``."""
    return torch.tensor(steps, dtype=torch.long, device=device).T[None]


def _crop(cache, keep: int) -> None:
    """Drop cached positions beyond ``keep`` (negative ``crop`` works in transformers 4.4x and 5.x)."""
    n = cache.get_seq_length()
    if n > keep:
        cache.crop(keep - n)


@torch.no_grad()
def speculative_generate(lm, prompt: np.ndarray | None, frames: int, draft, k: int = 4, adaptive: bool = True,
                         text=None) -> tuple[np.ndarray, dict]:
    """Greedy continuation of ``prompt`` by ``frames`` frames, as ``lm.generate(..., temperature=0)``
    gives it; or, with ``text`` (phone ids; ``prompt`` None), the speech of that text until the LM
    stops, at most ``frames`` frames, as ``lm.say_codes(..., temperature=0)`` gives it. Returns
    (codes ``[K, frames]``, stats: ``steps`` (AR steps emitted), ``forwards`` (LM passes),
    ``proposed`` / ``accepted`` (drafted steps offered / kept)).

    ``adaptive``: the number of drafted steps grows while the draft is right and shrinks while it
    is wrong; at 0 the draft rests for ``REST`` passes (plain greedy steps, no drafting cost)."""
    lay = lm.layout
    kb, streams = lay.num_codebooks, lay.num_streams
    t0 = 0 if prompt is None else int(np.asarray(prompt).shape[1])
    speak = text is not None
    seq = lay.text_prefix(text) if speak else lay.prompt_sequence(prompt)
    ctx = lm.cfg.model.context
    if speak:
        frames = lm.text_max_frames(seq.shape[1], frames)
    start_pos = 0 if speak else seq.shape[1] - 1  # content position of the first generated step
    delay = lay.kind == "delay"
    want_steps = (t0 + frames + kb) - seq.shape[1]  # delay: steps until the last stream is done
    target = frames * kb  # flat/first/BPE: base ids to emit
    end = [None]  # speaking: the frame at which stream 0 chose END

    def done(n_steps: int, base: int) -> bool:
        if speak:
            return end[0] is not None and n_steps >= lay.text_steps(end[0])
        return n_steps >= want_steps if delay else base >= target

    def ranges(base: int, position: int) -> list[tuple[int, int]]:
        if speak:
            return lm.step_ranges(base, position, True, end[0], frames)
        return [lm.allowed_range(s, base, position) for s in range(streams)]

    if draft.max_steps is not None:
        k = min(k, draft.max_steps)
    draft.reset()
    full = [list(map(int, col)) for col in seq.T]  # every step read so far (BOS + prompt + emitted)
    window = list(full)  # what the LM reads: at most a context
    emitted: list[list[int]] = []
    base_ids = 0
    cache, fed, nxt = None, 0, None  # nxt: the LM's next step, once known
    stats = {"forwards": 0, "accepted": 0, "proposed": 0}
    k_now, resting = k, 0
    while not done(len(emitted), base_ids):
        if len(window) > ctx:  # the plain sampler's restart rule
            window, cache, fed, nxt = window[-(ctx // 2) :], None, 0, None
        pos = start_pos + len(emitted)
        if nxt is None:  # (re)build the cache over the window
            h, cache = lm.model.hidden_states(_ids(window, lm.device), cache=None, use_cache=True)
            stats["forwards"] += 1
            fed, last_h = len(window), h[0, -1]
            nxt = lm.greedy_rows(last_h[None], [ranges(base_ids, pos)])[0]
        base_next = base_ids + lay.base_length(nxt[0])
        if k_now == 0:
            resting += 1
            if resting >= REST:
                k_now, resting = 1, 0
        room = min(k_now, ctx - len(window) - 1)
        if speak:
            room = min(room, lay.text_steps(frames) - len(emitted) - 1)
        elif not delay and lay.bpe is None:
            room = min(room, target - base_next)
        elif delay:
            room = min(room, want_steps - len(emitted) - 1)
        proposal = []
        if room > 0 and not done(len(emitted) + 1, base_next):
            proposal = draft.propose(full + [nxt], last_h, room, lambda i: ranges(base_next + i, pos + 1 + i))
        block = [nxt] + proposal
        h, cache = lm.model.hidden_states(_ids(block, lm.device), cache=cache, use_cache=True)
        stats["forwards"] += 1
        # the LM's own choice after each step of the block, had every drafted step before it been kept
        bases = [base_next]
        for step in proposal:
            bases.append(bases[-1] + lay.base_length(step[0]))
        choices = lm.greedy_rows(h[0], [ranges(b, pos + 1 + i) for i, b in enumerate(bases)])
        keep = [nxt]
        stopped = speak and end[0] is None and nxt[0] == lay.end
        for i, step in enumerate(proposal):
            if stopped or done(len(emitted) + len(keep), bases[i]) or choices[i] != step:
                break
            keep.append(step)
            stopped = speak and end[0] is None and step[0] == lay.end
        if proposal:
            stats["proposed"] += len(proposal)
            stats["accepted"] += len(keep) - 1
            if adaptive:
                k_now = min(k, k_now + 1) if len(keep) - 1 == len(proposal) else max(len(keep) - 1, k_now // 2)
        _crop(cache, fed + len(keep))  # keep the positions of the kept steps only
        fed += len(keep)
        last_h, nxt = h[0, len(keep) - 1], choices[len(keep) - 1]
        window += keep
        full += keep
        emitted += keep
        base_ids = bases[len(keep) - 1]
        if stopped:  # END was kept: the steps after it pad the finished streams; choose again with that known
            end[0] = next(p for p in range(len(emitted)) if emitted[p][0] == lay.end)
            if not done(len(emitted), base_ids):
                nxt = lm.greedy_rows(last_h[None], [ranges(base_ids, start_pos + len(emitted))])[0]
    stats["steps"] = len(emitted)
    if speak:
        return lay.text_generated_codes(np.array(emitted, dtype=np.int64).T, end[0]), stats
    return lay.generated_codes(seq, np.array(emitted, dtype=np.int64).T, t0, frames), stats


def measure_speedup(lm, prompts: list[np.ndarray], frames: int, draft, k: int = 4, adaptive: bool = True) -> dict:
    """Plain greedy vs speculative greedy on the same prompts: CPU seconds of each (process time,
    so other jobs on a shared machine count less), whether every output is identical, and the
    draft's acceptance."""
    plain_s = spec_s = 0.0
    same, proposed, accepted, steps, forwards = True, 0, 0, 0, 0
    lm.generate(prompts[0], 2, temperature=0)  # warm-up
    speculative_generate(lm, prompts[0], 2, draft, k=k, adaptive=adaptive)
    for p in prompts:
        t = time.process_time()
        a = lm.generate(p, frames, temperature=0)
        plain_s += time.process_time() - t
        t = time.process_time()
        b, st = speculative_generate(lm, p, frames, draft, k=k, adaptive=adaptive)
        spec_s += time.process_time() - t
        same &= bool(np.array_equal(a, b))
        proposed, accepted, steps, forwards = proposed + st["proposed"], accepted + st["accepted"], steps + st["steps"], forwards + st["forwards"]
    return {"prompts": len(prompts), "frames": frames, "k": k, "adaptive": adaptive, "draft": draft.name, "identical": same,
            "plain_cpu_s": plain_s, "speculative_cpu_s": spec_s, "speedup": plain_s / spec_s,
            "plain_steps_per_s": steps / plain_s, "speculative_steps_per_s": steps / spec_s,
            "acceptance": accepted / max(1, proposed), "ids_per_forward": steps / max(1, forwards)}


def longest_prompts(folder, lm, n: int = 4, seconds: float = 2.0) -> list[np.ndarray]:
    """The first ``seconds`` of the ``n`` longest utterances of a token folder: the benchmark prompts."""
    from .data import iter_rows

    rows = sorted(iter_rows(folder), key=lambda r: -r["duration"])[:n]
    if not rows:
        raise ValueError(f"{folder}: no utterances to take prompts from")
    frames = int(round(seconds * lm.frame_rate))
    return [r["codes"][:, :frames] for r in rows]


@torch.no_grad()
def pass_costs(model_cfg, vocab_sizes: list[int], blocks: list[int], mtp_heads: int = 0, past: int = 128, repeats: int = 20) -> dict:
    """CPU seconds of one LM pass over a block of ``b`` new steps (for each ``b`` in ``blocks``) on
    top of a ``past``-step KV cache, and of the MTP heads' drafting, for an LM of this config with
    random weights (the cost of a pass does not depend on what the weights are). How the speed-up
    of speculation moves with the LM's size, without training a large LM on a CPU."""
    from .model import MTPHeads, TokenLM

    torch.manual_seed(0)
    model = TokenLM(model_cfg, vocab_sizes).eval()
    ranges = [(0, v - 3) for v in vocab_sizes]
    ids = torch.zeros(1, len(vocab_sizes), past, dtype=torch.long)
    _, cache = model.hidden_states(ids, use_cache=True)
    out = {"parameters": model.num_parameters(), "block_s": {}}
    for b in blocks:
        block = torch.zeros(1, len(vocab_sizes), b, dtype=torch.long)
        times = []
        for _ in range(repeats):
            t = time.process_time()
            h, cache = model.hidden_states(block, cache=cache, use_cache=True)
            for (lo, hi), head in zip(ranges, model.heads):  # the LM's choice after each step of the block
                torch.argmax(h[0] @ head.weight[lo:hi].T, dim=-1)
            times.append(time.process_time() - t)
            _crop(cache, past)
        out["block_s"][b] = float(np.median(times))
    if mtp_heads:
        heads = MTPHeads(model_cfg.hidden, vocab_sizes, mtp_heads).eval()
        h = torch.zeros(model_cfg.hidden)
        times = []
        for _ in range(repeats):
            t = time.process_time()
            for z, outs in zip(heads.features(h), heads.out):
                for (lo, hi), head in zip(ranges, outs):
                    torch.argmax(head.weight[lo:hi] @ z)
            times.append(time.process_time() - t)
        out["mtp_s"] = float(np.median(times))
    return out


def render_speedup(rows: list[dict]) -> str:
    """Markdown table of ``speechtok lm speedup`` rows."""
    lines = ["| LM | params | layout | threads | draft | k | identical | plain steps/s | speculative steps/s | speed-up | "
             "drafted steps kept | steps per LM pass |", "|---|---:|---|---:|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        k = f"≤{r['k']} adaptive" if r.get("adaptive") else str(r["k"])
        lines.append(f"| {r['lm']} | {r['parameters'] / 1e6:.1f} M | {r['layout']} | {r['threads']} | {r['draft_spec']} | {k} | "
                     f"{'yes' if r['identical'] else '**no**'} | {r['plain_steps_per_s']:.0f} | {r['speculative_steps_per_s']:.0f} | "
                     f"{r['speedup']:.2f}× | {r['acceptance'] * 100:.0f}% | {r['ids_per_forward']:.2f} |")
    return "\n".join(lines) + "\n"
