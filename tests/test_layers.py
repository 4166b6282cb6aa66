"""The dependency direction of docs/architecture.md, checked on every module's imports.

core (curate/core) <- curation (curate/*) ; core <- train ; core, train <- eval ; everything <- app (curate/app).
An import is an `import`/`from` statement anywhere in a module (inside functions too) or a string naming one
of our modules (`importlib.import_module("...")`, the CLI's COMMANDS, the stage and reader registries).
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

PACKAGES = ("curate", "train", "eval")


def module_files() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = module_files()


def ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def resolve(name: str) -> str | None:
    """The module a dotted name lands in (`curate.core.errors.UserError` -> `curate.core.errors`)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> tuple[set[str], set[str]]:
    """(statement imports, string-named modules) of one module, as our module names."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    stmts, strings = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            stmts.update(a.name for a in node.names if ours(a.name))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if ours(base):
                # `from curate.stages import dedup` imports the submodule when one exists
                stmts.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "." in node.value and node.value in MODULES:
                strings.add(node.value)
    return stmts, strings


GRAPH = {m: imports(m) for m in MODULES}


def layer(module: str) -> str:
    if module == "curate" or module.startswith("curate.core"):
        return "core"
    if module.startswith("curate.app"):
        return "app"
    if module.startswith("curate"):
        return "curation"
    return module.split(".")[0]


ALLOWED = {
    "core": {"core"},
    "curation": {"core", "curation"},
    "train": {"core", "train"},
    "eval": {"core", "train", "eval"},
    "app": {"core", "curation", "train", "eval", "app"},
}


def edges(with_strings: bool = True):
    for module, (stmts, strings) in GRAPH.items():
        for name in stmts | (strings if with_strings else set()):
            target = resolve(name)
            if target and target != module:
                yield module, target, name


def test_every_import_of_ours_names_an_existing_module():
    """Catches an import left pointing at a module's old place (after a move or a merge)."""
    missing = sorted(f"{m} -> {name}" for m, (stmts, _) in GRAPH.items() for name in stmts if name not in MODULES)
    assert not missing, "\n".join(missing)


def test_each_layer_imports_only_the_layers_below():
    wrong = sorted(f"{m} ({layer(m)}) -> {name} ({layer(t)})" for m, t, name in edges()
                   if layer(t) not in ALLOWED[layer(m)])
    assert not wrong, "\n".join(wrong)


def test_nothing_imports_the_orchestration_layer():
    into_app = sorted(f"{m} -> {name}" for m, t, name in edges() if layer(t) == "app" and layer(m) != "app")
    assert not into_app
    # the one way in is the console script
    assert 'curate = "curate.app.cli:main"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")


def test_no_import_cycle():
    """No circle through import statements, lazy ones inside functions included.

    A package's own registry strings naming its submodules (stages, readers) are not statements;
    importing a submodule runs its package's __init__ first, so child -> parent is not an edge either.
    """
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for m, t, _ in edges(with_strings=False):
        if not m.startswith(t + "."):
            graph[m].add(t)
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(path[path.index(nxt):] + [node, nxt]) if nxt in path else f"{node} -> {nxt}")
            elif nxt not in state:
                visit(nxt, path + [node])
        state[node] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert not cycles, "\n".join(cycles)


def test_version_code_digest_covers_everything_a_build_runs():
    """`curate.build.BUILD_CODE` must list every module a build reaches, or a stage edit could reuse an old id."""
    from curate.build import BUILD_CODE

    seen, todo = set(), ["curate.build"]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        stmts, strings = GRAPH[m]
        todo.extend(t for t in (resolve(n) for n in stmts | strings) if t and t.startswith("curate"))
    outside = sorted(m for m in seen if m != "curate" and MODULES[m].relative_to(REPO / "curate").parts[0] not in BUILD_CODE)
    assert not outside
