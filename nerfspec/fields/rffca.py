"""RFF-CA: a query stream that cross-attends over a multiscale random Fourier token bank.

After Feng et al. (2025), with the bank in the units of ``nerfspec.encodings`` (see
``token_bank``). For a point v (N, d):

    H = bank(v)                      (N, T, d_q)  tokens, each inside one octave
    q_0 = W_in v + b_in              (N, dim)     the query starts from the raw coordinates
    q~ = q_l + CA_l(q_l, H)                       multi-head cross-attention, one query per point
    q_{l+1} = q~ + relu(W_l q~ + b_l)             l = 0..L-1

and the field's features are q_L. CA_l adds a logit offset eta_{l,k} <= 0 to every token of
octave k (coarse-to-fine masking: scheduled, learnable or off).

Two variants (``RFFCAConfig.variant``):

- ``project``: the above, multi-head with an output projection, features without the note's
  1/sqrt(M) factor, mask as configured;
- ``note``: the note's Sec. 8.2-8.4 text: features scaled by sqrt(1 / M), a d_q-wide query
  stream (dim = d_q), one head of d_q x d_q maps W_Q, W_K, W_V without output projection
  (``SingleHeadBlock``), and the learned mask M_l = [0; eta_l 1] (one eta_l <= 0 per block on
  all octaves k >= 1, started at ``mask_learnable_init``: mode ``shared``). The note's code
  sample differs from its text (an unmasked per-token mask started at 0, zero phases, beta
  started at 1, omega in radians with a comment that reads sigma as cycles); the text wins.

Speed: with keys K_t = W_K H_t and values V_t = W_V H_t + b_V the logits and the output fold
into maps on the d_q-wide tokens, (W_Q q)_h . (W_K H_t)_h = (W_K,h^T (W_Q q)_h) . H_t and
W_O concat_h(sum_t a_ht V_ht) = sum_h (W_O,h W_V,h) (sum_t a_ht H_t) + W_O b_V, so a block costs
two GEMMs on (N, dim) and two small batched products over the T tokens, never a (N, T, dim)
tensor. The attention core runs in float32 (CPU bf16 batched products are slow and the
softmax wants the range); the GEMMs follow the field's autocast.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nerfspec.config import RFFCAConfig
from nerfspec.fields.base import RadianceField
from nerfspec.fields.token_bank import (
    TokenBank,
    inverse_softplus,
    octave_attention,
    scheduled_octave_mask,
)

MASK_MODES = ("scheduled", "learnable", "shared", "off")
VARIANTS = ("project", "note")


def attend(qk: Tensor, tokens: Tensor, logit_bias: Tensor | None, scale: float) -> tuple[Tensor, Tensor]:
    """One query per point and head over the point's tokens, in float32.

    a_{n,h,t} = softmax_t(scale * qk_{n,h} . H_{n,t} + bias_t);  Hbar_{n,h} = sum_t a_{n,h,t} H_{n,t}.

    Args:
        qk: (N, h, d_q) queries already mapped into token space (W_K,h^T W_Q,h q).
        tokens: (N, T, d_q) token bank H.
        logit_bias: (T,) additive logit offsets (the octave mask) or None.
        scale: 1 / sqrt(head width).
    Returns:
        Hbar (N, h, d_q) attention-weighted tokens and a (N, h, T) attention weights.
    """
    with torch.autocast(device_type=tokens.device.type, enabled=False):
        tokens = tokens.float()
        logits = torch.bmm(qk.float(), tokens.transpose(1, 2)) * scale
        if logit_bias is not None:
            logits = logits + logit_bias.float()
        attn = torch.softmax(logits, dim=-1)
        return torch.bmm(attn, tokens), attn


class CrossAttentionBlock(nn.Module):
    """q <- q + W_O MHA(W_Q q; W_K H, W_V H); q <- q + relu(W q + b).

    Parameters are those of standard multi-head attention (``q_proj`` dim -> dim, ``k_proj``
    d_q -> dim without bias, which softmax would cancel, ``v_proj`` d_q -> dim, ``o_proj``
    dim -> dim) and the feed-forward ``ff`` dim -> dim; ``forward`` folds them as the module
    docstring says. ``reference_forward`` is the unfolded form on
    ``F.scaled_dot_product_attention``, for tests.
    """

    def __init__(self, dim: int, token_dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be a multiple of heads ({heads})")
        self.dim, self.token_dim, self.heads = dim, token_dim, heads
        self.head_dim = dim // heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(token_dim, dim, bias=False)
        self.v_proj = nn.Linear(token_dim, dim)
        self.o_proj = nn.Linear(dim, dim)
        self.ff = nn.Linear(dim, dim)

    def folded(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(A (dim, h d_q), c (h d_q,), B (h d_q, dim), e (dim,)) with qk = q A + c, out = Hbar B + e."""
        with torch.autocast(device_type=self.ff.weight.device.type, enabled=False):
            return self._folded()

    def _folded(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        h, hd, dq = self.heads, self.head_dim, self.token_dim
        wq = self.q_proj.weight.view(h, hd, self.dim)  # (h, hd, dim)
        wk = self.k_proj.weight.view(h, hd, dq)  # (h, hd, dq)
        a = torch.einsum("hed,hej->dhj", wq, wk).reshape(self.dim, h * dq)
        c = torch.einsum("he,hej->hj", self.q_proj.bias.view(h, hd), wk).reshape(h * dq)
        wv = self.v_proj.weight.view(h, hd, dq)
        wo = self.o_proj.weight.view(self.dim, h, hd)
        b = torch.einsum("ohe,hej->hjo", wo, wv).reshape(h * dq, self.dim)
        e = self.o_proj.bias + self.o_proj.weight @ self.v_proj.bias
        return a, c, b, e

    def forward(self, q: Tensor, tokens: Tensor, logit_bias: Tensor | None = None
                ) -> tuple[Tensor, Tensor]:
        """q (N, dim), tokens (N, T, d_q), logit_bias (T,) -> (q' (N, dim), attention (N, h, T))."""
        n = q.shape[0]
        a, c, b, e = self.folded()
        qk = F.linear(q, a.T, c).view(n, self.heads, self.token_dim)
        hbar, attn = attend(qk, tokens, logit_bias, 1.0 / math.sqrt(self.head_dim))
        hbar = hbar.reshape(n, self.heads * self.token_dim).to(q.dtype)
        q = q + F.linear(hbar, b.T, e)
        return q + torch.relu(self.ff(q)), attn

    def reference_forward(self, q: Tensor, tokens: Tensor, logit_bias: Tensor | None = None) -> Tensor:
        """The unfolded block: explicit keys and values and ``scaled_dot_product_attention``."""
        n, t, _ = tokens.shape
        h, hd = self.heads, self.head_dim
        qh = self.q_proj(q).view(n, h, 1, hd)
        k = self.k_proj(tokens).view(n, t, h, hd).transpose(1, 2)
        v = self.v_proj(tokens).view(n, t, h, hd).transpose(1, 2)
        mask = None if logit_bias is None else logit_bias.to(q.dtype).view(1, 1, 1, t)
        out = F.scaled_dot_product_attention(qh, k, v, attn_mask=mask).reshape(n, self.dim)
        q = q + self.o_proj(out)
        return q + torch.relu(self.ff(q))


class SingleHeadBlock(nn.Module):
    """The note's block (Sec. 8.3) on a d_q-wide query:
    q~ = q + softmax((W_Q q) . (W_K H_t) / sqrt(d_q) + eta_t)_t (W_V H_t);  q' = q~ + relu(W q~ + b).

    Folded like ``CrossAttentionBlock``: (W_Q q) . (W_K H_t) = (W_K^T W_Q q) . H_t and
    sum_t a_t W_V H_t = W_V (sum_t a_t H_t), so no (N, T, d_q) keys or values are formed.
    """

    def __init__(self, token_dim: int):
        super().__init__()
        self.dim = self.token_dim = token_dim
        self.heads = 1
        self.w_q = nn.Linear(token_dim, token_dim, bias=False)
        self.w_k = nn.Linear(token_dim, token_dim, bias=False)
        self.w_v = nn.Linear(token_dim, token_dim, bias=False)
        self.ff = nn.Linear(token_dim, token_dim)

    def forward(self, q: Tensor, tokens: Tensor, logit_bias: Tensor | None = None
                ) -> tuple[Tensor, Tensor]:
        """q (N, d_q), tokens (N, T, d_q), logit_bias (T,) -> (q' (N, d_q), attention (N, 1, T))."""
        with torch.autocast(device_type=q.device.type, enabled=False):
            qk_map = self.w_k.weight.T.float() @ self.w_q.weight.float()  # (d_q, d_q)
        qk = F.linear(q, qk_map).view(q.shape[0], 1, self.token_dim)
        hbar, attn = attend(qk, tokens, logit_bias, 1.0 / math.sqrt(self.token_dim))
        q = q + self.w_v(hbar[:, 0].to(q.dtype))
        return q + torch.relu(self.ff(q)), attn

    def reference_forward(self, q: Tensor, tokens: Tensor, logit_bias: Tensor | None = None) -> Tensor:
        """The unfolded block with explicit keys and values."""
        k, v = self.w_k(tokens), self.w_v(tokens)
        logits = (self.w_q(q)[:, None, :] * k).sum(-1) / math.sqrt(self.token_dim)
        if logit_bias is not None:
            logits = logits + logit_bias
        q = q + (torch.softmax(logits, dim=-1)[:, :, None] * v).sum(1)
        return q + torch.relu(self.ff(q))


class RFFCANetwork(nn.Module):
    """v (N, in_dim) -> features q_L (N, dim): token bank, input query, L masked CA blocks.

    Mask modes (``octave_mask()`` is (L, K+1), octave 0 always 0):

    - ``scheduled``: eta_{l,k} = scheduled_octave_mask(f) for every block; ``set_fraction(f)``
      stores f in the buffer ``progress`` and the mask in the buffer ``mask_scheduled``, so a
      checkpoint restores both;
    - ``learnable``: eta_{l,k} = -softplus(raw_{l,k}) < 0 for k >= 1, raw a parameter started
      at ``mask_learnable_init``;
    - ``shared``: eta_{l,k} = -softplus(raw_l) for every k >= 1 (the note's M_l = [0; eta_l 1]);
    - ``off``: no offsets.

    ``variant="note"`` forces dim = token_dim, one head (``SingleHeadBlock``), the 1/sqrt(M)
    feature factor and the ``shared`` mask. Tokens injected by ``inject_frequencies`` get no
    mask offset.

    After each forward, ``last_attention`` holds the (L, K+1) attention mass per octave.
    """

    def __init__(self, in_dim: int, base_features: int = 64, octaves: int = 4, sigma: float = 2.0,
                 token_dim: int = 32, dim: int = 128, heads: int = 4, blocks: int = 2,
                 envelope_init: float = 1e-3, mask: str = "scheduled",
                 mask_release_fraction: float = 0.3, mask_init: float = -30.0,
                 mask_learnable_init: float = -3.0, generator: torch.Generator | None = None,
                 variant: str = "project"):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        note = variant == "note"
        if note:
            dim, mask = token_dim, "shared"
        if mask not in MASK_MODES:
            raise ValueError(f"mask must be one of {MASK_MODES}, got {mask!r}")
        self.variant = variant
        self.in_dim, self.dim, self.octaves, self.n_blocks = in_dim, dim, octaves, blocks
        self.mask_mode, self.mask_release_fraction, self.mask_init = mask, mask_release_fraction, mask_init
        self.bank = TokenBank(in_dim, base_features, octaves, sigma, token_dim, envelope_init, generator,
                              normalise=note)
        self.query_in = nn.Linear(in_dim, dim)
        if note:
            self.blocks = nn.ModuleList(SingleHeadBlock(token_dim) for _ in range(blocks))
        else:
            self.blocks = nn.ModuleList(CrossAttentionBlock(dim, token_dim, heads) for _ in range(blocks))
        if mask == "shared":
            self.mask_raw = nn.Parameter(torch.full((blocks,), inverse_softplus(-mask_learnable_init)))
        elif mask == "scheduled":
            self.register_buffer("progress", torch.zeros(()))
            self.register_buffer("mask_scheduled", torch.zeros(blocks, octaves + 1))
            self.set_fraction(0.0)
        elif mask == "learnable":
            raw = torch.full((blocks, octaves), inverse_softplus(-mask_learnable_init))
            self.mask_raw = nn.Parameter(raw)
        self.last_attention: Tensor | None = None

    @classmethod
    def from_config(cls, cfg: RFFCAConfig, in_dim: int = 3,
                    generator: torch.Generator | None = None) -> "RFFCANetwork":
        return cls(in_dim, cfg.base_features, cfg.octaves, cfg.sigma, cfg.token_dim, cfg.dim,
                   cfg.heads, cfg.blocks, cfg.envelope_init, cfg.mask, cfg.mask_release_fraction,
                   cfg.mask_init, cfg.mask_learnable_init, generator, cfg.variant)

    def set_fraction(self, fraction: float) -> None:
        """Move the scheduled mask to training fraction f in [0, 1] (no-op in other modes)."""
        if self.mask_mode != "scheduled":
            return
        f = min(max(float(fraction), 0.0), 1.0)
        eta = scheduled_octave_mask(f, self.octaves, self.mask_release_fraction, self.mask_init)
        self.progress.fill_(f)
        self.mask_scheduled.copy_(eta.expand(self.n_blocks, -1))

    def octave_mask(self) -> Tensor | None:
        """(L, K+1) logit offsets per block and octave, or None when masking is off."""
        if self.mask_mode == "scheduled":
            return self.mask_scheduled
        if self.mask_mode in ("learnable", "shared"):
            zero = self.mask_raw.new_zeros(self.n_blocks, 1)
            eta = -F.softplus(self.mask_raw)
            eta = eta if self.mask_mode == "learnable" else eta[:, None].expand(-1, self.octaves)
            return torch.cat([zero, eta], dim=1)
        return None

    def inject_frequencies(self, freqs: Tensor) -> None:
        """Adaptive frequency enhancement: add one posterior token per frequency (P, in_dim)."""
        self.bank.inject(freqs)

    def token_bias(self) -> Tensor | None:
        """(L, T + P) logit offsets per token: the octave mask, 0 for injected tokens."""
        mask = self.octave_mask()
        if mask is None:
            return None
        bias = mask[:, self.bank.tok_octave]
        if self.bank.n_posterior:
            bias = torch.cat([bias, bias.new_zeros(self.n_blocks, self.bank.n_posterior)], dim=1)
        return bias

    def forward(self, v: Tensor) -> Tensor:
        tokens = self.bank(v)  # float32
        bias = self.token_bias()
        q = self.query_in(v)
        stats = []
        n_base = self.bank.n_tokens
        for i, block in enumerate(self.blocks):
            q, attn = block(q, tokens, None if bias is None else bias[i])
            with torch.no_grad():
                stats.append(octave_attention(attn[..., :n_base], self.bank.tok_octave, self.octaves))
        self.last_attention = torch.stack(stats)
        return q


class RFFCAField(RadianceField):
    """sigma, rgb = heads(RFFCANetwork(normalise(x)), d), the network under the field's autocast."""

    def __init__(self, cfg: RFFCAConfig, aabb: Tensor, generator: torch.Generator | None = None,
                 view_dirs: bool = True, dir_octaves: int = 4,
                 density_activation: str = "softplus", density_bias: float = -1.0,
                 precision: str = "bf16"):
        width = cfg.token_dim if cfg.variant == "note" else cfg.dim
        super().__init__(aabb, width, view_dirs, dir_octaves, density_activation, density_bias,
                         precision)
        self.net = RFFCANetwork.from_config(cfg, in_dim=3, generator=generator)

    def features(self, v: Tensor) -> Tensor:
        with self.autocast(v):
            return self.net(v)

    def maskable(self):
        """Coarse-to-fine (``field.c2f``) weights the token bank's octaves (octave 0 always open)."""
        return self.net.bank

    def set_progress(self, step: int, fraction: float) -> None:
        super().set_progress(step, fraction)
        self.net.set_fraction(fraction)

    def scalars(self) -> dict[str, float]:
        """rffca/attn_octave_k (mean over blocks), rffca/attn_block_b_octave_k,
        rffca/mask_block_b_octave_k and rffca/beta."""
        out: dict[str, float] = {"rffca/beta": float(self.net.bank.beta.detach()), **super().scalars()}
        attn = self.net.last_attention
        if attn is not None:
            attn = attn.cpu()
            for k, value in enumerate(attn.mean(dim=0).tolist()):
                out[f"rffca/attn_octave_{k}"] = value
            for b, row in enumerate(attn.tolist()):
                for k, value in enumerate(row):
                    out[f"rffca/attn_block_{b}_octave_{k}"] = value
        mask = self.net.octave_mask()
        if mask is not None:
            for b, row in enumerate(mask.detach().cpu().tolist()):
                for k, value in enumerate(row):
                    out[f"rffca/mask_block_{b}_octave_{k}"] = value
        return out
