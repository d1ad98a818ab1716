"""A run killed (SIGKILL) between the two renames that replace an earlier output with --force:
the earlier run has been moved aside and the new one is not yet in place. A real process is
killed at exactly that point (its own ``os.replace`` kills it after the first rename), and the
next run on the same --out puts the earlier result back, byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from user_errors import tree_digest

ROOT = Path(__file__).resolve().parents[2]


def _kill_between_the_renames(tmp_path):
    """An earlier finished run at ``tmp_path/run``, then a process replacing it with --force
    killed between the two renames; returns the earlier run's digest."""
    from samurai import io as sio

    out = tmp_path / "run"
    with sio.OutputDir(out) as first:
        (first.path / "result.txt").write_text("earlier result")
    earlier = tree_digest(out)
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from samurai import io as sio

        real_replace = os.replace

        def replace(src, dst):
            real_replace(src, dst)
            if Path(dst).name == "previous":  # the earlier run is aside, the new one not in place
                os.kill(os.getpid(), signal.SIGKILL)

        os.replace = replace
        with sio.OutputDir({str(out)!r}, force=True) as second:
            (second.path / "result.txt").write_text("the new result")
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "backends")])}
    killed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stderr
    assert not out.exists()  # killed at the worst moment: no run at --out
    assert len(list(tmp_path.glob("run.old-*"))) == 1 and len(list(tmp_path.glob("run.partial-*"))) == 1
    return earlier


def test_a_run_killed_between_the_two_renames_gets_the_earlier_run_back(tmp_path, capsys):
    from samurai import io as sio

    earlier = _kill_between_the_renames(tmp_path)
    with pytest.raises(sio.OutputError, match="already exists"):
        sio.OutputDir(tmp_path / "run")  # the next run on --out: the sweep puts the earlier run back first
    assert "restored" in capsys.readouterr().err
    assert tree_digest(tmp_path / "run") == earlier
    assert not list(tmp_path.glob("run.old-*"))


def test_the_killed_runs_finished_folder_is_swept_too(tmp_path, capsys):
    from samurai import io as sio

    _kill_between_the_renames(tmp_path)
    with pytest.raises(sio.OutputError, match="already exists"):
        sio.OutputDir(tmp_path / "run")
    assert "removed" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
