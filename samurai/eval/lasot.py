"""Evaluation on LaSOT-style data: one folder per sequence with its frames (``img/`` or the
folder itself, or one video file) and ``groundtruth.txt`` (``x,y,w,h`` per frame); the first box
is the prompt, the box metrics (success AUC, precision) are scored on the other frames.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from samurai.errors import UserError
from samurai.eval.report import failed_note, failure_text, notes_text, summarise

BOX_COLUMNS = [
    "case",
    "method",
    "status",
    "frames",
    "frames_announced",
    "success_auc",
    "precision_20",
    "norm_precision",
    "norm_precision_auc",
    "error",
]


def lasot_sequences(root: Path):
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist; check the path")
    seqs = sorted(p.parent for p in root.rglob("groundtruth.txt"))
    if not seqs:
        raise UserError(
            f"no groundtruth.txt under {root}; LaSOT-style data needs one folder per "
            "sequence with its frames (img/ or the folder itself) and groundtruth.txt"
        )
    sequences = [LasotSequence(p) for p in seqs]
    from samurai.shard import refuse_shared_names

    refuse_shared_names(
        sequences,
        "result (the rows of a sequence are keyed by its folder's name)",
        "rename one of the sequence folders, or evaluate the categories separately",
    )
    return sequences


class LasotSequence:
    def __init__(self, folder: Path):
        self.folder = folder
        self.case_id = folder.name
        self.n_frames = 0  # known once checked: it balances the shards of the ranks

    def source(self) -> str:
        from samurai_common.frames import VIDEO_SUFFIXES

        if (self.folder / "img").is_dir():
            return str(self.folder / "img")
        videos = [p for p in self.folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES]
        return str(videos[0]) if videos else str(self.folder)

    def problems(self) -> list[str]:
        """What keeps this sequence from being evaluated, [] when usable."""
        from samurai.formats import read_lasot_boxes
        from samurai_common.frames import FrameError, VideoFileFrames, count_frames, open_frames
        from samurai_core.boxes import lasot_present

        found = []
        try:
            gt = read_lasot_boxes(self.folder / "groundtruth.txt")
        except (ValueError, OSError) as err:
            found.append(str(err))
            gt = None
        try:
            source = open_frames(self.source())
        except (FileNotFoundError, FrameError) as err:
            return found + [str(err)]
        if gt is None:
            return found
        self.n_frames = len(source)
        if len(gt) != len(source) and isinstance(source, VideoFileFrames):
            try:  # a container's announced count is an estimate: count what decodes, in order
                self.n_frames = count_frames(source)
            except FrameError as err:
                found.append(str(err))
        # One line per frame read, or per frame announced by a video that ends early (its
        # frames read are scored: docs/cli.md, "Videos that end early keep every frame").
        if len(gt) != len(source) and not (source.ended_early and len(gt) == source.frames_announced):
            found.append(
                f"groundtruth.txt has {len(gt)} boxes for {len(source)} frames; give one "
                "x,y,w,h line per frame"
            )
        if len(gt) and not lasot_present(gt[0]):
            found.append("the first ground-truth box is empty; the first frame must show the target")
        elif len(gt) and prompt_box(gt[0], source.width, source.height)[0] is None:
            found.append(
                f"the first ground-truth box {_xywh(gt[0])} lies wholly outside the "
                f"{source.width}x{source.height} frame; the first frame must show the target"
            )
        return found


def _xywh(row) -> str:
    return "(" + ",".join(f"{float(v):g}" for v in row) + ")"


def prompt_box(xywh, width: int, height: int):
    """(the first-frame prompt box ``x1,y1,x2,y2`` clipped to the ``width`` x ``height`` frame,
    a note when clipping changed it) for a LaSOT ``x,y,w,h`` row; (None, None) when no part of
    the box lies in the frame. LaSOT boxes may overhang the frame edge (a target entering the
    view); the prompt is the part inside it, the ground truth is scored as given.

    >>> prompt_box([-5, 10, 20, 8], 64, 48)
    (array([ 0., 10., 14., 17.]), 'its first box (-5,10,20,8) overhangs the 64x48 frame; prompted with the part inside it, (0,10,14,17)')
    """
    import numpy as np

    from samurai_core.boxes import lasot_to_xyxy

    box = lasot_to_xyxy(np.asarray(xywh, np.float64))
    clipped = np.clip(box, 0, [width - 1, height - 1, width - 1, height - 1])
    if (
        clipped[2] < clipped[0]
        or clipped[3] < clipped[1]
        or box[2] < 0
        or box[3] < 0
        or box[0] > width - 1
        or box[1] > height - 1
    ):
        return None, None
    if np.array_equal(clipped, box):
        return box, None
    return clipped, (
        f"its first box {_xywh(xywh)} overhangs the {width}x{height} frame; prompted "
        f"with the part inside it, {_xywh(clipped)}"
    )


def lasot_case(seq, predictors) -> tuple[dict, dict]:
    """One sequence tracked by every method, as stored in the work folder: (record, arrays)."""
    import numpy as np

    from samurai.eval.metrics import box_iou_xywh, box_metrics, masks_to_xywh, success_curve
    from samurai.formats import read_lasot_boxes
    from samurai.tracking import report_frames_read, sam2_track
    from samurai_common.frames import open_frames
    from samurai_core.boxes import lasot_present, mask_to_box

    try:
        rows, arrays, empties = [], {}, []
        gt = read_lasot_boxes(seq.folder / "groundtruth.txt")
        source = open_frames(seq.source())
        box, note = prompt_box(gt[0], source.width, source.height)
        if note:
            print(f"note: sequence {seq.case_id}: {note}", file=sys.stderr, flush=True)
        prompt = {1: ("box", box.astype(np.float32))}
        for method, (predictor, samurai) in predictors.items():
            empty = np.zeros((source.height, source.width), bool)
            tracked = {t: fm.get(1, empty) for t, fm, _ in sam2_track(predictor, source, prompt, samurai)}
            read = len(source)  # the frames the video really has (see FrameSource.available)
            masks = np.stack([tracked.get(t, empty) for t in range(read)])
            if not masks.any():
                empties.append({"method": method, "object": "target"})
            pred, g = masks_to_xywh(masks), gt[:read]
            rows.append(
                {
                    "case": seq.case_id,
                    "method": method,
                    "status": "ok",
                    "frames_announced": source.frames_announced,
                    **box_metrics(pred[1:], g[1:]),
                }
            )
            ok = lasot_present(g[1:])
            arrays[f"curve/{method}"] = success_curve(box_iou_xywh(pred[1:][ok], g[1:][ok]))
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{seq.case_id}_{method}")
            arrays[f"boxes/{safe}"] = mask_to_box(masks)
    except Exception as err:  # noqa: BLE001  one bad sequence must not lose the others
        print(
            f"warning: sequence {seq.case_id} failed and is recorded as failed: {failure_text(err)}",
            flush=True,
        )
        return {
            "failed": True,
            "rows": [
                {"case": seq.case_id, "method": m, "status": "failed", "error": failure_text(err)}
                for m in predictors
            ],
        }, {}
    report_frames_read(f"sequence {seq.case_id}", source, read, "scored (per_case.csv: frames_announced)")
    record = {"failed": False, "rows": rows, "empty": empties}
    if source.ended_early:
        record["ended_early"] = source.ended_early
    return record, arrays


def write_lasot_report(records, predictors, folder, notes: dict) -> tuple[str, list[str]]:
    """Write per_case.csv, boxes/, the summaries and the success plot from the stored records."""
    import numpy as np

    from samurai.eval.report import format_table, plot_curves
    from samurai.formats import write_csv, write_lasot_boxes
    from samurai.output import atomic_write_text

    rows, curves, failed = [], {m: [] for m in predictors}, []
    (folder / "boxes").mkdir()
    for record, arrays in records:
        rows += record["rows"]
        if record["failed"]:
            failed.append(record["case_id"])
            continue
        for key, value in arrays.items():
            kind, name = key.split("/", 1)
            if kind == "curve":
                curves[name].append(value)
            else:
                write_lasot_boxes(folder / "boxes" / f"{name}.txt", value)
    write_csv(folder / "per_case.csv", rows, fieldnames=BOX_COLUMNS)
    summary = summarise(
        [r for r in rows if r["status"] == "ok"],
        ("method",),
        ("success_auc", "precision_20", "norm_precision", "norm_precision_auc"),
    )
    table = format_table(
        summary, ["method", "cases", "success_auc", "precision_20", "norm_precision", "norm_precision_auc"]
    )
    text = (
        f"# samurai eval (LaSOT-style boxes, first frame = prompt, not scored)\n"
        f"{failed_note(failed, len(records))}{notes_text(notes)}\n{table}\n"
    )
    atomic_write_text(folder / "summary.md", text)
    atomic_write_text(
        folder / "summary.json",
        json.dumps({"boxes": summary, "failed_cases": failed, **notes}, indent=2) + "\n",
    )
    from samurai.eval.metrics import SUCCESS_THRESHOLDS

    plot_curves(
        folder / "success.png",
        {m: np.mean(c, axis=0) for m, c in curves.items() if c},
        "Success plot (mean over sequences)",
        "IoU threshold",
        "success rate",
        x=SUCCESS_THRESHOLDS,
    )
    return text, failed
