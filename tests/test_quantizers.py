"""speechtok.quantizers: round trips and code usage where the answer is known, and the
structural-entropy partition on graphs with a known optimum."""

import math

import numpy as np
import pytest
import torch

from speechtok.codec.sourcefilter.quantize import ResidualKMeans
from speechtok.quantizers import (BSQ, LFQ, KMeansVQ, MaskedResidualVQ, ResidualKMeansVQ, SEQuantizer, build,
                                  code_usage, contiguous_masks, partition_structural_entropy, structural_entropy)
from speechtok.quantizers.structural import _merge_delta


def clusters(n_clusters=8, per=60, dim=6, spread=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_clusters, dim, generator=g) * 10
    labels = torch.arange(n_clusters).repeat_interleave(per)
    return centres[labels] + spread * torch.randn(len(labels), dim, generator=g), labels, centres


def same_partition(codes: torch.Tensor, labels: torch.Tensor) -> bool:
    """codes and labels name the same groups (up to renaming)."""
    pairs = set(zip(codes.tolist(), labels.tolist()))
    return len(pairs) == len(set(codes.tolist())) == len(set(labels.tolist()))


def sign_data(d=4, n=2000, extra=3, noise=0.05, seed=0):
    """x = sum_i s_i * scale_i * a_i + noise: every one of the 2**d sign patterns s, on orthogonal a_i."""
    g = torch.Generator().manual_seed(seed)
    s = torch.randint(0, 2, (n, d), generator=g).float() * 2 - 1
    a, _ = torch.linalg.qr(torch.randn(d + extra, d + extra, generator=g))
    scales = torch.linspace(3, 1.5, d)
    x = (s * scales) @ a[:, :d].T + noise * torch.randn(n, d + extra, generator=g) + 5.0
    return x, s


def pattern_ids(s: torch.Tensor) -> torch.Tensor:
    return ((s > 0).long() << torch.arange(s.shape[1])).sum(1)


def test_kmeans_recovers_separated_clusters():
    x, labels, centres = clusters()
    q = KMeansVQ(8).fit(x)
    codes = q.encode(x)
    assert codes.shape == (1, len(x)) and q.codebook_sizes == (8,) and q.bits == 3
    assert same_partition(codes[0], labels)
    assert float(((q.decode(codes) - x) ** 2).mean()) < 0.01
    usage = code_usage(codes, q.codebook_sizes)[0]
    assert usage["used"] == 1.0 and usage["perplexity"] == pytest.approx(8, rel=1e-6)


def test_residual_kmeans_matches_the_codec_and_every_prefix_works():
    x = torch.randn(3000, 5, generator=torch.Generator().manual_seed(1))
    ours = ResidualKMeansVQ(16, 3, iters=5).fit(x, seed=3)
    codec = ResidualKMeans(5, 16, 3)
    codec.fit(x, iters=5, seed=3)
    assert torch.equal(torch.stack(ours.codebooks), codec.codebooks)
    assert torch.equal(ours.encode(x), codec.encode(x))
    errors = [float(((ours.decode(ours.encode(x, k)) - x) ** 2).mean()) for k in (1, 2, 3)]
    assert errors[0] > errors[1] > errors[2]
    sized = ResidualKMeansVQ([8, 4], 2, iters=5).fit(x)
    assert sized.codebook_sizes == (8, 4) and sized.bits == 5
    assert int(sized.encode(x)[1].max()) < 4


def test_masked_residual_vq_codes_its_channel_groups_first():
    # two channel groups, each taking one of 4 values: two masked stages of 4 codes are exact
    g = torch.Generator().manual_seed(2)
    levels = torch.tensor([-3.0, -1.0, 1.0, 3.0])
    a, b = levels[torch.randint(4, (1000,), generator=g)], levels[torch.randint(4, (1000,), generator=g)]
    x = torch.stack([a, a, b, b], 1)
    q = MaskedResidualVQ(4, stages=3, masked=2, iters=10).fit(x)
    masks = contiguous_masks(4, 2)
    assert torch.equal(q.masks[0], masks[0]) and torch.equal(q.masks[1], masks[1]) and q.masks[2] is None
    assert torch.all(q.codebooks[0][:, ~masks[0]] == 0) and torch.all(q.codebooks[1][:, ~masks[1]] == 0)
    assert torch.allclose(q.decode(q.encode(x, 2)), x, atol=1e-5)
    assert torch.allclose(q.decode(q.encode(x, 1))[:, :2], x[:, :2], atol=1e-5)


