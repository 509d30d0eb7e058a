"""Binary quantizers with no codebook lookup: LFQ (MAGVIT-v2) and BSQ.

Both keep ``bits`` linear projections of the (centred) vector and code the sign of each one.

* ``LFQ``: the code is ``sign(z)``, ``z = (x - mean) @ P``; its implicit codebook is
  ``{-1, +1}^bits``.
* ``BSQ``: ``z`` is first normalised to the unit sphere, ``u = z / |z|``, and quantized to
  ``sign(u) / sqrt(bits)``, a corner of the cube that lies on the same sphere, so the
  quantization error is bounded whatever ``|z|`` was.

On fixed features with an affine decoder the two give the same codes for the same projection
(``sign(u) == sign(z)``) and decode alike (the decoder absorbs the ``1/sqrt(bits)``); they differ
in how the projection is trained, because BSQ's gradient passes through the normalisation.

The projection starts from PCA (``projection="pca"``) or PCA rotated by ITQ (iterative
quantization: the rotation that brings the projected vectors closest to their signs,
``projection="itq"``), and can then be trained ``train_steps`` steps with a straight-through
sign, the reconstruction error of a learned affine decoder, a commitment term and a bit-balance
(codebook entropy) term, as in the papers. The decoder is finally refitted by least squares on
the codes, so it is the best affine decoder of the codes it gets.

Codes: the ``bits`` sign bits packed little-endian into groups of ``group_bits`` (codebooks of
``2**group_bits``; the last group may be smaller).
"""

from __future__ import annotations

import math

import torch

from .base import VectorQuantizer


def _itq(v: torch.Tensor, iters: int, g: torch.Generator) -> torch.Tensor:
    """The (d, d) rotation R minimising |sign(v R) - v R|^2 (Gong & Lazebnik's ITQ)."""
    d = v.shape[1]
    r, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=v.dtype))
    for _ in range(iters):
        b = torch.sign(v @ r)
        u, _, wt = torch.linalg.svd(b.T @ v)  # maximise tr(R B^T V): R = W U^T
        r = wt.T @ u.T
    return r


