"""Analytic ray casting and shading of the primitives of a scene description (their
intersections are shapes.py's).

Everything is NumPy float64 and vectorised over rays, with no threads and no randomness, so the
same inputs give bit-identical outputs. Each primitive is intersected in its local frame
(``q = R^T (p - center)``); rays are first culled with the primitive's bounding sphere.

* sphere: closed form; box: slab test; cylinder: quadratic side + two caps;
* torus: sphere tracing of its exact signed distance from the bounding-sphere entry point
  (converged to 1e-7, at most ``TORUS_MAX_STEPS`` steps); the few near-tangent rays still
  running then get the first root of the torus quartic past the traced distance (batched
  companion-matrix eigenvalues, Newton-polished, kept if within 1e-6 of the surface).

Textures are evaluated in the same local frame, so they move and turn with their primitive.
The objects are duck-typed: see ``nerfspec.synth.description.Primitive`` and ``Texture``.
"""

from __future__ import annotations

import math

import numpy as np
import trimesh

# build_shapes, euler_xyz_deg and rotation_z_to are this module's to its callers too
from nerfspec.synth.shapes import (  # noqa: F401
    _EPS_T,
    TORUS_MAX_STEPS,
    _dot,
    _mat,
    _Shape,
    build_shapes,
    euler_xyz_deg,
    rotation_z_to,
)



# ----------------------------------------------------------------------------- textures

def albedo(texture, q: np.ndarray) -> np.ndarray:
    """(3, N) albedo of a texture at local surface points q (3, N)."""
    colors = np.asarray(texture.colors, dtype=np.float64)
    if texture.kind == "solid":
        return np.broadcast_to(colors[0][:, None], q.shape)
    f = float(texture.frequency)
    if texture.kind == "checker":
        parity = np.floor(q * f).sum(axis=0).astype(np.int64) % 2
        return colors.T[:, parity]
    x = _dot(np.asarray(texture.axis, dtype=np.float64)[:, None], q)
    if texture.kind == "stripes":
        return colors.T[:, np.floor(2.0 * f * x).astype(np.int64) % 2]
    if texture.kind == "grating":
        w = 0.5 + 0.5 * float(texture.amplitude) * np.sin(2.0 * math.pi * f * x)
        return colors[0][:, None] + w * (colors[1] - colors[0])[:, None]
    raise ValueError(f"unknown texture {texture.kind!r}")


# ----------------------------------------------------------------------------- casting