@pytest.mark.parametrize("cls", [LFQ, BSQ])
@pytest.mark.parametrize("projection", ["pca", "itq"])
def test_binary_quantizers_recover_sign_patterns(cls, projection):
    x, s = sign_data()
    q = cls(4, projection=projection).fit(x)
    codes = q.encode(x)
    assert codes.shape == (1, len(x)) and q.codebook_sizes == (16,)
    assert same_partition(codes[0], pattern_ids(s))  # one code per sign pattern
    assert float(((q.decode(codes) - x) ** 2).mean()) < 0.01
    assert torch.equal(q.encode(q.decode(codes)), codes)  # decoding lands inside its own cell
    usage = code_usage(codes, q.codebook_sizes)[0]
    assert usage["used"] == 1.0 and usage["perplexity"] > 15.5


@pytest.mark.parametrize("cls", [LFQ, BSQ])
def test_binary_quantizers_train_and_group_bits(cls):
    x, s = sign_data(d=6)
    q = cls(6, group_bits=4, train_steps=30, batch=256).fit(x)
    assert q.codebook_sizes == (16, 4) and q.bits == 6
    codes = q.encode(x)
    assert codes.shape == (2, len(x)) and int(codes[0].max()) < 16 and int(codes[1].max()) < 4
    assert same_partition(codes[0] + 16 * codes[1], pattern_ids(s))
    with pytest.raises(ValueError, match="all 2 codebooks"):
        q.encode(x, 1)


def test_bsq_and_lfq_code_alike_on_one_projection():
    x, _ = sign_data()
    lfq, bsq = LFQ(4).fit(x), BSQ(4).fit(x)
    assert torch.equal(lfq.encode(x), bsq.encode(x))
    assert torch.allclose(lfq.decode(lfq.encode(x)), bsq.decode(bsq.encode(x)), atol=1e-4)


def cliques(sizes=(5, 5, 5), bridges=((4, 5), (9, 10))):
    edges, start = [], 0
    for n in sizes:
        edges += [(a, b) for a in range(start, start + n) for b in range(a + 1, start + n)]
        start += n
    i, j = np.array(edges + list(bridges)).T
    return start, i, j, np.ones(len(i))


def test_structural_entropy_partition_finds_the_cliques():
    n, i, j, w = cliques()
    labels, info = partition_structural_entropy(n, i, j, w)
    truth = np.repeat(np.arange(3), 5)
    assert same_partition(torch.from_numpy(labels), torch.from_numpy(truth))
    assert info["natural_parts"] == 3 and info["forced_merges"] == 0
    h = structural_entropy(n, i, j, w, labels)
    # the cliques beat one module, singletons, and every partition one node move away
    assert h < structural_entropy(n, i, j, w, np.zeros(n, int)) - 0.5
    assert h < structural_entropy(n, i, j, w, np.arange(n)) - 0.5
    for v in range(n):
        for k in range(3):
            if k != truth[v]:
                moved = truth.copy()
                moved[v] = k
                assert h < structural_entropy(n, i, j, w, moved)


def test_structural_entropy_partition_unequal_cliques_and_a_cap():
    n, i, j, w = cliques((6, 4, 8), ((0, 6), (7, 10), (3, 12)))
    labels, _ = partition_structural_entropy(n, i, j, w)
    assert same_partition(torch.from_numpy(labels), torch.from_numpy(np.repeat(np.arange(3), [6, 4, 8])))
    capped, info = partition_structural_entropy(n, i, j, w, max_parts=2)
    assert info["parts"] == 2 and info["forced_merges"] == 1 and info["natural_parts"] == 3
    assert len(set(zip(labels.tolist(), capped.tolist()))) == 3  # two cliques merged, none split


