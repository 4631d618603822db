"""nerfspec.export.cleaning: the rules that drop faces no training view constrains (frustum,
silhouette) and small pieces, against closed forms."""

from __future__ import annotations

import torch
import trimesh

from nerfspec.export import cleaning
from tests.test_visibility import SIZE, camera_at


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
