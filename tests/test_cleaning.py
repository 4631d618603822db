"""nerfspec.export.cleaning: the rules that drop faces no training view constrains (frustum,
silhouette) and small pieces, against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from nerfspec.cameras import Cameras, look_at

from nerfspec.export import cleaning
from tests.test_visibility import SIZE, camera_at, depth_of_unit_sphere


def two_spheres() -> trimesh.Trimesh:
    """A unit sphere at the origin and a small one at (0, 0, 2.5)."""
    big = trimesh.creation.icosphere(subdivisions=3)
    small = trimesh.creation.icosphere(subdivisions=1, radius=0.1)
    small.apply_translation([0.0, 0.0, 2.5])
    return trimesh.util.concatenate([big, small])


def test_frustum_rule_drops_faces_no_camera_looks_at():
    mesh = two_spheres()
    side = camera_at((0.0, -4.0, 0.0))  # sees the origin; (0, 0, 2.5) is outside its 22-degree half view
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("frustum"), side)
    assert report["removed_outside_frusta"] == 80 and len(out.faces) == len(mesh.faces) - 80
    assert report["components_before"] == 2 and report["components_after"] == 1
    kept, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("none"), side)
    assert len(kept.faces) == len(mesh.faces) and report["removed_outside_frusta"] == 0


def test_silhouette_rule_drops_faces_seen_against_background():
    mesh = two_spheres()
    top = camera_at((0.0, 0.1, 6.0))  # both spheres in view
    i, j, _ = top.project(torch.tensor([[0.0, 0.0, 0.0]]), 0)
    alpha = torch.zeros(1, SIZE, SIZE, dtype=torch.uint8)
    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    alpha[0][((xx - i) ** 2 + (yy - j) ** 2) < 7.0 ** 2] = 255  # the big sphere's disc (radius ~6.9 px)
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("silhouette"), top, alpha)
    # the small sphere lies over the big one's disc from above: the silhouette keeps it ...
    assert report["removed_by_silhouettes"] == 0
    side = camera_at((0.0, -8.0, 0.0))  # ... a side view sees it against the background
    i, j, _ = side.project(torch.tensor([[0.0, 0.0, 0.0]]), 0)
    alpha[0] = 0
    alpha[0][((xx - i) ** 2 + (yy - j) ** 2) < 5.5 ** 2] = 255  # radius ~5.0 px from 8 units away
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("silhouette"), side, alpha)
    assert report["removed_by_silhouettes"] == 80 and report["components_after"] == 1
    assert len(out.faces) == len(mesh.faces) - 80


def test_min_component_share_drops_small_pieces():
    mesh = two_spheres()  # 1280 + 80 faces
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("none", min_component=0.07), None)
    assert report["removed_small_components"] == 80 and len(out.faces) == 1280  # 80 < 0.07 x 1360
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("none", min_component=0.05), None)
    assert report["removed_small_components"] == 0 and report["components_after"] == 2  # 80 >= 68


def test_depth_rule_drops_what_is_behind_the_rendered_surface():
    """A unit sphere with a smaller one inside it, seen by one camera above: the inner sphere and
    the outer one's far side are behind the surface the camera renders; its near cap stays."""
    outer = trimesh.creation.icosphere(subdivisions=3)
    inner = trimesh.creation.icosphere(subdivisions=2, radius=0.5)
    mesh = trimesh.util.concatenate([outer, inner])
    cams = Cameras.pinhole(look_at(torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64)).float()[None], 128, 128, 160.0)
    out, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("depth", depth_margin=0.02), cams,
                                      depths=depth_of_unit_sphere(cams))
    kept = np.asarray(out.triangles_center)
    assert np.linalg.norm(kept, axis=1).min() > 0.9  # nothing of the inner sphere
    assert kept[:, 2].min() > -0.05  # it sees the cap z > 1/4; within a pixel of the outline, down to the equator
    cap = np.asarray(outer.triangles_center)[:, 2] > 0.5  # 5 pixels inside the outline and more: all kept
    assert (np.linalg.norm(kept[:, None] - np.asarray(outer.triangles_center)[cap][None], axis=2).min(axis=0)
            < 1e-9).all()
    assert report["removed_behind_depth"] == len(mesh.faces) - len(out.faces)
    assert report["removed_outside_frusta"] == 0 and report["components_after"] == 1
    _, report = cleaning.clean_mesh(mesh, cleaning.CleanSpec("frustum"), cams)
    assert report["removed_behind_depth"] == 0
    with pytest.raises(ValueError, match="depth maps"):
        cleaning.clean_mesh(mesh, cleaning.CleanSpec("depth"), cams)
