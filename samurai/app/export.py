"""What a reviewed video becomes on disk, through the library's writers (``OutputDir``,
``write_png``, ``write_json``): PNG label masks, and training data in the generic layout
(``samurai/data/generic.py``) that ``samurai train --prompts learned`` reads."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from samurai.app.sessions import Session, SessionError, frame_name
from samurai.formats import write_json, write_png
from samurai.output import OutputDir


def _labels_json(session: Session) -> dict:
    return {oid: o["name"] for oid, o in sorted(session.state["objects"].items(), key=lambda kv: int(kv[0]))}


def _tracked(session: Session) -> list[int]:
    frames = session.summary()["tracked"]
    if not frames:
        raise SessionError("no frame has masks yet: propagate first")
    return frames


def export_masks(session: Session) -> Path:
    """``<session>/exports/masks-<time>/``: ``masks/NNNNN.png`` (pixel value = object id) for
    every tracked frame, ``labels.json`` (id -> name) and a manifest."""
    frames = _tracked(session)
    out_dir = session.folder / "exports" / f"masks-{time.strftime('%Y%m%d-%H%M%S')}"
    with OutputDir(out_dir, info={"command": "app export png", "session": session.id,
                                  "source": session.state["source"], "frames": len(frames)}) as out:
        (out.path / "masks").mkdir()
        for t in frames:
            write_png(out.path / "masks" / frame_name(t, ".png"), session.labels(t))
        write_json(out.path / "labels.json", _labels_json(session))
    return out_dir


def case_name(session: Session) -> str:
    """The training case's folder name: the video's name (safe characters) and the session id."""
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", Path(session.state["name"]).stem)[:60] or "video"
    return f"{stem}-{session.id}"


def export_training(session: Session, root: Path) -> Path:
    """``<root>/<case>/``: ``frames/NNNNN.png`` (every frame), ``masks/NNNNN.png`` (tracked
    frames) and ``labels.json``; saving again replaces the case (a folder this app wrote)."""
    from PIL import Image

    frames = _tracked(session)
    case = Path(root) / case_name(session)
    with OutputDir(case, force=True, info={"command": "app export training", "session": session.id,
                                           "source": session.state["source"]}) as out:
        (out.path / "frames").mkdir()
        (out.path / "masks").mkdir()
        for t in range(session.num_frames):
            with Image.open(session.frame_path(t)) as im:
                write_png(out.path / "frames" / frame_name(t, ".png"), np.asarray(im.convert("RGB")))
        for t in frames:
            write_png(out.path / "masks" / frame_name(t, ".png"), session.labels(t))
        write_json(out.path / "labels.json", _labels_json(session))
    return case
