"""docs/design.md's package layout table matches the tree: every top-level module and package is in it, everything
it names exists, and the workflow's row names each of its modules."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "motiondepth"


def _layout_rows() -> list[tuple[str, str]]:
    text = (ROOT / "docs" / "design.md").read_text()
    table = text.split("## Package layout", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in table.splitlines() if line.startswith("| `")]
    return [(first.strip(), rest.strip()) for first, rest in rows]


def test_the_layout_table_names_every_top_level_module_and_nothing_else():
    named = {n.rstrip("/") for first, _ in _layout_rows() for n in re.findall(r"`([^`]+)`", first)}
    tree = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__" and (p.is_dir() or p.suffix == ".py")}
    top = {n for n in named if "/" not in n}
    assert tree - top == set(), "in the tree, not in docs/design.md's layout table"
    assert top - tree == set(), "in docs/design.md's layout table, not in the tree"
    assert all((PACKAGE / n).exists() for n in named - top)


def test_the_workflow_row_names_each_workflow_module():
    row = next(rest for first, rest in _layout_rows() if first == "`workflow/`")
    modules = {p.name for p in (PACKAGE / "workflow").glob("*.py")} - {"__init__.py"}
    missing = {m for m in modules if f"`{m}`" not in row}
    assert missing == set(), "workflow modules docs/design.md does not describe"
