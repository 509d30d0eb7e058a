"""The syllable decoder (speechtok/syllables/decoder.py): duration expansion, target warping,
a tiny decoder learning one clip, and the shipped decoder speaking the shipped English clip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechtok.syllables.codes import duration_code, duration_value
from speechtok.syllables.decoder import SyllableDecoder, collate, expand, syllable_frames, warp_targets


def _english_clip():
    from speechtok.audio import load_audio
    from speechtok.data import shipped_clips

    clip = next(c for c in shipped_clips() if c.language.startswith("en"))
    wav, sr = load_audio(clip.path, 16000)
    return np.asarray(wav, np.float32)


def test_syllable_frames_by_hand():
    # codes 0, 15 and 8 stand for 20 ms, 1 s and 20 ms * 50 ** (8/15) = 161 ms
    assert duration_value([0, 15]) == pytest.approx([0.02, 1.0])
    codes = np.array([0, 15, 8])
    d = syllable_frames(codes)  # at 50 Hz: 1, 50, 8.06 -> ends 1, 51, 59.06 -> 1, 50, 8
    assert d.tolist() == [1, 50, 8]
    # rescaled to an audio length of 118 frames: the ends double (2, 102, 118.1 -> 118)
    d2 = syllable_frames(codes, 118)
    assert d2.sum() == 118 and d2.tolist() == [2, 100, 16]
    # cumulative rounding never drifts: 100 tokens of 30 ms code sum to the total exactly
    many = syllable_frames(duration_code(np.full(100, 0.03)), 157)
    assert many.sum() == 157 and set(many.tolist()) <= {1, 2}
    assert syllable_frames(np.zeros(0, np.int64), 10).tolist() == []


def test_expand_and_positions():
    h = torch.tensor([[[1.0], [2.0], [3.0]]])
    x, pos = expand(h, torch.tensor([[2, 0, 3]]), 6)
    assert x[0, :, 0].tolist() == [1, 1, 3, 3, 3, 0]  # a 0-frame token takes no frame; zeros after the end
    assert pos[0, :5, 0].tolist() == pytest.approx([0.25, 0.75, 1 / 6, 0.5, 5 / 6])
    assert pos[0, 2, 1].item() == pytest.approx(np.log(3))
    assert pos[0, 5].tolist() == [0, 0]


def test_warp_targets_maps_each_token_onto_its_frames():
    # 1 s of frames whose value is the frame's time; two tokens 0-0.3 s and 0.3-1.0 s warped to 10 + 40 frames
    frames = ((np.arange(50) + 0.5) / 50)[:, None].astype(np.float32)
    w = warp_targets(frames, [(0.0, 0.3, False), (0.3, 1.0, False)], np.array([10, 40]))
    assert w.shape == (50, 1)
    assert w[:10, 0] == pytest.approx(0.3 * (np.arange(10) + 0.5) / 10, abs=1e-5)
    want = 0.3 + 0.7 * (np.arange(40) + 0.5) / 40
    assert w[10:-1, 0] == pytest.approx(want[:-1], abs=1e-5)
    assert w[-1, 0] == pytest.approx(0.99)  # past the last frame's centre: held at it


def test_tiny_decoder_learns_one_clip():
    import speechtok
    from speechtok.codec.catalogue import resolve
    from speechtok.tts.data import frame_targets

    torch.manual_seed(0)
    wav = _english_clip()
    codes, spans = speechtok.load("syllables").codes_and_spans(wav)
    target = frame_targets(resolve("speechtok-fast").codec, wav)
    dur = syllable_frames(codes[1], len(target))
    assert dur.sum() == len(target)
    y = warp_targets(target, spans, dur)
    mean, std = y.mean(0), y.std(0) + 1e-4
    tgt = torch.from_numpy((y - mean) / std)[None]
    model = SyllableDecoder(1025, 1, y.shape[1], hidden=32, token_layers=1, frame_layers=2, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = collate([(codes, 0, dur)])
    first = None
    for _ in range(40):
        out, fmask = model(*batch, len(y))
        assert out.shape == (1, len(y), y.shape[1]) and fmask.sum() == len(y)
        loss = ((out - tgt) ** 2).mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.7 * first


def test_shipped_decoder_speaks_the_english_clip():
    import speechtok
    from speechtok.errors import SpeechtokError

    tok = speechtok.load("syllables")
    if not tok.can_decode:
        pytest.skip("no trained syllable decoder in speechtok/assets/syllables")
    wav = _english_clip()
    tokens = tok.encode(wav, 16000)
    out, sr = tok.decode(tokens)
    assert sr == 16000 and out.dtype == np.float32 and len(out) == len(wav)
    assert np.isfinite(out).all()
    rms = float(np.sqrt(np.mean(out**2)))
    assert rms > 0.1 * float(np.sqrt(np.mean(wav**2))) and np.abs(out).max() <= 1.0 + 1e-6
    # another training voice gives other audio of the same length; an unknown one is refused
    other = next(s for s in tok.speakers if s != tok.speakers[0])
    out2, _ = tok.decode(tokens, speaker=other)
    assert len(out2) == len(out) and not np.allclose(out2, out)
    with pytest.raises(SpeechtokError, match="unknown speaker"):
        tok.decode(tokens, speaker="nobody")
