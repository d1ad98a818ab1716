"""A study from ``samurai track`` run folders: each run's chamber masks, view, spacing, frame
time and provenance, and the pairing of an apical four- and two-chamber view.

What a run folder gives (``manifest.json`` beside ``masks/NNNNN.png``, pixel value = object id):

- chamber names: ``names`` (id -> name, written by ``track --chambers``), else ``labels``
  given here (names of ids 1, 2, ...); ``lv``, ``la``, ``rv``, ``ra`` are read, others ignored;
- view: ``view`` ("A4C"/"A2C", or "4CH"/"2CH" as CAMUS names them) when the run recorded it,
  else what the caller says;
- the ``source`` block ``samurai track`` writes (``samurai.dicom.privacy.manifest_source``):
  study identity ``study_hash`` (a salted hash of the DICOM Study Instance UID, never the UID);
  pixel spacing ``spacing_cm`` ``[sx, sy]`` (cm per pixel, column and row), unless given;
  frame time ``frame_time_ms``, unless given, else the video's own frame rate;
- provenance: the manifest as a whole (model, checkpoint and adapter hashes, SAMURAI on/off).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from samurai.clinical.measurements import CHAMBERS, View
from samurai.errors import UserError

# How datasets and DICOM name the apical views (CAMUS and the phantom say 4CH / 2CH).
VIEW_NAMES = {
    "A4C": "A4C",
    "4CH": "A4C",
    "AP4": "A4C",
    "APICAL4": "A4C",
    "A2C": "A2C",
    "2CH": "A2C",
    "AP2": "A2C",
    "APICAL2": "A2C",
}


class StudyError(UserError):
    """A run folder or a pairing of run folders that cannot make a study (exit status 2)."""


@dataclass
class Run:
    """One run folder read for the read-out."""

    path: Path
    manifest: dict
    view: View
    view_source: str  # where the view name came from
    spacing_source: str
    frame_time_source: str
    study_hash: str | None
    video: str | None = None
    notes: list[str] = field(default_factory=list)


def read_manifest(run_dir: Path) -> dict:
    path = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise StudyError(f"{run_dir} is not a folder; give a run folder written by `samurai track`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudyError(
            f"{run_dir} has no manifest.json: not a finished `samurai track` run "
            "folder; give the folder that `samurai track --out` wrote"
        ) from None
    except (OSError, ValueError) as err:
        raise StudyError(f"{path} cannot be read as JSON ({err}); re-run `samurai track`") from None
    if not isinstance(manifest, dict):
        raise StudyError(f"{path} is not a run manifest; re-run `samurai track`")
    return manifest


def recorded_source(manifest: dict) -> dict:
    """The run's ``source`` block (units, frame time, study hash), empty when absent."""
    source = manifest.get("source")
    return source if isinstance(source, dict) else {}


def study_identity(manifest: dict) -> str | None:
    """The study hash a run recorded, or None."""
    value = recorded_source(manifest).get("study_hash")
    return str(value) if value else None


def chamber_names(manifest: dict, labels: list[str] | None, run_dir: Path) -> dict[int, str]:
    """Object id -> chamber name for the chambers the read-out uses."""
    if labels:
        names = {i + 1: n.strip().lower() for i, n in enumerate(labels)}
    elif isinstance(manifest.get("names"), dict):
        names = {int(k): str(v).lower() for k, v in manifest["names"].items()}
    else:
        raise StudyError(
            f"{run_dir}: its manifest names no chambers (a box- or mask-prompted run); "
            "say which object id is which with --labels lv,la,rv,ra (names of ids 1, 2, ...)"
        )
    return {k: v for k, v in names.items() if v in CHAMBERS}


def load_masks(run_dir: Path, ids: dict[int, str]) -> dict[str, np.ndarray]:
    """chamber -> bool [T, H, W] from ``masks/NNNNN.png``."""
    from samurai.formats import read_mask_png

    files = sorted((run_dir / "masks").glob("*.png")) if (run_dir / "masks").is_dir() else []
    if not files:
        raise StudyError(
            f"{run_dir} has no masks/*.png: nothing to measure; give a folder written "
            "by `samurai track` (with --chambers for named chambers)"
        )
    try:
        labels = np.stack([read_mask_png(f) for f in files])
    except ValueError as err:
        raise StudyError(f"{run_dir}: {err}") from None
    return {name: labels == k for k, name in ids.items()}


def _spacing(manifest: dict, given) -> tuple[tuple[float, float] | None, str]:
    if given is not None:
        return (float(given[0]), float(given[1])), "given (--spacing)"
    source = recorded_source(manifest)
    rec = source.get("spacing_cm")
    if rec is not None:
        return (
            float(rec[0]),
            float(rec[1]),
        ), f"recorded in the run's manifest ({source.get('spacing_source')})"
    return None, "unknown: lengths, areas and volumes are in pixels (px, px², px³), not graded"


