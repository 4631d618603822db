"""Lens distortion: forward models and their inversion, on normalised image coordinates.

Normalised coordinates are OpenCV's: a camera-space point (X, Y, Z) in OpenCV axes (x right,
y down, z forward) has x = X / Z, y = Y / Z; the lens moves it to (x_d, y_d) and the pixel
coordinate is u = fx x_d + cx, v = fy y_d + cy, where pixel (i, j) covers [i, i + 1) x
[j, j + 1), so its centre is u = i + 0.5 (COLMAP's convention, which nerfstudio and
instant-ngp keep). Models (the names of ``camera_model`` in a transforms.json, lower case):

* ``pinhole``: x_d = x.
* ``opencv`` (radial-tangential), coefficients (k1, k2, p1, p2[, k3]): with r^2 = x^2 + y^2,
  x_d = x (1 + k1 r^2 + k2 r^4 + k3 r^6) + 2 p1 x y + p2 (r^2 + 2 x^2),
  y_d = y (1 + k1 r^2 + k2 r^4 + k3 r^6) + p1 (r^2 + 2 y^2) + 2 p2 x y.
* ``opencv_fisheye`` (equidistant), coefficients (k1, k2, k3, k4): with theta the angle
  between the ray and the optical axis (theta = atan r for points in front),
  theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8) and
  (x_d, y_d) = (theta_d / r) (x, y).

The inverses are Newton iterations in float64 that stop when the forward model reproduces
the distorted point to ``tol`` (normalised units; 1e-12 is ~1e-9 px for f ~ 1000 px). A
point is reported as not converged when the iteration does not get there or lands where the
model folds over (its Jacobian determinant is not positive): there the lens model has no
unique inverse, which for a real calibration means the pixel lies outside the region it was
fitted on.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

MODELS = ("pinhole", "opencv", "opencv_fisheye")
# number of distortion coefficients each model takes (opencv: k3 is optional)
COEFFICIENTS = {"pinhole": (0,), "opencv": (4, 5), "opencv_fisheye": (4,)}
COEFFICIENT_NAMES = {"pinhole": (), "opencv": ("k1", "k2", "p1", "p2", "k3"),
                     "opencv_fisheye": ("k1", "k2", "k3", "k4")}

_TOL = 1e-12
_MAX_ITER = 50


def _radtan_coeffs(coeffs: Tensor) -> tuple[Tensor, ...]:
    """(..., 4 or 5) -> k1, k2, p1, p2, k3, each (...) (k3 = 0 when absent)."""
    k1, k2, p1, p2 = coeffs[..., 0], coeffs[..., 1], coeffs[..., 2], coeffs[..., 3]
    k3 = coeffs[..., 4] if coeffs.shape[-1] > 4 else torch.zeros_like(k1)
    return k1, k2, p1, p2, k3


def distort_radtan(x: Tensor, y: Tensor, coeffs: Tensor) -> tuple[Tensor, Tensor]:
    """OpenCV radial-tangential model: (x, y) -> (x_d, y_d), each (N,).

    x_d = x R + 2 p1 x y + p2 (r^2 + 2 x^2), y_d = y R + p1 (r^2 + 2 y^2) + 2 p2 x y with
    R = 1 + k1 r^2 + k2 r^4 + k3 r^6, r^2 = x^2 + y^2; coeffs (4,) / (5,) or per point (N, 4|5).
    """
    k1, k2, p1, p2, k3 = _radtan_coeffs(coeffs)
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return xd, yd


def radtan_jacobian(x: Tensor, y: Tensor, coeffs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Partial derivatives of ``distort_radtan`` at (x, y): d x_d/dx, d x_d/dy (= d y_d/dx),
    d y_d/dy, each (N,).

    With R' = dR/d(r^2) = k1 + 2 k2 r^2 + 3 k3 r^4: dx_d/dx = R + 2 x^2 R' + 2 p1 y + 6 p2 x,
    dx_d/dy = 2 x y R' + 2 p1 x + 2 p2 y, dy_d/dy = R + 2 y^2 R' + 6 p1 y + 2 p2 x.
    """
    k1, k2, p1, p2, k3 = _radtan_coeffs(coeffs)
    r2 = x * x + y * y
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    d_radial = k1 + r2 * (2 * k2 + 3 * k3 * r2)
    dxx = radial + 2 * x * x * d_radial + 2 * p1 * y + 6 * p2 * x
    dxy = 2 * x * y * d_radial + 2 * p1 * x + 2 * p2 * y
    dyy = radial + 2 * y * y * d_radial + 6 * p1 * y + 2 * p2 * x
    return dxx, dxy, dyy