def _candidates(shape: _Shape, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Indices of the rays that meet the shape's bounding sphere in front of their origin."""
    rb = shape.bound_radius
    if origins.shape[1] == 1:  # one origin: a cone test, d . u >= cos(half angle)
        v = shape.center - origins[:, 0]
        dist = float(np.linalg.norm(v))
        if dist <= rb:
            return np.arange(dirs.shape[1])
        cos_half = math.sqrt(max(0.0, 1.0 - (rb / dist) ** 2))
        return np.nonzero(_dot(dirs, (v / dist)[:, None]) >= cos_half - 1e-12)[0]
    oc = origins - shape.center[:, None]
    b = _dot(oc, dirs)
    disc = b * b - (_dot(oc, oc) - rb * rb)
    return np.nonzero((disc > 0) & (-b + np.sqrt(np.maximum(disc, 0)) > 0))[0]


def nearest_hit(shapes: list[_Shape], origins: np.ndarray, dirs: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """First hit of world rays: origins (3, N) or (3, 1) shared, unit dirs (3, N).
    Returns the distance t (inf: miss) and the object index (-1: miss)."""
    n = dirs.shape[1]
    t_best = np.full(n, np.inf)
    id_best = np.full(n, -1, dtype=np.int64)
    for k, shape in enumerate(shapes):
        cand = _candidates(shape, origins, dirs)
        if cand.size == 0:
            continue
        if cand.size > 0.6 * n:  # most rays: intersecting them all is cheaper than gathering
            t = shape.intersect(shape.to_local(origins), _mat(shape.rot.T, dirs))
            better = t < t_best
            t_best = np.where(better, t, t_best)
            id_best[better] = k
            continue
        o_l = shape.to_local(origins if origins.shape[1] == 1 else origins[:, cand])
        t = shape.intersect(o_l, _mat(shape.rot.T, dirs[:, cand]))
        better = t < t_best[cand]
        t_best[cand[better]] = t[better]
        id_best[cand[better]] = k
    return t_best, id_best


def shade(shapes: list[_Shape], light, origins: np.ndarray, dirs: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cast and shade world rays (as ``nearest_hit``): rgb (3, N) in [0, 1] (0 on misses), hit
    distance t (inf on misses), object index (-1 on misses), unit world normals (3, N) (0 on
    misses)."""
    t, ids = nearest_hit(shapes, origins, dirs)
    n = dirs.shape[1]
    rgb = np.zeros((3, n))
    normals = np.zeros((3, n))
    l_dir = np.asarray(light.direction, dtype=np.float64)
    l_dir = l_dir / np.linalg.norm(l_dir)
    for k, shape in enumerate(shapes):
        sel = np.nonzero(ids == k)[0]
        if sel.size == 0:
            continue
        o_l = shape.to_local(origins if origins.shape[1] == 1 else origins[:, sel])
        d_l = _mat(shape.rot.T, dirs[:, sel])
        n_l, q = shape.surface(o_l + t[sel] * d_l)
        n_w = _mat(shape.rot, n_l)
        normals[:, sel] = n_w
        lambert = np.maximum(0.0, _dot(l_dir[:, None], n_w))
        rgb[:, sel] = albedo(shape.obj.texture, q) * (light.ambient + light.intensity * lambert)
    return np.clip(rgb, 0.0, 1.0), t, ids, normals


# ----------------------------------------------------------------------------- images

def subsample_offsets(supersample: int, centre: bool = True) -> np.ndarray:
    """(S, 2) regular sub-pixel offsets in [0, 1)^2 (s x s grid, cell centres) and, as the last
    row, the pixel centre (0.5, 0.5) when ``centre`` and it is not already on the grid (s even)."""
    s = int(supersample)
    g = (np.arange(s) + 0.5) / s
    xx, yy = np.meshgrid(g, g, indexing="xy")
    offs = np.stack([xx.ravel(), yy.ravel()], axis=1)
    if centre and s % 2 == 0:
        offs = np.concatenate([offs, [[0.5, 0.5]]], axis=0)
    return offs


_DIR_CACHE: dict[tuple, np.ndarray] = {}


def camera_sample_dirs(size: int, focal: float, supersample: int, centre: bool = True,
                       lens: tuple[str, tuple[float, ...]] | None = None) -> np.ndarray:
    """(3, H*W*S) unit camera-space directions of every sample of every pixel (row-major
    pixels, then the samples of ``subsample_offsets``), Blender convention. ``lens`` = (model,
    coefficients) of ``nerfspec.lens`` (None: pinhole): each sample's position in the image
    is undistorted to its ray, principal point at the image centre."""
    key = (int(size), float(focal), int(supersample), bool(centre), lens)
    if key not in _DIR_CACHE:
        h = w = int(size)
        offs = subsample_offsets(supersample, centre)
        jj, ii = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
        px = (ii[..., None] + offs[:, 0]).ravel()
        py = (jj[..., None] + offs[:, 1]).ravel()
        if lens is None:
            cam = np.stack([(px - 0.5 * w) / focal, -(py - 0.5 * h) / focal, -np.ones_like(px)])
            cam = cam / np.sqrt(_dot(cam, cam))
        else:
            cam = _lens_dirs(lens, px, py, w, h, focal)
        _DIR_CACHE.clear()
        _DIR_CACHE[key] = cam
    return _DIR_CACHE[key]


def _lens_dirs(lens: tuple[str, tuple[float, ...]], px: np.ndarray, py: np.ndarray, w: int, h: int,
               focal: float) -> np.ndarray:
    """(3, N) unit directions of image positions (px, py) (pixel i spans [i, i + 1)) through a
    distorting lens; ValueError where the model has no unique inverse."""
    import torch

    from nerfspec.lens import pixel_directions

    model, coeffs = lens
    dirs, ok = pixel_directions(model, torch.from_numpy(px - 0.5), torch.from_numpy(py - 0.5), focal, focal,
                                0.5 * w, 0.5 * h, torch.tensor(coeffs, dtype=torch.float64))
    if not bool(ok.all()):
        raise ValueError(f"the {model} distortion {tuple(coeffs)} folds over inside the image")
    return np.ascontiguousarray(dirs.numpy().T)


def render_view(shapes: list[_Shape], light, pose: np.ndarray, size: int, focal: float,
                supersample: int, band_of_object: np.ndarray,
                lens: tuple[str, tuple[float, ...]] | None = None, environment=None
                ) -> tuple[np.ndarray, np.ndarray]:
    """One view: RGBA uint8 (H, W, 4) with straight colour and alpha = coverage, and the band
    image uint8 (H, W) (band index + 1 of the object hit at the pixel centre, 0 for none).

    ``lens`` as in ``camera_sample_dirs``. ``environment`` (unit world directions (3, M) and
    the eye (3,) -> rgb (3, M)), if given, is what samples that miss every object see: the image is then the
    average over each pixel's samples, fully opaque (alpha 255).
    """
    h = w = int(size)
    s = int(supersample)
    n_grid = s * s
    with_bands = bool(np.any(band_of_object))  # without bands the band image is all 0
    n_s = subsample_offsets(s, with_bands).shape[0]
    dirs = _mat(pose[:3, :3], camera_sample_dirs(size, focal, s, with_bands, lens))
    eye = np.asarray(pose[:3, 3], dtype=np.float64)
    # rays that miss the bounding sphere of the whole scene are background
    centers = np.stack([sh.center for sh in shapes])
    mid = 0.5 * (centers.min(axis=0) + centers.max(axis=0))
    reach = max(float(np.linalg.norm(sh.center - mid)) + sh.bound_radius for sh in shapes)
    v = mid - eye
    dist = float(np.linalg.norm(v))
    if dist > reach:
        cos_half = math.sqrt(1.0 - (reach / dist) ** 2)
        fg = np.nonzero(_dot(dirs, (v / dist)[:, None]) >= cos_half - 1e-12)[0]
    else:
        fg = np.arange(dirs.shape[1])
    rgb = np.zeros((3, dirs.shape[1]))
    ids = np.full(dirs.shape[1], -1, dtype=np.int64)
    if fg.size:
        rgb[:, fg], _, ids[fg], _ = shade(shapes, light, eye[:, None], dirs[:, fg])
    if environment is not None:
        miss = ids < 0
        rgb[:, miss] = environment(dirs[:, miss], eye)
    ids = ids.reshape(h, w, n_s)
    cover = (ids[..., :n_grid] >= 0).sum(axis=-1) * (1.0 / n_grid)
    premult = rgb.reshape(3, h, w, n_s)[..., :n_grid].sum(axis=-1) * (1.0 / n_grid)  # 0 on misses
    if environment is not None:
        cover = np.ones_like(cover)
    straight = premult / np.where(cover > 0, cover, 1.0)
    img = np.empty((h, w, 4), dtype=np.uint8)
    img[..., :3] = np.clip(np.round(straight * 255.0), 0, 255).transpose(1, 2, 0)
    img[..., 3] = np.round(cover * 255.0)
    if not with_bands:
        return img, np.zeros((h, w), dtype=np.uint8)
    centre = ids[..., n_s - 1] if s % 2 == 0 else ids[..., n_grid // 2]
    band = np.where(centre >= 0, band_of_object[np.maximum(centre, 0)], 0).astype(np.uint8)
    return img, band


# ----------------------------------------------------------------------------- mesh

UNION_MAX_EDGE = 0.01  # scene units: the largest face the inside test judges near another primitive


def split_faces_near(verts: np.ndarray, faces: np.ndarray, others: list[_Shape],
                     max_edge: float = UNION_MAX_EDGE) -> tuple[np.ndarray, np.ndarray]:
    """verts (V, 3), faces (F, 3) with every face that may cross another primitive's surface split
    (midpoints, repeatedly) until its edges are at most ``max_edge`` long.

    A face with centroid c and circumradius rho (the farthest vertex from c) can reach the
    surface of a primitive with exact SDF s only if |s(c)| < rho (s is 1-Lipschitz), so only
    those faces are split; the others lie wholly inside or outside it and are judged whole."""
    check = np.arange(len(faces))  # faces not yet judged; an unsplit face stays as it is
    while check.size:
        tri = verts[faces[check]]
        cent = tri.mean(axis=1)
        rho = np.linalg.norm(tri - cent[:, None], axis=2).max(axis=1)
        edge = np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=2).max(axis=1)
        near = np.zeros(len(check), dtype=bool)
        for other in others:
            near |= np.abs(other.sdf(other.to_local(cent.T))) < rho
        split = check[near & (edge > max_edge)]
        if split.size == 0:
            break
        verts, faces = trimesh.remesh.subdivide(verts, faces, face_index=split)
        check = np.arange(len(faces) - 4 * len(split), len(faces))  # subdivide puts the pieces last
    return verts, faces


def snap_to_surface(shape: _Shape, verts: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """verts (V, 3) near ``shape``'s surface moved onto it: p - s(p) grad s(p) / |grad s(p)| with
    its exact SDF s and a central-difference gradient (step h), in the local frame. Splitting a
    curved primitive's face puts new vertices on the chord, up to its sag off the surface."""
    q = shape.to_local(np.asarray(verts, dtype=np.float64).T)
    s = shape.sdf(q)
    grad = np.stack([shape.sdf(q + h * e[:, None]) - shape.sdf(q - h * e[:, None]) for e in np.eye(3)])
    grad /= np.maximum(np.linalg.norm(grad, axis=0), 1e-12)
    return (shape.rot @ (q - s * grad)).T + shape.center


def union_mesh(shapes: list[_Shape], max_edge: float = UNION_MAX_EDGE) -> trimesh.Trimesh:
    """The primitives' meshes in world units, concatenated, with the faces whose centroid lies
    inside (or on) another primitive removed: the union's surface. Faces that may cross another
    primitive's surface are first split to edges of at most ``max_edge`` (``split_faces_near``),
    so a large face (a box's side) that another primitive stands on loses only the part it
    covers; the union is then exact up to pieces of that size along the seams."""
    parts = []
    for k, shape in enumerate(shapes):
        m = shape.mesh()
        verts = m.vertices @ shape.rot.T + shape.center
        faces = m.faces
        others = [other for j, other in enumerate(shapes) if j != k]
        if others:
            verts, faces = split_faces_near(verts, faces, others, max_edge)
            verts = snap_to_surface(shape, verts)
            cent = verts[faces].mean(axis=1).T
            inside = np.zeros(len(faces), dtype=bool)
            for other in others:
                inside |= other.sdf(other.to_local(cent)) < 1e-9
            faces = faces[~inside]
        parts.append(trimesh.Trimesh(vertices=verts, faces=faces, process=False))
    mesh = trimesh.util.concatenate(parts)
    mesh.remove_unreferenced_vertices()
    return mesh
