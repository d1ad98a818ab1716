"""First-frame prompts and their checks: boxes (``X1,Y1,X2,Y2`` text or numbers), label masks,
the CSV of boxes for many videos, chambers found by a prompter, and the prompts an echo case's
ground truth gives.

A prompt set is ``{object id: ("box", float32 xyxy) | ("mask", bool [H, W])}``; boxes follow the
project's convention (``samurai_core.mask_to_box``: inclusive corner pixels).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from samurai.errors import UserError


def parse_box(box) -> tuple[float, float, float, float]:
    """``"x1,y1,x2,y2"`` (or four numbers) -> floats, or UserError naming the expected form."""
    parts = box.replace(" ", "").split(",") if isinstance(box, str) else list(box)
    try:
        values = tuple(float(v) for v in parts)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise UserError(
            f"--box {box!r} is not 4 numbers; write it as X1,Y1,X2,Y2 in pixels, e.g. --box 10,20,110,140"
        )
    return values


def check_box(box, width: int, height: int, number: int) -> None:
    """Raise UserError when a box is empty or leaves the ``width`` x ``height`` frame.

    Boxes follow the project's convention (``samurai_core.mask_to_box``): X1,Y1,X2,Y2 are the
    pixel indices of the first and last column and row, so a one-pixel box has X2 == X1 and the
    frame's last column is ``width - 1``.
    """
    x1, y1, x2, y2 = box
    if not (x2 >= x1 and y2 >= y1):
        raise UserError(
            f"box {number} ({x1:g},{y1:g},{x2:g},{y2:g}) is empty: X2 must not be below X1 nor Y2 "
            "below Y1 (boxes are corners X1,Y1,X2,Y2, not X,Y,W,H)"
        )
    if x1 < 0 or y1 < 0 or x2 > width - 1 or y2 > height - 1:
        raise UserError(
            f"box {number} ({x1:g},{y1:g},{x2:g},{y2:g}) lies outside the {width}x{height} frame; "
            f"keep 0 <= X1 <= X2 <= {width - 1} and 0 <= Y1 <= Y2 <= {height - 1} (X2, Y2 are the "
            "last column and row inside the box)"
        )


def load_prompts(boxes, mask, width: int, height: int) -> dict:
    """Object id -> ("box", xyxy) or ("mask", bool [H, W]) from ``boxes`` (``--box``, ids 1, 2,
    ... in order) or ``mask`` (``--mask``: a label-mask PNG, or a label array)."""
    if bool(boxes) == (mask is not None):
        raise UserError(
            "give the first-frame prompt as --box X1,Y1,X2,Y2 (repeatable), as --mask PNG, "
            "or as --chambers lv,la --prompter NAME: one kind, not both and not neither"
        )
    if boxes:
        return box_prompts([parse_box(box) for box in boxes], width, height)
    return mask_prompts(mask, width, height)


def box_prompts(boxes, width: int, height: int) -> dict:
    """Object ids 1, 2, ... -> ("box", xyxy) for first-frame boxes, each checked on the frame."""
    import numpy as np

    prompts = {}
    for i, box in enumerate(boxes, 1):
        check_box(box, width, height, i)
        prompts[i] = ("box", np.asarray(box, np.float32))
    return prompts


def mask_prompts(mask, width: int, height: int) -> dict:
    """Object id -> ("mask", bool [H, W]) from a first-frame label mask: a PNG file (pixel value =
    object id, 0 = background) or such a label array ``[H, W]``."""
    import numpy as np

    from samurai.formats import read_mask_png

    if isinstance(mask, (str, os.PathLike)):
        path = Path(mask)
        if path.is_dir():
            raise UserError(
                f"--mask {path} is a folder; --mask takes one PNG label mask of the first "
                "frame, and a folder of <video name>.png masks (many videos) is --masks DIR"
            )
        if not path.is_file():
            raise UserError(f"mask {path} does not exist; pass a PNG label mask of the first frame")
        try:
            labels = read_mask_png(path)
        except (ValueError, OSError) as err:
            raise UserError(f"cannot read mask {path}: {err}") from None
    else:
        path, labels = "(label array)", np.asarray(mask)
    if labels.shape != (height, width):
        raise UserError(
            f"mask {path} is {labels.shape[1]}x{labels.shape[0]} but the video is {width}x{height}; "
            "draw the mask on the first frame at the video's resolution"
        )
    ids = [int(v) for v in np.unique(labels) if v != 0]
    if not ids:
        raise UserError(f"mask {path} is empty (all 0); paint each object with its id 1, 2, ...")
    return {k: ("mask", labels == k) for k in ids}


def chamber_prompts(
    chambers: str,
    prompter: str | None,
    frame,
    *,
    boxes=(),
    mask=None,
    prompter_model=None,
    prompter_adapter=None,
    device=None,
) -> tuple[dict, dict]:
    """``chambers`` (comma-separated names) found on ``frame`` by the registered ``prompter``:
    (object id -> ("box", xyxy), record).

    Ids follow the order of ``--chambers``; a structure the prompter does not find is left out
    (said on stderr), and none found is an error."""
    import sys

    import numpy as np

    from samurai.prompters import PrompterError, make_prompter

    if boxes or mask is not None:
        raise UserError("--chambers replaces --box / --mask; give one kind of first-frame prompt")
    names = [c.strip() for c in chambers.split(",") if c.strip()]
    if not names or prompter is None:
        raise UserError(
            "--chambers needs class names (e.g. --chambers lv,la) and --prompter NAME "
            "(e.g. --prompter florence2 --prompter-model DIR)"
        )
    options = {"model": prompter_model, "device": device}
    if prompter_adapter:
        options["adapter"] = prompter_adapter
    try:
        finder = make_prompter(prompter, **options)
    except TypeError:
        if "adapter" not in options:
            raise
        raise UserError(f"--prompter {prompter} takes no --prompter-adapter; drop it") from None
    except PrompterError as err:
        raise UserError(f"--prompter {prompter}: {err}") from None
    try:
        found = finder.find(frame, names)
    except PrompterError as err:
        raise UserError(f"--prompter {prompter}: {err}") from None
    prompts, record = {}, []
    for i, name in enumerate(names, 1):
        r = found[name]
        record.append(
            {
                "name": name,
                "id": i,
                "present": r.present,
                "score": r.score,
                "box": None if r.box is None else [float(v) for v in r.box],
            }
        )
        if r.present:
            prompts[i] = ("box", np.asarray(r.box, np.float32))
        else:
            print(
                f"warning: {prompter} did not find {name!r} on the first frame; it is not tracked",
                file=sys.stderr,
            )
    if not prompts:
        raise UserError(
            f"{prompter} found none of {', '.join(names)} on the first frame; check "
            "--prompter-model / --prompter-adapter (a model fine-tuned on echo data), or "
            "prompt with --box"
        )
    return prompts, {
        "frame": 0,
        "prompter": prompter,
        "prompter_model": prompter_model,
        "prompter_adapter": prompter_adapter,
        "chambers": record,
    }


def parse_chambers(chambers: str, *, boxes=(), mask=None, lost_frames: int = 3, adapter=None) -> list[str]:
    """``--chambers lv,la`` for the learned prompter -> ``["lv", "la"]``, or UserError for a bad
    combination."""
    if boxes or mask is not None:
        raise UserError("--chambers finds the structures itself: drop --box/--mask (or drop --chambers)")
    if lost_frames < 1:
        raise UserError(f"--lost-frames {lost_frames} must be at least 1")
    names = [c.strip().lower() for c in chambers.split(",") if c.strip()]
    if not names or len(set(names)) != len(names):
        raise UserError(f"--chambers {chambers!r}: give distinct comma-separated names, e.g. lv,la,rv,ra")
    if adapter is None:
        raise UserError(
            "--chambers needs --adapter DIR: an adapter trained with `samurai train --prompts "
            "learned` (the default prompter), or another --prompter (florence2, sam3) with "
            "--prompter-model DIR"
        )
    return names


def learned_chambers(predictor, source, chambers: list[str], *, adapter, lost_frames: int, events: list):
    """The learned prompter's frames (as ``sam2_track`` yields them) for ``chambers``, checked
    against the adapter's class prompts."""
    from samurai.prompters.learned import track_chambers

    if getattr(predictor, "class_prompts", None) is None:
        raise UserError(
            f"adapter {adapter} has no class prompts (class_prompts.safetensors); "
            "train one with `samurai train --prompts learned`"
        )
    unknown = [c for c in chambers if c not in predictor.class_prompts.class_names]
    if unknown:
        raise UserError(
            f"--chambers {unknown} unknown to adapter {adapter}, which knows "
            f"{list(predictor.class_prompts.class_names)}"
        )
    return track_chambers(predictor, source, chambers, lost_frames=lost_frames, events=events)


