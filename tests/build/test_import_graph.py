"""The package's import structure (seconds, nothing imported): no cycle between jpq2hw's parts, and the shared
layers (core, ops) import nothing above them. Run as a script, it prints the counts the redesign was measured by."""

import ast
import sys
from collections import defaultdict
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "jpq2hw"
# what the bottom layers may import (besides themselves): everything else reads them, never the other way
ALLOWED_BELOW = {"core": {"errors"}, "ops": {"core", "errors"}}


def _part(module: str) -> str:
    """jpq2hw.normalize.passes -> normalize; jpq2hw.errors -> errors."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


@lru_cache(maxsize=1)
def imports() -> tuple[tuple[str, str, bool], ...]:
    """(importing module, imported jpq2hw module, inside a function) for every internal import."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text())
        in_function = set()
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                in_function.update(id(n) for n in ast.walk(fn) if n is not fn)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jpq2hw"):
                targets = [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("jpq2hw")]
            else:
                continue
            found += [(module, t, id(node) in in_function) for t in targets]
    return tuple(found)


def part_graph() -> dict[str, set[str]]:
    graph = defaultdict(set)
    for src, dst, _ in imports():
        a, b = _part(src), _part(dst)
        if a != b and b != "jpq2hw":
            graph[a].add(b)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one part (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def test_no_cycle_between_the_parts():
    assert cycles(part_graph()) == []


def test_core_and_ops_import_nothing_above_them():
    graph = part_graph()
    for part, allowed in ALLOWED_BELOW.items():
        assert graph.get(part, set()) <= allowed, (part, graph.get(part))


def test_the_checker_finds_a_cycle():  # the check above can fail
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


if __name__ == "__main__":
    found = imports()
    print(f"internal imports: {len(found)}, inside functions: {sum(f for *_, f in found)}")
    print(f"cycles between parts: {cycles(part_graph()) or 'none'}")
    sys.exit(0)


def test_build_state_fields_are_typed():
    """Every BuildState field has a real type (its TYPE_CHECKING imports resolve), none is Any."""
    import typing

    from jpq2hw.pipeline import state

    source = Path(state.__file__).read_text()
    block = next(n for n in ast.parse(source).body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))
    names = {}
    exec(compile(ast.Module(body=block.body, type_ignores=[]), state.__file__, "exec"), names)
    hints = typing.get_type_hints(state.BuildState, localns=names)
    assert len(hints) > 30 and typing.Any not in hints.values()
    assert all("Any" not in str(h) for h in hints.values()), [k for k, h in hints.items() if "Any" in str(h)]
