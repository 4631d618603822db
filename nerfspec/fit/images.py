"""Image targets for 2D regression: loading, the built-in sets, generated text, the 1/4 split.

Tancik et al. (2020) fit a 512x512 image from the regular grid of every other pixel in each
axis (1/4 of the pixels) and report PSNR on the other 3/4. Pixel (row i, column j) of an S x S
image sits at v = (j / S, i / S) in [0, 1)^2, so a frequency is in cycles per image width.

Built-in sets (no download): ``natural`` are photographs that scikit-image ships inside its
wheel (public domain or CC0, see ``NATURAL_LICENCES``); ``text`` images are generated with
Pillow from random strings, sizes, colours and the DejaVu / STIX fonts that matplotlib ships.
"""

from __future__ import annotations

import random
import string
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from nerfspec.errors import NerfspecError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# file in skimage/data -> licence, as scikit-image's docstrings state them.
NATURAL_LICENCES = {
    "astronaut.png": "public domain (NASA)",
    "chelsea.png": "CC0 (Stefan van der Walt)",
    "coffee.png": "CC0 (Rachel Michetti)",
    "hubble_deep_field.jpg": "public domain (NASA/ESA)",
    "ihc.png": "no known copyright restrictions (CMMI)",
    "retina.jpg": "CC0 (Mikael Haggstrom)",
    "rocket.jpg": "public domain (SpaceX)",
    "camera.png": "CC0 (Lav Varshney)",
    "coins.png": "no known copyright restrictions (Brooklyn Museum)",
    "moon.png": "no known copyright restrictions",
}
NATURAL_TEST = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png",
                "retina.jpg", "rocket.jpg", "camera.png"]
NATURAL_VAL = ["coins.png", "moon.png"]
BUILTIN_SETS = ("natural", "text")
TEXT_FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf",
              "DejaVuSansMono.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf")
TEXT_SEEDS = {"test": 1000, "val": 2000}  # disjoint seed ranges: val never equals a test image


def grid_coords(size: int) -> Tensor:
    """(S, S, 2) coordinates v = (j / S, i / S) of pixel row i, column j: [0, 1)^2, x first."""
    r = torch.arange(size, dtype=torch.float32) / size
    ii, jj = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([jj, ii], dim=-1)


def split_masks(size: int) -> tuple[Tensor, Tensor]:
    """(train, test) bool (S, S) masks: train = even rows and even columns (1/4 of the pixels,
    a regular (S/2, S/2) grid), test = every other pixel (3/4)."""
    idx = torch.arange(size)
    train = (idx[:, None] % 2 == 0) & (idx[None, :] % 2 == 0)
    return train, ~train


def to_rgb_float(img: np.ndarray) -> Tensor:
    """uint8 / float array (H, W), (H, W, 3) or (H, W, 4) -> (H, W, 3) float32 in [0, 1]
    (grey replicated, alpha composited on white)."""
    x = torch.from_numpy(np.asarray(img)).float()
    if np.asarray(img).dtype == np.uint8:
        x = x / 255.0
    elif np.asarray(img).dtype == np.uint16:
        x = x / 65535.0
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(f"not an image array: shape {tuple(x.shape)}")
    if x.shape[-1] == 1:
        x = x.expand(-1, -1, 3)
    if x.shape[-1] == 4:
        x = x[..., :3] * x[..., 3:] + (1.0 - x[..., 3:])
    return x.clamp(0.0, 1.0).contiguous()


def centre_square(img: Tensor, size: int) -> Tensor:
    """The central square crop of (H, W, 3), resized to (size, size, 3) (area filter when
    shrinking, bilinear when growing)."""
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = img[top:top + s, left:left + s].permute(2, 0, 1)[None]
    if s != size:
        mode = "area" if size < s else "bilinear"
        crop = F.interpolate(crop, size=(size, size), mode=mode, **({} if mode == "area" else {"align_corners": False}))
    return crop[0].permute(1, 2, 0).clamp(0.0, 1.0).contiguous()


