"""Write a validated scene description to disk, photographed as a Blender scene or as a capture.

* ``blender``: ``transforms_{train,val,test}.json`` (``camera_angle_x``, frames
  ``./<split>/r_<k>`` with band images ``./<split>/r_<k>_band.png``) and RGBA PNGs.
* ``nerfstudio``: one ``transforms.json`` as ns-process-data writes it: ``camera_model``
  (PINHOLE, OPENCV or OPENCV_FISHEYE), ``fl_x``, ``fl_y``, ``cx``, ``cy``, ``w``, ``h``, the
  lens coefficients, frames ``images/<split>_<kkkk>.<png|jpg>`` and ``train_filenames`` /
  ``val_filenames`` / ``test_filenames``; no band images. ``variant`` writes the same cameras
  in another shape people's captures come in (``capture_variants``: Windows paths, the Blender
  split layout with full intrinsics, ``distortion_params``, SIMPLE_RADIAL, two image sizes).

Both use the same cameras (``scenes.camera_poses``, focal length from ``camera_angle_x``), so a
capture and a Blender scene made from one description and seed show the same views. Views
without alpha see ``background`` (an ``environment``) where their rays miss every object.
Both write the ground-truth ``mesh.ply`` and the resolved ``scene.toml``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import torch

from nerfspec.cameras import focal_from_fov, look_at
from nerfspec.synth import raycast
from nerfspec.synth.capture_variants import VARIANTS, rewrite, second_size
from nerfspec.synth.environment import ENVIRONMENTS, environment
from nerfspec.synth.description import SPLITS, Camera, SceneDescription, SceneError, Views, description_to_toml
from nerfspec.synth.reader import load_scene_description
from nerfspec.synth.scene_files import scene_file
from nerfspec.lens import COEFFICIENTS, COEFFICIENT_NAMES, MODELS

FORMATS = ("blender", "nerfstudio")
IMAGE_FORMATS = ("png", "jpg")
CAMERA_MODEL_NAMES = {"pinhole": "PINHOLE", "opencv": "OPENCV", "opencv_fisheye": "OPENCV_FISHEYE"}
_BLENDER_FILE = re.compile(r"^r_\d+(_band)?\.(png|jpg)$")
_CAPTURE_FILE = re.compile(r"^(train|val|test)_\d+\.(png|jpg)$")


@dataclass(frozen=True)
class Photography:
    """How the views are taken and stored."""

    format: str = "blender"  # blender | nerfstudio
    lens_model: str = "pinhole"  # a nerfspec.lens model
    distortion: tuple[float, ...] = ()  # its coefficients (opencv: k1, k2, p1, p2[, k3]; fisheye: k1..k4)
    alpha: bool = True  # RGBA with coverage as alpha; False: opaque RGB on ``background``
    background: str = "white"  # without alpha: white | black | sky
    image_format: str = "png"  # png | jpg (jpg has no alpha)
    variant: str = "plain"  # how a nerfstudio capture file is written (capture_variants.VARIANTS)

    def check(self, where: Path) -> None:
        """``SceneError`` naming ``where`` for an impossible combination."""
        def fail(msg: str):
            raise SceneError(f"{where}: {msg}")

        if self.format not in FORMATS:
            fail(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if self.lens_model not in MODELS:
            fail(f"camera model must be one of {', '.join(MODELS)}, got {self.lens_model!r}")
        if len(self.distortion) not in COEFFICIENTS[self.lens_model]:
            names = ", ".join(COEFFICIENT_NAMES[self.lens_model]) or "none"
            fail(f"the {self.lens_model} camera takes the coefficients {names}, got {len(self.distortion)} numbers")
        if self.format == "blender" and self.lens_model != "pinhole":
            fail("the Blender format has only pinhole cameras; use --format nerfstudio for a distorted camera")
        if self.background not in ENVIRONMENTS:
            fail(f"background must be one of {', '.join(ENVIRONMENTS)}, got {self.background!r}")
        if self.image_format not in IMAGE_FORMATS:
            fail(f"image format must be one of {', '.join(IMAGE_FORMATS)}, got {self.image_format!r}")
        if self.image_format == "jpg" and self.alpha:
            fail("JPEG images have no alpha: add --no-alpha")
        if self.variant not in VARIANTS:
            fail(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.variant != "plain" and self.format != "nerfstudio":
            fail(f"variant {self.variant} is a way of writing a capture: add --format nerfstudio")
        if self.variant == "simple_radial" and (self.lens_model != "opencv" or any(self.distortion[2:])):
            fail("SIMPLE_RADIAL / RADIAL cameras have only k1 and k2: give --distortion=K1,K2,0,0")


def parse_distortion(text: str) -> tuple[float, ...]:
    """'k1,k2,p1,p2' -> a tuple of floats (ValueError for anything else)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ValueError(f"distortion must be comma-separated numbers, e.g. -0.1,0.02,0.001,0, got {text!r}") from None
    if not all(np.isfinite(values)):
        raise ValueError(f"distortion must be finite numbers, got {text!r}")
    return values


