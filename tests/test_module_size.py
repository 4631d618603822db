"""No module of the package past 400 lines: a longer file has a second job inside it, to be split
out. The C++ ops and the vendored files (report/vendor/) are not held to it."""

from pathlib import Path

from tests.test_layering import PACKAGE

LIMIT = 400
CHECKED = ("*.py", "*.js", "*.css", "*.html")


def long_modules(root: Path, limit: int = LIMIT) -> dict[str, int]:
    """{path relative to root's parent: lines} of the checked files under ``root`` longer than
    ``limit`` lines, outside ``vendor`` folders."""
    out = {}
    for pattern in CHECKED:
        for path in sorted(root.rglob(pattern)):
            if "vendor" in path.relative_to(root).parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                out[str(path.relative_to(root.parent))] = lines
    return out


def test_no_module_over_the_limit():
    assert long_modules(PACKAGE) == {}


def test_long_modules_counts_lines_and_skips_vendored(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "vendor").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n" * 401)
    (pkg / "b.py").write_text("x = 1\n" * 400)
    (pkg / "c.js").write_text("x;\n" * 500)
    (pkg / "vendor" / "d.js").write_text("x;\n" * 999)
    (pkg / "e.cpp").write_text("x;\n" * 999)
    assert long_modules(pkg) == {"pkg/a.py": 401, "pkg/c.js": 500}
