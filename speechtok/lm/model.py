"""The token LM: a `transformers` decoder backbone (Llama or GPT-2, built from a small config) with
one embedding table and one output head per stream.

A single-stream layout (``first``/``flat``/BPE) is a plain causal LM. The ``delay`` layout has K
streams: their embeddings are summed at each step and K heads predict the next id of every
stream at once (MusicGen). The backbone reads ``inputs_embeds``, so its own token embedding is a
1-row stub.
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
        x = sum(emb(ids[:, s]) for s, emb in enumerate(self.embed))
        kwargs = {_cache_argument(): cache} if cache is not None else {}
        out = self.backbone(inputs_embeds=x, use_cache=use_cache, **kwargs)
        h = out.last_hidden_state
        return [head(h) for head in self.heads], (getattr(out, _cache_argument()) if use_cache else None)

    def token_nll(self, ids: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood (nats) of ``ids[:, :, 1:]`` given what precedes each:
        ``(batch, streams, length - 1)``."""
        logits, _ = self(ids[:, :, :-1])
        return torch.stack(
            [F.cross_entropy(lg.transpose(1, 2).float(), ids[:, s, 1:], reduction="none") for s, lg in enumerate(logits)],
            dim=1,
        )

    def loss(self, ids: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """Mean NLL (nats) over the targets ``ids[:, :, 1:]`` where ``weight`` (same shape) is 1."""
        nll = self.token_nll(ids)
        return (nll * weight).sum() / weight.sum().clamp_min(1)

    def num_parameters(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= sum(p.numel() for m in list(self.embed) + list(self.heads) for p in m.parameters())
        return n
