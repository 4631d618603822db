"""Real spherical harmonics of view directions (the direction encoding of Mueller et al. 2022)."""

from __future__ import annotations

import torch
from torch import Tensor

from nerfspec.encodings.fourier import Encoding

MAX_SH_DEGREE = 4


def spherical_harmonics(d: Tensor, degree: int) -> Tensor:
    """Real spherical harmonics Y_lm(d) of bands l = 0..degree-1, orthonormal on the sphere.

    With d = (x, y, z) a unit vector (the instant-ngp sign convention):
        l = 0: c0
        l = 1: -c1 y, c1 z, -c1 x
        l = 2: c2 xy, -c2 yz, c3 (3z^2 - 1), -c2 xz, c2/2 (x^2 - y^2)
        l = 3: -c4 y (3x^2 - y^2), c5 xyz, c6 y (1 - 5z^2), c7 z (5z^2 - 3), c6 x (1 - 5z^2),
               c5/2 z (x^2 - y^2), c4 x (3y^2 - x^2)
    with c0 = 1/(2 sqrt(pi)), c1 = sqrt(3/(4 pi)), c2 = sqrt(15/(4 pi)), c3 = sqrt(5/(16 pi)),
    c4 = sqrt(35/(32 pi)), c5 = sqrt(105/(4 pi)), c6 = sqrt(21/(32 pi)), c7 = sqrt(7/(16 pi)),
    so that the integral over the sphere of Y_i Y_j is 1 if i = j and 0 otherwise.

    Args:
        d: (N, 3) unit directions.
        degree: number of bands, 1..4.
    Returns:
        (N, degree^2) float, bands in order, m = -l..l within a band.
    """
    if not 1 <= degree <= MAX_SH_DEGREE:
        raise ValueError(f"spherical-harmonics degree must be in [1, {MAX_SH_DEGREE}], got {degree}")
    x, y, z = d.unbind(-1)
    out = [torch.full_like(x, 0.28209479177387814)]
    if degree > 1:
        out += [-0.48860251190291987 * y, 0.48860251190291987 * z, -0.48860251190291987 * x]
    if degree > 2:
        xx, yy, zz = x * x, y * y, z * z
        out += [1.0925484305920792 * x * y, -1.0925484305920792 * y * z,
                0.94617469575755997 * zz - 0.31539156525251999, -1.0925484305920792 * x * z,
                0.54627421529603959 * (xx - yy)]
    if degree > 3:
        out += [0.59004358992664352 * y * (-3.0 * xx + yy), 2.8906114426405538 * x * y * z,
                0.45704579946446572 * y * (1.0 - 5.0 * zz), 0.3731763325901154 * z * (5.0 * zz - 3.0),
                0.45704579946446572 * x * (1.0 - 5.0 * zz), 1.4453057213202769 * z * (xx - yy),
                0.59004358992664352 * x * (-xx + 3.0 * yy)]
    return torch.stack(out, dim=-1)


def monomials(d: Tensor) -> Tensor:
    """(N, 3) -> (N, 40) products of up to three coordinates: [1, d_i, d_i d_j, d_i d_j d_k]
    (all index orders, so duplicates; four ops whatever the degree)."""
    q = (d[:, :, None] * d[:, None, :]).flatten(1)
    c = (q[:, :, None] * d[:, None, :]).flatten(1)
    return torch.cat([torch.ones_like(d[:, :1]), d, q, c], dim=1)


def harmonics_matrix(degree: int) -> Tensor:
    """(40, degree^2) float64 M with spherical_harmonics(d) = monomials(d) M for every d: each
    Y_lm is a polynomial of degree < 4, so M is the exact minimum-norm least-squares fit of
    ``spherical_harmonics`` on random (not only unit) points."""
    d = torch.randn(256, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    return torch.linalg.pinv(monomials(d)) @ spherical_harmonics(d, degree)


class SphericalHarmonicsEncoding(Encoding):
    """(N, 3) unit directions -> (N, degree^2) real spherical harmonics, in float32."""

    def __init__(self, degree: int = 4):
        super().__init__()
        if not 1 <= degree <= MAX_SH_DEGREE:
            raise ValueError(f"spherical-harmonics degree must be in [1, {MAX_SH_DEGREE}], got {degree}")
        self.in_dim, self.out_dim, self.degree = 3, degree * degree, degree
        # one matrix product instead of the formula's ~40 element-wise ops (kernels on a GPU)
        self.register_buffer("matrix", harmonics_matrix(degree).float(), persistent=False)

    def forward(self, d: Tensor) -> Tensor:
        with torch.autocast(device_type=d.device.type, enabled=False):
            return monomials(d.float()) @ self.matrix
