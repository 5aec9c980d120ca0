"""The import graph of ``src/ramac``: imports point down the layers (README "Layout"), and no module cycle.

Every ``import ramac.x`` / ``from ramac.x import`` counts, also those inside functions: a lazy import that
points up a layer is still a dependency up the stack.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "ramac"

#: bottom to top; a module may import its own package and the packages of lower layers only
LAYERS: list[set[str]] = [
    {"types", "tasks", "version"},
    {"nn", "objectives", "training"},
    {"generative"},
    {"actors", "critics"},
    {"envs"},
    {"zoo"},
    {"data"},
    {"learners"},
    {"evaluation"},
    {"callbacks"},
    {"experiments"},
    {"cli"},
    {"__init__", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 2 else parts)


def ramac_imports(path: Path) -> list[tuple[int, str, bool]]:
    """``(line, imported module, at module level)`` for every import of ramac in ``path``."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ramac":
            found.append((node.lineno, node.module, id(node) in top_level))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, id(node) in top_level) for alias in node.names
                      if alias.name.split(".")[0] == "ramac"]
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def graph(src: Path = SRC) -> dict[str, list[tuple[int, str, bool]]]:
    return {module_name(path, src): ramac_imports(path) for path in sorted(src.rglob("*.py"))}


def upward_imports(src: Path = SRC) -> list[str]:
    found = []
    for module, imports in graph(src).items():
        own = package_of(module)
        for line, target, _ in imports:
            other = package_of(target)
            if other != own and RANK[other] >= RANK[own]:
                found.append(f"{module}:{line} imports {target} ({own} is layer {RANK[own]}, {other} {RANK[other]})")
    return found


def import_cycle(src: Path = SRC) -> list[str]:
    """One cycle of module-level imports, or ``[]``."""
    edges = {module: {target for _, target, top in imports if top} for module, imports in graph(src).items()}
    state: dict[str, int] = {}

    def visit(module: str, stack: list[str]) -> list[str]:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target):], target]
            if target in edges and state.get(target) is None and (cycle := visit(target, [*stack, target])):
                return cycle
        state[module] = 2
        return []

    for module in sorted(edges):
        if module not in state and (cycle := visit(module, [module])):
            return cycle
    return []


def test_every_package_has_a_layer():
    packages = {package_of(module) for module in graph()}
    assert packages <= set(RANK), f"packages without a layer: {sorted(packages - set(RANK))}"


def test_imports_point_down_the_layers():
    assert not upward_imports(), "\n".join(upward_imports())


def test_no_import_cycle_between_modules():
    assert not import_cycle(), " -> ".join(import_cycle())


def test_the_checks_catch_an_upward_import_and_a_cycle(tmp_path):
    fake = tmp_path / "ramac"
    (fake / "nn").mkdir(parents=True)
    (fake / "learners").mkdir()
    (fake / "nn" / "bad.py").write_text("from ramac.learners.radac import RADAC\n")
    (fake / "learners" / "radac.py").write_text("import ramac.nn.bad\n")
    assert upward_imports(fake) == ["ramac.nn.bad:1 imports ramac.learners.radac (nn is layer 1, learners 7)"]
    assert import_cycle(fake) == ["ramac.learners.radac", "ramac.nn.bad", "ramac.learners.radac"]
