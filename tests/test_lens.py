import math

import pytest
import torch

from nerfspec.lens import (
    check_model,
    distort,
    distort_fisheye,
    distort_radtan,
    fisheye_theta_d,
    invertible_over_image,
    pixel_directions,
    project_camera_points,
    radtan_jacobian,
    undistort,
    undistort_directions,
)

D = torch.float64
# a wide-angle action camera's radial-tangential fit, and a fisheye's
RADTAN = torch.tensor([-0.25, 0.07, 1e-3, -5e-4, -0.01], dtype=D)
FISHEYE = torch.tensor([0.05, -0.01, 0.002, -0.0005], dtype=D)


def grid(extent: float, n: int = 41) -> tuple[torch.Tensor, torch.Tensor]:
    v = torch.linspace(-extent, extent, n, dtype=D)
    x, y = torch.meshgrid(v, 0.75 * v, indexing="xy")
    return x.reshape(-1), y.reshape(-1)


def test_radtan_matches_closed_forms():
    # radial only, on the x axis: x_d = x (1 + k1 r^2 + k2 r^4 + k3 r^6)
    k1, k2, k3 = -0.3, 0.1, 0.02
    c = torch.tensor([k1, k2, 0.0, 0.0, k3], dtype=D)
    xd, yd = distort_radtan(torch.tensor([0.4], dtype=D), torch.tensor([0.0], dtype=D), c)
    r2 = 0.16
    assert xd.item() == pytest.approx(0.4 * (1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3), abs=1e-15)
    assert yd.item() == 0.0
    # tangential only: x_d = x + 2 p1 x y + p2 (r^2 + 2 x^2), y_d = y + p1 (r^2 + 2 y^2) + 2 p2 x y
    p1, p2 = 0.01, -0.02
    c = torch.tensor([0.0, 0.0, p1, p2], dtype=D)
    x, y = 0.1, 0.2
    xd, yd = distort_radtan(torch.tensor([x], dtype=D), torch.tensor([y], dtype=D), c)
    r2 = x * x + y * y
    assert xd.item() == pytest.approx(x + 2 * p1 * x * y + p2 * (r2 + 2 * x * x), abs=1e-15)
    assert yd.item() == pytest.approx(y + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y, abs=1e-15)
    # four coefficients mean k3 = 0
    x4, y4 = distort_radtan(*grid(0.5), RADTAN[:4])
    x5, y5 = distort_radtan(*grid(0.5), torch.cat([RADTAN[:4], torch.zeros(1, dtype=D)]))
    assert torch.equal(x4, x5) and torch.equal(y4, y5)


def test_radtan_jacobian_matches_finite_differences():
    x, y = grid(0.6, 9)
    h = 1e-6
    dxx, dxy, dyy = radtan_jacobian(x, y, RADTAN)
    fx1, fy1 = distort_radtan(x + h, y, RADTAN)
    fx0, fy0 = distort_radtan(x - h, y, RADTAN)
    gx1, gy1 = distort_radtan(x, y + h, RADTAN)
    gx0, gy0 = distort_radtan(x, y - h, RADTAN)
    torch.testing.assert_close(dxx, (fx1 - fx0) / (2 * h), atol=1e-8, rtol=0)
    torch.testing.assert_close(dxy, (fy1 - fy0) / (2 * h), atol=1e-8, rtol=0)
    torch.testing.assert_close(dxy, (gx1 - gx0) / (2 * h), atol=1e-8, rtol=0)
    torch.testing.assert_close(dyy, (gy1 - gy0) / (2 * h), atol=1e-8, rtol=0)


def test_fisheye_matches_closed_form():
    # a point at angle theta from the axis in the x-z plane has x = tan theta, y = 0
    for theta in (0.0, 0.3, 1.0, 1.4):
        xd, yd = distort_fisheye(torch.tensor([math.tan(theta)], dtype=D), torch.zeros(1, dtype=D), FISHEYE)
        k1, k2, k3, k4 = FISHEYE.tolist()
        expect = theta * (1 + k1 * theta ** 2 + k2 * theta ** 4 + k3 * theta ** 6 + k4 * theta ** 8)
        assert xd.item() == pytest.approx(expect, abs=1e-14) and yd.item() == 0.0
    # the direction of the point is kept: (x_d, y_d) is parallel to (x, y)
    x, y = grid(1.5, 7)
    xd, yd = distort_fisheye(x, y, FISHEYE)
    torch.testing.assert_close(xd * y, yd * x, atol=1e-14, rtol=0)
    # with no coefficients theta_d = theta: the ideal equidistant lens
    assert fisheye_theta_d(torch.tensor([0.7], dtype=D), torch.zeros(4, dtype=D)).item() == pytest.approx(0.7)


