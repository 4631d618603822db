"""Layering: the renderer works on any field (it never imports fields/), exporters never import
the trainer, and nothing below train/ imports it."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nerfspec"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports (absolute names), at any depth of the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("folder, forbidden", [
    ("render", ("nerfspec.fields", "nerfspec.train", "nerfspec.models")),
    ("export", ("nerfspec.train",)),
    ("data", ("nerfspec.train", "nerfspec.fields", "nerfspec.render")),
    ("synth", ("nerfspec.train", "nerfspec.fields", "nerfspec.render", "nerfspec.data")),
    ("fields", ("nerfspec.train", "nerfspec.render")),
])
def test_layers_do_not_import_upwards(folder, forbidden):
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        bad = [m for m in imported_modules(path) if m.startswith(forbidden)]
        assert not bad, f"{path.relative_to(PACKAGE.parent)} imports {bad}"


def test_imported_modules_finds_nested_imports(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\nfrom a.b import c\ndef f():\n    from x.y import z\n")
    assert imported_modules(f) == {"os", "a.b", "x.y"}


def test_only_the_cli_imports_the_commands():
    users = [str(p.relative_to(PACKAGE.parent)) for p in sorted(PACKAGE.rglob("*.py"))
             if p.parent.name != "commands" and any(m.startswith("nerfspec.commands") for m in imported_modules(p))]
    assert users == ["nerfspec/cli.py"]


def test_exporters_take_the_parts_of_the_config_they_use():
    """export/ is given a DataConfig and chunk sizes, never a whole Config (``run.cfg``)."""
    for path in sorted((PACKAGE / "export").rglob("*.py")):
        tree = ast.parse(path.read_text())
        reads = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "cfg"]
        imports = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "nerfspec.config"
                   and any(a.name == "Config" for a in n.names)]
        assert not reads and not imports, f"{path.relative_to(PACKAGE.parent)}: lines {reads + imports}"
