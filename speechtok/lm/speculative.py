"""Speculative greedy decoding for single-stream token LMs (``first`` / ``flat`` / BPE layouts).

A cheap draft proposes ``k`` ids; the LM checks them all in one forward pass (with its KV cache)
and keeps the longest prefix that its own greedy choice agrees with, plus its own next id. The
output is the LM's greedy output, id for id (tested against ``SpeechLM.generate``); only the
number of LM forward passes changes. Drafts: a Kneser-Ney n-gram over the same ids
(``NgramDraft``, nearly free to run) or any object with ``propose(history, k, allowed) -> ids``.

The context rule is the plain sampler's: when the window would pass the trained context it
restarts on the last half context, at the same point, so both see the same windows.
"""

from __future__ import annotations

import numpy as np
import torch

from .ngram import KneserNeyLM


class NgramDraft:
    """Greedy proposals from a Kneser-Ney n-gram trained on the LM's own training ids."""

    def __init__(self, model: KneserNeyLM):
        self.model = model

    @classmethod
    def fit(cls, layout, codes_list, order: int = 4) -> "NgramDraft":
        return cls(KneserNeyLM(layout.content_sizes[0], order).fit(layout.encode(c)[0] for c in codes_list))

    def propose(self, history: list[int], k: int, allowed) -> list[int]:
        """``k`` greedy ids after ``history`` (content ids); ``allowed(i)`` -> bool mask over the
        content ids for the i-th proposed id (codebook constraint of the flat layout)."""
        hist = list(history)
        out = []
        for i in range(k):
            p = self.model.next_probs(hist)[: self.model.content]
            mask = allowed(i)
            p = np.where(mask[: len(p)], p, -1.0)
            nxt = int(np.argmax(p))
            out.append(nxt)
            hist.append(nxt)
        return out


REST = 8


def _crop(cache, keep: int) -> None:
    """Drop cached positions beyond ``keep`` (negative ``crop`` works in transformers 4.4x and 5.x)."""
    n = cache.get_seq_length()
    if n > keep:
        cache.crop(keep - n)


@torch.no_grad()
def speculative_generate(lm, prompt: np.ndarray | None, frames: int, draft, k: int = 4) -> tuple[np.ndarray, dict]:
    """Greedy continuation of ``prompt`` by ``frames`` frames, as ``lm.generate(..., temperature=0)``
    gives it. Returns (codes ``[K, frames]``, stats: ``steps`` (ids emitted), ``forwards`` (LM
    passes), ``accepted`` (draft ids kept))."""
    lay = lm.layout
    if lay.num_streams != 1:
        raise ValueError("speculative decoding needs a single-stream layout (first, flat or BPE), not delay")
    kb = lay.num_codebooks
    t0 = 0 if prompt is None else int(np.asarray(prompt).shape[1])
    seq = lay.prompt_sequence(prompt)
    ctx = lm.cfg.model.context

    def allowed_at(base_count: int) -> np.ndarray:
        return lay.allowed(0, base_count, 0)

    window = [int(x) for x in seq[0]]  # ids the LM reads (BOS + prompt + emitted), at most a context
    history = [int(x) for x in seq[0, 1:]]  # content ids for the draft
    emitted: list[int] = []
    base_ids = 0
    cache, fed, last_logits = None, 0, None
    stats = {"forwards": 0, "accepted": 0, "proposed": 0}
    # proposals per pass: grows while the draft is right, shrinks while it is wrong; at 0 the draft
    # rests (plain greedy steps, no drafting cost) and is tried again with 1 id every `REST` passes
    k_now, resting = k, 0
    target = frames * kb
    while base_ids < target:
        if len(window) > ctx:  # the plain sampler's restart rule
            window, cache, fed, last_logits = window[-(ctx // 2) :], None, 0, None
        if last_logits is None:  # (re)build the cache over the window
            logits, cache = lm.model(torch.tensor(window)[None, None], cache=cache, use_cache=True)
            stats["forwards"] += 1
            fed = len(window)
            last_logits = logits[0][0, -1].float()
        # the LM's own next id (what plain greedy decoding emits now)
        nxt = int(torch.argmax(last_logits.masked_fill(~torch.from_numpy(allowed_at(base_ids)), -float("inf"))))
        # how many more ids fit before the plain sampler would restart or stop
        if k_now == 0:
            resting += 1
            if resting >= REST:
                k_now, resting = 1, 0
        room = min(k_now, ctx - len(window) - 1)
        counts = [base_ids + lay.base_length(nxt)]
        if room > 0 and counts[0] < target:
            start = counts[0]  # flat without BPE: proposed id i is base id start + i

            def allowed(i):
                return allowed_at(start + i)

            proposal = draft.propose(history + [nxt], room, allowed)
            for pid in proposal:  # base-id counts after each proposed id (the codebook mask needs them)
                counts.append(counts[-1] + lay.base_length(pid))
        else:
            proposal = []
        block = [nxt] + proposal
        logits, cache = lm.model(torch.tensor(block)[None, None], cache=cache, use_cache=True)
        stats["forwards"] += 1
        lg = logits[0][0].float()  # [len(block), vocab]: prediction after each id of the block
        keep = [nxt]
        base_ids = counts[0]
        for i, pid in enumerate(proposal):
            if base_ids >= target:
                break
            mask = torch.from_numpy(allowed_at(base_ids))
            want = int(torch.argmax(lg[i].masked_fill(~mask, -float("inf"))))
            if want != pid:
                break
            keep.append(pid)
            base_ids = counts[i + 1]
        stats["proposed"] += len(proposal)
        stats["accepted"] += len(keep) - 1
        if proposal:
            k_now = min(k, k_now + 1) if len(keep) - 1 == len(proposal) else max(len(keep) - 1, k_now // 2)
        # cache: keep the positions of the kept ids only
        _crop(cache, fed + len(keep))
        fed += len(keep)
        last_logits = lg[len(keep) - 1]
        window += keep
        history += keep
        emitted += keep
    stats["steps"] = len(emitted)
    return lay.generated_codes(seq, np.array(emitted, dtype=np.int64)[None], t0, frames), stats


def measure_speedup(lm, prompts: list[np.ndarray], frames: int, draft, k: int = 4) -> dict:
    """Plain greedy vs speculative greedy on the same prompts: CPU seconds of each (process time,
    so other jobs on a shared machine count less), whether every output is identical, and the
    draft's acceptance."""
    import time

    plain_s = spec_s = 0.0
    same, proposed, accepted, steps, forwards = True, 0, 0, 0, 0
    lm.generate(prompts[0], 2, temperature=0)  # warm-up
    for p in prompts:
        t = time.process_time()
        a = lm.generate(p, frames, temperature=0)
        plain_s += time.process_time() - t
        t = time.process_time()
        b, st = speculative_generate(lm, p, frames, draft, k=k)
        spec_s += time.process_time() - t
        same &= bool(np.array_equal(a, b))
        proposed, accepted, steps, forwards = proposed + st["proposed"], accepted + st["accepted"], steps + st["steps"], forwards + st["forwards"]
    return {"prompts": len(prompts), "frames": frames, "k": k, "identical": same, "plain_cpu_s": plain_s, "speculative_cpu_s": spec_s,
            "speedup": plain_s / spec_s, "plain_steps_per_s": steps / plain_s, "speculative_steps_per_s": steps / spec_s,
            "acceptance": accepted / max(1, proposed), "ids_per_forward": steps / max(1, forwards)}
