"""The package's layers: every import (module level or inside a function) points down the list, and no
module imports itself through others (no circles). Read from the source with ``ast``; nothing is imported."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "motiondepth"

# bottom to top; a module belongs to the longest name that prefixes it (``eval.harness`` sits above ``eval``)
LAYERS = [
    ["motiondepth", "errors", "options"],  # the root package (version, lazy run()), the error type, number ranges
    ["geometry"],  # pure camera maths and the shared defaults (pivot, field of view)
    ["types"],  # Tracks, Trajectory, Tracks3D, RGBDImage
    ["io"],  # every file format
    ["sensor"],  # camera configs and presets, rotation traces, gyro integration and alignment, sRGB
    ["scenes"],  # procedural RGB-D scenes
    ["simulate"],  # the forward model: shake sources, the rolling-shutter blur simulator
    ["trajectory"],  # solvers
    ["tracking"],  # query grids and trackers
    ["eval"],  # metrics, pure functions
    ["models"],  # one network per file, weights by name
    ["depth"],  # first-frame depth sources: the blur network, a Hugging Face model
    ["seurat"],  # depth over time from tracks
    ["data"],  # training data
    ["train"],  # the generic loop and the per-model tasks
    ["eval.harness"],  # held-out evaluations that run the models
    ["viz"],  # plots
    ["workflow"],  # run(): config, inputs, steps, cache, exports, report
    ["demo"],
    ["cli", "__main__"],  # the command line (python -m motiondepth)
]


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = path
    return mods


def _imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """module → the package modules it imports, anywhere in its body."""

    def resolve(target: str) -> str:
        while target not in mods and "." in target:
            target = target.rsplit(".", 1)[0]
        return target

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for t in targets:
                if t.split(".")[0] == "motiondepth" and resolve(t) != name:
                    graph[name].add(resolve(t))
    return graph


def _layer(module: str) -> int:
    rel = "motiondepth" if module == "motiondepth" else module.split(".", 1)[1]
    best = max(
        ((len(n), i) for i, names in enumerate(LAYERS) for n in names if rel == n or rel.startswith(n + ".")),
        default=None,
    )
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS"
    return best[1]


def test_every_import_points_down():
    graph = _imports(_modules())
    upward = [
        f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
        for a, targets in sorted(graph.items())
        for b in sorted(targets)
        if _layer(b) > _layer(a)
    ]
    assert not upward, "imports that point up a layer:\n" + "\n".join(upward)


def test_no_import_circles():
    graph = _imports(_modules())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
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
                circles.append(sorted(component))

    for module in sorted(_modules()):
        if module not in index:
            visit(module)
    assert not circles, f"import circles: {circles}"


def test_the_checker_sees_function_level_imports():
    """The graph includes imports inside functions (the kind that hid the old circles)."""
    graph = _imports(_modules())
    assert "motiondepth.workflow.report" in graph["motiondepth.cli.run"]  # imported inside _print_result only
