"""The primitives of a scene description as shapes that rays intersect: each in its local
frame ``q = R^T (p - center)``, rays first culled with the primitive's bounding sphere (see
raycast.py for the methods per primitive). NumPy float64, vectorised over rays."""

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