def _prepare(out: Path, photo: Photography) -> None:
    """Create the output folders and remove what an earlier render there wrote that this one
    will not overwrite (frames of a larger render, the other format's JSON)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        folders = [out / s for s in SPLITS] if photo.format == "blender" else [out / "images"]
        pattern = _BLENDER_FILE if photo.format == "blender" else _CAPTURE_FILE
        for folder in folders:
            folder.mkdir(exist_ok=True)
            for old in folder.iterdir():
                if pattern.match(old.name):
                    old.unlink()
        stale = ["transforms.json"] if photo.format == "blender" else ["transforms.json", *(f"transforms_{s}.json" for s in SPLITS)]
        for name in stale:
            (out / name).unlink(missing_ok=True)
    except OSError as exc:
        raise SceneError(f"{out}: cannot write the scene there ({exc.strerror or exc})") from None


def _capture_meta(desc: SceneDescription, focal: float, photo: Photography) -> dict:
    meta = {"camera_model": CAMERA_MODEL_NAMES[photo.lens_model], "fl_x": focal, "fl_y": focal,
            "cx": 0.5 * desc.size, "cy": 0.5 * desc.size, "w": desc.size, "h": desc.size}
    meta.update(zip(COEFFICIENT_NAMES[photo.lens_model], photo.distortion))
    return meta


def write_scene(desc: SceneDescription, out: Path, photo: Photography, counts: dict[str, int],
                progress: bool = True) -> Path:
    """Render every view of ``desc`` (``counts`` per split) into ``out`` as ``photo`` says."""
    from tqdm import tqdm

    photo.check(desc.path)
    _prepare(out, photo)
    shapes = raycast.build_shapes(desc)
    bands = desc.bands
    band_id = {b.name: b.index for b in bands}
    band_of_object = np.array([band_id[o.texture.band] + 1 if o.texture.band in band_id else 0
                               for o in desc.objects], dtype=np.int64)
    if photo.format == "nerfstudio":
        band_of_object = np.zeros_like(band_of_object)  # captures carry no band images
    focal = focal_from_fov(desc.size, desc.camera.camera_angle_x)
    lens = None if photo.lens_model == "pinhole" else (photo.lens_model, tuple(photo.distortion))
    env = None if photo.alpha else environment(photo.background)
    bands_json = [{"index": b.index, "name": b.name, "cycles_per_unit": b.cycles_per_unit} for b in bands]
    capture = {**_capture_meta(desc, focal, photo), "frames": []}

    with tqdm(total=sum(counts.values()), desc=f"make-scene {desc.name}", unit="view",
              disable=not progress) as bar:
        for split in SPLITS:
            frames, names = [], []
            for k, pose in enumerate(camera_poses(counts[split], desc.camera, desc.seed, split)):
                size = second_size(desc.size) if photo.variant == "two_sizes" and k % 2 else desc.size
                view_focal = focal_from_fov(size, desc.camera.camera_angle_x)
                try:
                    img, band = raycast.render_view(shapes, desc.light, pose, size, view_focal,
                                                    desc.supersample, band_of_object, lens, env)
                except ValueError as exc:  # a lens that folds over
                    raise SceneError(f"{desc.path}: {exc}") from None
                img = img if photo.alpha else img[..., :3]
                matrix = [[float(x) for x in row] for row in pose]
                if photo.format == "blender":
                    iio.imwrite(out / split / f"r_{k}.{photo.image_format}", img)
                    iio.imwrite(out / split / f"r_{k}_band.png", band)
                    frames.append({"file_path": f"./{split}/r_{k}", "transform_matrix": matrix,
                                   "band_path": f"./{split}/r_{k}_band.png"})
                else:
                    name = f"images/{split}_{k:04d}.{photo.image_format}"
                    iio.imwrite(out / name, img)
                    own = {} if photo.variant != "two_sizes" else {
                        "fl_x": view_focal, "fl_y": view_focal, "cx": 0.5 * size, "cy": 0.5 * size, "w": size, "h": size}
                    capture["frames"].append({"file_path": name, "transform_matrix": matrix, **own})
                    names.append(name)
                bar.update(1)
            if photo.format == "blender":
                meta = {"camera_angle_x": desc.camera.camera_angle_x, "frames": frames, "bands": bands_json}
                (out / f"transforms_{split}.json").write_text(json.dumps(meta, indent=2) + "\n")
            else:
                capture[f"{split}_filenames"] = names
    if photo.format == "nerfstudio":
        if photo.variant == "two_sizes":  # every frame carries its own size and intrinsics
            for key in ("fl_x", "fl_y", "cx", "cy", "w", "h"):
                capture.pop(key)
        for name, meta in rewrite(capture, photo.variant).items():
            (out / name).write_text(json.dumps(meta, indent=2) + "\n")
    raycast.union_mesh(shapes).export(out / "mesh.ply")
    (out / "scene.toml").write_text(description_to_toml(desc))
    return out


# ----------------------------------------------------------------------------- cameras

def camera_poses(n: int, camera: Camera, seed: int, split: str) -> np.ndarray:
    """(n, 4, 4) poses uniformly distributed on the sphere or upper hemisphere, or along a
    walk around the scene (seeded per split)."""
    rng = np.random.default_rng([seed, SPLITS.index(split)])
    if camera.placement == "walk":
        return _walk_poses(n, camera.radius, rng)
    z = rng.uniform(0.0 if camera.placement == "hemisphere" else -1.0, 1.0, n)
    phi = rng.uniform(0.0, 2.0 * math.pi, n)
    s = np.sqrt(np.maximum(1.0 - z * z, 0.0))
    eyes = camera.radius * np.stack([s * np.cos(phi), s * np.sin(phi), z], axis=1)
    return np.stack([look_at(torch.from_numpy(e)).numpy() for e in eyes]) if n else np.zeros((0, 4, 4))


def _walk_poses(n: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """A hand-held walk around the origin: azimuths evenly spread with jitter, distance
    radius * U(0.85, 1.1), elevation U(12, 35) degrees, each looking at a point within 0.15
    of the origin (the hand is not steady)."""
    phi = (np.arange(n) + rng.uniform(-0.4, 0.4, n)) * (2.0 * math.pi / max(n, 1))
    dist = radius * rng.uniform(0.85, 1.1, n)
    elev = np.radians(rng.uniform(12.0, 35.0, n))
    eyes = dist[:, None] * np.stack([np.cos(elev) * np.cos(phi), np.cos(elev) * np.sin(phi), np.sin(elev)], 1)
    targets = rng.uniform(-0.15, 0.15, (n, 3))
    if not n:
        return np.zeros((0, 4, 4))
    return np.stack([look_at(torch.from_numpy(e), torch.from_numpy(t)).numpy() for e, t in zip(eyes, targets)])


# ----------------------------------------------------------------------------- rendering

def ray_hit(description: SceneDescription, origins, dirs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Analytic first hits of world rays: distance t (N,) along the normalised direction (inf
    for a miss), hit mask (N,) and unit world normals (N, 3) (zero for a miss)."""
    d = np.asarray(dirs, dtype=np.float64).reshape(-1, 3)
    o = np.broadcast_to(np.asarray(origins, dtype=np.float64).reshape(-1, 3), d.shape)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    shapes = raycast.build_shapes(description)
    _, t, ids, normals = raycast.shade(shapes, description.light, np.ascontiguousarray(o.T),
                                       np.ascontiguousarray(d.T))
    return t, ids >= 0, normals.T


