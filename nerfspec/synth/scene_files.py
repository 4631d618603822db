"""Where the built-in scene descriptions are: the project's top-level ``scenes/`` folder, next
to the package in a checkout (or an editable install), and installed with the package as data
files under ``<prefix>/share/nerfspec/scenes`` otherwise."""

from __future__ import annotations

import sys
from pathlib import Path

SHARE = ("share", "nerfspec", "scenes")


def builtin_scene_dirs() -> list[Path]:
    """Folders that may hold the built-in ``*.toml`` scenes, first found first: the checkout's
    ``scenes/``, then the installed copy under ``sys.prefix`` (and under the base interpreter's
    prefix, for an install outside a virtual environment's own prefix)."""
    dirs = [Path(__file__).resolve().parents[2] / "scenes", Path(sys.prefix).joinpath(*SHARE)]
    if sys.base_prefix != sys.prefix:
        dirs.append(Path(sys.base_prefix).joinpath(*SHARE))
    return dirs


def builtin_scenes_dir() -> Path | None:
    """The first folder of ``builtin_scene_dirs`` that holds ``default.toml``, or None."""
    return next((d for d in builtin_scene_dirs() if (d / "default.toml").is_file()), None)


def scene_file(scene: str | Path) -> Path:
    """A scene description's file: ``scene`` itself where it is a file, else the built-in
    ``<scene>.toml`` of that name (``default``, ``default.toml``), else ``scene`` unchanged (so
    the reader says it is not found)."""
    path = Path(scene)
    if path.is_file() or len(path.parts) != 1:
        return path
    folder = builtin_scenes_dir()
    name = path.name if path.suffix == ".toml" else f"{path.name}.toml"
    if folder is not None and (folder / name).is_file():
        return folder / name
    return path


# the built-in scenes of this checkout or installation (the checkout's path when neither holds them)
SCENES_DIR = builtin_scenes_dir() or builtin_scene_dirs()[0]
