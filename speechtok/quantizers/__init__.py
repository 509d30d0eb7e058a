"""Vector quantizers of feature vectors, behind one small interface (``base.VectorQuantizer``).

Each is fitted on ``(N, D)`` vectors and turns them into ``(codebooks, N)`` integer codes and back:

``kmeans``  one k-means codebook (plain VQ).
``rkm``     residual k-means: stage ``k`` fitted on what stages ``< k`` left (the source-filter
            codec's quantizer; every prefix of stages works).
``mcrvq``   Language-Codec's masked-channel RVQ: the first stages each see only a subset of the
            channels, the later ones the residual of all.
``lfq``     lookup-free quantization (MAGVIT-v2): the sign of each of ``bits`` projections.
``bsq``     binary spherical quantization: project, normalise to the unit sphere, binarise,
            scale by ``1/sqrt(bits)``.
``se``      SECodec-style codebooks: a k-NN graph over the vectors partitioned by greedily
            minimising its two-level structural entropy; the parts' centroids are the codebook.

``build(name, bits, **options)`` makes one for a bit budget per vector; ``code_usage`` measures
how a set of codes fills the codebooks. See docs/quantizers.md.
"""

from __future__ import annotations

from .base import VectorQuantizer, code_usage
from .binary import BSQ, LFQ
from .kmeans import KMeansVQ, MaskedResidualVQ, ResidualKMeansVQ, contiguous_masks
from .structural import SEQuantizer, knn_graph, partition_structural_entropy, structural_entropy

QUANTIZERS = {"kmeans": KMeansVQ, "rkm": ResidualKMeansVQ, "mcrvq": MaskedResidualVQ,
              "lfq": LFQ, "bsq": BSQ, "se": SEQuantizer}


def save(q: VectorQuantizer, path, meta: dict | None = None) -> None:
    """Write a fitted quantizer to one safetensors file (atomically): its tensors, its class and
    constructor options, and ``meta`` (JSON values) in the header."""
    import json
    from pathlib import Path

    from safetensors.torch import save_file

    name = next((k for k, cls in QUANTIZERS.items() if type(q) is cls), None)
    if name is None:
        raise ValueError(f"{type(q).__name__} is not one of the registered quantizers {sorted(QUANTIZERS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(q.state(), str(tmp), metadata={"quantizer": name, "config": json.dumps(q.config()),
                                             "meta": json.dumps(meta or {})})
    tmp.chmod(0o644)
    tmp.replace(path)


def load(path) -> tuple[VectorQuantizer, dict]:
    """``(quantizer, meta)`` from a file written by ``save``; a file that is not one is a
    ``ValueError`` naming it."""
    import json

    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as f:
            header = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for a damaged file
        raise ValueError(f"{path}: not a saved quantizer ({type(e).__name__}: {e})") from e
    if header.get("quantizer") not in QUANTIZERS:
        raise ValueError(f"{path}: not a saved quantizer (no known 'quantizer' in its header)")
    q = QUANTIZERS[header["quantizer"]](**json.loads(header["config"]))
    return q.load_state(state), json.loads(header.get("meta", "{}"))


def build(name: str, bits: int, codebook_bits: int = 11, **options) -> VectorQuantizer:
    """A quantizer spending ``bits`` per vector. Codebook quantizers (``rkm``, ``mcrvq``, ``se``)
    get ``bits // codebook_bits`` stages of ``2**codebook_bits`` codewords; ``kmeans`` one codebook
    of ``2**bits``; ``lfq`` / ``bsq`` ``bits`` binary dimensions."""
    if name not in QUANTIZERS:
        raise ValueError(f"unknown quantizer {name!r}; one of {sorted(QUANTIZERS)}")
    if name == "kmeans":
        return KMeansVQ(2**bits, **options)
    if name in ("lfq", "bsq"):
        return QUANTIZERS[name](bits, group_bits=codebook_bits, **options)
    if bits % codebook_bits:
        raise ValueError(f"{name} spends whole codebooks of {codebook_bits} bits; {bits} bits is not a multiple")
    return QUANTIZERS[name](2**codebook_bits, bits // codebook_bits, **options)


__all__ = ["BSQ", "KMeansVQ", "LFQ", "MaskedResidualVQ", "QUANTIZERS", "ResidualKMeansVQ", "SEQuantizer",
           "VectorQuantizer", "build", "code_usage", "load", "save", "contiguous_masks", "knn_graph",
           "partition_structural_entropy", "structural_entropy"]
