"""Layering: the renderer works on any field (it never imports fields/), exporters never import
the trainer, and nothing below train/ imports it."""

import ast
import re
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


README = PACKAGE.parent / "README.md"


def architecture_entries(readme: str) -> list[str]:
    """The package's top-level modules and folders as README's architecture section lists them,
    in order ("cli.py" -> "cli", "data/" -> "data")."""
    section = readme.split("\n## Architecture\n", 1)[1].split("\n## ", 1)[0]
    return [m.group(1) for m in re.finditer(r"^    ([\w.]+?)(?:\.py|/)\s", section, re.MULTILINE)]


def package_imports(unit: str) -> set[str]:
    """The other top-level modules and folders of the package that ``unit`` (a module or a folder)
    imports; ``__main__.py`` entry points aside."""
    path = PACKAGE / unit
    files = sorted(path.rglob("*.py")) if path.is_dir() else [PACKAGE / f"{unit}.py"]
    names = {m.split(".")[1] for f in files if f.name != "__main__.py"
             for m in imported_modules(f) if m.startswith("nerfspec.")}
    return names - {unit}


def test_readme_lists_every_module_below_the_ones_it_imports():
    entries = architecture_entries(README.read_text())
    units = sorted({p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.glob("*")
                    if (p.suffix == ".py" and p.name != "__main__.py") or (p / "__init__.py").is_file()})
    assert sorted(entries) == units
    for k, unit in enumerate(entries):
        above = package_imports(unit) - set(entries[:k])
        assert not above, f"README's architecture lists {unit} above {sorted(above)}, which it imports"


def test_architecture_entries_reads_names_in_order():
    text = ("intro\n\n## Architecture\n\n    errors.py         one line\n                      more\n"
            "    data/             loaders\n    cli.py            the parser\n\n## Next\n\n    other.py  x\n")
    assert architecture_entries(text) == ["errors", "data", "cli"]
