"""Analytic ray casting and shading of the primitives of a scene description.

Everything is NumPy float64 and vectorised over rays, with no threads and no randomness, so the
same inputs give bit-identical outputs. Each primitive is intersected in its local frame
(``q = R^T (p - center)``); rays are first culled with the primitive's bounding sphere.

* sphere: closed form; box: slab test; cylinder: quadratic side + two caps;
* torus: sphere tracing of its exact signed distance from the bounding-sphere entry point
  (converged to 1e-7, at most ``TORUS_MAX_STEPS`` steps); the few near-tangent rays still
  running then get the first root of the torus quartic past the traced distance (batched
  companion-matrix eigenvalues, Newton-polished, kept if within 1e-6 of the surface).

Textures are evaluated in the same local frame, so they move and turn with their primitive.
The objects are duck-typed: see ``nerfspec.data.scenes.Primitive`` and ``Texture``.
"""

from __future__ import annotations

import math

import numpy as np
import trimesh

TORUS_MAX_STEPS = 40
_EPS_T = 1e-9


# ----------------------------------------------------------------------------- frames

def euler_xyz_deg(angles) -> np.ndarray:
    """Rotation R = Rz @ Ry @ Rx for angles (degrees) about x, then y, then z (fixed axes)."""
    ax, ay, az = (math.radians(float(a)) for a in angles)
    cx, sx, cy, sy, cz, sz = math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay), math.cos(az), math.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def rotation_z_to(axis) -> np.ndarray:
    """The rotation taking +z to the unit vector ``axis`` (about z x axis, Rodrigues)."""
    a = np.asarray(axis, dtype=np.float64)
    a = a / np.linalg.norm(a)
    z = np.array([0.0, 0.0, 1.0])
    c = float(z @ a)
    if c > 1.0 - 1e-12:
        return np.eye(3)
    if c < -1.0 + 1e-12:
        return np.diag([1.0, -1.0, -1.0])  # half turn about x
    v = np.cross(z, a)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * (1.0 / (1.0 + c))


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise dot of (3, N) arrays (component-major, each component contiguous)."""
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _mat(m: np.ndarray, v: np.ndarray) -> np.ndarray:
    """m (3, 3) @ v (3, N) as plain element-wise products and sums, so the result does not
    depend on the BLAS build or thread count."""
    return np.stack([m[i, 0] * v[0] + m[i, 1] * v[1] + m[i, 2] * v[2] for i in range(3)])


# ----------------------------------------------------------------------------- primitives
# Points and directions are (3, N) arrays (x, y, z rows); a ray origin shared by all rays
# may be passed as (3, 1).

class _Shape:
    """One primitive: local frame, bounding sphere, intersection, surface normal, SDF."""

    def __init__(self, obj, rot: np.ndarray, bound_radius: float):
        self.obj = obj
        self.center = np.asarray(obj.center, dtype=np.float64)
        self.rot = rot  # local -> world
        self.bound_radius = float(bound_radius)

    def to_local(self, p: np.ndarray) -> np.ndarray:
        return _mat(self.rot.T, p - self.center[:, None])

    def intersect(self, o: np.ndarray, d: np.ndarray) -> np.ndarray:
        """Distance to the first hit (inf for a miss) of local rays o + t d, |d| = 1."""
        raise NotImplementedError

    def surface(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local unit normals at surface points q, and q snapped exactly onto flat faces."""
        raise NotImplementedError

    def sdf(self, q: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def mesh(self) -> trimesh.Trimesh:
        """A mesh of the surface in the local frame."""
        raise NotImplementedError


class _Sphere(_Shape):
    def __init__(self, obj):
        super().__init__(obj, np.eye(3), obj.radius)
        self.r = float(obj.radius)

    def intersect(self, o, d):
        b = _dot(o, d)
        c = _dot(o, o) - self.r * self.r
        disc = b * b - c
        s = np.sqrt(np.maximum(disc, 0.0))
        t0, t1 = -b - s, -b + s
        t = np.where(t0 > _EPS_T, t0, np.where(t1 > _EPS_T, t1, np.inf))
        return np.where(disc >= 0, t, np.inf)

    def surface(self, q):
        return q / np.sqrt(_dot(q, q)), q

    def sdf(self, q):
        return np.sqrt(_dot(q, q)) - self.r

    def mesh(self):
        return trimesh.creation.icosphere(subdivisions=5, radius=self.r)


class _Box(_Shape):
    def __init__(self, obj):
        h = np.asarray(obj.half_size, dtype=np.float64)
        super().__init__(obj, euler_xyz_deg(obj.rotation), float(np.linalg.norm(h)))
        self.h = h

    def intersect(self, o, d):
        tn = np.full(d.shape[1], -np.inf)
        tf = np.full(d.shape[1], np.inf)
        for a in range(3):
            h, oa, da = self.h[a], o[a], d[a]
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = 1.0 / da
                t1 = (-h - oa) * inv
                t2 = (h - oa) * inv
            par = da == 0
            lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
            if par.any():  # a ray parallel to a slab: inside it -> no limit, outside -> empty
                inside = np.broadcast_to(np.abs(oa) <= h, par.shape)
                lo = np.where(par, np.where(inside, -np.inf, np.inf), lo)
                hi = np.where(par, np.where(inside, np.inf, -np.inf), hi)
            np.maximum(tn, lo, out=tn)
            np.minimum(tf, hi, out=tf)
        hit = (tn <= tf) & (tf > _EPS_T)
        return np.where(hit, np.where(tn > _EPS_T, tn, tf), np.inf)

    def surface(self, q):
        ratio = np.abs(q) / self.h[:, None]
        ax = ratio.argmax(axis=0)
        cols = np.arange(q.shape[1])
        sign = np.where(q[ax, cols] >= 0, 1.0, -1.0)
        n = np.zeros_like(q)
        n[ax, cols] = sign
        snapped = q.copy()
        snapped[ax, cols] = sign * self.h[ax]
        return n, snapped

    def sdf(self, q):
        e = np.abs(q) - self.h[:, None]
        return np.sqrt(_dot(np.maximum(e, 0), np.maximum(e, 0))) + np.minimum(e.max(axis=0), 0)

    def mesh(self):
        return trimesh.creation.box(extents=2 * self.h)


class _Cylinder(_Shape):
    def __init__(self, obj):
        super().__init__(obj, rotation_z_to(obj.axis), math.hypot(obj.radius, obj.half_height))
        self.r, self.hh = float(obj.radius), float(obj.half_height)

    def intersect(self, o, d):
        ox, oy, oz = o
        dx, dy, dz = d
        a = dx * dx + dy * dy
        b = ox * dx + oy * dy
        c = ox * ox + oy * oy - self.r * self.r
        disc = b * b - a * c
        ok = (a > 1e-14) & (disc >= 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ts = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
        side = ok & (ts > _EPS_T) & (np.abs(oz + ts * dz) <= self.hh)
        t = np.where(side, ts, np.inf)
        nz = dz != 0
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / dz
        for cap in (-self.hh, self.hh):
            with np.errstate(invalid="ignore"):
                tc = (cap - oz) * inv
                x, y = ox + tc * dx, oy + tc * dy
                good = nz & (tc > _EPS_T) & (x * x + y * y <= self.r * self.r) & (tc < t)
            t = np.where(good, tc, t)
        return t

    def surface(self, q):
        rho = np.hypot(q[0], q[1])
        cap = np.abs(np.abs(q[2]) - self.hh) < np.abs(rho - self.r)
        sign = np.where(q[2] >= 0, 1.0, -1.0)
        safe = np.maximum(rho, 1e-300)
        n = np.stack([np.where(cap, 0.0, q[0] / safe), np.where(cap, 0.0, q[1] / safe),
                      np.where(cap, sign, 0.0)])
        snapped = q.copy()
        snapped[2] = np.where(cap, sign * self.hh, q[2])
        return n, snapped

    def sdf(self, q):
        dr = np.hypot(q[0], q[1]) - self.r
        dz = np.abs(q[2]) - self.hh
        return np.minimum(np.maximum(dr, dz), 0) + np.hypot(np.maximum(dr, 0), np.maximum(dz, 0))

    def mesh(self):
        return trimesh.creation.cylinder(radius=self.r, height=2 * self.hh, sections=96)


class _Torus(_Shape):
    def __init__(self, obj):
        super().__init__(obj, rotation_z_to(obj.axis), obj.major_radius + obj.minor_radius)
        self.R, self.r = float(obj.major_radius), float(obj.minor_radius)

    def sdf(self, q):
        return np.hypot(np.hypot(q[0], q[1]) - self.R, q[2]) - self.r

    def intersect(self, o, d):
        n = d.shape[1]
        o = np.broadcast_to(o, d.shape)
        t = np.full(n, np.inf)
        rb = self.R + self.r
        b = _dot(o, d)
        disc = b * b - (_dot(o, o) - rb * rb)
        idx = np.nonzero(disc > 0)[0]
        s = np.sqrt(disc[idx])
        t0, t1 = np.maximum(-b[idx] - s, 0.0), -b[idx] + s
        # also clip to the slab |z| <= r
        oz, dz = o[2, idx], d[2, idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            za, zb = (-self.r - oz) / dz, (self.r - oz) / dz
        par = dz == 0
        inside = np.abs(oz) <= self.r
        t0 = np.maximum(t0, np.where(par, np.where(inside, -np.inf, np.inf), np.minimum(za, zb)))
        t1 = np.minimum(t1, np.where(par, np.where(inside, np.inf, -np.inf), np.maximum(za, zb)))
        keep = t0 < t1
        idx, tc, tend = idx[keep], t0[keep], t1[keep]
        ol, dl = o[:, idx], d[:, idx]
        for _ in range(TORUS_MAX_STEPS):
            if idx.size == 0:
                break
            dist = self.sdf(ol + tc * dl)
            done = dist < 1e-7
            t[idx[done]] = tc[done] + dist[done]
            tc = tc + dist
            live = ~done & (tc <= tend)
            idx, tc, tend, ol, dl = idx[live], tc[live], tend[live], ol[:, live], dl[:, live]
        if idx.size:  # near-tangent rays converge slowly: solve the quartic for them
            t[idx] = self._quartic_hit(ol, dl, tc, tend)
        return t

    def _quartic_hit(self, o, d, lo, hi):
        """First root in [lo, hi] of (|p|^2 + R^2 - r^2)^2 - 4 R^2 (px^2 + py^2), p = o + t d
        (companion-matrix eigenvalues, then Newton polish); inf where there is none."""
        R2 = self.R * self.R
        b = _dot(o, d)
        k = _dot(o, o) + R2 - self.r * self.r
        a2 = d[0] * d[0] + d[1] * d[1]
        a1 = o[0] * d[0] + o[1] * d[1]
        a0 = o[0] * o[0] + o[1] * o[1]
        c = np.stack([np.ones_like(b), 4 * b, 4 * b * b + 2 * k - 4 * R2 * a2, 4 * b * k - 8 * R2 * a1,
                      k * k - 4 * R2 * a0], axis=1)  # highest degree first
        comp = np.zeros((len(b), 4, 4))
        comp[:, 0, :] = -c[:, 1:]
        comp[:, 1, 0] = comp[:, 2, 1] = comp[:, 3, 2] = 1.0
        roots = np.linalg.eigvals(comp)
        real = (np.abs(roots.imag) < 1e-4) & (roots.real >= lo[:, None] - 1e-6) & (roots.real <= hi[:, None] + 1e-6)
        tr = np.where(real, roots.real, np.inf).min(axis=1)
        ok = np.isfinite(tr)
        tr = np.where(ok, tr, lo)
        dc = np.array([4.0, 3.0, 2.0, 1.0]) * c[:, :4]
        for _ in range(3):
            pv = (((c[:, 0] * tr + c[:, 1]) * tr + c[:, 2]) * tr + c[:, 3]) * tr + c[:, 4]
            dv = ((dc[:, 0] * tr + dc[:, 1]) * tr + dc[:, 2]) * tr + dc[:, 3]
            step = np.where(np.abs(dv) > 1e-12, pv / np.where(np.abs(dv) > 1e-12, dv, 1.0), 0.0)
            tr = tr - np.clip(step, -1e-3, 1e-3)
        ok &= np.abs(self.sdf(o + tr * d)) < 1e-6
        return np.where(ok, tr, np.inf)

    def surface(self, q):
        rho = np.maximum(np.hypot(q[0], q[1]), 1e-300)
        v = np.stack([q[0] - q[0] * (self.R / rho), q[1] - q[1] * (self.R / rho), q[2]])
        return v / np.maximum(np.sqrt(_dot(v, v)), 1e-300), q

    def mesh(self):
        return trimesh.creation.torus(self.R, self.r, major_sections=128, minor_sections=48)


_SHAPES = {"sphere": _Sphere, "box": _Box, "cylinder": _Cylinder, "torus": _Torus}


def build_shapes(description) -> list[_Shape]:
    return [_SHAPES[obj.kind](obj) for obj in description.objects]


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

def union_mesh(shapes: list[_Shape]) -> trimesh.Trimesh:
    """The primitives' meshes in world units, concatenated, with the faces whose centroid lies
    inside (or on) another primitive removed: an approximation of the union's surface (faces
    that straddle another primitive's surface are kept whole)."""
    parts = []
    for k, shape in enumerate(shapes):
        m = shape.mesh()
        verts = m.vertices @ shape.rot.T + shape.center
        faces = m.faces
        if len(shapes) > 1:
            cent = verts[faces].mean(axis=1).T
            inside = np.zeros(len(faces), dtype=bool)
            for j, other in enumerate(shapes):
                if j != k:
                    inside |= other.sdf(other.to_local(cent)) < 1e-9
            faces = faces[~inside]
        parts.append(trimesh.Trimesh(vertices=verts, faces=faces, process=False))
    mesh = trimesh.util.concatenate(parts)
    mesh.remove_unreferenced_vertices()
    return mesh
