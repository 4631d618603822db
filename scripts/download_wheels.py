"""Download into wheels/ every wheel nerfspec needs that an offline machine lacks, for that
machine's Python and platform, so ``scripts/gpu_check.sh`` can install them there with
``pip install --no-index --find-links wheels --no-build-isolation --no-deps``.

What is needed: pyproject.toml's dependencies and build requirements, plus pytest (the check
runs the CUDA tests), with their dependencies for the target Python (markers evaluated for it).
What the machine has: the packages named by ``--have`` (default: a CUDA machine with torch and
the usual scientific stack), their dependencies (resolved by pip for the target) and torch's (read
from the torch installed here; torch itself is never downloaded). Each missing package is
downloaded on its own (``pip download --no-deps --only-binary=:all:`` for the target); one that
has no wheel is built here from its source (``pip wheel --no-deps``), which suits pure-Python
packages. Runs on a machine that reaches the package index.

    python scripts/download_wheels.py                       # CPython 3.12, manylinux x86_64
    python scripts/download_wheels.py --python-version 3.11 --have torch --dest /tmp/w
"""

from __future__ import annotations

import argparse
import email.parser
import importlib.metadata
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

try:
    from packaging.markers import default_environment
    from packaging.requirements import Requirement
except ModuleNotFoundError:  # pip carries its own copy
    from pip._vendor.packaging.markers import default_environment
    from pip._vendor.packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
# what a lent CUDA machine comes with besides its torch
GPU_MACHINE_HAS = ("torch", "numpy", "imageio", "tqdm", "tensorboard", "matplotlib", "scikit-image",
                   "pytest", "setuptools", "wheel", "ninja")
CHECK_TOOLS = ("pytest",)  # gpu_check.sh runs the CUDA tests
# the wheels travel to the GPU machine with the working tree (64 MiB in all): imageio-ffmpeg 0.7
# and later bundle a 65 MiB ffmpeg for manylinux_2_28, 0.6 a 28 MiB one that records MP4 alike
SMALLER_RELEASES = {"imageio-ffmpeg": "<0.7"}


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def target_environment(python_version: str) -> dict[str, str]:
    """Marker values of the target interpreter (CPython on Linux x86_64, ``python_version``)."""
    env = default_environment()
    major_minor = ".".join(python_version.split(".")[:2])
    env.update(python_version=major_minor, python_full_version=f"{major_minor}.0",
               implementation_name="cpython", platform_python_implementation="CPython",
               sys_platform="linux", platform_system="Linux", platform_machine="x86_64", os_name="posix")
    return env


def applies(requirement: Requirement, env: dict[str, str]) -> bool:
    """Whether a requirement holds on the target (no extras asked for)."""
    return requirement.marker is None or requirement.marker.evaluate({**env, "extra": ""})


def project_requirements(pyproject: Path, env: dict[str, str]) -> list[Requirement]:
    """The project's dependencies and build requirements, and the check's tools, for ``env``."""
    data = tomllib.loads(pyproject.read_text())
    names = [*data["project"]["dependencies"], *data["build-system"]["requires"], *CHECK_TOOLS]
    return [r for r in map(Requirement, names) if applies(r, env)]


def target_options(args) -> list[str]:
    """pip's options that pick wheels for the target instead of this machine."""
    opts = ["--only-binary=:all:", "--python-version", args.python_version, "--implementation", args.implementation]
    for platform in args.platform:
        opts += ["--platform", platform]
    return opts


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def resolved_closure(names: list[str], args) -> set[str]:
    """Canonical names of ``names`` and everything they depend on for the target (pip's resolver,
    nothing installed)."""
    if not names:
        return set()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        out = pip("install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report),
                  "--target", str(Path(tmp) / "t"), *target_options(args), *names)
        if out.returncode != 0:
            raise SystemExit(f"error: pip could not resolve {' '.join(names)} for the target:\n{out.stderr}")
        return {canonical(i["metadata"]["name"]) for i in json.loads(report.read_text())["install"]}


