"""nerfspec.export.geometry: Chamfer-L1, F-score, nearest distances, volumetric IoU, winding
number and cavity filling, against closed forms."""

import numpy as np
import pytest
import trimesh

from nerfspec.export import geometry


def sphere_points(radius: float, n: int, seed: int) -> np.ndarray:
    p = np.random.default_rng(seed).normal(size=(n, 3))
    return radius * p / np.linalg.norm(p, axis=1, keepdims=True)


def test_chamfer_and_fscore_of_concentric_spheres():
    inner, outer = sphere_points(1.0, 20000, 0), sphere_points(1.1, 20000, 1)
    assert geometry.chamfer_l1(inner, outer) == pytest.approx(0.1, abs=0.004)
    assert geometry.chamfer_l1(inner, inner) == 0.0
    f, precision, recall = geometry.fscore(inner, outer, tau=0.05)
    assert (f, precision, recall) == (0.0, 0.0, 0.0)
    f, precision, recall = geometry.fscore(inner, outer, tau=0.2)
    assert (f, precision, recall) == (1.0, 1.0, 1.0)


def test_nearest_distances_exact_on_small_sets():
    a = np.array([[0.0, 0, 0], [3, 0, 0]])
    b = np.array([[1.0, 0, 0], [0, 2, 0]])
    assert np.allclose(geometry.nearest_distances(a, b), [1.0, 2.0])


def test_volume_iou_of_concentric_balls():
    x = np.random.default_rng(0).uniform(-1.5, 1.5, size=(200_000, 3))
    r = np.linalg.norm(x, axis=1)
    assert geometry.volume_iou(r < 0.8, r < 1.0) == pytest.approx(0.8 ** 3, abs=0.01)
    assert geometry.volume_iou(r < 0.1, r < 0.1) == 1.0
    assert geometry.volume_iou(np.zeros(3, bool), np.zeros(3, bool)) == 1.0


def test_winding_number_inside_outside_and_analytic_inside():
    ball = trimesh.creation.icosphere(subdivisions=2, radius=1.0)
    q = np.array([[0.0, 0, 0], [0.5, 0.2, -0.1], [1.5, 0, 0], [0, -2, 1]])
    w = geometry.winding_number(q, ball.vertices, ball.faces, pairs_per_chunk=100)
    assert np.allclose(w, [1, 1, 0, 0], atol=1e-6)

    from nerfspec.synth import raycast
    from nerfspec.synth import SCENES_DIR, load_scene_description

    shapes = raycast.build_shapes(load_scene_description(SCENES_DIR / "sphere.toml"))
    assert geometry.analytic_inside(shapes, q).tolist() == [True, True, False, False]


def test_fill_cavities_fills_a_hollow_shell_but_not_an_open_cup():
    r = np.linalg.norm(np.stack(np.meshgrid(*[np.linspace(-1, 1, 33)] * 3, indexing="ij")), axis=0)
    shell = (r > 0.6) & (r < 0.8)
    solid = geometry.fill_cavities(shell)
    assert solid[16, 16, 16] and np.array_equal(solid, r < 0.8)
    cup = shell & ~((np.arange(33) > 24)[None, None, :])  # cut the top off: the inside opens
    assert not geometry.fill_cavities(cup)[16, 16, 16]
    # a cavity corner that no axis ray from the border reaches, open through a corridor
    box = np.ones((12, 12, 12), bool)
    box[2:10, 2:10, 2:10] = False  # cavity
    box[5, 5, 0:2] = False  # corridor into it along z
    assert not geometry.fill_cavities(box)[3, 3, 5]  # reached by growing, not by the axis seed
    box[5, 5, 0:2] = True  # sealed again
    assert geometry.fill_cavities(box)[3, 3, 5]
