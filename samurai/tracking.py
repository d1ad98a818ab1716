"""The tracking-and-writing pipeline of ``samurai track`` (one video; ``samurai.track_many`` for
many): propagate first-frame prompts with a predictor of either backend, and write what a run
writes into an :class:`samurai.output.OutputDir`: ``masks/NNNNN.png`` (pixel value = object id),
``boxes/obj_<id>.txt`` (LaSOT ``x,y,w,h`` per frame), ``scores.csv`` (per frame and object:
predicted IoU, object score, motion IoU, chosen candidate, memory frames), ``overlay.mp4`` (when
an encoder is installed) and ``overlay.gif``. Frames stream: memory stays flat.
"""

from __future__ import annotations

import math
import sys

from samurai.errors import UserError

GIF_MAX_FRAMES = 120
GIF_MAX_WIDTH = 480


def sam2_track(predictor, source, prompts: dict, samurai: bool | None = None):
    """Track prompted objects (frame 0) with a SAM 2 predictor.

    Yields ``(frame_idx, {obj_id: bool [H, W] mask}, {obj_id: scores})`` per frame, where the
    scores are the predictor's ``frame_scores`` (empty on the prompt frame). ``samurai``
    switches SAMURAI on or off for this video only (None: as the predictor is configured), so
    one model serves both the vanilla and the SAMURAI run and the predictor is left unchanged.
    """
    import numpy as np

    state = predictor.init_state(source, samurai=samurai)
    for oid, (kind, value) in prompts.items():
        if kind == "box":
            predictor.add_new_points_or_box(state, frame_idx=0, obj_id=oid, box=value)
        else:
            predictor.add_new_mask(state, frame_idx=0, obj_id=oid, mask=np.asarray(value, bool))
    for t, obj_ids, logits in predictor.propagate_in_video(state):
        masks = (logits[:, 0] > 0.0).cpu().numpy()
        yield t, {oid: masks[i] for i, oid in enumerate(obj_ids)}, predictor.frame_scores(state, t)


def track_into(
    out,
    source,
    prompts: dict,
    predictor,
    *,
    video,
    ids=None,
    frames=None,
    video_overlay: bool = True,
    untrained: bool = False,
) -> tuple[int, dict, bool]:
    """Track ``prompts`` through ``source`` and write masks, boxes, scores and overlays into the
    ``OutputDir`` ``out``; returns (frames read, object id -> frames with a mask, MP4 written).

    ``frames``: the tracked frames when they do not come from ``prompts`` (the learned chamber
    prompter's, for objects ``ids``), as ``sam2_track`` yields them."""
    import numpy as np

    from samurai.drawing import PALETTE, draw_box, overlay, stamp
    from samurai.formats import write_csv, write_lasot_boxes, write_png
    from samurai.video_writers import MP4Writer, mp4_available, write_gif
    from samurai_common.frames import FrameError
    from samurai_core.boxes import mask_to_box

    height, width = source.height, source.width
    ids = sorted(prompts) if ids is None else ids
    if frames is None:
        frames = sam2_track(predictor, source, prompts)
    fps = source.fps or 25.0
    gif_stride = max(1, math.ceil(len(source) / GIF_MAX_FRAMES))  # the announced count: an estimate
    gif_scale = min(1.0, GIF_MAX_WIDTH / width)
    (out.path / "masks").mkdir()
    (out.path / "boxes").mkdir()
    boxes = {k: {} for k in ids}  # frame -> box: the frame count is known once the video ends
    found = dict.fromkeys(ids, 0)  # frames on which each object has a mask
    rows, gif_frames = [], []
    mp4 = None
    if video_overlay and mp4_available():
        mp4 = MP4Writer(out.path / "overlay.mp4", fps)
    seen = 0
    try:
        for t, masks, scores in frames:
            labels = np.zeros((height, width), np.uint8)
            for k in ids:
                m = masks.get(k)
                if m is None:
                    continue
                labels[m] = k
                boxes[k][t] = mask_to_box(m)
                found[k] += bool(m.any())
                rows.append(_score_row(t, k, scores.get(k)))
            write_png(out.path / "masks" / f"{t:05d}.png", labels)
            if video_overlay:
                over = overlay(source[t], labels)
                if t == 0:  # the prompt, so that a reader can judge where tracking began
                    for k, (kind, value) in prompts.items():
                        if kind == "box":
                            over = draw_box(over, value, PALETTE[(k - 1) % len(PALETTE)])
                if untrained:
                    over = stamp(over, "UNTRAINED (--random-weights)")
                if mp4 is not None:
                    mp4.write(over)
                if t % gif_stride == 0:
                    gif_frames.append(_shrink(over, gif_scale))
            seen += 1
    except FrameError as err:
        raise UserError(f"cannot read frame {seen} of {video}: {err}") from None
    finally:
        if mp4 is not None:
            mp4.close()
    out.info.update(
        frames=seen,
        frames_read=seen,
        frames_announced=source.frames_announced,
        ended_early=source.ended_early,
        empty_objects=[k for k in ids if not found[k]],
    )
    for k in ids:
        per_frame = np.zeros((seen, 4), np.float32)
        for t, box in boxes[k].items():
            per_frame[t] = box
        write_lasot_boxes(out.path / "boxes" / f"obj_{k}.txt", per_frame)
    write_csv(out.path / "scores.csv", rows, fieldnames=SCORE_FIELDS)
    if gif_frames:
        write_gif(out.path / "overlay.gif", gif_frames, fps=fps / gif_stride)
    return seen, found, mp4 is not None