def undistort_radtan(xd: Tensor, yd: Tensor, coeffs: Tensor, tol: float = _TOL,
                     max_iter: int = _MAX_ITER) -> tuple[Tensor, Tensor, Tensor]:
    """Invert ``distort_radtan`` by Newton's method from (x, y) = (x_d, y_d).

    Returns x, y (N,) in the input's dtype and ``converged`` (N,) bool: the forward model
    maps (x, y) to within ``tol`` of (x_d, y_d) (max norm) with a positive Jacobian there.
    The step is halved while it does not reduce the residual, which keeps the iteration in
    the basin of the unfolded solution for strong barrel distortion.
    """
    dtype = xd.dtype
    c = coeffs.double()
    txd, tyd = xd.double(), yd.double()
    x, y = txd.clone(), tyd.clone()

    def residual(x, y):
        fx, fy = distort_radtan(x, y, c)
        return fx - txd, fy - tyd

    rx, ry = residual(x, y)
    for _ in range(max_iter):
        err = torch.maximum(rx.abs(), ry.abs())
        active = err > tol
        if not bool(active.any()):
            break
        dxx, dxy, dyy = radtan_jacobian(x, y, c)
        det = dxx * dyy - dxy * dxy
        safe = torch.where(det.abs() > 1e-300, det, torch.ones_like(det))
        sx = (dyy * rx - dxy * ry) / safe
        sy = (dxx * ry - dxy * rx) / safe
        step = torch.where(active, torch.ones_like(x), torch.zeros_like(x))
        for _ in range(8):  # backtracking: accept the first step that lowers the residual
            nx, ny = x - step * sx, y - step * sy
            nrx, nry = residual(nx, ny)
            better = torch.maximum(nrx.abs(), nry.abs()) < err
            if bool((better | ~active).all()):
                break
            step = torch.where(better | ~active, step, 0.5 * step)
        nx, ny = x - step * sx, y - step * sy
        x, y = torch.where(active, nx, x), torch.where(active, ny, y)
        rx, ry = residual(x, y)
    dxx, dxy, dyy = radtan_jacobian(x, y, c)
    converged = (torch.maximum(rx.abs(), ry.abs()) <= tol) & (dxx * dyy - dxy * dxy > 0) & torch.isfinite(x + y)
    return x.to(dtype), y.to(dtype), converged


def fisheye_theta_d(theta: Tensor, coeffs: Tensor) -> Tensor:
    """theta_d = theta (1 + k1 theta^2 + k2 theta^4 + k3 theta^6 + k4 theta^8); coeffs (4,) or (N, 4)."""
    k1, k2, k3, k4 = (coeffs[..., i] for i in range(4))
    t2 = theta * theta
    return theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))


def _fisheye_dtheta_d(theta: Tensor, coeffs: Tensor) -> Tensor:
    """d theta_d / d theta = 1 + 3 k1 theta^2 + 5 k2 theta^4 + 7 k3 theta^6 + 9 k4 theta^8."""
    k1, k2, k3, k4 = (coeffs[..., i] for i in range(4))
    t2 = theta * theta
    return 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + t2 * 9 * k4)))


def _radial_scale(num: Tensor, den: Tensor) -> Tensor:
    """num / den, with the limit 1 where den = 0 (the optical axis, where num = den = 0)."""
    tiny = den.abs() < 1e-300
    return torch.where(tiny, torch.ones_like(num), num / torch.where(tiny, torch.ones_like(den), den))


def distort_fisheye(x: Tensor, y: Tensor, coeffs: Tensor) -> tuple[Tensor, Tensor]:
    """OpenCV fisheye model: (x, y) -> (theta_d / r) (x, y), theta = atan r, r = |(x, y)| (N,)."""
    r = torch.sqrt(x * x + y * y)
    scale = _radial_scale(fisheye_theta_d(torch.atan(r), coeffs), r)
    return x * scale, y * scale