def installed_dependencies(name: str, env: dict[str, str]) -> set[str]:
    """Canonical names of everything the package ``name`` installed here depends on, at any
    depth, for the target (torch's, without fetching a torch built for the target)."""
    found: set[str] = set()
    queue = [name]
    while queue:
        try:
            requires = importlib.metadata.requires(queue.pop()) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        for r in map(Requirement, requires):
            if applies(r, env) and canonical(r.name) not in found:
                found.add(canonical(r.name))
                queue.append(r.name)
    return found


def wheel_requirements(wheel: Path, env: dict[str, str]) -> list[Requirement]:
    """The Requires-Dist of a wheel that hold on the target."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.parser.Parser().parsestr(z.read(meta).decode())
    return [r for r in map(Requirement, message.get_all("Requires-Dist") or []) if applies(r, env)]


def download(requirement: Requirement, dest: Path, args) -> Path:
    """The target's wheel of ``requirement`` in ``dest``: downloaded, or built here from source."""
    spec = str(Requirement(f"{requirement.name}{requirement.specifier}"))
    if canonical(requirement.name) in SMALLER_RELEASES:
        spec += ("," if requirement.specifier else "") + SMALLER_RELEASES[canonical(requirement.name)]
    before = set(dest.glob("*.whl"))
    out = pip("download", "--no-deps", "--dest", str(dest), *target_options(args), spec)
    if out.returncode != 0:  # no wheel for the target: build one from the source distribution
        with tempfile.TemporaryDirectory() as tmp:
            got = pip("download", "--no-deps", "--no-binary=:all:", "--dest", tmp, spec)
            sdist = next(Path(tmp).iterdir(), None) if got.returncode == 0 else None
            built = pip("wheel", "--no-deps", "--wheel-dir", str(dest), str(sdist)) if sdist else got
        if built.returncode != 0:
            raise SystemExit(f"error: no wheel of {spec} for the target, and none could be built:\n"
                             f"{out.stderr}\n{built.stderr}")
    new = set(dest.glob("*.whl")) - before
    if new:
        return new.pop()
    # already in dest (a rerun): the wheel whose name starts with the distribution's
    stem = canonical(requirement.name).replace("-", "_")
    return next(w for w in dest.glob("*.whl") if canonical(w.name.split("-")[0]).replace("-", "_") == stem)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=Path, default=ROOT / "wheels", help="where the wheels go (default wheels/)")
    parser.add_argument("--python-version", default="3.12", help="the target's Python (default 3.12)")
    parser.add_argument("--implementation", default="cp", help="the target's Python implementation (default cp)")
    parser.add_argument("--platform", action="append", default=None,
                        help=f"a platform tag the target accepts (repeatable; default {', '.join(PLATFORMS)}; "
                             "pure-Python wheels are always accepted)")
    parser.add_argument("--have", default=",".join(GPU_MACHINE_HAS),
                        help="comma-separated packages the target already has (their dependencies too); "
                             f"default: {','.join(GPU_MACHINE_HAS)}")
    args = parser.parse_args(argv)
    args.platform = args.platform or list(PLATFORMS)
    env = target_environment(args.python_version)
    have_named = [n.strip() for n in args.have.split(",") if n.strip()]
    have = {canonical(n) for n in have_named}
    if "torch" in have:
        have |= installed_dependencies("torch", env)
    have |= resolved_closure([n for n in have_named if canonical(n) != "torch"], args)
    args.dest.mkdir(parents=True, exist_ok=True)
    queue = [r for r in project_requirements(ROOT / "pyproject.toml", env) if canonical(r.name) not in have]
    done: dict[str, Path] = {}
    while queue:
        req = queue.pop(0)
        name = canonical(req.name)
        if name in have or name in done:
            continue
        done[name] = wheel = download(req, args.dest, args)
        print(f"{wheel.name} ({wheel.stat().st_size / 2 ** 20:.1f} MiB)", flush=True)
        queue += wheel_requirements(wheel, env)
    total = sum(w.stat().st_size for w in done.values())
    print(f"{len(done)} wheels, {total / 2 ** 20:.1f} MiB in {args.dest} for CPython {args.python_version} "
          f"({', '.join(args.platform)}); the target has: {', '.join(sorted(have))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