TRACK_DONE = "tracked and written (manifest.json: frames_read, frames_announced, ended_early)"


def report_frames_read(name: str, source, read: int, done: str) -> None:
    """Say on stderr when a video's frames read differ from the count it announced: it ended
    early (``source.ended_early`` says why) or its container under-announced them."""

    announced = source.frames_announced
    if read < announced:
        print(
            f"warning: {name}: read {read} of {announced} announced frames, the video ends "
            f"early: {source.ended_early or 'its frames ran out'}; the {read} frames read "
            f"are {done}",
            file=sys.stderr,
        )
    elif read > announced:
        print(
            f"note: {name}: read {read} frames, {read - announced} more than its container "
            f"announces ({announced}, an estimate); all {read} are {done}",
            file=sys.stderr,
        )


def report_empty(found: dict, frames: int, untrained: bool, where: str = "") -> None:
    """Say on stderr which objects have no mask on any frame (``found``: id -> frames with one;
    ``where``: a prefix of their names, e.g. the video's)."""
    warn_empty(
        [f"{where}{k}" for k, n in found.items() if n == 0], f"on every one of the {frames} frames", untrained
    )


def warn_empty(names: list[str], span: str, untrained: bool) -> None:
    """The one warning for objects that were never segmented (``track``, ``eval``)."""

    if not names:
        return
    why = (
        "expected with --random-weights: the model is untrained"
        if untrained
        else "check the prompt (a box around the object on frame 0) and that the checkpoint fits --model"
    )
    print(
        f"warning: object(s) {', '.join(names)} empty {span} (nothing was segmented; {why})", file=sys.stderr
    )


SCORE_FIELDS = [
    "frame",
    "obj_id",
    "prompt",
    "chosen",
    "predicted_iou",
    "object_score",
    "motion_iou",
    "stable_frames",
    "memory_frames",
]


def _score_row(t: int, obj_id: int, s: dict | None) -> dict:
    import numpy as np

    if s is None:  # a prompted (conditioning) frame: SAM 2 makes one mask, no choice
        return {"frame": t, "obj_id": obj_id, "prompt": 1}
    if "chosen" not in s:  # a tracked frame whose tracker keeps only the object score
        return {"frame": t, "obj_id": obj_id, "prompt": 0, "object_score": float(s["object_score"])}
    chosen = int(s["chosen"])
    kf_ok = bool(s.get("kf_score_valid", False))
    memory = s.get("memory_frames")
    return {
        "frame": t,
        "obj_id": obj_id,
        "prompt": 0,
        "chosen": chosen,
        "predicted_iou": float(np.asarray(s["ious"]).reshape(-1)[chosen]),
        "object_score": float(s["object_score"]),
        "motion_iou": float(s["kf_score"]) if kf_ok else float("nan"),
        "stable_frames": int(s["stable_frames"]) if "stable_frames" in s else "",
        "memory_frames": ""
        if memory is None
        else " ".join(str(int(f)) for f in np.asarray(memory).reshape(-1) if f >= 0),
    }


def _shrink(image, scale: float):
    import numpy as np
    from PIL import Image

    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((max(1, int(w * scale)), max(1, int(h * scale)))))
