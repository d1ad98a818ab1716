"""docs/cli.md states the size of each bad-input table; the numbers are the tables' own
(counted from the test files' ``CASES`` without importing them)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _rows(path: Path) -> int:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CASES":
            value = node.value
            return len(value.elts) if isinstance(value, ast.List) else len(value.keys)
    raise AssertionError(f"{path} has no CASES table")


def test_cli_md_states_each_tables_size():
    text = (ROOT / "docs" / "cli.md").read_text()
    stated = dict(re.findall(r"^\| `(tests/cli/test_user_errors_\w+\.py)` \| (\d+) \|", text, flags=re.M))
    tables = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "cli").glob("test_user_errors_*.py"))
    assert sorted(stated) == tables, "docs/cli.md: one row per bad-input table"
    for table, rows in stated.items():
        assert int(rows) == _rows(ROOT / table), table
