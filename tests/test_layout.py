"""The folders tell the pipeline: imports run one way and no module cycle hides anywhere,
not even behind an import inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The pipeline, upstream first: a package may import only itself and packages before it.
PIPELINE = ("edge_cache_env", "agents", "evaluation", "training", "integrations")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PIPELINE:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Project modules imported anywhere in the file (module level or inside functions)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for t in targets:
            while t and t not in modules:  # "pkg.mod.Symbol" -> "pkg.mod"
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def test_imports_run_one_way_down_the_pipeline():
    rank = {p: i for i, p in enumerate(PIPELINE)}
    upstream = [f"{m} imports {d}" for m, deps in _graph().items() for d in deps
                if rank[d.split(".")[0]] > rank[m.split(".")[0]]]
    assert not upstream, "imports against the pipeline order:\n" + "\n".join(sorted(upstream))


def test_no_import_cycles():
    graph = _graph()
    # A package's __init__ importing its own submodules is how packages expose their API; a
    # cycle is a module importing, directly or not, a module that imports it back.
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            if m.startswith(d + "."):  # a submodule importing its own package's __init__
                continue
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, [*stack, d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_nothing_refers_outside_the_repository():
    """A clone alone must work: no file may need a folder beside the repository."""
    outside = ("../" + "shared", "DESIGN" + ".md")  # spelt apart so this file does not match
    offenders = []
    for path in ROOT.rglob("*"):
        if (path.suffix in {".py", ".md", ".toml", ".yml", ".cff", ".json"} and ".venv" not in path.parts
                and "results" not in path.parts and "runs" not in path.parts):
            text = path.read_text(errors="ignore")
            if any(o in text for o in outside):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders
