"""nerfspec.fit.shapes: the shape task's targets: mesh inside tests, normalisation to the unit box,
near-surface test points and IoU, against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import trimesh

from nerfspec.errors import NerfspecError
from nerfspec.fit import shapes


def sphere(radius=0.4, subdivisions=4):
    return trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)


def test_inside_mesh_matches_a_sphere_away_from_the_surface():
    m = sphere()
    p = np.random.default_rng(0).random((20000, 3)) - 0.5
    r = np.linalg.norm(p, axis=1)
    far = np.abs(r - 0.4) > 0.01  # the icosphere deviates from the sphere by < 0.01
    inside = shapes.inside_mesh(p, m.vertices, m.faces)
    assert np.array_equal(inside[far], (r < 0.4)[far])


def test_inside_mesh_volume_of_a_torus():
    m = trimesh.creation.torus(0.3, 0.08, major_sections=96, minor_sections=32)
    p = np.random.default_rng(1).random((60000, 3)) - 0.5
    frac = shapes.inside_mesh(p, m.vertices, m.faces).mean()
    exact = 2 * math.pi ** 2 * 0.3 * 0.08 ** 2  # unit box volume
    assert abs(frac - exact) < 0.004


def test_normalise_mesh_to_the_unit_box_and_back():
    m = sphere(2.0)
    m.vertices += [10.0, 0.0, 0.0]
    t = shapes.normalise_mesh(m)
    v = np.asarray(t.mesh.vertices)
    assert abs(v.max() - 1.0) < 1e-9 or abs(v.min()) < 1e-9
    assert np.all(v >= -1e-9) and np.all(v <= 1 + 1e-9)
    np.testing.assert_allclose(t.to_original(v), m.vertices, atol=1e-9)


def test_surface_points_lie_on_the_surface_and_test_points_are_near_it():
    t = shapes.normalise_mesh(sphere(1.0, 5))
    rng = np.random.default_rng(0)
    on = shapes.surface_points(t.mesh, 2000, rng)
    r = np.linalg.norm(on - 0.5, axis=1)
    assert np.all(np.abs(r - 0.5) < 0.003)
    pts, occ = shapes.test_points(t, 4000, seed=3)
    d = np.linalg.norm(pts - 0.5, axis=1) - 0.5
    assert abs(d.std() - shapes.SURFACE_NOISE) < 0.002  # radial part of N(0, 0.01^2 I)
    assert np.array_equal(occ[np.abs(d) > 0.005], (d < 0)[np.abs(d) > 0.005])


def test_iou_closed_form():
    a = np.array([1, 1, 1, 0, 0], bool)
    b = np.array([0, 1, 1, 1, 0], bool)
    assert shapes.iou(a, b) == pytest.approx(2 / 4)
    assert shapes.iou(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_load_mesh_errors(tmp_path):
    with pytest.raises(NerfspecError, match="no such mesh"):
        shapes.load_mesh(tmp_path / "x.ply")
    (tmp_path / "bad.ply").write_text("ply\nnonsense\n")
    with pytest.raises(NerfspecError, match="bad.ply"):
        shapes.load_mesh(tmp_path / "bad.ply")
