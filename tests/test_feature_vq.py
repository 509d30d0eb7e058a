"""Saved quantizers and the feature-VQ tokenizers (the papers' quantizers as LM-bench rows):
a quantizer written to disk gives the same codes back, and the tokenizers fitted on real speech
encode it into one id per frame within their budget."""

import math

import numpy as np
import pytest
import torch

import speechtok
from speechtok import quantizers as Q
from speechtok.errors import SpeechtokError
from speechtok.tokenizers import feature_vq as F


def blobs(n=1500, dim=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(12, dim, generator=g) * 4
    return centres[torch.randint(0, 12, (n,), generator=g)] + 0.3 * torch.randn(n, dim, generator=g)


@pytest.mark.parametrize("make", [
    lambda: Q.KMeansVQ(16, iters=5),
    lambda: Q.ResidualKMeansVQ(8, 2, iters=5),
    lambda: Q.MaskedResidualVQ(8, 2, masked=1, iters=5),
    lambda: Q.LFQ(5, group_bits=3, projection="itq", train_steps=20),
    lambda: Q.BSQ(5, group_bits=5, projection="pca"),
    lambda: Q.SEQuantizer(16, 2, graph_size=400, k=6, fill=True),
    lambda: Q.SEQuantizer(16, 1, graph_size=400, k=6, encode="graph"),
], ids=["kmeans", "rkm", "mcrvq", "lfq", "bsq", "se", "se-graph"])
def test_a_saved_quantizer_gives_the_same_codes(make, tmp_path):
    x, other = blobs(), blobs(seed=1)
    q = make().fit(x, seed=2)
    Q.save(q, tmp_path / "q.safetensors", {"note": "test"})
    back, meta = Q.load(tmp_path / "q.safetensors")
    assert type(back) is type(q) and meta == {"note": "test"}
    assert back.codebook_sizes == q.codebook_sizes
    assert torch.equal(back.encode(other), q.encode(other))
    assert torch.allclose(back.decode(q.encode(other)), q.decode(q.encode(other)))


def test_loading_something_else_names_the_file(tmp_path):
    bad = tmp_path / "notes.safetensors"
    bad.write_text("not a tensor file")
    with pytest.raises(ValueError, match="notes.safetensors"):
        Q.load(bad)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(ValueError, match="plain.safetensors: not a saved quantizer"):
        Q.load(tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="Odd is not one of the registered quantizers"):
        Q.save(type("Odd", (Q.KMeansVQ,), {})(4).fit(blobs()), tmp_path / "odd.safetensors")


@pytest.fixture(scope="module")
def fitted(speech_clips, tmp_path_factory):
    """Feature-VQ tokenizers at 6 bits fitted on three shipped clips, the fourth held out."""
    out = tmp_path_factory.mktemp("fvq")
    wavs = [w for _, w, _ in speech_clips]
    paths = {}
    for feat in ("mfcc", "fused"):
        for p in F.fit(wavs[:3], wavs[3:], feat, 50.0, ["rkm", "mcrvq", "bsq"], bits=6, out_dir=out, log=lambda s: None):
            paths[(feat, p.stem.rsplit("_", 1)[1])] = p
    return paths, wavs


def test_fitted_tokenizers_encode_one_id_per_frame_within_the_budget(fitted):
    paths, wavs = fitted
    held_out = wavs[3]
    for (feat, q), p in paths.items():
        tok = F.FeatureVQTokenizer(feat, 50.0, q[:-1], 6, path=p)
        assert tok.codebook_sizes == (64,) and tok.name == f"{feat}-vq@50hz:{q}"
        t = tok.encode(held_out, 16000)
        assert t.codes.shape == (1, math.ceil(len(held_out) / 320))
        assert t.codes.min() >= 0 and t.codes.max() < 64
        assert len(np.unique(t.codes)) > 8  # speech uses many codes, not one
        # the id is the stages' codes combined, first stage fastest
        codes = tok.quantizer.encode(tok.features(held_out))
        sizes = tok.quantizer.codebook_sizes
        expect = codes[0].numpy() + (codes[1].numpy() * sizes[0] if len(sizes) > 1 else 0)
        assert np.array_equal(t.codes[0], expect)
        report = tok.meta["report"]
        # held-out distortion below the features' variance: the codes carry information
        assert report["valid"]["mfcc_mse"] < report["valid"]["mfcc_var"]


def test_fused_features_carry_the_posteriors_at_the_mfcc_weight(fitted):
    paths, wavs = fitted
    tok = F.FeatureVQTokenizer("fused", 50.0, "mcrvq", 6, path=paths[("fused", "mcrvq6")])
    x = torch.cat([tok.features(w) for w in wavs[:3]])
    assert x.shape[1] == F.MFCC_DIM + 40
    # on the training clips each MFCC dim has unit variance and the posterior block as much in total
    assert float(x[:, : F.MFCC_DIM].var(0, correction=0).mean()) == pytest.approx(1.0, abs=0.02)
    assert float(x[:, F.MFCC_DIM:].var(0, correction=0).sum()) == pytest.approx(F.MFCC_DIM, rel=0.02)
    # masked-channel RVQ: the first stage only quantizes the posteriors (semantic first)
    first = tok.quantizer.codebooks[0]
    assert float(first[:, : F.MFCC_DIM].abs().max()) == 0.0 and float(first[:, F.MFCC_DIM:].abs().max()) > 0
    mfcc_tok = F.FeatureVQTokenizer("mfcc", 50.0, "mcrvq", 6, path=paths[("mfcc", "mcrvq6")])
    assert float(mfcc_tok.quantizer.codebooks[0][:, F.STATIC_CEPSTRA:].abs().max()) == 0.0


def test_names_resolve_to_the_shipped_fits_and_unfitted_ones_say_how():
    names = F.names()
    assert "mfcc-vq@50hz:bsq10" in names and "fused-vq@50hz:se10" in names
    from speechtok.tokenizers.registry import describe

    assert describe("fused-vq@50hz:lfq10")["codebook_sizes"] == [1024]
    tok = speechtok.load("mfcc-vq@50hz:rkm10")
    assert tok.codebook_sizes == (1024,) and tok.quantizer.codebook_sizes == (32, 32)
    with pytest.raises(SpeechtokError, match="python -m speechtok.tokenizers.feature_vq"):
        speechtok.load("mfcc-vq@50hz:bsq12")
    with pytest.raises(SpeechtokError, match="even number"):
        F.make_quantizer("kmeans", 7, 39, "mfcc")
    assert F.resolve("mfcc-kmeans@50hz:k500") is None
