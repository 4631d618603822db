"""Free-space regularisers against their definitions (brute-force double sums)."""

from __future__ import annotations

import pytest
import torch

from nerfspec.train.regularisers import background_opacity_loss, distortion_loss


def brute_distortion(w, t0, t1, rays, n_rays):
    m = 0.5 * (t0 + t1)
    total = 0.0
    for r in range(n_rays):
        sel = rays == r
        wr, mr, lr = w[sel], m[sel], (t1 - t0)[sel]
        total += float((wr[:, None] * wr[None, :] * (mr[:, None] - mr[None, :]).abs()).sum())
        total += float((wr * wr * lr).sum()) / 3.0
    return total / n_rays


def test_distortion_matches_the_double_sum_on_packed_rays():
    g = torch.Generator().manual_seed(0)
    counts = [5, 1, 0, 7]
    rays = torch.repeat_interleave(torch.arange(4), torch.tensor(counts))
    t0 = torch.cat([torch.sort(torch.rand(c, generator=g) * 3)[0] for c in counts])
    t1 = t0 + 0.05
    w = torch.rand(len(t0), generator=g, dtype=torch.float32) * 0.3
    got = distortion_loss(w, t0, t1, rays, 4)
    assert float(got) == pytest.approx(brute_distortion(w, t0, t1, rays, 4), rel=1e-5)


def test_distortion_prefers_one_surface_to_a_floater():
    rays = torch.zeros(2, dtype=torch.long)
    t0 = torch.tensor([1.0, 2.0])
    t1 = t0 + 0.01
    one = distortion_loss(torch.tensor([0.0, 1.0]), t0, t1, rays, 1)
    split = distortion_loss(torch.tensor([0.3, 0.7]), t0, t1, rays, 1)
    assert float(one) == pytest.approx(0.01 / 3)
    assert float(split) == pytest.approx(2 * 0.3 * 0.7 * 1.0 + (0.09 + 0.49) * 0.01 / 3)
    w = torch.tensor([0.3, 0.7], requires_grad=True)
    distortion_loss(w, t0, t1, rays, 1).backward()
    assert w.grad[0] > 0  # the floater's weight is pushed down


def test_background_opacity_counts_only_background_targets():
    opacity = torch.tensor([[0.5], [0.2], [1.0]])
    rgba = torch.tensor([[1.0, 1, 1, 0], [0, 0, 0, 0], [0.5, 0.5, 0.5, 1]])
    assert float(background_opacity_loss(opacity, rgba)) == pytest.approx((0.5 + 0.2) / 3)
