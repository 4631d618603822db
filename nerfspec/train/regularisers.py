"""Regularisers against density in free space (floaters), on the packed samples of a batch.

* distortion (mip-NeRF 360, Barron et al. 2022), per ray over its samples i with weights w_i,
  midpoints m_i and lengths l_i = t_end_i - t_start_i (scene units):
      L_dist = sum_{i,j} w_i w_j |m_i - m_j| + 1/3 sum_i w_i^2 l_i
  small when a ray's weight sits in one short interval (one surface), large when it is spread
  along the ray (a floater in front of the surface). With the samples of a ray in order, the
  double sum is 2 sum_i w_i (m_i W_<i - (w m)_<i) (exclusive prefix sums), O(S).
* background opacity: the mean over the rays of opacity_r [alpha_r = 0], an L1 penalty on the
  light stopped along rays whose target pixel is known background.
Both are means over the batch's rays.
"""

from __future__ import annotations

from torch import Tensor

from nerfspec.render.volume import exclusive_sum_packed


def distortion_loss(weights: Tensor, t_starts: Tensor, t_ends: Tensor, ray_indices: Tensor,
                    n_rays: int) -> Tensor:
    """Mean over ``n_rays`` rays of L_dist (module docstring); packed samples (S,) in ray
    order, each ray's samples front to back."""
    if weights.numel() == 0:
        return weights.sum()
    mid = 0.5 * (t_starts + t_ends)
    w_before = exclusive_sum_packed(weights, ray_indices, n_rays)
    wm_before = exclusive_sum_packed(weights * mid, ray_indices, n_rays)
    pairs = 2.0 * (weights * (mid * w_before - wm_before)).sum()
    own = (weights * weights * (t_ends - t_starts)).sum() / 3.0
    return (pairs + own) / n_rays


def background_opacity_loss(opacity: Tensor, rgba: Tensor) -> Tensor:
    """Mean over rays of opacity (N, 1) where the target's alpha (rgba (N, 4), straight, in
    [0, 1]) is 0, and 0 elsewhere."""
    background = (rgba[:, 3:4] <= 0).to(opacity.dtype)
    return (opacity * background).mean()
