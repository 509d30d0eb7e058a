"""Semantic objectives in the codec: each loss goes down in a few steps on a tiny batch,
and the training loop feeds frame-aligned phone labels to the phones objective."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechtok.codec.model import Codec
from speechtok.codec.semantic_losses import SemanticObjectives, first_codebook_st
from speechtok.data.phones import NUM_PHONES
from speechtok.train.data import SegmentSampler, phone_label_track

from test_codec import speechlike, tiny


def _losses(objective: str, steps: int = 12):
    torch.manual_seed(0)
    codec = Codec(tiny(50))
    spec = {objective: 1.0}
    sem = SemanticObjectives(spec, codec)
    params = list(codec.parameters()) + [p for p in sem.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=3e-3)
    wav = torch.from_numpy(np.stack([speechlike(0.64, seed=i) for i in range(4)]))
    labels = torch.tensor([3, 7, 11, 19])[:, None].expand(4, 32)  # one phone per utterance: learnable
    out = []
    for _ in range(steps):
        recon, codes, commit, latents = codec(wav)
        parts = sem(wav=wav, recon=recon, codes=codes, latents=latents, codec=codec, labels=labels)
        weight, loss = parts[objective]
        opt.zero_grad()
        (weight * loss).backward()
        opt.step()
        out.append(loss.item())
    return out


@pytest.mark.parametrize("objective", ["phones", "invariance", "asr_encoder"])
def test_each_objective_loss_decreases(objective):
    losses = _losses(objective)
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3]), losses


def test_phones_objective_reaches_the_encoder_through_the_first_codebook():
    torch.manual_seed(0)
    codec = Codec(tiny(50))
    wav = torch.from_numpy(speechlike(0.64))[None]
    _, codes, _, latents = codec(wav)
    st = first_codebook_st(codec, latents, codes)
    st.sum().backward()
    assert codec.encoder.proj.weight.grad is not None and codec.encoder.proj.weight.grad.abs().sum() > 0


def test_unknown_objective_is_refused():
    with pytest.raises(ValueError, match="unknown objective"):
        SemanticObjectives({"phonez": 1.0}, Codec(tiny(50)))


def test_sampler_gives_phone_labels_at_frame_centres():
    sr, hop = 16000, 320
    wav = np.zeros(sr, np.float32)
    row = {"phones": [["SIL", 0.0, 0.25], ["AA", 0.25, 0.5], ["B", 0.5, 1.0]]}
    track = phone_label_track(row, len(wav))
    sampler = SegmentSampler([wav], segment=sr, labels=[track], hop=hop)
    _, labels = sampler.batch(0, 1)
    centres = (np.arange(50) * hop + hop // 2) / sr
    from speechtok.data.phones import phone_id

    expect = [phone_id("SIL") if c < 0.25 else phone_id("AA") if c < 0.5 else phone_id("B") for c in centres]
    assert labels[0].tolist() == expect