def _split_counts(desc: SceneDescription, views: int | None) -> dict[str, int]:
    if views is None:
        return {"train": desc.views.train, "val": desc.views.val, "test": desc.views.test}
    scale = views / desc.views.train
    return {"train": views, "val": max(1, round(desc.views.val * scale)),
            "test": max(1, round(desc.views.test * scale))}


def make_scene(scene_path: str | Path, out_dir: str | Path, *, size: int | None = None,
               views: int | None = None, seed: int | None = None, progress: bool = True,
               photo=None) -> Path:
    """Render the scene to ``out_dir``; returns ``out_dir``.

    ``size`` overrides the image width = height, ``views`` the number of train views (val and
    test scale proportionally, at least 1 each), ``seed`` the file's seed. ``photo``
    (``generate.Photography``) picks the format, lens and background; the default is the
    Blender format with RGBA PNGs. The resolved description is written to ``out_dir/scene.toml``.
    """
    desc = load_scene_description(scene_file(scene_path))
    path = desc.path
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 4096):
        raise SceneError(f"{path}: size override must be an integer between 8 and 4096, got {size!r}")
    if views is not None and (isinstance(views, bool) or not isinstance(views, int) or views < 1):
        raise SceneError(f"{path}: views override must be an integer >= 1, got {views!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise SceneError(f"{path}: seed override must be an integer >= 0, got {seed!r}")
    counts = _split_counts(desc, views)
    desc = replace(desc, size=size or desc.size, seed=desc.seed if seed is None else seed,
                   views=Views(counts["train"], counts["val"], counts["test"]))
    return write_scene(desc, Path(out_dir), photo or Photography(), counts, progress)


def make_tiny_scene(out_dir: str | Path, size: int = 32, views: int = 20, scene: str = "default") -> Path:
    """Render ``scenes/<scene>.toml`` small and fast (for tests), without a progress bar."""
    return make_scene(scene_file(scene), out_dir, size=size, views=views, progress=False)