def undistort_fisheye_theta(theta_d: Tensor, coeffs: Tensor, tol: float = _TOL,
                            max_iter: int = _MAX_ITER) -> tuple[Tensor, Tensor]:
    """Solve fisheye_theta_d(theta) = theta_d for theta >= 0 by Newton's method (float64).

    Returns theta (N,) and ``converged`` (N,): |residual| <= tol with d theta_d / d theta > 0,
    i.e. on the increasing branch of the model, where the inverse is unique.
    """
    c = coeffs.double()
    td = theta_d.double()
    theta = td.clone()
    for _ in range(max_iter):
        res = fisheye_theta_d(theta, c) - td
        if not bool((res.abs() > tol).any()):
            break
        slope = _fisheye_dtheta_d(theta, c)
        slope = torch.where(slope.abs() > 1e-12, slope, torch.full_like(slope, 1e-12))
        theta = (theta - res / slope).clamp(min=0.0, max=math.pi)
    ok = ((fisheye_theta_d(theta, c) - td).abs() <= tol) & (_fisheye_dtheta_d(theta, c) > 0)
    return theta, ok & torch.isfinite(theta)


def undistort_fisheye(xd: Tensor, yd: Tensor, coeffs: Tensor, tol: float = _TOL,
                      max_iter: int = _MAX_ITER) -> tuple[Tensor, Tensor, Tensor]:
    """Invert ``distort_fisheye``: theta from theta_d = |(x_d, y_d)|, then (x, y) =
    (tan theta / theta_d) (x_d, y_d). Points at theta >= pi/2 (behind the image plane) are
    not converged: they have no normalised coordinates (``undistort_directions`` has them)."""
    dtype = xd.dtype
    xd64, yd64 = xd.double(), yd.double()
    td = torch.sqrt(xd64 * xd64 + yd64 * yd64)
    theta, ok = undistort_fisheye_theta(td, coeffs, tol, max_iter)
    scale = _radial_scale(torch.tan(theta), td)
    return (xd64 * scale).to(dtype), (yd64 * scale).to(dtype), ok & (theta < 0.5 * math.pi)


def check_model(model: str, coeffs: Tensor | None) -> None:
    """ValueError unless ``model`` is known and ``coeffs`` has a valid count (last axis)."""
    if model not in MODELS:
        raise ValueError(f"unknown lens model {model!r} (known: {', '.join(MODELS)})")
    count = 0 if coeffs is None else int(coeffs.shape[-1])
    if count not in COEFFICIENTS[model]:
        raise ValueError(f"lens model {model!r} takes {' or '.join(map(str, COEFFICIENTS[model]))} "
                         f"coefficients, got {count}")


def distort(model: str, x: Tensor, y: Tensor, coeffs: Tensor | None) -> tuple[Tensor, Tensor]:
    """The forward model of ``model`` (see the module docstring) on (x, y) (N,)."""
    check_model(model, coeffs)
    if model == "pinhole":
        return x, y
    if model == "opencv":
        return distort_radtan(x, y, coeffs.to(x.dtype))
    return distort_fisheye(x, y, coeffs.to(x.dtype))


def undistort(model: str, xd: Tensor, yd: Tensor, coeffs: Tensor | None, tol: float = _TOL
              ) -> tuple[Tensor, Tensor, Tensor]:
    """The inverse of ``distort``: x, y, converged (each (N,))."""
    check_model(model, coeffs)
    if model == "pinhole":
        return xd, yd, torch.ones_like(xd, dtype=torch.bool)
    if model == "opencv":
        return undistort_radtan(xd, yd, coeffs, tol)
    return undistort_fisheye(xd, yd, coeffs, tol)


def undistort_directions(model: str, xd: Tensor, yd: Tensor, coeffs: Tensor | None, tol: float = _TOL
                         ) -> tuple[Tensor, Tensor]:
    """Unit ray directions (N, 3) in OpenCV camera axes of distorted normalised points, and
    ``converged`` (N,). For the fisheye the direction comes from theta directly,
    (sin theta (x_d, y_d) / theta_d, cos theta), so fields of view past 180 degrees work."""
    if model == "opencv_fisheye":
        check_model(model, coeffs)
        xd64, yd64 = xd.double(), yd.double()
        td = torch.sqrt(xd64 * xd64 + yd64 * yd64)
        theta, ok = undistort_fisheye_theta(td, coeffs, tol)
        s = _radial_scale(torch.sin(theta), td)
        dirs = torch.stack([xd64 * s, yd64 * s, torch.cos(theta)], dim=-1)
        return dirs.to(xd.dtype), ok
    x, y, ok = undistort(model, xd, yd, coeffs, tol)
    dirs = torch.stack([x, y, torch.ones_like(x)], dim=-1)
    return torch.nn.functional.normalize(dirs, dim=-1), ok