def read_image(path: Path) -> Tensor:
    """(H, W, 3) float image from a file; unreadable files are a one-line ``NerfspecError``."""
    import imageio.v3 as iio

    try:
        return to_rgb_float(iio.imread(path))
    except (OSError, ValueError, SyntaxError) as exc:
        raise NerfspecError(f"{path}: cannot read the image ({exc})") from None


def image_files(path: str | Path) -> list[Path]:
    """An image file, or the image files of a folder (sorted); errors name the path."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        if not files:
            raise NerfspecError(f"{p}: no image files ({', '.join(IMAGE_SUFFIXES)})")
        return files
    raise NerfspecError(f"{p}: no such image file or folder")


def skimage_data_dir() -> Path:
    try:
        import skimage
    except ImportError:
        raise NerfspecError("the built-in natural images need scikit-image (pip install scikit-image)") from None
    return Path(skimage.__file__).parent / "data"


def natural_images(split: str, size: int) -> list[tuple[str, Tensor]]:
    """The built-in natural photographs of ``split`` (test: 8, val: 2) as (name, (S, S, 3))."""
    root = skimage_data_dir()
    names = NATURAL_TEST if split == "test" else NATURAL_VAL
    out = []
    for name in names:
        if not (root / name).is_file():
            raise NerfspecError(f"{root / name}: missing from this scikit-image install")
        out.append((Path(name).stem, centre_square(read_image(root / name), size)))
    return out


def font_files() -> list[Path]:
    """The TrueType fonts of ``TEXT_FONTS`` that matplotlib ships (DejaVu, STIX)."""
    import matplotlib

    root = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    found = [root / f for f in TEXT_FONTS if (root / f).is_file()]
    if not found:
        raise NerfspecError(f"{root}: none of the fonts {', '.join(TEXT_FONTS)} found")
    return found


def _contrasting_colour(rng: random.Random, background: tuple[int, int, int]) -> tuple[int, int, int]:
    """A random colour whose luminance differs from the background's by at least 0.35."""
    def lum(c):
        return (0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]) / 255.0

    while True:
        c = tuple(rng.randrange(256) for _ in range(3))
        if abs(lum(c) - lum(background)) >= 0.35:
            return c


def text_image(seed: int, size: int = 512) -> Tensor:
    """A generated text image (S, S, 3): lines of random strings (letters, digits, punctuation)
    in random fonts, sizes (S/24 to S/6 px) and colours on a plain random background, as in
    Tancik et al.'s text set. Deterministic in ``seed``."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    fonts = font_files()
    background = tuple(rng.randrange(256) for _ in range(3))
    img = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(img)
    alphabet = string.ascii_letters + string.digits + "  .,:;!?&%#"
    y = rng.randint(0, size // 16)
    while y < size:
        px = rng.randint(max(6, size // 24), max(8, size // 6))
        font = ImageFont.truetype(str(rng.choice(fonts)), px)
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(4, 40)))
        x = rng.randint(-size // 8, size // 4)
        draw.text((x, y), text, font=font, fill=_contrasting_colour(rng, background))
        y += int(px * rng.uniform(0.9, 1.4))
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).contiguous()


def text_images(split: str, size: int, count: int) -> list[tuple[str, Tensor]]:
    """``count`` generated text images of ``split`` (disjoint seeds for test and val), drawn at
    512 px as in the paper and resized to ``size``."""
    base = TEXT_SEEDS[split]
    return [(f"text{base + k}", centre_square(text_image(base + k, 512), size)) for k in range(count)]


def load_targets(sources: list[str], size: int, split: str = "test", count: int = 8) -> list[tuple[str, Tensor]]:
    """Targets from built-in set names (``natural``, ``text``) and image files or folders."""
    out = []
    for src in sources:
        if src == "natural":
            out += natural_images(split, size)
        elif src == "text":
            out += text_images(split, size, count if split == "test" else 2)
        else:
            out += [(f.stem, centre_square(read_image(f), size)) for f in image_files(src)]
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise NerfspecError(f"two targets share a name: {sorted(n for n in names if names.count(n) > 1)[0]}")
    return out
