"""scripts/download_wheels.py: what it counts as needed for a target, without the network."""

import zipfile
from pathlib import Path

from tests.test_bench_train import load_script

ROOT = Path(__file__).resolve().parents[1]


def test_requirements_follow_the_targets_python():
    dw = load_script("download_wheels")
    old, new = dw.target_environment("3.10"), dw.target_environment("3.12")
    names = {dw.canonical(r.name) for r in dw.project_requirements(ROOT / "pyproject.toml", new)}
    assert {"nerfacc", "trimesh", "pymcubes", "imageio-ffmpeg", "torch", "setuptools", "pytest"} <= names
    assert "tomli" not in names  # only below Python 3.11
    assert "tomli" in {dw.canonical(r.name) for r in dw.project_requirements(ROOT / "pyproject.toml", old)}
    assert dw.canonical("PyMCubes") == dw.canonical("pymcubes") == "pymcubes"
    assert dw.canonical("typing_extensions") == "typing-extensions"


def test_wheel_requirements_keep_what_holds_on_the_target(tmp_path):
    dw = load_script("download_wheels")
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
                   "Requires-Dist: rich (>=12)\nRequires-Dist: typing-extensions ; python_version < \"3.8\"\n"
                   "Requires-Dist: pytest ; extra == 'dev'\n")
    reqs = dw.wheel_requirements(wheel, dw.target_environment("3.12"))
    assert [str(r) for r in reqs] == ["rich>=12"]


def test_torchs_installed_dependencies_count_as_present():
    dw = load_script("download_wheels")
    deps = dw.installed_dependencies("torch", dw.target_environment("3.12"))
    assert {"filelock", "jinja2", "markupsafe"} <= deps  # markupsafe through jinja2
    assert dw.installed_dependencies("no-such-package-here", dw.target_environment("3.12")) == set()


def test_target_options_name_the_python_and_every_platform():
    dw = load_script("download_wheels")

    class Args:
        python_version, implementation, platform = "3.12", "cp", list(dw.PLATFORMS)

    opts = dw.target_options(Args)
    assert opts[:5] == ["--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp"]
    assert opts.count("--platform") == len(dw.PLATFORMS)
