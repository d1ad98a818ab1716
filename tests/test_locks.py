"""The output lock: a second writer is refused at once, naming the first one's PID, and the lock
goes with its holder however the holder ends (here: SIGKILL, which no cleanup code survives)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from samurai.locks import OutputBusyError, lock_path, output_lock

ROOT = Path(__file__).resolve().parents[1]


def _holder(out: Path) -> subprocess.Popen:
    """Another process holding the lock of ``out`` until killed; returns once it holds it."""
    code = textwrap.dedent(f"""
        import sys, time
        from samurai.locks import output_lock
        with output_lock({str(out)!r}):
            print("held", flush=True)
            time.sleep(600)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "backends")])}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_writer_is_refused_naming_the_first_and_the_lock_dies_with_it(tmp_path):
    out = tmp_path / "run"
    first = _holder(out)
    try:
        with pytest.raises(
            OutputBusyError,
            match=rf"--out .*run is being written by another samurai run "
            rf"\(pid {first.pid} on ",
        ):
            with output_lock(out):
                pass
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
        first.stdout.close()
    with output_lock(out):  # the kernel released it with the killed process
        assert lock_path(out).is_file()


def test_the_lock_file_goes_on_release_also_after_an_error(tmp_path):
    out = tmp_path / "deeper" / "run"
    with pytest.raises(KeyError):
        with output_lock(out):
            raise KeyError("a failing run")
    assert sorted(p.name for p in out.parent.iterdir()) == []
    with output_lock(out), pytest.raises(OutputBusyError):  # one process, two opens: flock refuses too
        with output_lock(out):
            pass


def test_a_waiter_never_holds_a_removed_file(tmp_path, monkeypatch):
    """The holder removes the lock file on release. A run that opened the file just before that
    gets its lock on a file no longer at the path: it must notice and lock the file that is
    there, or two runs would both "hold" the lock."""
    import samurai.locks as locks

    out = tmp_path / "run"
    path = lock_path(out)
    path.write_text("")
    opened_before_release = os.open(path, os.O_RDWR)
    os.unlink(path)  # the earlier holder released and removed it
    real_open, calls = os.open, []

    def open_(name, flags, mode=0o777):
        calls.append(name)
        return opened_before_release if len(calls) == 1 else real_open(name, flags, mode)

    monkeypatch.setattr(locks.os, "open", open_)
    with output_lock(out) as held:
        assert len(calls) == 2  # the stale file was let go and the path opened again
        assert held.is_file()  # a fresh file at the path, locked and naming this process
        assert held.read_text().startswith(f"pid {os.getpid()} ")
