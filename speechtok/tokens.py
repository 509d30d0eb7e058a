"""`Tokens`: the value every tokenizer produces, and its file format.

File format (``.stok``), version 2, all integers little-endian::

    magic      8 bytes   b"SPEECHTK"
    version    uint16    file-format version (2; version 1 files are read too)
    hlen       uint32    length of the JSON header in bytes
    header     hlen      UTF-8 JSON: tokenizer, tokenizer_version, model_id, frame_rate,
                         codebook_sizes, num_samples, sample_rate, dtype, shape, extra
    codes      ...       C-order array of ``dtype`` with ``shape`` = [codebooks, frames]
    crc32      uint32    CRC-32 of header + codes

``model_id`` identifies the exact trained model that made the codes (a short hash of its weights;
null for tokenizers without trained weights, such as Opus): two runs of one config share a name but
not a model id, and a decoder refuses codes from another model. Version 1 files have no model id.

Nothing is unpickled; every field is checked on load.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import TokensFileError

MAGIC = b"SPEECHTK"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
SUFFIX = ".stok"
_DTYPES = {"uint8": np.uint8, "uint16": np.uint16, "int32": np.int32}
MAX_SAMPLE_RATE = 1_000_000
MAX_CODEBOOK_SIZE = 2**31 - 1
MAX_HEADER_BYTES = 1 << 20  # a header is a few hundred bytes; a bigger one is not ours
#: frames the codes may differ from what ``num_samples`` implies (encoder lookahead, padding of
#: the last frame, analysis windows): this many, plus FRAMES_SLACK_REL of the expected count
FRAMES_SLACK, FRAMES_SLACK_REL = 4, 0.01


def _smallest_dtype(max_size: int):
    if max_size <= 256:
        return np.uint8
    if max_size <= 65536:
        return np.uint16
    return np.int32


@dataclass
class Tokens:
    """Integer codes ``[codebook, frame]`` and what is needed to interpret them.

    ``num_samples``/``sample_rate`` describe the audio the codes were made from, so a decoder can
    restore its exact length. ``extra`` holds small tokenizer-specific facts (JSON-serialisable).
    ``model_id`` is the id of the trained model that made the codes (None: no trained weights, or
    a file from before model ids).
    """

    codes: np.ndarray
    tokenizer: str
    tokenizer_version: str
    frame_rate: float
    codebook_sizes: tuple[int, ...]
    num_samples: int
    sample_rate: int
    extra: dict = field(default_factory=dict)
    model_id: str | None = None

    def __post_init__(self):
        self.codes = np.asarray(self.codes)
        if self.codes.ndim != 2:
            raise ValueError(f"codes must be [codebook, frame], got shape {self.codes.shape}")
        self.codebook_sizes = tuple(int(s) for s in self.codebook_sizes)
        self.validate()

    # ---- facts -------------------------------------------------------------------------
    @property
    def num_codebooks(self) -> int:
        return int(self.codes.shape[0])

    @property
    def num_frames(self) -> int:
        return int(self.codes.shape[1])

    @property
    def duration(self) -> float:
        """Seconds of the original audio."""
        return self.num_samples / self.sample_rate

    @property
    def bits(self) -> float:
        """Bits needed to store the codes at their codebook sizes (no entropy coding); for a
        variable-rate tokenizer that records it (``extra["payload_bits"]``, e.g. Opus VBR, whose
        padding after each packet is not sent), the bits the codes actually carry."""
        if "payload_bits" in self.extra:
            return float(self.extra["payload_bits"])
        return float(self.num_frames * sum(math.log2(s) for s in self.codebook_sizes))

    @property
    def bitrate(self) -> float:
        """Measured bits per second of audio, from the codes actually produced."""
        return self.bits / self.duration if self.duration > 0 else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.codes.size / self.duration if self.duration > 0 else 0.0

    def validate(self, where: str = "") -> None:
        w = f"{where}: " if where else ""
        if len(self.codebook_sizes) != self.codes.shape[0]:
            raise TokensFileError(
                f"{w}{self.codes.shape[0]} codebooks in codes but {len(self.codebook_sizes)} codebook sizes"
            )
        if self.codes.dtype.kind not in "iu":
            raise TokensFileError(f"{w}codes must be integers, got {self.codes.dtype}")
        if self.codes.size:
            lo = self.codes.min(axis=1)
            hi = self.codes.max(axis=1)
            for k, size in enumerate(self.codebook_sizes):
                if lo[k] < 0 or hi[k] >= size:
                    raise TokensFileError(
                        f"{w}codebook {k} has codes in [{lo[k]}, {hi[k]}], outside its size {size}"
                    )
        if self.num_samples < 0 or self.sample_rate <= 0 or not self.frame_rate > 0:
            raise TokensFileError(f"{w}bad num_samples/sample_rate/frame_rate")
        if self.sample_rate > MAX_SAMPLE_RATE or not self.frame_rate <= MAX_SAMPLE_RATE:
            raise TokensFileError(f"{w}sample_rate {self.sample_rate} / frame_rate {self.frame_rate:g} above {MAX_SAMPLE_RATE} Hz")
        if any(s < 1 or s > MAX_CODEBOOK_SIZE for s in self.codebook_sizes):
            raise TokensFileError(f"{w}codebook sizes must be from 1 to {MAX_CODEBOOK_SIZE}, got {list(self.codebook_sizes)}")
        payload = self.extra.get("payload_bits") if isinstance(self.extra, dict) else None
        if payload is not None and (isinstance(payload, bool) or not isinstance(payload, int) or payload < 0):
            raise TokensFileError(f"{w}extra.payload_bits must be a whole number of bits >= 0, got {payload!r}")

    def check_length(self, frame_rate: float | None = None) -> None:
        """The header's ``num_samples`` against the codes: about ``num_frames / frame_rate``
        seconds (``frame_rate``: the decoder's; default the header's own). Called before a decoder
        allocates ``num_samples`` of audio, so a header claiming hours for a second of codes (a
        damaged or hand-made file) is refused instead of exhausting memory."""
        rate = frame_rate or self.frame_rate
        expected = self.num_samples / self.sample_rate * rate
        slack = FRAMES_SLACK + FRAMES_SLACK_REL * expected
        if abs(self.num_frames - expected) > slack:
            raise TokensFileError(
                f"inconsistent header: {self.num_frames} frames at {rate:g} Hz are {self.num_frames / rate:.2f} s, "
                f"but num_samples says {self.duration:.2f} s ({self.num_samples} samples at {self.sample_rate} Hz)"
            )

    def __eq__(self, other) -> bool:
        if not isinstance(other, Tokens):
            return NotImplemented
        return (
            np.array_equal(self.codes, other.codes)
            and self.header() == other.header()
        )

    # ---- serialisation -----------------------------------------------------------------
    def header(self) -> dict:
        return {
            "tokenizer": self.tokenizer,
            "tokenizer_version": self.tokenizer_version,
            "model_id": self.model_id,
            "frame_rate": float(self.frame_rate),
            "codebook_sizes": list(self.codebook_sizes),
            "num_samples": int(self.num_samples),
            "sample_rate": int(self.sample_rate),
            "extra": self.extra,
        }

    def to_bytes(self) -> bytes:
        dtype = _smallest_dtype(max(self.codebook_sizes) if self.codebook_sizes else 1)
        codes = np.ascontiguousarray(self.codes.astype(dtype).astype(np.dtype(dtype).newbyteorder("<")))
        head = self.header() | {"dtype": np.dtype(dtype).name, "shape": list(codes.shape)}
        hbytes = json.dumps(head, sort_keys=True).encode("utf-8")
        body = hbytes + codes.tobytes()
        return MAGIC + struct.pack("<HI", FORMAT_VERSION, len(hbytes)) + body + struct.pack("<I", zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "<bytes>") -> "Tokens":
        if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
            raise TokensFileError(f"{where}: not a speechtok token file (bad magic)")
        pre = len(MAGIC) + 6
        if len(data) < pre:
            raise TokensFileError(f"{where}: truncated token file (header cut off)")
        version, hlen = struct.unpack("<HI", data[len(MAGIC) : pre])
        if version not in READABLE_VERSIONS:
            raise TokensFileError(
                f"{where}: unknown token-file version {version} (this speechtok reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))}; a newer speechtok wrote it?)"
            )
        if len(data) < pre + hlen + 4:
            raise TokensFileError(f"{where}: truncated token file (header cut off)")
        if hlen > MAX_HEADER_BYTES:
            raise TokensFileError(f"{where}: corrupt token-file header ({hlen} bytes; a header is at most {MAX_HEADER_BYTES})")
        try:
            head = json.loads(data[pre : pre + hlen].decode("utf-8"))
            if not isinstance(head, dict):
                raise ValueError("the header is not a JSON object")
            dtype = _DTYPES[head["dtype"]]
            shape = tuple(int(x) for x in head["shape"])
            if len(shape) != 2 or min(shape) < 0:
                raise ValueError(f"bad shape {shape}")
        except RecursionError:
            raise TokensFileError(f"{where}: corrupt token-file header (JSON nested too deeply)") from None
        except (ValueError, KeyError, TypeError, UnicodeDecodeError, OverflowError) as e:
            raise TokensFileError(f"{where}: corrupt token-file header ({e})") from None
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        end = pre + hlen + nbytes
        if len(data) < end + 4:
            raise TokensFileError(
                f"{where}: truncated token file (expected {end + 4} bytes, found {len(data)})"
            )
        if len(data) > end + 4:
            raise TokensFileError(f"{where}: {len(data) - end - 4} unexpected bytes after the codes")
        (crc,) = struct.unpack("<I", data[end : end + 4])
        if zlib.crc32(data[len(MAGIC) + 6 : end]) != crc:
            raise TokensFileError(f"{where}: checksum mismatch, the file is corrupt")
        codes = np.frombuffer(data[pre + hlen : end], dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
        try:
            tokens = cls(
                codes=codes.astype(np.int64),
                tokenizer=str(head["tokenizer"]),
                tokenizer_version=str(head["tokenizer_version"]),
                frame_rate=float(head["frame_rate"]),
                codebook_sizes=tuple(head["codebook_sizes"]),
                num_samples=int(head["num_samples"]),
                sample_rate=int(head["sample_rate"]),
                extra=dict(head.get("extra") or {}),
                model_id=None if head.get("model_id") is None else str(head["model_id"]),
            )
        except TokensFileError as e:
            raise TokensFileError(f"{where}: {e}") from None
        except (KeyError, TypeError, ValueError, OverflowError) as e:
            raise TokensFileError(f"{where}: corrupt token-file header ({e})") from None
        return tokens

    def save(self, path: str | os.PathLike) -> Path:
        """Write atomically (temporary name, then rename). Returns the path written."""
        from .fsutil import write_atomic

        data = self.to_bytes()
        return write_atomic(path, lambda tmp: tmp.write_bytes(data))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Tokens":
        p = Path(path)
        if not p.exists():
            raise TokensFileError(f"{p}: no such file")
        if p.is_dir():
            raise TokensFileError(f"{p}: is a folder, not a token file")
        return cls.from_bytes(p.read_bytes(), where=str(p))
