"""The pure maths of camera pose refinement: se(3) exponential and logarithm, composition,
rotation angles, pose corrections and noise, Procrustes alignment and pose errors."""

import math

import pytest
import torch

from nerfspec.poses.align import Similarity, align_to, pose_errors, procrustes
from nerfspec.poses.correction import (
    PoseCorrections,
    correct_in_camera_frame,
    correct_poses,
    fixed_size_twists,
    noise_twists,
    perturb_poses,
)
from nerfspec.poses.lie import compose, invert, rotation_angle, se3_exp, se3_log, skew, so3_exp, so3_log


def twist_matrix(xi: torch.Tensor) -> torch.Tensor:
    """The 4x4 element [[ [w]x, u ], [0, 0]] of se(3), whose matrix exponential is exp(xi)."""
    m = torch.zeros(*xi.shape[:-1], 4, 4, dtype=xi.dtype)
    m[..., :3, :3] = skew(xi[..., :3])
    m[..., :3, 3] = xi[..., 3:]
    return m


def random_poses(n: int, seed: int = 0) -> torch.Tensor:
    """Camera-to-world poses (n, 4, 4) float64 a few units from the origin."""
    gen = torch.Generator().manual_seed(seed)
    xi = torch.randn(n, 6, generator=gen, dtype=torch.float64)
    xi[:, 3:] *= 3
    return se3_exp(xi)


def test_skew_is_the_cross_product():
    w, v = torch.tensor([0.3, -1.2, 2.0]), torch.tensor([1.5, 0.2, -0.7])
    torch.testing.assert_close(skew(w) @ v, torch.linalg.cross(w, v))


def test_exp_of_zero_is_the_identity_exactly():
    assert torch.equal(se3_exp(torch.zeros(3, 6)), torch.eye(4).expand(3, 4, 4))
    assert torch.equal(so3_exp(torch.zeros(2, 3)), torch.eye(3).expand(2, 3, 3))


@pytest.mark.parametrize("scale", [1e-7, 1e-3, 0.05, 0.5, 2.5])
def test_se3_exp_equals_the_matrix_exponential(scale):
    gen = torch.Generator().manual_seed(1)
    xi = torch.randn(16, 6, generator=gen, dtype=torch.float64) * scale
    torch.testing.assert_close(se3_exp(xi), torch.linalg.matrix_exp(twist_matrix(xi)), rtol=0, atol=1e-13)
    torch.testing.assert_close(so3_exp(xi[:, :3]), torch.linalg.matrix_exp(skew(xi[:, :3])), rtol=0, atol=1e-13)


def test_gradient_at_zero_is_the_generator():
    xi = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    jac = torch.autograd.functional.jacobian(se3_exp, xi)  # (4, 4, 6)
    for k in range(6):
        e = torch.zeros(6, dtype=torch.float64)
        e[k] = 1
        torch.testing.assert_close(jac[..., k], twist_matrix(e))


