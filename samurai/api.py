"""The Python API: what ``samurai track`` does, for a notebook. The command line calls it too.

>>> import samurai
>>> result = samurai.track("clip.mp4", boxes=[(40, 30, 90, 100)], checkpoint="sam2.1_hiera_tiny.pt")  # doctest: +SKIP
>>> areas = [frame.masks[1].sum() for frame in result]  # doctest: +SKIP
>>> result.save("clip_track")  # the files `samurai track` writes  # doctest: +SKIP

See docs/api.md.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np

from samurai.errors import UserError


class TrackedFrame(NamedTuple):
    """One tracked frame.

    ``masks``: object id -> bool ``[H, W]``; ``boxes``: object id -> its mask's box ``(x1, y1,
    x2, y2)`` (``samurai_core.mask_to_box``, inclusive pixels); ``scores``: object id -> SAMURAI's
    decision on this frame (the predictor's ``frame_scores``: ``chosen`` candidate, predicted
    ``ious``, ``object_score``, motion IoU ``kf_score``, ``memory_frames``, ...), absent for
    objects prompted on this frame.
    """

    index: int
    masks: dict
    boxes: dict
    scores: dict


class SaveSummary(NamedTuple):
    """What :meth:`Tracking.save` wrote: frames read, object id -> frames with a mask,
    whether an MP4 overlay was written (an encoder was installed), and the names of the mask
    exports (masks.nii.gz, seg.dcm)."""

    frames: int
    found: dict
    mp4: bool
    exports: tuple = ()


class Tracking:
    """Prompted objects of one video, tracked when iterated or saved (from :func:`track`).

    Each pass over it tracks the video again (frames stream: memory stays flat); keep
    ``list(result)`` to look at the frames more than once. The predictor is built on first use.
    """

    def __init__(
        self,
        video,
        source,
        prompts: dict,
        settings: dict,
        prompt_record: dict,
        chambers: list[str] | None = None,
        info=None,
        names: dict | None = None,
        view: str | None = None,
    ):
        self.video = video
        self.source = source
        self.info = info  # SourceInfo: spacing, frame time, heart rate, study hash
        self.names = names  # object id -> structure name given with the boxes or mask
        self.view = view
        self.prompts = prompts
        self.chambers = chambers  # learned prompter: names, objects 1, 2, ... in this order
        self.ids = list(range(1, len(chambers) + 1)) if chambers else sorted(prompts)
        self.events: list = []  # learned prompter: seeds, losses and re-seeds of the last pass
        self._settings = settings
        self._prompt_record = prompt_record
        self._predictor = None

    @property
    def predictor(self):
        """The video predictor (either backend), built on first use."""
        if self._predictor is None:
            from samurai.predictors import build_predictor, cpu_notice

            s = self._settings
            self._predictor = build_predictor(
                s["model"],
                s["checkpoint"],
                s["device"],
                s["image_size"],
                samurai=s["samurai"],
                adapter=s["adapter"],
                random_weights=s["random_weights"],
                noise=s["noise"],
                motion_model=s["motion_model"],
                seed=s["seed"],
                batch_objects=s["batch_objects"],
                compile=s["compile"],
                dtype=s["dtype"],
            )
            notice = cpu_notice(self._predictor, s["model"], len(self.source), len(self.ids))
            if notice:
                print(notice, file=sys.stderr)
        return self._predictor

    def _frames(self):
        """``(frame index, {id: mask}, {id: scores})`` per frame, as ``sam2_track`` yields them."""
        from samurai.tracking import sam2_track

        predictor = self.predictor
        if not self.chambers:
            return sam2_track(predictor, self.source, self.prompts)
        from samurai.prompts import learned_chambers

        self.events = []
        return learned_chambers(
            predictor,
            self.source,
            self.chambers,
            adapter=self._settings["adapter"],
            lost_frames=self._settings["lost_frames"],
            events=self.events,
        )

    def __iter__(self) -> Iterator[TrackedFrame]:
        from samurai_core.boxes import mask_to_box

        for t, masks, scores in self._frames():
            yield TrackedFrame(t, masks, {k: mask_to_box(m) for k, m in masks.items()}, scores)

    def save(
        self,
        out_dir,
        *,
        force: bool = False,
        video_overlay: bool = True,
        command: str = "track",
        argv: list[str] | None = None,
    ) -> SaveSummary:
        """Track and write what ``samurai track`` writes into ``out_dir`` (all or nothing:
        :class:`samurai.output.OutputDir`): masks/, boxes/, scores.csv, the overlay GIF/MP4
        (``video_overlay``), masks.nii.gz, seg.dcm (a DICOM input with named chambers) and
        manifest.json (``argv``: the command line to record)."""
        from samurai.mask_exports import write_run_exports
        from samurai.output import OutputDir
        from samurai.predictors import is_untrained
        from samurai.provenance import run_info
        from samurai.tracking import track_into

        s = self._settings
        with OutputDir(Path(out_dir), force=force) as out:
            predictor = self.predictor
            frames = self._frames() if self.chambers else None
            if self.chambers:
                out.info.update(prompter="learned", names=dict(zip(self.ids, self.chambers)))
            elif self.names:
                out.info.update(names=self.names)
            if self.view:
                out.info.update(view=self.view)
            out.info.update(
                run_info(
                    predictor,
                    command=command,
                    argv=argv,
                    model=s["model"],
                    checkpoint=s["checkpoint"],
                    adapter=s["adapter"],
                    noise=s["noise"],
                    seed=s["seed"],
                ),
                video=str(self.video),
                objects=self.ids,
                prompts=self._prompt_record,
                samurai=s["samurai"],
            )
            seen, found, mp4 = track_into(
                out,
                self.source,
                self.prompts,
                predictor,
                video=self.video,
                ids=self.ids,
                frames=frames,
                video_overlay=video_overlay,
                untrained=is_untrained(s["model"], s["checkpoint"]),
            )
            if self.chambers:  # seeds, losses and re-seeds, beside the names
                out.info["events"] = [
                    {
                        "frame": e.frame,
                        "obj_id": self.chambers.index(e.name) + 1,
                        "name": e.name,
                        "event": e.kind,
                        "score": round(e.score, 4),
                    }
                    for e in self.events
                ]
            entry = write_run_exports(out.path, self.source, seen, self.ids, out.info.get("names"), self.info)
            out.info.update(entry)
        exports = tuple(v for k, v in entry["exports"].items() if k in ("nifti", "seg"))
        return SaveSummary(seen, found, mp4, exports)


def track(
    video,
    *,
    boxes=(),
    masks=None,
    chambers=None,
    model: str = "tiny",
    checkpoint=None,
    adapter=None,
    samurai: bool = True,
    noise=None,
    motion_model: str | None = None,
    device=None,
    image_size: int | None = None,
    random_weights: bool = False,
    seed: int = 0,
    prompter: str | None = None,
    prompter_model=None,
    prompter_adapter=None,
    lost_frames: int = 3,
    names=None,
    view: str | None = None,
    spacing=None,
    study_salt: str | None = None,
    batch_objects: bool = False,
    compile: bool = False,
    dtype: str | None = None,
) -> Tracking:
    """Track objects through one video, prompted on its first frame.

    Args:
      video: a video file, a folder of frames, or anything ``samurai_common.frames.open_frames``
        opens.
      boxes: first-frame boxes ``(x1, y1, x2, y2)`` in pixels (or ``"x1,y1,x2,y2"`` text), one
        per object: ids 1, 2, ... in order.
      masks: a first-frame label mask instead (a PNG file or an ``[H, W]`` array; pixel value =
        object id, 0 = background).
      chambers: structure names (``["lv", "la"]`` or ``"lv,la"``) found with no box: by the
        class prompts of ``adapter`` (``samurai train --prompts learned``), or by ``prompter``
        (a registered prompter name, with ``prompter_model`` / ``prompter_adapter``).
      model, checkpoint, adapter, noise, motion_model, device, image_size, random_weights, seed:
        the predictor (``samurai.predictors.build_predictor``); ``samurai=False``: plain SAM 2.
      lost_frames: learned chambers: frames of low object score before one is looked for again.
      names: the structures the boxes or mask prompt (``["lv", "la"]`` or ``"lv,la"``: objects
        1, 2, ...), recorded in the manifest; ``lv``, ``la``, ``rv``, ``ra`` become the segments
        of seg.dcm for a DICOM input.
      view: the echo view (``A4C``, ``A2C``, ...), recorded for ``samurai report``.
      spacing: ``(sx_cm, sy_cm)`` per pixel or ``--spacing`` text (``"0.03"``, ``"0.03,0.04"``):
        the pixel spacing of a plain video; for a DICOM it replaces the file's. Unknown:
        values in pixels.
      study_salt: the salt of a DICOM's study hash (default: ``$SAMURAI_STUDY_SALT``).
      batch_objects, compile, dtype: how a SAM 2 model runs (``--batch-objects``,
        ``--compile``, ``--dtype``; see ``samurai.predictors.build_predictor``); the
        transformers backend takes ``batch_objects`` and refuses the other two.

    Returns:
      a :class:`Tracking`: iterate it for :class:`TrackedFrame` s, or ``.save(out_dir)``.

    Bad input raises :class:`samurai.errors.UserError` naming the fix, before any model loads.
    """
    from samurai.prompts import chamber_prompts, load_prompts, parse_chambers
    from samurai.provenance import prompt_info
    from samurai.sources import open_video

    try:
        from samurai_common.frames import FrameError
    except ImportError as err:
        raise UserError(
            f"reading videos needs the packages of `bash scripts/setup.sh full` ({err})"
        ) from None
    try:
        source, info = open_video(video, spacing=spacing, salt=study_salt)
        first = source[0]
    except (FileNotFoundError, FrameError) as err:
        raise UserError(f"cannot read {video}: {err}") from None
    height, width = first.shape[:2]
    if chambers is not None and not isinstance(chambers, str):
        chambers = ",".join(chambers)
    boxes = list(boxes or ())
    if prompter is not None and not chambers:
        raise UserError("--prompter is used with --chambers NAMES; add --chambers (e.g. lv,la,rv,ra)")
    given_names = object_names(names, chambers)
    names = None
    if chambers and prompter in (None, "learned"):
        names = parse_chambers(chambers, boxes=boxes, mask=masks, lost_frames=lost_frames, adapter=adapter)
        prompts = {}
        record = {"prompter": "learned", "chambers": names, "lost_frames": lost_frames}
    elif chambers:
        prompts, record = chamber_prompts(
            chambers,
            prompter,
            first if first.ndim == 3 else np.repeat(first[..., None], 3, 2),
            boxes=boxes,
            mask=masks,
            prompter_model=prompter_model,
            prompter_adapter=prompter_adapter,
            device=device,
        )
    else:
        prompts = load_prompts(boxes, masks, width, height)
        record = prompt_info(boxes, masks)
    settings = {
        "model": model,
        "checkpoint": checkpoint,
        "adapter": adapter,
        "samurai": samurai,
        "noise": noise,
        "motion_model": motion_model,
        "device": device,
        "image_size": image_size,
        "random_weights": random_weights,
        "seed": seed,
        "lost_frames": lost_frames,
        "batch_objects": batch_objects,
        "compile": compile,
        "dtype": dtype,
    }
    if given_names and len(given_names) != len(prompts):
        raise UserError(
            f"--names gives {len(given_names)} name(s) for {len(prompts)} object(s); "
            "name each prompted object once, in the order of their ids"
        )
    return Tracking(
        video,
        source,
        prompts,
        settings,
        record,
        names,
        info=info,
        names=dict(zip(sorted(prompts), given_names)) if given_names else None,
        view=view,
    )


def object_names(names, chambers) -> list[str]:
    """``names`` (text or a list) as a list of lower-case names; not with ``chambers``."""
    if names is None:
        return []
    if chambers:
        raise UserError(
            "--names names box- or mask-prompted objects; --chambers names its own objects: drop --names"
        )
    items = names.split(",") if isinstance(names, str) else list(names)
    items = [str(n).strip().lower() for n in items]
    if not all(items):
        raise UserError(f"--names {names!r} has an empty name; give one name per object, e.g. lv,la")
    return items


def evaluate(data, *, out="samurai_eval", force: bool = False, **options):
    """Evaluate trackers on a labelled dataset and write what ``samurai eval`` writes into
    ``out``: per_case.csv, ef.csv, summary.md / summary.json, plots, manifest.json, and each
    case's and method's masks (``masks/<case>/<method>/masks.nii.gz``, ``seg.dcm`` for a DICOM
    video; ``mask_exports=False`` leaves them out).

    ``options``: the options of ``samurai eval`` by their Python names (``kind``, ``lasot``,
    ``split``, ``max_cases``, ``prompt``, ``methods``, ``model``, ``checkpoint``, ``adapter``,
    ``image_size``, ``device``, ``noise``, ``motion_model``, ``random_weights``, ``seed``,
    ``batch_objects``, ``compile``, ``dtype``, ...:
    :class:`samurai.eval.runner.EvalOptions`). Returns a :class:`samurai.eval.runner.EvalResult`
    (status, output folder, summary text, failed cases).
    """
    from samurai.eval.runner import EvalOptions
    from samurai.eval.runner import evaluate as run_evaluation

    try:
        settings = EvalOptions(data=str(data), out=str(out), force=force, **options)
    except TypeError as err:
        raise UserError(f"evaluate: {err}; see samurai.eval.runner.EvalOptions for the options") from None
    return run_evaluation(settings)
