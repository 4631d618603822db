"""Where make-scene finds the built-in scenes: a file path as given, else a built-in name."""

import subprocess
import sys
from pathlib import Path

from nerfspec.synth.scene_files import SCENES_DIR, builtin_scene_dirs, builtin_scenes_dir, scene_file


def test_builtin_scenes_are_the_checkouts():
    root = Path(__file__).resolve().parents[1]
    assert builtin_scenes_dir() == root / "scenes" == SCENES_DIR
    assert builtin_scene_dirs()[1] == Path(sys.prefix) / "share" / "nerfspec" / "scenes"


def test_scene_file_resolves_names_and_keeps_paths(tmp_path, monkeypatch):
    assert scene_file("default") == SCENES_DIR / "default.toml"
    assert scene_file("sphere.toml") == SCENES_DIR / "sphere.toml"
    own = tmp_path / "default.toml"
    own.write_text("")
    monkeypatch.chdir(tmp_path)
    assert scene_file("default.toml") == Path("default.toml")  # a file here wins over the built-in
    assert scene_file("nosuch") == Path("nosuch")  # left for the reader to call missing
    assert scene_file("sub/default") == Path("sub/default")  # a path is never a name


def test_make_scene_by_name_from_another_folder(tmp_path):
    done = subprocess.run([sys.executable, "-m", "nerfspec", "make-scene", "sphere", "out", "--size", "8",
                           "--views", "1"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "transforms_train.json").is_file()