def test_merge_delta_is_the_entropy_change():
    rng = np.random.default_rng(0)
    n = 12
    i, j = np.triu_indices(n, 1)
    keep = rng.random(len(i)) < 0.5
    i, j, w = i[keep], j[keep], rng.random(keep.sum()) + 0.1
    labels = rng.integers(0, 4, n)
    a, b = 0, 1
    deg = np.bincount(i, w, n) + np.bincount(j, w, n)
    vol = np.bincount(labels, deg, 4)
    cross = labels[i] != labels[j]
    cut = np.bincount(labels[i][cross], w[cross], 4) + np.bincount(labels[j][cross], w[cross], 4)
    wab = w[((labels[i] == a) & (labels[j] == b)) | ((labels[i] == b) & (labels[j] == a))].sum()
    merged = np.where(labels == b, a, labels)
    expect = structural_entropy(n, i, j, w, merged) - structural_entropy(n, i, j, w, labels)
    assert _merge_delta(vol[a], vol[b], cut[a], cut[b], wab, deg.sum()) == pytest.approx(expect, abs=1e-9)


@pytest.mark.parametrize("rule", ["nearest", "graph"])
def test_se_quantizer_recovers_separated_clusters(rule):
    x, labels, _ = clusters(n_clusters=6, per=20)  # k=10 of 20: each cluster nearly a clique
    q = SEQuantizer(codebook_size=64, graph_size=10_000, k=10, encode=rule).fit(x)
    assert q.codebook_sizes == (6,) and q.info[0]["natural_parts"] == 6
    codes = q.encode(x)
    assert same_partition(codes[0], labels)
    assert float(((q.decode(codes) - x) ** 2).mean()) < 0.01
    assert q.bits == pytest.approx(math.log2(6))


def test_se_quantizer_residual_stages_lower_the_error():
    x = torch.randn(1500, 4, generator=torch.Generator().manual_seed(4))
    q = SEQuantizer(codebook_size=64, stages=2, graph_size=800, k=8).fit(x)
    assert len(q.codebook_sizes) == 2 and max(q.codebook_sizes) <= 64
    e1 = float(((q.decode(q.encode(x, 1)) - x) ** 2).mean())
    e2 = float(((q.decode(q.encode(x, 2)) - x) ** 2).mean())
    assert e2 < e1 < float(x.var(0).sum() / 4)


def test_build_spends_the_bits_asked():
    assert build("rkm", 33).codebook_sizes == (2048,) * 3
    assert build("mcrvq", 22).codebook_sizes == (2048,) * 2
    assert build("kmeans", 11).codebook_sizes == (2048,)
    assert build("lfq", 22).codebook_sizes == (2048,) * 2 and build("bsq", 12).codebook_sizes == (2048, 2)
    assert build("se", 11).codebook_size == 2048
    with pytest.raises(ValueError, match="multiple"):
        build("rkm", 12)
    with pytest.raises(ValueError, match="unknown quantizer"):
        build("pq", 11)


def test_code_usage_counts():
    usage = code_usage(torch.tensor([[0, 0, 1, 1], [3, 3, 3, 3]]), (4, 4))
    assert usage[0]["used"] == 0.5 and usage[0]["perplexity"] == pytest.approx(2)
    assert usage[1]["entropy_bits"] == pytest.approx(0) and usage[1]["perplexity"] == pytest.approx(1)


def test_structural_entropy_partition_stops_at_min_parts():
    n, i, j, w = cliques()
    labels, info = partition_structural_entropy(n, i, j, w, min_parts=6)
    assert info["parts"] == 6 and info["natural_parts"] is None
    full, _ = partition_structural_entropy(n, i, j, w)
    assert len(set(zip(full.tolist(), labels.tolist()))) == 6  # a refinement of the cliques
