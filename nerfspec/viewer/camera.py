"""The browser's camera as a nerfspec camera, and nerfspec poses as the browser's.

The browser (viser) describes a camera by a unit quaternion ``wxyz`` and a ``position`` in
the OpenCV frame (x right, y down, looks down +z), a vertical field of view and an aspect
ratio. nerfspec cameras are Blender/OpenGL (x right, y up, looks down -z): the same rotation
with the y and z axes flipped, c2w_gl = c2w_cv diag(1, -1, -1).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nerfspec.cameras import Cameras

FLIP_YZ = np.diag([1.0, -1.0, -1.0])


def quaternion_to_matrix(wxyz) -> np.ndarray:
    """Rotation (3, 3) of a quaternion (w, x, y, z) (normalised first):
    R = I + 2 w [v]x + 2 [v]x^2 with v = (x, y, z)."""
    q = np.asarray(wxyz, dtype=np.float64)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
    ])


def matrix_to_quaternion(rot) -> np.ndarray:
    """Unit quaternion (w, x, y, z), w >= 0, of a rotation matrix (3, 3) (Shepperd's method:
    divide by the largest of 4w^2, 4x^2, 4y^2, 4z^2 for stability)."""
    m = np.asarray(rot, dtype=np.float64)
    t = np.trace(m)
    diag = [t, m[0, 0], m[1, 1], m[2, 2]]
    k = int(np.argmax(diag))
    if k == 0:
        s = 2.0 * math.sqrt(1.0 + t)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    elif k == 1:
        s = 2.0 * math.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = [(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s]
    elif k == 2:
        s = 2.0 * math.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = [(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = [(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s]
    q = np.array(q)
    q /= np.linalg.norm(q)
    return q if q[0] >= 0 else -q


def browser_to_c2w(wxyz, position) -> np.ndarray:
    """Blender camera-to-world (4, 4) of a browser camera: [R(wxyz) diag(1, -1, -1) | position]."""
    c2w = np.eye(4)
    c2w[:3, :3] = quaternion_to_matrix(wxyz) @ FLIP_YZ
    c2w[:3, 3] = np.asarray(position, dtype=np.float64)
    return c2w


def c2w_to_browser(c2w) -> tuple[np.ndarray, np.ndarray]:
    """(wxyz, position) in the browser's OpenCV frame of a Blender camera-to-world (4, 4)."""
    m = np.asarray(c2w, dtype=np.float64)
    return matrix_to_quaternion(m[:3, :3] @ FLIP_YZ), m[:3, 3].copy()


def frame_size(aspect: float, width: int) -> tuple[int, int]:
    """(W, H) of a frame ``width`` pixels wide with the browser's aspect ratio W / H (H >= 1)."""
    return int(width), max(1, int(round(width / max(aspect, 1e-6))))


def browser_camera(wxyz, position, fov_y: float, aspect: float, width: int) -> Cameras:
    """One centred pinhole camera (a Cameras of length 1) seeing what the browser sees, ``width``
    pixels wide: focal f = 0.5 H / tan(0.5 fov_y), with H from the aspect ratio."""
    w, h = frame_size(aspect, width)
    focal = 0.5 * h / math.tan(0.5 * fov_y)
    c2w = torch.from_numpy(browser_to_c2w(wxyz, position)).float()[None]
    return Cameras.pinhole(c2w, w, h, focal)


def vertical_fov(height: int, fy: float) -> float:
    """Vertical field of view (radians) of a pinhole camera: 2 atan(0.5 H / fy)."""
    return 2.0 * math.atan(0.5 * height / fy)
