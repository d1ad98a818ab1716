"""Harness of the table-driven bad-input tests (``test_user_errors_*.py``).

A case is a command line that a user could type with a mistake in it. ``run_cli`` runs it the way
the ``samurai`` entry point does, in this process (fast: no interpreter start per case), and
returns what the user would see. ``assert_user_error`` checks the contract of every such case:
exit status 2, a message on stderr that names the problem and the fix, no traceback, no partial
output folder left, and the earlier result (if any) intact.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import traceback
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_cli(argv: list[str]) -> CliResult:
    """Run ``samurai ARGV``; an exception escaping ``main`` becomes exit 1 with its traceback on
    stderr, exactly what the console script would print."""
    from samurai.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except Exception:  # noqa: BLE001  (the point: what the user would see)
            traceback.print_exc()
            code = 1
    return CliResult(int(code), out.getvalue(), err.getvalue())


def tree_digest(path: Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``path`` (empty when it does not exist)."""
    path = Path(path)
    if path.is_file():
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}
    if not path.exists():
        return {}
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    """Names of partial or moved-aside output folders under ``folder`` (none may survive a run)."""
    return sorted(p.name for p in Path(folder).rglob("*") if ".partial-" in p.name or ".old-" in p.name)


def assert_user_error(result: CliResult, *needles: str, workdir: Path | None = None) -> None:
    """Exit 2, every needle (case-insensitive) in stderr, no traceback, no partial folder."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.code == 2, f"exit {result.code}; stderr:\n{result.stderr}"
    low = result.stderr.lower()
    for needle in needles:
        assert needle.lower() in low, f"{needle!r} not in stderr:\n{result.stderr}"
    if workdir is not None:
        assert leftovers(workdir) == [], leftovers(workdir)
