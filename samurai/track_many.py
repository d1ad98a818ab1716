"""``samurai track`` over many videos: one output folder per video, sharded over torchrun's ranks.

The videos are a folder of video files, a folder of DICOM files or a DICOMDIR (the cines in it,
searched recursively; other DICOM objects are skipped with one line each on stderr), or a
``.txt`` list (one path per line, relative to the list's folder; ``#`` starts a comment). A
video's name is its file name without the suffix; a DICOM file below the folder is named by
its path under it (``ST000_SE000_IM0001``), never by anything inside the file. Each video is prompted by its rows of ``--boxes CSV``
(``video,obj_id,x1,y1,x2,y2``; ``video`` is the file's name or its name without the suffix) or
by ``--masks DIR/<video name>.png``. Each video's folder ``OUT/<video name>/`` is an
``OutputDir`` (complete with its manifest, or absent); its manifest records the run's settings,
so a rerun skips the videos whose folder is complete with the same settings, and refuses (or,
with ``--force``, redoes) those with other settings. See docs/cli.md, "Many videos".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from samurai.errors import UserError


def is_many(path: Path) -> bool:
    """A ``.txt`` list, a DICOMDIR, or a folder that is not one video but holds videos: video
    files, frame folders (:func:`samurai_common.frames.is_video`, the single-video rule) or DICOM
    files at any depth."""
    from samurai_common.frames import is_video

    if path.is_file():
        return path.suffix.lower() == ".txt" or path.name.upper() == "DICOMDIR"
    if not path.is_dir() or is_video(path):
        return False
    return any(is_video(p) for p in path.iterdir()) or bool(_dicom_files(path))


def _dicom_files(folder: Path) -> list[Path]:
    """The DICOM files under ``folder`` (any depth, a DICOMDIR included)."""
    from samurai_common.dicom import looks_like_dicom

    return [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file()
        and not p.name.startswith(".")
        and (p.name.upper() == "DICOMDIR" or looks_like_dicom(p))
    ]


def list_videos(path: Path) -> list[Path]:
    """The videos of a folder, a DICOMDIR or a ``.txt`` list (see the module docstring)."""
    from samurai_common.frames import is_video

    if path.is_dir() and _dicom_files(path) or path.name.upper() == "DICOMDIR":
        return _list_dicom(path)
    if path.is_dir():
        return sorted(p for p in path.iterdir() if is_video(p))
    videos = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            videos.append(Path(line) if Path(line).is_absolute() else path.parent / line)
    if not videos:
        raise UserError(f"{path} lists no video; write one video file or frame folder per line")
    return videos


def _list_dicom(path: Path) -> list[Path]:
    """The cines of a folder of DICOM files (and any other videos in it) or of a DICOMDIR;
    each DICOM object that is not a cine is one line on stderr."""
    from samurai_common.dicom import DicomError, list_dicom_videos, looks_like_dicom
    from samurai_common.frames import is_video

    folder = path if path.is_dir() else path.parent
    others = (
        sorted(p for p in folder.iterdir() if is_video(p) and not (p.is_file() and looks_like_dicom(p)))
        if path.is_dir()
        else []
    )
    try:
        found = list_dicom_videos(path, on_skip=lambda line: print(f"note: {line}", file=sys.stderr))
    except DicomError as err:
        if not others:
            raise UserError(str(err)) from None
        found = []
    return others + found


def _is_dicom_suffix(path: Path) -> bool:
    from samurai_common.dicom import DICOM_SUFFIXES

    return path.suffix.lower() in DICOM_SUFFIXES


def case_name(path: Path, root: Path) -> str:
    """A video's output folder name: its file name without the suffix; a DICOM file in a
    subfolder of ``root`` (a DICOMDIR export: DICOM/ST000/SE000/IM0001) by its path under
    ``root`` joined with ``_``, so that IM0001 of two series stay apart. Only names the user's
    files already have are used: nothing read from inside a DICOM (patient attributes) is."""
    base = root if root.is_dir() else root.parent
    try:
        parts = path.relative_to(base).parts
    except ValueError:
        return path.stem or path.name
    if len(parts) < 2 or not (_is_dicom_suffix(path) or path.suffix == ""):
        return path.stem or path.name
    *folders, name = parts
    return "_".join([*folders, Path(name).stem or name])


class _Video:
    """One video of the batch: its prompts are read and checked with its first frame."""

    def __init__(
        self,
        path: Path,
        boxes: dict | None,
        masks: Path | None,
        root: Path | None = None,
        spacing=None,
        salt: str | None = None,
    ):
        self.path, self.boxes, self.masks = path, boxes, masks
        self.case_id = case_name(path, root) if root is not None else (path.stem or path.name)
        self.spacing, self.salt = spacing, salt
        self.names = None  # --names: one per prompted object
        self.n_frames = 0

    def prompt_rows(self):
        rows = self.boxes.get(self.path.name) or self.boxes.get(self.case_id)
        if not rows:
            raise UserError(f"no row for video {self.path.name} in --boxes; add one per object")
        return rows

    def prompts(self, width: int, height: int) -> dict:
        import numpy as np

        from samurai.prompts import check_box, mask_prompts

        if self.masks is not None:
            return mask_prompts(self.masks / f"{self.case_id}.png", width, height)
        prompts = {}
        for obj, box in sorted(self.prompt_rows()):
            if obj in prompts:
                raise UserError(f"object {obj} has two boxes in --boxes; give one per object")
            check_box(box, width, height, obj)
            prompts[obj] = ("box", np.asarray(box, np.float32))
        return prompts

    def prompt_info(self) -> dict:
        from samurai.provenance import file_sha256

        if self.masks is not None:
            mask = self.masks / f"{self.case_id}.png"
            return {"frame": 0, "mask": str(mask), "mask_sha256": file_sha256(mask)}
        return {"frame": 0, "boxes": {str(obj): list(box) for obj, box in sorted(self.prompt_rows())}}

    def open(self):
        """``(frames, SourceInfo)`` (``samurai.sources.open_video``)."""
        from samurai.sources import open_video

        return open_video(self.path, spacing=self.spacing, salt=self.salt)

    def problems(self) -> list[str]:
        from samurai_common.frames import FrameError

        try:
            source, _ = self.open()
            prompts = self.prompts(source.width, source.height)
        except (FileNotFoundError, FrameError, UserError) as err:
            return [str(err)]
        if self.names and len(self.names) != len(prompts):
            return [
                f"--names gives {len(self.names)} name(s) for its {len(prompts)} object(s); "
                "give one name per object"
            ]
        self.n_frames = len(source)
        return []


def run_many(args) -> int:
    from samurai import distributed, shard

    root = Path(args.video)
    if args.box or args.mask:
        raise UserError(
            "--box / --mask prompt one video; prompt many videos with --boxes CSV "
            "(video,obj_id,x1,y1,x2,y2) or --masks DIR (<video name>.png per video)"
        )
    if bool(args.boxes) == bool(args.masks):
        raise UserError(
            "give the first-frame prompts of the videos as --boxes CSV (columns "
            "video,obj_id,x1,y1,x2,y2) or --masks DIR (<video name>.png per video), not both"
        )
    if args.masks and not Path(args.masks).is_dir():
        raise UserError(f"--masks {args.masks} is not a folder; pass the folder of <video name>.png masks")
    from samurai.prompts import read_boxes

    boxes = read_boxes(Path(args.boxes)) if args.boxes else None
    videos = [
        _Video(p, boxes, Path(args.masks) if args.masks else None, root, args.spacing, args.study_salt)
        for p in list_videos(root)
    ]
    out_root = Path(args.out) if args.out else Path(f"{root.stem or root.name}_track")
    outside = [v for v in videos if (out_root / v.case_id).resolve().parent != out_root.resolve()]
    if outside:
        raise UserError(
            f"{root}: the output folder of entry {outside[0].path} would be "
            f"{out_root / outside[0].case_id}, outside --out {out_root}; list video files "
            "or frame folders by their own names"
        )
    shard.refuse_shared_names(videos, "output folder", "rename one, or list them in separate runs")
    if out_root.exists() and not out_root.is_dir():
        raise UserError(
            f"--out {out_root} is a file; many videos need a folder for their output "
            "folders: choose another --out"
        )
    info = distributed.setup(timeout=shard.RANK_TIMEOUT)
    try:
        with shard.main_lock(info, out_root):  # one run at a time per --out
            return _run(args, videos, out_root, info)
    finally:
        distributed.cleanup(info)


def _run(args, videos, out_root: Path, info) -> int:
    from samurai import shard
    from samurai.api import object_names
    from samurai.distributed import device_for
    from samurai.mask_exports import write_run_exports
    from samurai.predictors import is_untrained, predictor_from_args
    from samurai.provenance import run_info_from_args
    from samurai.settings import result_settings
    from samurai.tracking import TRACK_DONE, report_empty, report_frames_read

    names = object_names(args.names, None) or None
    for video in videos:
        video.names = names
    if info.is_main:
        print(f"checking {len(videos)} video(s) and their prompts before tracking", flush=True)
    problems, frames = shard.check_cases(videos, info)
    if problems:
        raise shard.problems_error(problems, args.video, "fix them")
    predictor = shard.agree(
        info,
        lambda: predictor_from_args(args, device_for(args.device, info)),
    )
    base = run_info_from_args(args, predictor)
    settings = {**result_settings(base), "samurai": not args.vanilla, "video_overlay": not args.no_video}
    given = {"spacing_cm": list(args.spacing) if args.spacing else None, "names": names, "view": args.view}
    settings.update({k: v for k, v in given.items() if v})  # absent when not given: as before
    settings = json.loads(json.dumps(settings, default=str))
    finished = shard.agree(
        info, lambda: _finished(videos, out_root, settings, args.force) if info.is_main else set()
    )

    def work(video) -> bool:
        from samurai.output import OutputDir
        from samurai.tracking import track_into

        try:
            source, source_info = video.open()
            prompts = video.prompts(source.width, source.height)
            named = dict(zip(sorted(prompts), names)) if names else None
            with OutputDir(out_root / video.case_id, force=args.force) as out:
                out.info.update(
                    base,
                    settings=settings,
                    video=str(video.path),
                    objects=sorted(prompts),
                    prompts=video.prompt_info(),
                    samurai=not args.vanilla,
                    ranks=info.world_size,
                )
                if named:
                    out.info.update(names=named)
                if args.view:
                    out.info.update(view=args.view)
                seen, found, _ = track_into(
                    out,
                    source,
                    prompts,
                    predictor,
                    video=video.path,
                    video_overlay=not args.no_video,
                    untrained=is_untrained(args.model, args.checkpoint),
                )
                out.info.update(
                    write_run_exports(out.path, source, seen, sorted(prompts), named, source_info)
                )
        except Exception as err:  # noqa: BLE001  one bad video must not stop the others
            print(
                f"warning: video {video.path} failed, no output folder written: {type(err).__name__}: {err}",
                file=sys.stderr,
                flush=True,
            )
            return True
        report_frames_read(str(video.path), source, seen, TRACK_DONE)
        report_empty(found, seen, is_untrained(args.model, args.checkpoint), where=f"{video.case_id}/")
        return False

    if info.is_main:
        out_root.mkdir(parents=True, exist_ok=True)
        if finished:
            print(
                f"resuming: {len(finished)} video(s) in {out_root} are complete with the same "
                "settings and are kept",
                flush=True,
            )
    failed = shard.run_shard(videos, frames, finished, info, work)
    if not info.is_main:
        return 0
    print(f"wrote {len(videos) - len(failed)} of {len(videos)} video folder(s) into {out_root}/")
    if failed:
        print(
            f"warning: {len(failed)} video(s) failed (see the warnings above) and have no "
            f"output folder; run again to retry them: {', '.join(failed)}",
            file=sys.stderr,
        )
        return 3
    return 0


def _finished(videos, out_root: Path, settings: dict, force: bool) -> set[str]:
    """Videos whose folder is complete with ``settings``; other settings are refused unless
    ``force`` (then they are redone and replaced)."""
    from samurai.output import MANIFEST, written_by_samurai
    from samurai.settings import changed_settings, describe_changes

    done, other = set(), []
    for video in videos:
        folder = out_root / video.case_id
        if not folder.exists():
            continue
        if not written_by_samurai(folder):
            raise UserError(
                f"{folder} exists but is not a finished samurai output (no samurai "
                "manifest.json); move it away or choose another --out"
            )
        earlier = json.loads((folder / MANIFEST).read_text()).get("settings") or {}
        if earlier == settings:
            done.add(video.case_id)
        else:
            other.append(video.case_id)
            changed = describe_changes(changed_settings(earlier, settings))
    if other and not force:
        raise UserError(
            f"{len(other)} video folder(s) in {out_root} were written with other settings "
            f"({', '.join(other[:10])}): {changed}. Pass --force to redo and "
            "replace them, or run with the earlier settings to keep them"
        )
    return done