@pytest.mark.parametrize("scale", [1e-8, 1e-3, 0.3, 2.0])
def test_log_inverts_exp(scale):
    gen = torch.Generator().manual_seed(2)
    xi = torch.randn(32, 6, generator=gen, dtype=torch.float64) * scale
    xi[:, :3] = torch.nn.functional.normalize(xi[:, :3], dim=-1) * xi[:, :3].norm(dim=-1, keepdim=True).clamp(max=3.0)
    torch.testing.assert_close(se3_log(se3_exp(xi)), xi, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(so3_log(so3_exp(xi[:, :3])), xi[:, :3], rtol=1e-9, atol=1e-12)


def test_compose_applies_the_right_motion_first_and_invert_undoes():
    a, b = random_poses(4, 3), random_poses(4, 4)
    x = torch.tensor([0.5, -1.0, 2.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(compose(a, b) @ x, (a @ (b @ x[:, None]))[..., 0])
    torch.testing.assert_close(compose(invert(a), a), torch.eye(4, dtype=torch.float64).expand(4, 4, 4))
    torch.testing.assert_close(invert(a), torch.linalg.inv(a))


@pytest.mark.parametrize("angle", [1e-5, 1e-3, 0.2, 1.5, 3.0])
def test_rotation_angle_about_any_axis(angle):
    axis = torch.nn.functional.normalize(torch.tensor([0.2, -0.9, 0.4], dtype=torch.float64), dim=0)
    rot = so3_exp(axis * angle)
    assert rotation_angle(rot).item() == pytest.approx(angle, rel=1e-9)
    other = so3_exp(torch.tensor([0.3, 0.1, -0.2], dtype=torch.float64))
    assert rotation_angle(other, other @ rot).item() == pytest.approx(angle, rel=1e-9)
    # float32 keeps small angles too (an arccos of the trace would return 0 below ~3e-4)
    assert rotation_angle(rot.float()).item() == pytest.approx(angle, rel=1e-3)


def test_zero_correction_returns_the_poses_bit_for_bit():
    c2w = random_poses(10, 5).float()
    out = correct_poses(c2w, torch.zeros(10, 6), torch.tensor([0.1, -0.2, 0.3]))
    assert torch.equal(out, c2w)
    assert torch.equal(PoseCorrections(10, torch.zeros(3))(c2w), c2w)


def test_correction_is_a_motion_of_the_world_about_the_centre():
    c2w = random_poses(6, 6)
    centre = torch.tensor([0.5, 0.2, -0.4], dtype=torch.float64)
    xi = torch.randn(6, 6, generator=torch.Generator().manual_seed(7), dtype=torch.float64) * 0.3
    shift, back = torch.eye(4, dtype=torch.float64), torch.eye(4, dtype=torch.float64)
    shift[:3, 3], back[:3, 3] = centre, -centre
    expected = shift @ se3_exp(xi) @ back @ c2w  # M x = R (x - c) + c + V u
    torch.testing.assert_close(correct_poses(c2w, xi, centre), expected)


def test_camera_frame_correction_moves_each_camera_in_its_own_frame():
    c2w = random_poses(6, 13)
    xi = torch.randn(6, 6, generator=torch.Generator().manual_seed(14), dtype=torch.float64) * 0.3
    torch.testing.assert_close(correct_in_camera_frame(c2w, xi), c2w @ se3_exp(xi))
    assert torch.equal(correct_in_camera_frame(c2w.float(), torch.zeros(6, 6)), c2w.float())
    moved = PoseCorrections(6, torch.zeros(3), frame="camera")
    with torch.no_grad():
        moved.twists.copy_(xi.float())
    torch.testing.assert_close(moved(c2w.float()), (c2w @ se3_exp(xi)).float(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="frame"):
        PoseCorrections(2, torch.zeros(3), frame="world")


def test_barf_noise_composes_on_the_world_side():
    c2w = random_poses(5, 8)
    xi = noise_twists(5, 0.15, seed=3)
    noisy = perturb_poses(c2w, xi)
    torch.testing.assert_close(invert(noisy), invert(c2w) @ se3_exp(xi))  # W' = W exp(xi)
    torch.testing.assert_close(correct_poses(noisy, xi, torch.zeros(3)), c2w)  # the correction undoes it


def test_noise_twists_are_seeded_and_sized():
    a, b = noise_twists(2000, 0.15, seed=4), noise_twists(2000, 0.15, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, noise_twists(2000, 0.15, seed=5))
    assert a.std().item() == pytest.approx(0.15, rel=0.05)
    fixed = fixed_size_twists(50, math.radians(3.0), 0.2, seed=1)
    torch.testing.assert_close(fixed[:, :3].norm(dim=-1), torch.full((50,), math.radians(3.0), dtype=torch.float64))
    torch.testing.assert_close(fixed[:, 3:].norm(dim=-1), torch.full((50,), 0.2, dtype=torch.float64))


def test_procrustes_recovers_a_known_similarity_exactly():
    gen = torch.Generator().manual_seed(9)
    src = torch.randn(40, 3, generator=gen, dtype=torch.float64) * 4
    rot = so3_exp(torch.tensor([0.7, -1.9, 0.4], dtype=torch.float64))
    sim = Similarity(2.7, rot, torch.tensor([1.0, -3.0, 0.5], dtype=torch.float64))
    found = procrustes(src, sim.apply(src))
    assert found.scale == pytest.approx(2.7, rel=1e-12)
    torch.testing.assert_close(found.rotation, rot, rtol=0, atol=1e-12)
    torch.testing.assert_close(found.translation, sim.translation, rtol=0, atol=1e-12)
    torch.testing.assert_close(found.inverse().apply(sim.apply(src)), src, rtol=0, atol=1e-12)


def test_procrustes_returns_a_rotation_for_mirrored_points():
    gen = torch.Generator().manual_seed(10)
    src = torch.randn(30, 3, generator=gen, dtype=torch.float64)
    mirrored = src * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    found = procrustes(src, mirrored)
    assert torch.det(found.rotation).item() == pytest.approx(1.0)


def test_aligned_poses_of_a_moved_copy_have_no_error():
    true = random_poses(20, 11)
    sim = Similarity(0.6, so3_exp(torch.tensor([0.1, 0.5, -0.3], dtype=torch.float64)),
                     torch.tensor([0.2, 0.0, -1.0], dtype=torch.float64))
    moved = sim.apply_to_poses(true)
    errors = pose_errors(moved, true)
    assert errors.rotation_deg.max() > 1 and errors.centre.max() > 0.1
    aligned, found = align_to(moved, true)
    errors = pose_errors(aligned, true)
    assert errors.rotation_deg.max() < 1e-9 and errors.translation.max() < 1e-9 and errors.centre.max() < 1e-9
    assert found.scale == pytest.approx(1 / 0.6)


def test_pose_errors_of_a_known_motion():
    true = random_poses(8, 12)
    wrong = true.clone()
    wrong[:, :3, :3] = true[:, :3, :3] @ so3_exp(torch.tensor([0.0, 0.0, math.radians(2.0)], dtype=torch.float64))
    wrong[:, :3, 3] += torch.tensor([0.03, 0.0, 0.04], dtype=torch.float64)
    errors = pose_errors(wrong, true)
    torch.testing.assert_close(errors.rotation_deg, torch.full((8,), 2.0, dtype=torch.float64))
    torch.testing.assert_close(errors.centre, torch.full((8,), 0.05, dtype=torch.float64))
    # BARF's translation: world-to-camera t = -R^T c, which also moves with the rotation error
    w2c = lambda p: -(p[:, :3, :3].transpose(1, 2) @ p[:, :3, 3:])[:, :, 0]  # noqa: E731
    torch.testing.assert_close(errors.translation, (w2c(wrong) - w2c(true)).norm(dim=-1))
    summary = errors.summary()
    assert summary["rotation_deg"] == pytest.approx(2.0) and summary["cameras"] == 8
