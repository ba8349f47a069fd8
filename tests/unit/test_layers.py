"""The import rule: layers run one way, and no module imports itself back through others.

The rule, in the order data flows (SPEC §1):
- the ground floor is `rolewatch`'s domain, configuration (with its safe YAML reader), redaction and
  logging modules (and the package itself, for its version): they import nothing from the stages or
  the rest of `rolewatch`;
- the stages come next, in this order: `crawler`, `storage`, `notifier`, `scheduler`. A stage may
  import the ground floor and the stages before it, never one after it;
- the roof is the rest of `rolewatch` (the configuration resolved by the stages, the command line,
  terminal output, the example file, the demo, the web app): it may import anything below it, and
  nothing below may import it;
- no two modules import each other, directly or through others (a cycle).

Every import counts, those inside functions and under `TYPE_CHECKING` included: an import hidden in a
function is still a dependency, only a later one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("rolewatch", "crawler", "storage", "scheduler", "notifier")
GROUND = {
    "rolewatch",
    "rolewatch.domain",
    "rolewatch.config",
    "rolewatch.safe_yaml",
    "rolewatch.redaction",
    "rolewatch.logs",
}
STAGES = ("crawler", "storage", "notifier", "scheduler")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> Iterator[str]:
    """The project modules `path` imports, anywhere in the file; `from a import b` counts `a.b` when
    that is a module, else `a`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [name if name in known else node.module for name in names]
        else:
            continue
        yield from (name for name in names if name.split(".")[0] in PACKAGES)


def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: {m for m in imports_of(path, known) if m != name} for name, path in found.items()}


def layer(module: str) -> int:
    """0 ground floor, 1… the stages in order, and the roof above them all."""
    if module in GROUND:
        return 0
    top = module.split(".")[0]
    if top in STAGES:
        return 1 + STAGES.index(top)
    return 1 + len(STAGES)


def test_no_module_imports_a_layer_above_its_own() -> None:
    upward = sorted(
        f"{a} ({layer(a)}) imports {b} ({layer(b)})"
        for a, targets in graph().items()
        for b in targets
        if layer(b) > layer(a)
    )
    assert upward == []


def test_no_import_cycles() -> None:
    edges = graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == []


def test_the_rule_sees_imports_inside_functions(tmp_path: Path) -> None:
    """The walker itself: an import inside a function body is found (the rule would be blind otherwise)."""
    source = tmp_path / "probe.py"
    source.write_text("def f():\n    from notifier.query import compile_query\n    import crawler.registry\n")
    assert set(imports_of(source, {"crawler.registry"})) == {"notifier.query", "crawler.registry"}