@pytest.mark.parametrize("model,coeffs,extent,extent_d", [
    ("pinhole", None, 0.8, 0.8),
    ("opencv", RADTAN[:4], 0.8, 0.7),
    ("opencv", RADTAN, 0.8, 0.7),
    ("opencv", torch.tensor([0.12, -0.03, -2e-3, 1e-3], dtype=D), 0.8, 0.8),  # pincushion
    ("opencv_fisheye", FISHEYE, 4.0, 1.1),  # out to ~78 degrees off axis
])
def test_undistort_inverts_distort_to_a_ten_thousandth_of_a_pixel(model, coeffs, extent, extent_d):
    focal = 1200.0  # px: the error bound below is 1e-4 px at this focal length
    x, y = grid(extent)
    xd, yd = distort(model, x, y, coeffs)
    ux, uy, ok = undistort(model, xd, yd, coeffs)
    assert ok.all()
    assert float(((ux - x).abs().max() + (uy - y).abs().max()) * focal) < 1e-4
    # and the other way round: distort(undistort(p)) = p for pixels of an image
    px, py = grid(extent_d)
    ux, uy, ok = undistort(model, px, py, coeffs)
    rx, ry = distort(model, ux, uy, coeffs)
    assert ok.all() and float(torch.maximum((rx - px).abs(), (ry - py).abs()).max() * focal) < 1e-4


def test_undistort_keeps_float32_inputs_float32():
    x, y = grid(0.5)
    xd, yd = distort("opencv", x.float(), y.float(), RADTAN.float())
    ux, uy, ok = undistort("opencv", xd, yd, RADTAN.float())
    assert ux.dtype == torch.float32 and ok.all()
    assert float((ux.double() - x).abs().max()) < 1e-6


def test_folded_model_is_not_converged():
    # k1 = -0.5: r_d = r (1 - 0.5 r^2) peaks at r = 0.816, r_d = 0.544; beyond, no inverse
    c = torch.tensor([-0.5, 0.0, 0.0, 0.0], dtype=D)
    _, _, ok = undistort("opencv", torch.tensor([0.3, 0.6], dtype=D), torch.zeros(2, dtype=D), c)
    assert ok.tolist() == [True, False]
    assert invertible_over_image("opencv", c, 500.0, 500.0, 200.0, 150.0, 400, 300)  # |x_d| <= 0.5
    assert not invertible_over_image("opencv", c, 300.0, 300.0, 200.0, 150.0, 400, 300)  # corners at 0.83
    # a fisheye point beyond 90 degrees has a direction but no normalised coordinates
    td = float(fisheye_theta_d(torch.tensor(2.0, dtype=D), FISHEYE))
    _, _, ok = undistort("opencv_fisheye", torch.tensor([td], dtype=D), torch.zeros(1, dtype=D), FISHEYE)
    dirs, ok_dir = undistort_directions("opencv_fisheye", torch.tensor([td], dtype=D), torch.zeros(1, dtype=D), FISHEYE)
    assert not ok.item() and ok_dir.item()
    assert math.acos(dirs[0, 2].item()) == pytest.approx(2.0, abs=1e-9)


def test_pinhole_pixel_directions_follow_the_camera_convention():
    i = torch.tensor([0.0, 3.0, 7.0])
    j = torch.tensor([0.0, 5.0, 2.0])
    fx, fy, cx, cy = 10.0, 12.0, 4.5, 3.0
    d, ok = pixel_directions("pinhole", i, j, fx, fy, cx, cy, None)
    expect = torch.stack([(i + 0.5 - cx) / fx, -(j + 0.5 - cy) / fy, -torch.ones(3)], dim=-1)
    torch.testing.assert_close(d, torch.nn.functional.normalize(expect, dim=-1))
    assert ok.all() and d.dtype == torch.float32


@pytest.mark.parametrize("model,coeffs", [("pinhole", None), ("opencv", RADTAN), ("opencv_fisheye", FISHEYE)])
def test_projecting_a_pixel_ray_lands_on_the_pixel(model, coeffs):
    gen = torch.Generator().manual_seed(0)
    n = 200
    i = torch.rand(n, generator=gen, dtype=D) * 640 - 0.5
    j = torch.rand(n, generator=gen, dtype=D) * 480 - 0.5
    fx = torch.full((n,), 500.0, dtype=D)
    fy = torch.full((n,), 510.0, dtype=D)
    cx, cy = 321.0, 239.5
    d, ok = pixel_directions(model, i, j, fx, fy, cx, cy, coeffs)
    assert ok.all() and d.dtype == D
    depth = torch.rand(n, generator=gen, dtype=D) * 5 + 0.5
    points = d * (depth / -d[:, 2])[:, None]  # at the given depth along each ray
    pi, pj, pd = project_camera_points(model, points, fx, fy, cx, cy, coeffs)
    assert float(torch.maximum((pi - i).abs(), (pj - j).abs()).max()) < 1e-4
    torch.testing.assert_close(pd, depth)


def test_per_view_coefficients_broadcast():
    x, y = grid(0.5, 5)
    per_point = RADTAN.expand(x.shape[0], 5)
    torch.testing.assert_close(torch.stack(distort("opencv", x, y, per_point)),
                               torch.stack(distort("opencv", x, y, RADTAN)))


def test_unknown_models_and_counts_are_refused():
    with pytest.raises(ValueError, match="unknown lens model 'fov'"):
        check_model("fov", None)
    with pytest.raises(ValueError, match="takes 4 or 5"):
        check_model("opencv", torch.zeros(3))
    with pytest.raises(ValueError, match="takes 0"):
        check_model("pinhole", torch.zeros(4))