def pixel_directions(model: str, i: Tensor, j: Tensor, fx: Tensor, fy: Tensor, cx: Tensor, cy: Tensor,
                     coeffs: Tensor | None) -> tuple[Tensor, Tensor]:
    """Camera-space directions (N, 3) in the Blender / OpenGL convention (looks down -z, +y up)
    of pixels (i, j) (column, row; each (N,), centres at i + 0.5), unit length, and
    ``converged`` (N,). x_d = (i + 0.5 - cx) / fx, y_d = (j + 0.5 - cy) / fy are undistorted
    with ``model``; an OpenCV direction (a, b, c) is (a, -b, -c) in Blender axes.

    fx, fy, cx, cy: (N,) or scalars; coeffs: (K,) or (N, K) or None (pinhole).
    """
    dtype = i.dtype if i.is_floating_point() else torch.float32
    xd = (i.double() + 0.5 - torch.as_tensor(cx, dtype=torch.float64)) / torch.as_tensor(fx, dtype=torch.float64)
    yd = (j.double() + 0.5 - torch.as_tensor(cy, dtype=torch.float64)) / torch.as_tensor(fy, dtype=torch.float64)
    dirs, ok = undistort_directions(model, xd, yd, None if coeffs is None else coeffs.double())
    return (dirs * dirs.new_tensor([1.0, -1.0, -1.0])).to(dtype), ok


def project_camera_points(model: str, points: Tensor, fx: Tensor, fy: Tensor, cx: Tensor, cy: Tensor,
                          coeffs: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """Pixel column i, row j (continuous indices: pixel centres at integers) and depth (N,)
    of camera-space points (N, 3) in the Blender convention: depth d = -Z, (x, y) = (X, -Y) / d,
    distorted with ``model``, i = fx x_d + cx - 0.5, j = fy y_d + cy - 0.5.

    For the fisheye, theta = atan2(|(X, Y)|, d), so points beside and behind the camera get
    the model's (finite) image position too; for the other models depth <= 0 means behind.
    """
    dtype = points.dtype
    p = points.double()
    depth = -p[:, 2]
    fx, fy, cx, cy = (torch.as_tensor(v, dtype=torch.float64) for v in (fx, fy, cx, cy))
    if model == "opencv_fisheye":
        check_model(model, coeffs)
        a, b = p[:, 0], -p[:, 1]
        r = torch.sqrt(a * a + b * b)
        scale = _radial_scale(fisheye_theta_d(torch.atan2(r, depth), coeffs.double()), r)
        xd, yd = a * scale, b * scale
    else:
        safe = torch.where(depth.abs() > 1e-12, depth, torch.full_like(depth, 1e-12))
        xd, yd = distort(model, p[:, 0] / safe, -p[:, 1] / safe, None if coeffs is None else coeffs.double())
    i = fx * xd + cx - 0.5
    j = fy * yd + cy - 0.5
    return i.to(dtype), j.to(dtype), depth.to(dtype)


def invertible_over_image(model: str, coeffs: Tensor | None, fx: float, fy: float, cx: float, cy: float,
                          width: int, height: int, samples: int = 33) -> bool:
    """Whether every pixel of a width x height image has a unique undistorted ray: the inverse
    converges on a samples x samples grid of pixel positions spanning the image (corners and
    edges included), as a proxy for the whole image."""
    if model == "pinhole":
        return True
    u = torch.linspace(0.0, float(width), samples, dtype=torch.float64)
    v = torch.linspace(0.0, float(height), samples, dtype=torch.float64)
    uu, vv = torch.meshgrid(u, v, indexing="xy")
    xd, yd = (uu.reshape(-1) - cx) / fx, (vv.reshape(-1) - cy) / fy
    _, ok = undistort_directions(model, xd, yd, coeffs.double() if coeffs is not None else None, tol=1e-9)
    return bool(ok.all())
