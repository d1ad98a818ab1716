"""What a reviewed video becomes on disk, through the library's writers (``OutputDir``,
``write_png``, ``write_json``, ``write_run_exports``, ``report_after_track``): a run folder
(PNG label masks, NIfTI, DICOM-SEG, the chamber report), and training data in the generic layout
(``samurai/data/generic.py``) that ``samurai train --prompts learned`` reads."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from samurai.app.sessions import Session, SessionError, frame_name
from samurai.errors import UserError
from samurai.formats import write_json, write_png
from samurai.output import OutputDir


def _labels_json(session: Session) -> dict:
    return {oid: o["name"] for oid, o in sorted(session.state["objects"].items(), key=lambda kv: int(kv[0]))}


def _tracked(session: Session) -> list[int]:
    frames = session.summary()["tracked"]
    if not frames:
        raise SessionError("no frame has masks yet: propagate first")
    return frames


def export_run(session: Session, video: Path | None) -> dict:
    """``<session>/exports/masks-<time>/``, a run folder as ``samurai track`` writes one:
    ``masks/NNNNN.png`` (pixel value = object id) for every tracked frame, ``labels.json``
    (id -> name) and ``manifest.json`` (names, video, the model's provenance); once every frame
    is tracked also ``masks.nii.gz`` and, for a DICOM, ``seg.dcm`` (``write_run_exports``, the
    writer of ``track``: spacing, frame time and the hashed study of ``video``, re-opened), and
    the chamber report beside it in ``<folder>_report`` (``report_after_track``), which
    ``samurai report`` would write from the folder too. The session's spacing (the video's own
    or entered in the page) and view go into the manifest, so the NIfTI's zooms and the report's
    units and view are theirs.

    Returns ``{"path", "files", "report", "notes"}``: what was written, and why not the rest."""
    from samurai.clinical.report import report_after_track
    from samurai.mask_exports import write_run_exports

    frames = _tracked(session)
    names = {int(k): v for k, v in _labels_json(session).items()}
    stamp = f"masks-{time.strftime('%Y%m%d-%H%M%S')}"
    out_dir = session.folder / "exports" / stamp
    for k in range(2, 100):  # two exports in one second: a folder each
        if not out_dir.exists() and not out_dir.with_name(out_dir.name + "_report").exists():
            break
        out_dir = out_dir.with_name(f"{stamp}-{k}")
    notes: list[str] = []
    complete = len(frames) == session.num_frames
    source = info = None
    if not complete:
        notes.append(
            f"{session.num_frames - len(frames)} frame(s) have no masks yet: masks.nii.gz, "
            "seg.dcm and the report need every frame; propagate to the end and export again"
        )
    else:
        source, info, why = _reopen(video, session)
        if why:
            notes.append(why)
    provenance = session.state.get("provenance") or {
        "model": "unknown: the masks were not propagated in this app (e.g. a run folder opened as it was)"
    }
    with OutputDir(
        out_dir,
        info={
            **provenance,
            "command": "app export",
            "session": session.id,
            "video": None if video is None else str(video),
            "objects": sorted(names),
            "names": names,
            "frames": len(frames),
            **({"view": session.state["view"]} if session.state.get("view") else {}),
        },
    ) as out:
        (out.path / "masks").mkdir()
        for t in frames:
            write_png(out.path / "masks" / frame_name(t, ".png"), session.labels(t))
        write_json(out.path / "labels.json", _labels_json(session))
        if source is not None:
            out.info.update(
                write_run_exports(out.path, source, session.num_frames, sorted(names), names, info)
            )
    files = sorted(p.name for p in out_dir.iterdir())
    report = None
    if source is not None:
        line = report_after_track(out_dir)
        if line.startswith("wrote "):
            report = str(out_dir.with_name(out_dir.name + "_report"))
        notes.append(line)
    return {"path": str(out_dir), "files": files, "report": report, "notes": notes}


def _reopen(video: Path | None, session: Session):
    """``(frames, info, None)`` of the session's video re-opened for the exports (the DICOM's
    spacing, frame time and study; the SEG references its frames), with the session's spacing
    where the file itself does not hold it, or ``(None, None, why not)``."""
    import dataclasses

    from samurai.sources import open_video

    if video is None:
        return (
            None,
            None,
            "the video of this session is not below the folders given to `samurai app` "
            "any more: masks.nii.gz, seg.dcm and the report need it; start the app with its folder",
        )
    n_frames = session.num_frames
    kept = session.state.get("spacing")
    given = None if kept is None or kept["from"] == "video" else session.spacing
    try:
        source, info = open_video(video, spacing=given)
    except (OSError, UserError, ValueError) as err:
        return None, None, f"cannot read the video again ({err}): no masks.nii.gz, seg.dcm or report"
    if given is not None:
        info = dataclasses.replace(info, spacing_source=kept["source"])
    if not source.available(n_frames - 1) or source.available(n_frames):
        return (
            None,
            None,
            (
                f"the video no longer has the session's {n_frames} frames: "
                "no masks.nii.gz, seg.dcm or report; open the video again"
            ),
        )
    return source, info, None


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
    with OutputDir(
        case,
        force=True,
        info={"command": "app export training", "session": session.id, "source": session.state["source"]},
    ) as out:
        (out.path / "frames").mkdir()
        (out.path / "masks").mkdir()
        for t in range(session.num_frames):
            with Image.open(session.frame_path(t)) as im:
                write_png(out.path / "frames" / frame_name(t, ".png"), np.asarray(im.convert("RGB")))
        for t in frames:
            write_png(out.path / "masks" / frame_name(t, ".png"), session.labels(t))
        write_json(out.path / "labels.json", _labels_json(session))
    return case
