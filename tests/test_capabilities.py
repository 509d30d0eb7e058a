"""What a tokenizer can do is part of the `Tokenizer` interface: streaming, bitrates, codebooks."""

from __future__ import annotations

import numpy as np
import pytest

import speechtok
from speechtok.errors import SpeechtokError, StreamingUnsupported, UsageError


def test_streaming_is_asked_of_the_tokenizer_and_refused_in_words():
    assert speechtok.load("opus@6kbps").can_stream
    assert speechtok.load("speechtok-fast").can_stream
    c2 = speechtok.load("codec2@3200")
    assert not c2.can_stream and c2.latency_seconds is None
    with pytest.raises(StreamingUnsupported, match="codec2@3200 cannot stream"):
        c2.open_stream()
    sem = speechtok.load("speechtok-semantic")
    assert not sem.can_stream and sem.latency_seconds is None
    with pytest.raises(StreamingUnsupported, match="phone teacher"):
        sem.open_stream()


def test_bitrates_and_fewer_codebooks_of_a_shipped_model():
    full = speechtok.load("speechtok-fast")
    assert full.bitrates == [0.9, 1.45, 2.0]
    low = full.with_bitrate(1.45)
    ref = speechtok.load("speechtok-fast@1.45kbps")
    assert (low.name, low.version, low.model_id, low.codebook_sizes) == (ref.name, ref.version, ref.model_id, ref.codebook_sizes)
    wav = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    assert np.array_equal(low.encode(wav, 16000).codes, ref.encode(wav, 16000).codes)
    assert low.with_bitrate(2.0).name == "speechtok-fast" and full.with_bitrate(2) is full
    assert low.with_codebooks(2).name == "speechtok-fast@0.9kbps"
    with pytest.raises(SpeechtokError, match="offers 0.9, 1.45, 2 kbps"):
        full.with_bitrate(1.6)
    with pytest.raises(SpeechtokError, match="2..4"):
        full.with_codebooks(1)  # the pitch stream alone is not a rate
    ll = speechtok.load("speechtok-fast+lowlatency@0.9kbps").with_bitrate(2)
    ref = speechtok.load("speechtok-fast+lowlatency")
    assert (ll.name, ll.version, ll.latency) == (ref.name, ref.version, "low")


def test_a_tokenizer_with_one_rate_says_so():
    pcm = speechtok.load("pcm16")
    assert pcm.bitrates == [256.0] and pcm.with_bitrate(256) is pcm and pcm.with_codebooks(2) is pcm
    with pytest.raises(SpeechtokError, match="offers 256 kbps"):
        pcm.with_bitrate(128)
    with pytest.raises(UsageError, match="one bitrate"):
        pcm.with_codebooks(1)


def test_no_capability_is_found_by_probing_attributes():
    """Serve, bench, corpus and lm ask the interface; no tokenizer switches a method off."""
    import re
    from pathlib import Path

    root = Path(speechtok.__file__).parent
    for p in root.rglob("*.py"):
        text = p.read_text()
        assert "open_stream = None" not in text, p
        if p.parts[-2] in ("serve", "eval", "corpus", "lm", "cli"):
            for probe in (r'getattr\(tok, "', r"\btok\.codec\.", r"\.cfg\.causal"):
                assert not re.search(probe, text), (p, probe)
