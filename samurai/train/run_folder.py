"""The output folder of a training run: the rules of every samurai ``--out``, with resumption.

A training run writes into its folder as it goes (``checkpoint.pt`` every few steps, adapters,
``history.json``) and a later run with the same ``--out`` resumes from the checkpoint, so the
folder is not replaced as a whole as ``track``'s is. What it shares with ``track`` and ``eval``:

- one writer at a time (:func:`samurai.locks.output_lock`, the second run is refused naming
  the first one's PID);
- an owner marker, ``.samurai-train.json``, written when the run claims the folder; a folder
  with it (or holding only what training writes, from before the marker) is samurai's own;
- nothing foreign is written over: a folder with other files, a ``checkpoint.pt`` that is not
  a training checkpoint, a plain file, the working directory or a folder above it, and a folder
  that is, holds or lies inside the training or validation data are refused before any work,
  naming the path. ``--no-resume`` starts afresh only in samurai's own folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path

RUN_MARKER = ".samurai-train.json"
CHECKPOINT_NAME = "checkpoint.pt"
# What a training run writes into its folder (and its atomic writers' temporary names start with
# "." + one of these): a folder holding nothing else is a run's, also without the marker.
RUN_FILES = (CHECKPOINT_NAME, "adapter", "best_adapter", "history.json", RUN_MARKER)


class TrainOutputError(ValueError):
    """A training ``--out`` that cannot be used: the message names it and the fix."""


def load_training_checkpoint(path: Path, device="cpu") -> dict:
    """``checkpoint.pt`` as written by a training run; TrainOutputError for any other file (a
    SAM 2 release checkpoint, a damaged copy) instead of a KeyError later."""
    import torch

    fix = (
        f"samurai train did not write it or it is damaged: choose another --out, or move "
        f"{path.name} away to start afresh"
    )
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # torch raises many types for foreign or damaged files
        detail = str(err).strip().splitlines()[0] if str(err).strip() else "no detail"
        raise TrainOutputError(
            f"{path} is not a readable training checkpoint ({type(err).__name__}: {detail[:200]}); {fix}"
        ) from None
    if not (isinstance(ckpt, dict) and isinstance(ckpt.get("config"), dict) and "state" in ckpt):
        keys = sorted(ckpt)[:6] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise TrainOutputError(f"{path} is not a samurai training checkpoint (it holds {keys}); {fix}")
    return ckpt


def check_run_folder(out: Path, data: Sequence[str | os.PathLike | None]) -> None:
    """Refuse an ``out`` a training run must not write into (see the module docstring)."""
    target, cwd = out.resolve(), Path.cwd().resolve()
    if target == cwd or target in cwd.parents:
        raise TrainOutputError(
            f"--out {out} is the working directory or a folder above it; give the run a folder "
            "of its own, e.g. --out runs/train1"
        )
    blocking = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise TrainOutputError(
            f"--out {out} cannot be made: {blocking} is a file, not a folder; choose another --out"
        )
    for folder in (Path(d).resolve() for d in data if d is not None):
        if target == folder or folder in target.parents or target in folder.parents:
            raise TrainOutputError(
                f"--out {out} is, holds or lies inside the data folder {folder}; training writes "
                "checkpoints and adapters there: choose an --out outside the data"
            )
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise TrainOutputError(
            f"--out {out} is a file or a symbolic link, not a folder; samurai never "
            "replaces it: choose another --out"
        )
    if not out.is_dir() or (out / RUN_MARKER).is_file():
        return
    foreign = sorted(
        p.name
        for p in out.iterdir()
        if not any(p.name == n or p.name.startswith(f".{n}.") for n in RUN_FILES)
    )
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise TrainOutputError(
            f"--out {out} holds files that samurai did not write ({shown}); a training run writes "
            "its checkpoints and adapters there, so it uses only an empty folder or one of its own "
            "runs: choose another --out, or move those files away yourself"
        )
    if (out / CHECKPOINT_NAME).is_file():
        load_training_checkpoint(out / CHECKPOINT_NAME)


@contextlib.contextmanager
def claim_run_folder(
    out: str | os.PathLike, data: Sequence[str | os.PathLike | None], is_main: bool = True
) -> Iterator[Path]:
    """Hold ``out`` for a training run: locked, checked, made and marked on entry (on the main
    process; the others only use it). A run that fails before writing anything but the marker
    removes the folder it made."""
    from samurai.locks import output_lock

    out = Path(out)
    if not is_main:
        yield out
        return
    check_run_folder(out, data)  # before the lock: it makes the parent folder
    with output_lock(out):
        check_run_folder(out, data)  # again, now that no other run can change it
        made = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        marker = out / RUN_MARKER
        if not marker.is_file():
            marker.write_text(
                json.dumps(
                    {"tool": "samurai", "command": "train", "host": socket.gethostname(), "pid": os.getpid()}
                )
                + "\n"
            )
        try:
            yield out
        except BaseException:
            if made and [p.name for p in out.iterdir()] == [RUN_MARKER]:  # nothing else written
                marker.unlink()
                out.rmdir()
            raise
