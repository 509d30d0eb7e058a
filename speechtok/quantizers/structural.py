"""SECodec-style codebooks: partition a k-NN graph of the vectors by structural entropy.

The two-level structural entropy of a weighted graph G under a partition P into modules X_j
(Li & Pan, 2016) is the average code length of a random walk's steps when each step names its
module (paid only when it enters another module) and its node within the module:

    H_P(G) = - sum_j [ sum_{v in X_j} d_v/V log2(d_v / vol_j) + g_j/V log2(vol_j / V) ]

with d_v the weighted degree, vol_j the sum of the degrees in X_j, g_j the weight of the edges
leaving X_j and V = vol(G). A good partition keeps walks inside modules (small g_j) without
making them large (log2(d_v / vol_j) grows with vol_j), so minimising it chooses the number of
modules as well as the modules.

``partition_structural_entropy`` minimises it greedily with the merge operator: start from
singletons and repeatedly merge the two connected modules whose merge lowers H_P the most, until
no merge lowers it (or, past that, while there are more than ``max_parts`` modules). SECodec
(Wang et al.) builds a graph over speech feature vectors, partitions it this way and takes the
modules' centroids as the codebook, one residual layer after another; a new vector is coded by
the module it would lower the entropy most by joining (``encode="graph"``) or, cheaper, by the
nearest centroid (``encode="nearest"``).
"""

from __future__ import annotations

import heapq
import math

import numpy as np
import torch

from ..dsp import nearest as _nearest
from .base import VectorQuantizer


def structural_entropy(n: int, i: np.ndarray, j: np.ndarray, w: np.ndarray, labels: np.ndarray) -> float:
    """H_P(G) in bits of the undirected graph with edges (i, j, w) (each pair once) on ``n`` nodes."""
    labels = np.asarray(labels)
    deg = np.bincount(i, w, n) + np.bincount(j, w, n)
    V = deg.sum()
    k = labels.max() + 1
    vol = np.bincount(labels, deg, k)
    cross = labels[i] != labels[j]
    cut = np.bincount(labels[i][cross], w[cross], k) + np.bincount(labels[j][cross], w[cross], k)
    nz = deg > 0
    h = -np.sum(deg[nz] / V * np.log2(deg[nz] / vol[labels[nz]]))
    m = vol > 0
    return float(h - np.sum(cut[m] / V * np.log2(vol[m] / V)))


def _merge_delta(va, vb, ga, gb, wab, V):
    """The change of H_P when modules a and b (volumes, cuts, weight between them) merge.
    Works on floats and on tensors (torch.log2)."""
    log2 = torch.log2 if isinstance(va, torch.Tensor) else math.log2
    v, g = va + vb, ga + gb - 2 * wab
    return (v * log2(v) - va * log2(va) - vb * log2(vb)
            - g * log2(v / V) + ga * log2(va / V) + gb * log2(vb / V)) / V


def partition_structural_entropy(n: int, i: np.ndarray, j: np.ndarray, w: np.ndarray,
                                 max_parts: int | None = None, min_parts: int | None = None) -> tuple[np.ndarray, dict]:
    """Greedy merge minimisation of the two-level structural entropy: merges go on while one lowers
    the entropy, then, past its minimum, while there are more than ``max_parts`` modules; they stop
    early at ``min_parts`` modules.

    Returns (labels (n,) in 0..K-1, info): info["natural_parts"] is the number of modules where no
    merge lowered the entropy any more (None if ``max_parts`` stopped it earlier),
    info["forced_merges"] the merges made past that to get down to ``max_parts``."""
    i, j, w = np.asarray(i), np.asarray(j), np.asarray(w, np.float64)
    deg = np.bincount(i, w, n) + np.bincount(j, w, n)
    V = float(deg.sum())
    vol, cut = deg.tolist(), deg.tolist()
    adj: list[dict] = [dict() for _ in range(n)]
    for a, b, x in zip(i.tolist(), j.tolist(), w.tolist()):
        if a != b:
            adj[a][b] = adj[a].get(b, 0.0) + x
            adj[b][a] = adj[b].get(a, 0.0) + x
    parent = list(range(n))  # module of each absorbed node's module (union-find)
    version = [0] * n
    heap = [(_merge_delta(vol[a], vol[b], cut[a], cut[b], x, V), a, b, 0, 0)
            for a in range(n) for b, x in adj[a].items() if a < b]
    heapq.heapify(heap)
    count, natural, forced = n, None, 0  # isolated nodes stay modules of their own
    while heap:
        if min_parts is not None and count <= min_parts:
            break
        d, a, b, va_, vb_ = heapq.heappop(heap)
        if version[a] != va_ or version[b] != vb_ or parent[a] != a or parent[b] != b:
            continue  # stale: one of them has merged since
        if d >= 0:
            if natural is None:
                natural = count
            if max_parts is None or count <= max_parts:
                break
            forced += 1
        if len(adj[a]) < len(adj[b]):
            a, b = b, a  # keep the module with more neighbours
        wab = adj[a].pop(b)
        del adj[b][a]
        vol[a] += vol[b]
        cut[a] += cut[b] - 2 * wab
        for c, x in adj[b].items():
            adj[a][c] = adj[a].get(c, 0.0) + x
            del adj[c][b]
            adj[c][a] = adj[c].get(a, 0.0) + x
        adj[b] = {}
        parent[b] = a
        version[a] += 1
        count -= 1
        for c, x in adj[a].items():
            lo, hi = (a, c) if a < c else (c, a)
            heapq.heappush(heap, (_merge_delta(vol[a], vol[c], cut[a], cut[c], x, V), lo, hi, version[lo], version[hi]))
    if natural is None and (min_parts is None or count > min_parts):
        natural = count  # no merge was left to try

    def root(v):
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    roots = np.array([root(v) for v in range(n)])
    _, labels = np.unique(roots, return_inverse=True)
    return labels, {"natural_parts": natural, "forced_merges": forced, "parts": int(labels.max() + 1)}