def _frame_time(manifest: dict, fps: float | None, video: str | None) -> tuple[float | None, str]:
    if fps:
        return 1.0 / fps, f"given (--fps {fps:g})"
    frame_time_ms = recorded_source(manifest).get("frame_time_ms")
    if frame_time_ms:
        return float(frame_time_ms) / 1000.0, "recorded in the run's manifest (frame_time_ms)"
    rate = video_fps(video)
    if rate:
        return 1.0 / rate, f"the video's frame rate ({rate:g} fps)"
    return None, "unknown: no heart rate (give --fps)"


def video_fps(video: str | None) -> float | None:
    if not video or not Path(video).exists():
        return None
    try:
        from samurai_common.frames import open_frames

        return open_frames(video).fps
    except Exception:  # noqa: BLE001 - any unreadable video only costs the frame rate
        return None


def load_run(
    run_dir, view: str | None = None, spacing=None, fps: float | None = None, labels: list[str] | None = None
) -> Run:
    """Read one run folder (see the module docstring); ``view`` overrides the recorded one."""
    run_dir = Path(run_dir)
    manifest = read_manifest(run_dir)
    ids = chamber_names(manifest, labels, run_dir)
    if not ids:
        raise StudyError(
            f"{run_dir}: none of its objects is lv, la, rv or ra; name them with "
            "--labels (e.g. --labels lv,la,rv,ra)"
        )
    masks = load_masks(run_dir, ids)
    recorded = manifest.get("view")
    if view is not None:
        name, source = view, "given (--a4c/--a2c)"
    elif recorded:
        name = VIEW_NAMES.get(str(recorded).upper().replace(" ", ""), str(recorded).upper())
        source = f"recorded in the run's manifest ({recorded})"
    else:
        name, source = None, ""
    sp, sp_source = _spacing(manifest, spacing)
    video = manifest.get("video")
    dt, dt_source = _frame_time(manifest, fps, video)
    return Run(
        run_dir,
        manifest,
        View(name, masks, sp, dt),
        source,
        sp_source,
        dt_source,
        study_identity(manifest),
        video,
    )


def build_study(runs: list, a4c=None, a2c=None, spacing=None, fps=None, labels=None) -> list[Run]:
    """The runs of one study: ``runs`` (views and study identity from their manifests) or
    ``a4c`` / ``a2c`` named explicitly. Two runs are paired only when both record the same study
    identity, unless they are named with ``a4c`` / ``a2c``."""
    explicit = a4c is not None or a2c is not None
    if explicit and runs:
        raise StudyError("give the run folders either as RUN_DIR arguments or with --a4c/--a2c, not both")
    if explicit:
        loaded = [load_run(p, v, spacing, fps, labels) for p, v in ((a4c, "A4C"), (a2c, "A2C")) if p]
    else:
        if not runs:
            raise StudyError("give a run folder (RUN_DIR), or --a4c RUN and --a2c RUN")
        if len(runs) > 2:
            raise StudyError(f"{len(runs)} run folders: a study is one A4C and one A2C run")
        loaded = [load_run(p, None, spacing, fps, labels) for p in runs]
        if len(loaded) == 1 and loaded[0].view.name is None:
            loaded[0].view.name = "A4C"
            loaded[0].view_source = "assumed (not recorded in the manifest; say --a2c RUN otherwise)"
        if len(loaded) == 2:
            if any(r.view.name is None for r in loaded):
                raise StudyError(
                    "the runs do not record which view they are: name them with --a4c RUN --a2c RUN"
                )
            uids = [r.study_hash for r in loaded]
            if None in uids:
                raise StudyError(
                    "the runs do not record their study, so they may be of different "
                    "patients; pair them yourself with --a4c RUN --a2c RUN"
                )
            if uids[0] != uids[1]:
                raise StudyError(
                    f"the runs are of different studies ({uids[0]} and {uids[1]}); a "
                    "biplane read-out needs one study. Pair them only if you are sure, "
                    "with --a4c RUN --a2c RUN"
                )
    names = [r.view.name for r in loaded]
    bad = [n for n in names if n not in ("A4C", "A2C")]
    if bad:
        raise StudyError(f"view {bad[0]!r}: the read-out uses apical A4C and A2C views")
    if len(set(names)) != len(names):
        raise StudyError(f"two {names[0]} runs: give one A4C and one A2C run")
    if len(loaded) == 2:
        uids = {r.study_hash for r in loaded}
        if len(uids) > 1 and None not in uids:
            loaded[0].notes.append("the two runs record different studies; paired as given with --a4c/--a2c")
        if len({(r.view.spacing is None) for r in loaded}) > 1:
            raise StudyError("one run has a pixel spacing and the other none; give --spacing SX,SY")
    return loaded
