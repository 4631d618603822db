"""The package has no import cycle: the graph of which nerfspec module imports which (read from
the source, imports at any depth of a file, so a function-local import counts) is acyclic."""

import ast
from pathlib import Path

from tests.test_layering import PACKAGE, imported_modules


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """``.../nerfspec/report/page.py`` -> ``nerfspec.report.page``; a package's ``__init__.py``
    is the package."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """{module: modules of the package it imports}. ``from a.b import c`` names the module
    ``a.b.c`` where that is a module of the package (else ``a.b``); ``from a.b import c``
    needs ``a.b`` itself only for names that are not modules."""
    modules = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph = {}
    for name, path in modules.items():
        edges = set()
        for target, names in imported_names(path):
            submodules = {f"{target}.{n}" for n in names} & modules.keys()
            edges |= submodules
            if target in modules and (len(submodules) < len(names) or not names):
                edges.add(target)
        edges.discard(name)
        graph[name] = edges
    return graph


def imported_names(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names imported from it) for every import of a file; ``import a.b`` -> ("a.b", [])."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None when it is acyclic (depth-first search
    with the path on a stack: an edge back into the path closes a cycle)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt) and nxt in graph:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_package_has_no_import_cycle():
    graph = import_graph()
    assert set(imported_modules(PACKAGE / "cli.py")) & set(graph)  # the graph sees the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_find_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None  # a diamond is no cycle
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"a"}, "a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


def test_import_graph_resolves_from_imports(tmp_path):
    pkg = tmp_path / "nerfspec"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from nerfspec.sub.b import g\n")
    (pkg / "sub" / "b.py").write_text("def g():\n    from nerfspec import a\n")
    (pkg / "a.py").write_text("import os\nfrom nerfspec.sub import b\nfrom nerfspec.sub import thing\n")
    assert import_graph(pkg) == {
        "nerfspec": set(), "nerfspec.a": {"nerfspec.sub.b", "nerfspec.sub"},
        "nerfspec.sub": {"nerfspec.sub.b"}, "nerfspec.sub.b": {"nerfspec.a"},
    }
