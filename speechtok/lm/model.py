"""The token LM: a `transformers` decoder backbone (Llama or GPT-2, built from a small config) with
one embedding table and one output head per stream.

A single-stream layout (``first``/``flat``/BPE) is a plain causal LM. The ``delay`` layout has K
streams: their embeddings are summed at each step and K heads predict the next id of every
stream at once (MusicGen). The backbone reads ``inputs_embeds``, so its own token embedding is a
1-row stub.

Optionally (``model.mtp_heads`` > 0, or added later to a trained LM by ``speechtok lm mtp``)
``MTPHeads`` read the same last hidden state and predict the ids 2, 3, … steps ahead (Medusa):
drafts for speculative decoding (``speculative.py``).
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

from .config import LMModelConfig


@lru_cache(maxsize=1)
def _cache_argument() -> str:
    """`transformers` renamed ``past_key_values`` to ``cache`` (5.x); speak whichever is installed."""
    import inspect

    from transformers import LlamaModel

    return "cache" if "cache" in inspect.signature(LlamaModel.forward).parameters else "past_key_values"



def _backbone(cfg: LMModelConfig):
    if cfg.arch == "llama":
        from transformers import LlamaConfig, LlamaModel

        inter = cfg.intermediate or 64 * round(cfg.hidden * 8 / 3 / 64) or cfg.hidden * 2
        conf = LlamaConfig(
            vocab_size=1, hidden_size=cfg.hidden, intermediate_size=inter, num_hidden_layers=cfg.layers,
            num_attention_heads=cfg.heads, num_key_value_heads=cfg.heads, max_position_embeddings=cfg.context * 16,
            attention_dropout=cfg.dropout, tie_word_embeddings=False, bos_token_id=None, eos_token_id=None, pad_token_id=None,
        )
        return LlamaModel(conf)
    if cfg.arch == "gpt2":
        from transformers import GPT2Config, GPT2Model

        conf = GPT2Config(
            vocab_size=1, n_embd=cfg.hidden, n_layer=cfg.layers, n_head=cfg.heads, n_positions=cfg.context * 16,
            n_inner=cfg.intermediate or None, resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout, attn_pdrop=cfg.dropout,
            bos_token_id=None, eos_token_id=None, pad_token_id=None,
        )
        return GPT2Model(conf)
    raise ValueError(f"unknown arch {cfg.arch!r}")


class MTPHeads(nn.Module):
    """``n`` multi-token-prediction heads on the LM's last hidden state ``h_t`` (Medusa style):
    head ``d`` (1..n) predicts the id ``d`` steps after the one the LM's own head predicts, i.e.
    position ``t + 1 + d``, from ``z = h + SiLU(W_d h)`` through its own output layer per stream.
    ``W_d`` starts at zero and the output layers as copies of the LM's, so an untrained head
    repeats the LM's next-id guess instead of noise."""

    def __init__(self, hidden: int, vocab_sizes: list[int], n: int):
        super().__init__()
        if n < 1:
            raise ValueError("MTP heads: n must be >= 1")
        self.blocks = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(n))
        self.out = nn.ModuleList(nn.ModuleList(nn.Linear(hidden, v, bias=False) for v in vocab_sizes) for _ in range(n))
        for b in self.blocks:
            nn.init.zeros_(b.weight)
            nn.init.zeros_(b.bias)

    @property
    def num_heads(self) -> int:
        return len(self.blocks)

    def init_from(self, lm_heads: nn.ModuleList) -> "MTPHeads":
        with torch.no_grad():
            for heads in self.out:
                for mine, theirs in zip(heads, lm_heads):
                    mine.weight.copy_(theirs.weight)
        return self

    def features(self, h: torch.Tensor, upto: int | None = None) -> list[torch.Tensor]:
        """``h (..., hidden)`` -> what each head's output layers read, ``[head] (..., hidden)``
        (the first ``upto`` heads only when given)."""
        return [h + F.silu(block(h)) for block in self.blocks[:upto]]

    def forward(self, h: torch.Tensor, upto: int | None = None) -> list[list[torch.Tensor]]:
        """``h (..., hidden)`` -> logits ``[head][stream]``, each ``(..., vocab_s)``."""
        return [[head(z) for head in heads] for z, heads in zip(self.features(h, upto), self.out)]

    def loss(self, h: torch.Tensor, ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Mean over heads of the NLL (nats) of head ``d``'s targets ``ids[:, :, 1 + d:]`` from
        ``h (batch, length - 1, hidden)`` (the hidden states of ``ids[:, :, :-1]``), where
        ``weight`` (the targets' weight, ``(batch, streams, length - 1)``) is 1."""
        total = h.new_zeros(())
        n = h.shape[1]
        for d, logits in enumerate(self(h), start=1):
            if n - d <= 0:
                break
            nll = _stream_nll([lg[:, : n - d] for lg in logits], ids[:, :, 1 + d :])
            w = weight[:, :, d:]
            total = total + (nll * w).sum() / w.sum().clamp_min(1)
        return total / self.num_heads


def _stream_nll(logits: list[torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
    """Per-stream logits ``(batch, n, vocab_s)`` and targets ``(batch, streams, n)`` -> NLL ``(batch, streams, n)``."""
    return torch.stack([F.cross_entropy(lg.transpose(1, 2).float(), targets[:, s], reduction="none") for s, lg in enumerate(logits)], dim=1)


class TokenLM(nn.Module):
    def __init__(self, cfg: LMModelConfig, vocab_sizes: list[int]):
        super().__init__()
        self.cfg = cfg
        self.vocab_sizes = list(vocab_sizes)
        self.backbone = _backbone(cfg)
        self.embed = nn.ModuleList(nn.Embedding(v, cfg.hidden) for v in self.vocab_sizes)
        self.heads = nn.ModuleList(nn.Linear(cfg.hidden, v, bias=False) for v in self.vocab_sizes)
        for m in list(self.embed) + list(self.heads):
            nn.init.normal_(m.weight, std=0.02)
        # trained jointly with the LM (`model.mtp_heads`); heads added to a trained LM live apart (mtp.safetensors)
        self.mtp = MTPHeads(cfg.hidden, self.vocab_sizes, cfg.mtp_heads).init_from(self.heads) if cfg.mtp_heads else None

    @property
    def num_streams(self) -> int:
        return len(self.vocab_sizes)

    def forward(self, ids: torch.Tensor, cache=None, use_cache: bool = False, weight: torch.Tensor | None = None):
        """ids ``(batch, streams, length)`` -> (logits per stream, each ``(batch, length, vocab_s)``,
        the key/value cache when ``use_cache``; pass it back as ``cache`` with the next ids).
        With ``weight``: the training loss instead (see ``loss``), so that a wrapped module
        (Fabric, DDP) computes it inside its own forward."""
        if weight is not None:
            return self.loss(ids, weight)
        h, cache = self.hidden_states(ids, cache, use_cache)
        return [head(h) for head in self.heads], cache

    def hidden_states(self, ids: torch.Tensor, cache=None, use_cache: bool = False):
        """ids ``(batch, streams, length)`` -> (last hidden states ``(batch, length, hidden)``, cache)."""
        x = sum(emb(ids[:, s]) for s, emb in enumerate(self.embed))
        kwargs = {_cache_argument(): cache} if cache is not None else {}
        out = self.backbone(inputs_embeds=x, use_cache=use_cache, **kwargs)
        return out.last_hidden_state, (getattr(out, _cache_argument()) if use_cache else None)

    def token_nll(self, ids: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood (nats) of ``ids[:, :, 1:]`` given what precedes each:
        ``(batch, streams, length - 1)``."""
        logits, _ = self(ids[:, :, :-1])
        return _stream_nll(logits, ids[:, :, 1:])

    def loss(self, ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Mean NLL (nats) over the targets ``ids[:, :, 1:]`` where ``weight`` (same shape) is 1;
        plus ``model.mtp_weight`` × the MTP heads' loss when the LM has them."""
        h, _ = self.hidden_states(ids[:, :, :-1])
        nll = _stream_nll([head(h) for head in self.heads], ids[:, :, 1:])
        loss = (nll * weight).sum() / weight.sum().clamp_min(1)
        if self.mtp is not None and self.cfg.mtp_weight:
            loss = loss + self.cfg.mtp_weight * self.mtp.loss(h, ids, weight)
        return loss

    def num_parameters(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= sum(p.numel() for m in list(self.embed) + list(self.heads) for p in m.parameters())
            n -= sum(p.numel() for p in self.mtp.parameters()) if self.mtp is not None else 0
        return n
