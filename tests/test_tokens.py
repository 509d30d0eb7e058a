"""The Tokens value and its .stok file: round trips and every validation error."""

from __future__ import annotations

import dataclasses
import json
import struct
import zlib

import numpy as np
import pytest

from speechtok import Tokens, TokensFileError
from speechtok.tokens import FORMAT_VERSION, MAGIC


def make_tokens(sizes=(256, 256, 16), frames=50, seed=0, **kw) -> Tokens:
    rng = np.random.default_rng(seed)
    codes = np.stack([rng.integers(0, s, frames) for s in sizes]) if sizes else np.zeros((0, frames), int)
    fields = dict(tokenizer="test@1", tokenizer_version="1.0", frame_rate=25.0, codebook_sizes=sizes,
                  num_samples=32000, sample_rate=16000, extra={"note": "é"})
    return Tokens(codes=codes, **(fields | kw))


def raw_file(header: dict, codes: bytes, version: int = FORMAT_VERSION) -> bytes:
    """A .stok file written by hand (valid checksum), to test what the loader checks."""
    h = json.dumps(header).encode()
    body = h + codes
    return MAGIC + struct.pack("<HI", version, len(h)) + body + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize("sizes", [(256, 256, 16), (1024, 1024), (100_000,), (2,)])
def test_save_load_round_trip(tmp_path, sizes):
    t = make_tokens(sizes)
    path = t.save(tmp_path / "sub" / "x.stok")
    back = Tokens.load(path)
    assert back == t
    assert back.codes.dtype == np.int64 and back.extra == {"note": "é"}
    assert [p.name for p in path.parent.iterdir()] == ["x.stok"]  # no temporary file left


def test_zero_frames_round_trip(tmp_path):
    t = make_tokens(frames=0, num_samples=0)
    assert Tokens.load(t.save(tmp_path / "e.stok")) == t


def test_file_uses_smallest_dtype():
    assert len(make_tokens((256,), frames=1000).to_bytes()) < len(make_tokens((257,), frames=1000).to_bytes())


def test_facts():
    t = make_tokens((256, 16), frames=50)  # 2 s of audio
    assert t.duration == 2.0
    assert t.bits == 50 * (8 + 4)
    assert t.bitrate == 50 * 12 / 2.0
    assert t.tokens_per_second == 50.0


@pytest.mark.parametrize("data", [b"", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"hello world, not tokens"])
def test_foreign_file(tmp_path, data):
    p = tmp_path / "foreign.stok"
    p.write_bytes(data)
    with pytest.raises(TokensFileError, match=r"foreign\.stok: not a speechtok token file"):
        Tokens.load(p)


def test_unknown_version(tmp_path):
    data = bytearray(make_tokens().to_bytes())
    data[len(MAGIC) : len(MAGIC) + 2] = struct.pack("<H", FORMAT_VERSION + 6)
    p = tmp_path / "v.stok"
    p.write_bytes(bytes(data))
    with pytest.raises(TokensFileError, match=f"v.stok: unknown token-file version {FORMAT_VERSION + 6}"):
        Tokens.load(p)


def test_truncated_anywhere(tmp_path):
    data = make_tokens().to_bytes()
    p = tmp_path / "t.stok"
    for cut in (len(MAGIC) + 3, len(MAGIC) + 20, len(data) // 2, len(data) - 1):
        p.write_bytes(data[:cut])
        with pytest.raises(TokensFileError, match="t.stok: truncated"):
            Tokens.load(p)


def test_trailing_bytes(tmp_path):
    p = tmp_path / "long.stok"
    p.write_bytes(make_tokens().to_bytes() + b"\0")
    with pytest.raises(TokensFileError, match="unexpected bytes"):
        Tokens.load(p)


def test_checksum(tmp_path):
    data = bytearray(make_tokens().to_bytes())
    data[-10] ^= 0x01  # one bit of the codes
    p = tmp_path / "c.stok"
    p.write_bytes(bytes(data))
    with pytest.raises(TokensFileError, match="c.stok: checksum mismatch"):
        Tokens.load(p)


def _header(**kw):
    return {"tokenizer": "x", "tokenizer_version": "1", "frame_rate": 50.0, "codebook_sizes": [16, 16],
            "num_samples": 640, "sample_rate": 16000, "extra": {}, "dtype": "uint8", "shape": [2, 2]} | kw


def test_codes_outside_codebook_in_file(tmp_path):
    p = tmp_path / "o.stok"
    p.write_bytes(raw_file(_header(), bytes([1, 2, 3, 200])))  # 200 >= 16 in codebook 1
    with pytest.raises(TokensFileError, match=r"o.stok: codebook 1 has codes in \[3, 200\], outside its size 16"):
        Tokens.load(p)


def test_codes_outside_codebook_in_memory():
    t = make_tokens((256,))
    for bad in ([[0, 256]], [[-1, 0]]):
        with pytest.raises(TokensFileError, match="codebook 0 has codes in .* outside its size 256"):
            dataclasses.replace(t, codes=np.array(bad))


def test_mismatched_codebook_count(tmp_path):
    p = tmp_path / "m.stok"
    p.write_bytes(raw_file(_header(codebook_sizes=[16, 16, 16]), bytes(4)))
    with pytest.raises(TokensFileError, match="m.stok: 2 codebooks in codes but 3 codebook sizes"):
        Tokens.load(p)


@pytest.mark.parametrize("change", [{"dtype": "float64"}, {"shape": [2]}, {"shape": [-1, 2]}, {"tokenizer": None}])
def test_corrupt_header(tmp_path, change):
    head = _header(**change)
    if change.get("tokenizer", 0) is None:
        del head["tokenizer"]
    p = tmp_path / "h.stok"
    p.write_bytes(raw_file(head, bytes(4)))
    with pytest.raises(TokensFileError, match="h.stok: corrupt token-file header"):
        Tokens.load(p)


def test_not_json_header(tmp_path):
    p = tmp_path / "j.stok"
    p.write_bytes(MAGIC + struct.pack("<HI", FORMAT_VERSION, 3) + b"{{{" + struct.pack("<I", zlib.crc32(b"{{{")))
    with pytest.raises(TokensFileError, match="corrupt token-file header"):
        Tokens.load(p)


def test_missing_and_folder(tmp_path):
    with pytest.raises(TokensFileError, match="nope.stok: no such file"):
        Tokens.load(tmp_path / "nope.stok")
    with pytest.raises(TokensFileError, match="is a folder"):
        Tokens.load(tmp_path)