class LFQ(VectorQuantizer):
    spherical = False

    def __init__(self, bits: int = 11, group_bits: int = 11, projection: str = "pca", itq_iters: int = 50,
                 train_steps: int = 0, lr: float = 3e-3, batch: int = 4096, commit: float = 0.1,
                 entropy: float = 0.1):
        if projection not in ("pca", "itq"):
            raise ValueError(f"projection must be pca or itq, got {projection!r}")
        self.nbits, self.group_bits, self.projection, self.itq_iters = bits, group_bits, projection, itq_iters
        self.train_steps, self.lr, self.batch, self.commit, self.entropy = train_steps, lr, batch, commit, entropy
        sizes = [group_bits] * (bits // group_bits) + ([bits % group_bits] if bits % group_bits else [])
        self.group_sizes = sizes
        self.codebook_sizes = tuple(2**b for b in sizes)

    def config(self) -> dict:
        return {"bits": self.nbits, "group_bits": self.group_bits, "projection": self.projection,
                "itq_iters": self.itq_iters, "train_steps": self.train_steps, "lr": self.lr, "batch": self.batch,
                "commit": self.commit, "entropy": self.entropy}

    def state(self) -> dict[str, torch.Tensor]:
        if not hasattr(self, "proj"):
            raise ValueError(f"{type(self).__name__} is not fitted")
        return {"mean": self.mean.contiguous(), "proj": self.proj.contiguous(), "dec_w": self.dec_w.contiguous(),
                "dec_b": self.dec_b.contiguous()}

    def load_state(self, state: dict[str, torch.Tensor]) -> "LFQ":
        self.mean, self.proj, self.dec_w, self.dec_b = (state[k].float() for k in ("mean", "proj", "dec_w", "dec_b"))
        return self

    # ---- the quantization itself ---------------------------------------------------------------
    def _project(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) @ self.proj

    def _quantized(self, signs: torch.Tensor) -> torch.Tensor:
        """(N, bits) of +-1 -> the points the decoder reads."""
        return signs / math.sqrt(self.nbits) if self.spherical else signs

    def _decode_signs(self, signs: torch.Tensor) -> torch.Tensor:
        q = self._quantized(signs)
        return q @ self.dec_w + self.dec_b

    # ---- fitting -------------------------------------------------------------------------------
    @torch.no_grad()
    def _fit_decoder(self, x: torch.Tensor) -> None:
        q = self._quantized(self.signs(x))
        a = torch.cat([q, torch.ones(len(q), 1)], 1).double()
        sol = torch.linalg.lstsq(a, x.double(), driver="gelsd").solution.float()
        self.dec_w, self.dec_b = sol[:-1].contiguous(), sol[-1].contiguous()

    def fit(self, x: torch.Tensor, seed: int = 0) -> "LFQ":
        x = x.float()
        if self.nbits > x.shape[1] and self.train_steps == 0:
            raise ValueError(f"{self.nbits} projections of {x.shape[1]}-dim vectors need train_steps > 0")
        g = torch.Generator().manual_seed(seed)
        self.mean = x.mean(0)
        xc = (x - self.mean).double()
        evals, evecs = torch.linalg.eigh(xc.T @ xc / len(x))
        order = evals.argsort(descending=True)
        d = min(self.nbits, x.shape[1])
        proj = evecs[:, order[:d]]
        if self.projection == "itq":
            sub = xc[torch.randperm(len(x), generator=g)[: 50000]]
            proj = proj @ _itq(sub @ proj, self.itq_iters, g)
        if d < self.nbits:  # more bits than dimensions: random extra directions, for training to shape
            proj = torch.cat([proj, torch.randn(x.shape[1], self.nbits - d, generator=g, dtype=proj.dtype)], 1)
        self.proj = proj.float().contiguous()
        self._fit_decoder(x)
        if self.train_steps:
            self._train(x, g)
            self._fit_decoder(x)
        return self

    def _train(self, x: torch.Tensor, g: torch.Generator) -> None:
        proj = torch.nn.Parameter(self.proj.clone())
        dec_w, dec_b = torch.nn.Parameter(self.dec_w.clone()), torch.nn.Parameter(self.dec_b.clone())
        opt = torch.optim.Adam([proj, dec_w, dec_b], lr=self.lr)
        scale = x.var(0).sum()  # the loss relative to the variance: learning rates independent of units
        for _ in range(self.train_steps):
            xb = x[torch.randint(len(x), (self.batch,), generator=g)]
            z = (xb - self.mean) @ proj
            if self.spherical:
                z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-8)
                target = torch.sign(z) / math.sqrt(self.nbits)
            else:
                target = torch.sign(z)
            q = z + (target - z).detach()  # straight-through sign
            loss = ((q @ dec_w + dec_b - xb) ** 2).sum(1).mean() / scale
            loss = loss + self.commit * ((z - target.detach()) ** 2).sum(1).mean() / max(1.0, float((target.detach()**2).sum(1).mean()))
            if self.entropy:  # keep every bit balanced: maximise the entropy of its mean soft bit
                p = torch.sigmoid(4 * z / target.abs().detach().clamp_min(1e-8)).mean(0)
                h = -(p * p.clamp_min(1e-8).log2() + (1 - p) * (1 - p).clamp_min(1e-8).log2())
                loss = loss - self.entropy * h.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.proj = proj.detach().contiguous()

    # ---- codes ---------------------------------------------------------------------------------
    @torch.no_grad()
    def signs(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) -> (N, bits) of +-1 (0 counts as +1)."""
        return torch.where(self._project(x.float()) >= 0, 1.0, -1.0)

    @torch.no_grad()
    def encode(self, x: torch.Tensor, codebooks: int | None = None) -> torch.Tensor:
        self._check_prefix(codebooks)
        bits = (self.signs(x) > 0).long()
        codes, i = [], 0
        for b in self.group_sizes:
            codes.append((bits[:, i : i + b] << torch.arange(b)).sum(1))
            i += b
        return torch.stack(codes)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        self._check_prefix(codes.shape[0])
        bits = torch.cat([(c[:, None] >> torch.arange(b)) & 1 for c, b in zip(codes, self.group_sizes)], 1)
        return self._decode_signs(bits.float() * 2 - 1)


class BSQ(LFQ):
    spherical = True
