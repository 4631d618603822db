"""The still parts of the viewer's 3D scene: training cameras as frustums with their images,
the scene box, the occupied cells of the occupancy grid and the extracted mesh.

The geometry is computed by pure functions (tested without a browser); ``add_*`` hand it to
a viser scene.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from nerfspec.cameras import Cameras
from nerfspec.render.cascades import cascade_cell_points
from nerfspec.run_layout import mesh_dir, mesh_path
from nerfspec.viewer.camera import c2w_to_browser, vertical_fov

BOX_EDGES = [(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7)]


def box_segments(aabb) -> np.ndarray:
    """The 12 edges (12, 2, 3) of the box aabb = (xmin, ymin, zmin, xmax, ymax, zmax); corner k
    takes bit 2 of k for x, bit 1 for y, bit 0 for z (0: min, 1: max)."""
    a = np.asarray(aabb, dtype=np.float32).reshape(2, 3)
    corners = np.array([[a[(k >> 2) & 1, 0], a[(k >> 1) & 1, 1], a[k & 1, 2]] for k in range(8)])
    return np.stack([corners[[i, j]] for i, j in BOX_EDGES]).astype(np.float32)


def occupied_points(binary: Tensor, aabbs: Tensor, resolution: int, limit: int = 50_000) -> np.ndarray:
    """Centres (K, 3) of the occupied cells of a flat grid ``binary`` (L R^3,) over the level
    boxes ``aabbs`` (L, 6) (or one box (6,)), every ceil(K / limit)-th one when there are more
    than ``limit`` (a browser draws 50k points easily)."""
    cells = torch.nonzero(binary.cpu()).reshape(-1)
    step = max(1, -(-cells.numel() // limit))
    boxes = aabbs.cpu().float().reshape(-1, 6)
    return cascade_cell_points(boxes, cells[::step], resolution).numpy().astype(np.float32)


def thumbnail(image: Tensor, width: int = 96) -> np.ndarray:
    """An RGBA uint8 image (H, W, 4) shrunk by an integer stride to about ``width`` pixels wide,
    composited on white (the frustum shows what the camera saw), as (h, w, 3) uint8."""
    stride = max(1, image.shape[1] // width)
    img = image[::stride, ::stride].float() / 255.0
    rgb = img[..., :3] * img[..., 3:4] + (1.0 - img[..., 3:4]) if img.shape[-1] == 4 else img[..., :3]
    return (rgb * 255.0 + 0.5).to(torch.uint8).numpy()


def frustum_poses(cameras: Cameras) -> list[dict]:
    """Per camera: its browser pose (wxyz, position), vertical fov and aspect ratio W / H."""
    out = []
    for k in range(len(cameras)):
        wxyz, position = c2w_to_browser(cameras.c2w[k].double().numpy())
        out.append({"wxyz": wxyz, "position": position,
                    "fov": vertical_fov(cameras.height, float(cameras.fy[k])),
                    "aspect": cameras.width / cameras.height})
    return out


def find_mesh(run_dir: Path) -> Path | None:
    """The run's extracted mesh (RUN/mesh/mesh.ply, else any RUN/mesh/*.ply or .obj), if any."""
    folder = mesh_dir(run_dir)
    if mesh_path(run_dir).is_file():
        return mesh_path(run_dir)
    found = sorted(folder.glob("*.ply")) + sorted(folder.glob("*.obj")) if folder.is_dir() else []
    return found[0] if found else None


def add_frustums(scene, cameras: Cameras, images: Tensor, scale: float, limit: int = 100) -> list:
    """Up to ``limit`` training cameras (evenly chosen) as frustums with their images."""
    step = max(1, -(-len(cameras) // limit))
    handles = []
    for k, pose in list(enumerate(frustum_poses(cameras)))[::step]:
        handles.append(scene.add_camera_frustum(
            f"/cameras/{k}", fov=pose["fov"], aspect=pose["aspect"], scale=scale,
            image=thumbnail(images[k]), wxyz=pose["wxyz"], position=pose["position"], color=(70, 110, 200)))
    return handles


def add_box(scene, aabb) -> object:
    return scene.add_line_segments("/scene_box", points=box_segments(aabb), colors=(240, 140, 40),
                                   thickness=0.01)


def add_grid(scene, estimator, visible: bool) -> object:
    points = occupied_points(estimator.binary, estimator.level_aabbs(), estimator.resolution)
    return scene.add_point_cloud("/occupancy_grid", points=points, colors=(90, 170, 90),
                                 point_size=float((estimator.aabb[3] - estimator.aabb[0]) / estimator.cfg.grid_resolution),
                                 visible=visible)


def add_mesh(scene, path: Path) -> object:
    import trimesh

    mesh = trimesh.load(path, force="mesh")
    return scene.add_mesh_trimesh("/mesh", mesh=mesh)
