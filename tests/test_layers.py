"""The import layers (docs/architecture.md), read from the source: every ``import`` of every
module of the core, the backends and the app, those inside functions included.

- ``samurai_core`` imports nothing of the project;
- ``samurai_common`` imports the core only (of the project);
- a backend (``samurai_sam2``, ``samurai_hf``, ``samurai_phantom``) imports the core,
  ``samurai_common`` and its own package only;
- no module imports the entry point ``samurai.cli`` but ``samurai/__main__.py``; none imports
  the compatibility module ``samurai.io``;
- no import cycle among the modules (the strongly connected components of the import graph).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {  # package -> its folder
    "samurai_core": ROOT / "samurai_core",
    "samurai": ROOT / "samurai",
    **{p.name: p for p in sorted((ROOT / "backends").iterdir()) if (p / "__init__.py").is_file()},
}
BACKENDS = {name for name in PACKAGES if name not in ("samurai", "samurai_core", "samurai_common")}


def _modules() -> dict[str, Path]:
    """Module name -> file, for every module of the project's packages."""
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project's module that ``import name`` / ``from name import x`` loads (the deepest
    module of the dotted name), or None for another package's."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in MODULES:
            return ".".join(parts)
        parts = parts[:-1]
    return None


def _imports(module: str, path: Path) -> set[str]:
    """The project's modules that ``module`` imports anywhere in its source."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [_resolve(a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package upwards
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            # `from package import name`: the submodule package.name if there is one, else package
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else _resolve(base) for a in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t is not None and t != module)
    return found


def _graph() -> dict[str, set[str]]:
    return {module: _imports(module, path) for module, path in MODULES.items()}


GRAPH = _graph()


def _top(module: str) -> str:
    return module.split(".")[0]


def _violations(allowed) -> list[str]:
    return [
        f"{m} imports {t}"
        for m, targets in sorted(GRAPH.items())
        for t in sorted(targets)
        if not allowed(m, t)
    ]


def test_every_package_is_read():
    assert {
        "samurai_core",
        "samurai",
        "samurai_common",
        "samurai_sam2",
        "samurai_hf",
        "samurai_phantom",
    } <= set(PACKAGES)
    assert "samurai.commands.track" in MODULES and "samurai_core.kalman" in MODULES
    # the reader sees imports inside functions: track_many opens its videos in a method
    assert "samurai_common.frames" in GRAPH["samurai.track_many"]


def test_the_core_imports_nothing_of_the_project():
    assert _violations(lambda m, t: _top(m) != "samurai_core" or _top(t) == "samurai_core") == []


def test_samurai_common_imports_the_core_only():
    assert (
        _violations(lambda m, t: _top(m) != "samurai_common" or _top(t) in ("samurai_common", "samurai_core"))
        == []
    )


def test_backends_import_the_core_samurai_common_and_their_own_package_only():
    assert (
        _violations(
            lambda m, t: _top(m) not in BACKENDS or _top(t) in (_top(m), "samurai_common", "samurai_core")
        )
        == []
    )


def test_nothing_imports_the_entry_point_or_the_compatibility_module():
    assert _violations(lambda m, t: t != "samurai.cli" or m == "samurai.__main__") == []
    assert _violations(lambda m, t: t != "samurai.io") == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert _cycles(GRAPH) == []