def _knn(q: torch.Tensor, nodes: torch.Tensor, k: int, exclude_self: bool = False, chunk: int = 4096):
    """Squared distances (Q, k) and indices (Q, k) of the k nearest ``nodes`` of each row of q."""
    n2 = (nodes**2).sum(1)
    ds, ix = [], []
    for s in range(0, len(q), chunk):
        qs = q[s : s + chunk]
        d2 = ((qs**2).sum(1, keepdim=True) + n2[None] - 2 * qs @ nodes.T).clamp_min(0)
        if exclude_self:
            d2[torch.arange(len(qs)), torch.arange(s, s + len(qs))] = float("inf")
        d, i = d2.topk(k, dim=1, largest=False)
        ds.append(d)
        ix.append(i)
    return torch.cat(ds), torch.cat(ix)


def knn_graph(x: torch.Tensor, k: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The symmetric k-NN graph of the rows of x: (i, j, w, sigma2), each edge once (i < j),
    w = exp(-|x_i - x_j|^2 / sigma2) with sigma2 the mean squared distance to the k-th neighbour."""
    d2, nb = _knn(x, x, k, exclude_self=True)
    sigma2 = float(d2[:, -1].mean().clamp_min(1e-12))
    a = torch.arange(len(x))[:, None].expand_as(nb).reshape(-1)
    b, d2 = nb.reshape(-1), d2.reshape(-1)
    lo, hi = torch.minimum(a, b), torch.maximum(a, b)
    key = lo * len(x) + hi
    key, first = np.unique(key.numpy(), return_index=True)
    d2 = d2.numpy()[first]
    return (key // len(x)).astype(np.int64), (key % len(x)).astype(np.int64), np.exp(-d2 / sigma2), sigma2


class SEQuantizer(VectorQuantizer):
    """``stages`` residual layers; each is the centroids of a structural-entropy partition of a
    k-NN graph over ``graph_size`` of the (residual) training vectors, at most ``codebook_size``
    modules (fewer where the entropy's minimum has fewer: the codebook is then smaller and
    ``codebook_sizes`` says so; ``fill=True`` stops merging at ``codebook_size`` modules instead,
    spending the whole budget on a partition short of the minimum). ``lloyd_iters`` > 0 then refines the centroids by that many k-means
    steps over all the training vectors (0: the paper's codebook). Nested."""

    nested = True

    def __init__(self, codebook_size: int = 2048, stages: int = 1, graph_size: int = 16000, k: int = 10,
                 encode: str = "nearest", lloyd_iters: int = 0, fill: bool = False):
        if encode not in ("nearest", "graph"):
            raise ValueError(f"encode must be nearest or graph, got {encode!r}")
        self.codebook_size, self.stages, self.graph_size, self.k = codebook_size, stages, graph_size, k
        self.encode_rule, self.lloyd_iters, self.fill = encode, lloyd_iters, fill
        self.layers: list[dict] = []
        self.info: list[dict] = []

    def config(self) -> dict:
        return {"codebook_size": self.codebook_size, "stages": self.stages, "graph_size": self.graph_size, "k": self.k,
                "encode": self.encode_rule, "lloyd_iters": self.lloyd_iters, "fill": self.fill}

    _LAYER_TENSORS = ("codebook", "nodes", "labels", "vol", "cut")

    def state(self) -> dict[str, torch.Tensor]:
        """The codebooks; with ``encode="graph"`` also each layer's graph (nodes, labels, volumes)."""
        if not self.layers:
            raise ValueError("SEQuantizer is not fitted")
        keys = self._LAYER_TENSORS if self.encode_rule == "graph" else ("codebook",)
        out = {}
        for s, layer in enumerate(self.layers):
            out.update({f"{k}.{s}": layer[k].contiguous() for k in keys})
            out[f"scalars.{s}"] = torch.tensor([layer["sigma2"], layer["V"]], dtype=torch.float64)
        return out

    def load_state(self, state: dict[str, torch.Tensor]) -> "SEQuantizer":
        self.layers = []
        for s in range(self.stages):
            layer = {k: state[f"{k}.{s}"] for k in self._LAYER_TENSORS if f"{k}.{s}" in state}
            layer["sigma2"], layer["V"] = (float(v) for v in state[f"scalars.{s}"])
            self.layers.append(layer)
        return self

    @property
    def codebook_sizes(self) -> tuple[int, ...]:
        return tuple(len(layer["codebook"]) for layer in self.layers)

    def _fit_layer(self, r: torch.Tensor, g: torch.Generator) -> dict:
        nodes = r[torch.randperm(len(r), generator=g)[: self.graph_size]]
        i, j, w, sigma2 = knn_graph(nodes, self.k)
        labels, info = partition_structural_entropy(len(nodes), i, j, w, self.codebook_size,
                                                   self.codebook_size if self.fill else None)
        info["entropy_bits"] = structural_entropy(len(nodes), i, j, w, labels)
        K = int(labels.max() + 1)
        lab = torch.from_numpy(labels)
        counts = torch.bincount(lab, minlength=K).float()
        codebook = torch.zeros(K, r.shape[1]).index_add_(0, lab, nodes) / counts[:, None]
        for _ in range(self.lloyd_iters):
            a = _nearest(r, codebook)
            sums = torch.zeros_like(codebook).index_add_(0, a, r)
            n = torch.bincount(a, minlength=K).float()
            codebook = torch.where(n[:, None] > 0, sums / n.clamp_min(1)[:, None], codebook)
        deg = np.bincount(i, w, len(nodes)) + np.bincount(j, w, len(nodes))
        cross = labels[i] != labels[j]
        cut = np.bincount(labels[i][cross], w[cross], K) + np.bincount(labels[j][cross], w[cross], K)
        self.info.append(info)
        return {"codebook": codebook, "nodes": nodes, "labels": lab, "sigma2": sigma2,
                "vol": torch.from_numpy(np.bincount(labels, deg, K)).float(), "cut": torch.from_numpy(cut).float(),
                "V": float(deg.sum())}

    def _layer_codes(self, layer: dict, r: torch.Tensor) -> torch.Tensor:
        nearest = _nearest(r, layer["codebook"])
        if self.encode_rule == "nearest":
            return nearest
        # the module whose joining lowers the entropy most, over the modules of the k nearest nodes
        d2, nb = _knn(r, layer["nodes"], self.k)
        w = torch.exp(-d2 / layer["sigma2"])
        lab = layer["labels"][nb]
        W = (w[:, None, :] * (lab[:, :, None] == lab[:, None, :])).sum(-1)  # weight to each slot's module
        dx = w.sum(1, keepdim=True).clamp_min(1e-30)
        vb, gb = layer["vol"][lab] + W, layer["cut"][lab] + W
        delta = _merge_delta(dx.double(), vb.double(), dx.double(), gb.double(), W.double(), layer["V"])
        best = lab.gather(1, delta.argmin(1, keepdim=True)).squeeze(1)
        return torch.where(w.sum(1) > 1e-20, best, nearest)  # too far from every node: nearest centroid

    @torch.no_grad()
    def fit(self, x: torch.Tensor, seed: int = 0) -> "SEQuantizer":
        g = torch.Generator().manual_seed(seed)
        r = x.float().clone()
        self.layers, self.info = [], []
        for _ in range(self.stages):
            layer = self._fit_layer(r, g)
            self.layers.append(layer)
            r = r - layer["codebook"][self._layer_codes(layer, r)]
        return self

    @torch.no_grad()
    def encode(self, x: torch.Tensor, codebooks: int | None = None) -> torch.Tensor:
        r, codes = x.float().clone(), []
        for layer in self.layers[: self._check_prefix(codebooks)]:
            c = self._layer_codes(layer, r)
            r = r - layer["codebook"][c]
            codes.append(c)
        return torch.stack(codes)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(codes.shape[1], self.layers[0]["codebook"].shape[1])
        for layer, c in zip(self.layers, codes):
            out += layer["codebook"][c]
        return out