def read_boxes(path: Path) -> dict[str, list[tuple[int, tuple]]]:
    """``video -> [(obj_id, (x1, y1, x2, y2)), ...]`` from a prompts CSV, checked line by line."""
    if not path.is_file():
        raise UserError(f"--boxes {path} does not exist; pass a CSV with columns video,obj_id,x1,y1,x2,y2")
    with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: a spreadsheet's byte-order mark
        reader = csv.DictReader(f)
        need = ["video", "obj_id", "x1", "y1", "x2", "y2"]
        if reader.fieldnames is None or any(c not in reader.fieldnames for c in need):
            raise UserError(
                f"--boxes {path} needs the header video,obj_id,x1,y1,x2,y2 (found {reader.fieldnames})"
            )
        boxes: dict[str, list] = {}
        for n, row in enumerate(reader, 2):
            try:
                obj = int(row["obj_id"])
                box = parse_box(",".join(row[c] or "" for c in need[2:]))
            except (UserError, ValueError):
                raise UserError(
                    f"--boxes {path}:{n}: obj_id must be a whole number and x1,y1,x2,y2 "
                    f"four numbers (pixels), got {dict(row)}"
                ) from None
            if obj < 1 or obj > 255:
                raise UserError(f"--boxes {path}:{n}: obj_id {obj} must lie in 1..255")
            boxes.setdefault(row["video"], []).append((obj, box))
    return boxes


def echo_prompts(labels, ids, prompt_kind: str) -> dict:
    """Object id -> ``("box", samurai_core.mask_to_box of its mask)`` or ``("mask", mask)``
    from a label map ``[H, W]`` (the prompt frame's ground truth)."""
    from samurai_core.boxes import mask_to_box

    if prompt_kind == "box":
        return {k: ("box", mask_to_box(labels == k)) for k in ids}
    return {k: ("mask", labels == k) for k in ids}
