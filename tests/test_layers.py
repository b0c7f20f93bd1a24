"""Layers that point one way: every import inside the package (top-level, inside functions, relative) goes to a
room on its own floor or below, and the rooms form no cycle. The picture is in docs/CONTRIBUTING.md.

``python tests/test_layers.py [SRC]`` prints the offending imports of any checkout (e.g. an old one).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# room (first name under gankit) -> floor. A module may import rooms on its own floor or below, never above.
FLOORS = {
    "__init__": 0,
    "errors": 0,
    "fileio": 0,  # the ground: errors, atomic writes, versions, cache paths
    "config": 1,
    "config_ranges": 1,  # knows no family: a recipe hands its Options class in
    "nn": 2,
    "losses": 2,
    "data": 2,  # layers, losses, data sets
    "viz": 3,
    "metrics": 3,  # grids and plots; metric maths and feature extractors on tensors (no checkpoints)
    "models": 4,  # the families (Recipe)
    "train": 5,  # the Trainer, checkpoints, the checkpoint -> recipe loader
    "pipelines": 6,  # one inference class per modality, built from a checkpoint through train.loader
    "api": 7,
    "export": 7,  # the Python API (train, load: the noise pipeline); export through a pipeline
    "evaluation": 8,
    "cli": 8,
    "serve": 8,
    "studio": 8,
    "__main__": 8,  # end-to-end evaluation, commands, studio
}
# Downward, but barred all the same: the Trainer is handed its evaluator (api builds it) and imports no metric; a
# recipe may use metric maths (metrics.task, metrics.sr, metrics.core) but no engine behind `gankit eval`.
BARRED = {
    "train": ("gankit.metrics",),
    "models": ("gankit.metrics.engine", "gankit.metrics.periodic", "gankit.metrics.extractors"),
}
MODELS_BARRED_EXACT = ("gankit.metrics",)  # the package itself re-exports the engines


def floor_of(room: str) -> int | None:
    return FLOORS.get(room)


def _module_name(path: Path, src: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(src).with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join(parts), is_pkg


def _targets(node: ast.AST, module: str, is_pkg: bool, src: Path) -> list[str]:
    """Dotted gankit modules an import statement reaches (``from gankit import x`` reaches gankit.x if it is one)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "gankit"]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = module.split(".") if is_pkg else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "gankit":
        return []
    out = []
    for a in node.names:  # `from gankit import losses` imports the module gankit.losses
        sub = src.joinpath(*target.split("."), a.name)
        if sub.with_suffix(".py").is_file() or (sub / "__init__.py").is_file():
            out.append(f"{target}.{a.name}")
    return out or [target]


def _room(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _barred(room: str, target: str) -> bool:
    if room == "models" and target in MODELS_BARRED_EXACT:
        return True
    return any(target == b or target.startswith(b + ".") for b in BARRED.get(room, ()))


def scan(src: Path = SRC) -> tuple[list[str], dict[str, set[str]]]:
    """(upward or unplaced imports as 'file:line: a -> b' lines, room graph)."""
    bad, graph = [], {}
    for path in sorted((src / "gankit").rglob("*.py")):
        module, is_pkg = _module_name(path, src)
        room = _room(module)
        here = floor_of(room)
        if here is None:
            bad.append(
                f"{path.relative_to(src)}: room '{room}' has no floor: add it to FLOORS in tests/test_layers.py "
                f"and to the picture in docs/CONTRIBUTING.md"
            )
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in _targets(node, module, is_pkg, src):
                to = _room(target)
                there = floor_of(to)
                if to != room:
                    graph.setdefault(room, set()).add(to)
                if there is None or there > here:
                    bad.append(
                        f"{path.relative_to(src)}:{node.lineno}: {module} (floor {here}) imports {target} "
                        f"(floor {there if there is not None else '?'})"
                    )
                elif _barred(room, target):
                    bad.append(f"{path.relative_to(src)}:{node.lineno}: {module} imports {target} (barred: see BARRED)")
    return bad, graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Room-level cycles (rooms on one floor may import each other, but not both ways round)."""
    found, state = [], {}

    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                found.append(stack[stack.index(m) :] + [m])
            elif m not in state:
                visit(m, stack)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n, [])
    return found


def test_imports_point_down():
    bad, _ = scan()
    assert not bad, "imports that point up (or rooms without a floor):\n" + "\n".join(bad)


def test_rooms_form_no_cycle():
    _, graph = scan()
    found = cycles(graph)
    assert not found, "import cycles between rooms:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_scan_sees_imports_inside_functions_and_relative_ones(tmp_path):
    """The checker itself: an upward import hidden in a function, written relatively, is caught with its line."""
    pkg = tmp_path / "gankit"
    (pkg / "models").mkdir(parents=True)
    (pkg / "train").mkdir()
    for f in ("__init__.py", "models/__init__.py", "train/__init__.py", "train/checkpoint.py", "losses.py"):
        (pkg / f).write_text("")
    (pkg / "models" / "x.py").write_text("from .. import losses\n\ndef f():\n    from ..train import checkpoint\n")
    (pkg / "train" / "t.py").write_text("import gankit.metrics.periodic as p\nfrom gankit import losses\n")
    bad, graph = scan(tmp_path)
    assert len(bad) == 2, bad
    assert "models/x.py:4:" in bad[0] and "gankit.train" in bad[0], bad
    assert "train/t.py:1:" in bad[1] and "barred" in bad[1], bad
    assert graph["models"] == {"losses", "train"} and graph["train"] == {"metrics", "losses"}
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else SRC
    bad, graph = scan(root)
    print("\n".join(bad) or "no upward imports")
    for c in cycles(graph):
        print("cycle: " + " -> ".join(c))
