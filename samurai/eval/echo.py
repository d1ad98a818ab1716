"""Evaluation on echo datasets (CAMUS 2023 / 2019, EchoNet-Dynamic, the generic frames + masks
layout): every labelled structure is prompted on the first labelled frame (a box from its mask,
the mask itself, or the adapter's learned class prompts) and tracked forward; the other
labelled frames are scored (Dice, IoU, HD95 — mm where the spacing is known — and box metrics on
the masks' boxes). Every method that tracks every frame gets the chambers' clinical read-out
(``samurai.eval.readout``: readout.csv, agreement with the dataset's values) and the LV EF rows
(``samurai.eval.ef``); the dataset's own masks get the read-out too (method ``truth``). The per-frame image baselines (SAM 2 image predictor, MedSAM,
Florence-2) are scored beside the trackers.

A case's result is a record (``echo_case_record``) that ``samurai.shard`` stores, so that a run
resumes; :func:`write_echo_report` writes the tables and plots from every stored record.
"""

from __future__ import annotations

import json
import re
import warnings
from itertools import chain

from samurai.errors import UserError
from samurai.eval.ef import EF_COLUMNS, add_biplane, ef_row
from samurai.eval.readout import (
    READOUT_COLUMNS,
    TRUTH,
    biplane_rows,
    chamber_shapes,
    pack_shapes,
    patient_view,
    readout_row,
    stored_views,
    truth_shapes,
    view_name,
    write_agreement,
)
from samurai.eval.report import failed_note, failure_text, notes_text, summarise
from samurai.prompts import echo_prompts

SEG_COLUMNS = [
    "case",
    "method",
    "structure",
    "status",
    "frames",
    "dice",
    "iou",
    "hd95",
    "hd95_unit",
    "success_auc",
    "precision_20",
    "norm_precision",
    "norm_precision_auc",
    "error",
]
# Methods: the trackers, then the per-frame baselines (each scored under every protocol).
TRACKERS = ("vanilla", "samurai")
BASELINES = ("sam2-image", "medsam")
BY_WORDS = ("florence2",)
# The case meta a stored record keeps for the read-out of a view pair (view, frame rate, the
# dataset's own EF / EDV / ESV).
READOUT_META = ("view", "fps", "ef", "edv", "esv")


def build_baselines(methods, sam2_model, *, medsam=None, florence2=None, florence2_adapter=None) -> dict:
    """Baseline name -> FrameSegmenter, in --methods order (MedSAM loaded before any tracking)."""
    baselines = {}
    for m in methods:
        if m == "sam2-image":
            from samurai.baselines.sam2_image import Sam2ImageSegmenter

            baselines[m] = Sam2ImageSegmenter(sam2_model)
        elif m == "medsam":
            from samurai.baselines.medsam import MedSamError, MedSamSegmenter, load_medsam

            try:
                baselines[m] = MedSamSegmenter(load_medsam(medsam, str(sam2_model.device)))
            except MedSamError as err:
                raise UserError(f"--medsam: {err}") from None
        elif m == "florence2":
            from samurai.florence import FlorenceError, FlorenceFinder, load_florence

            try:
                baselines[m] = FlorenceFinder(
                    *load_florence(florence2, florence2_adapter, str(sam2_model.device))
                )
            except FlorenceError as err:
                raise UserError(f"--florence2: {err}") from None
    return baselines


def baseline_methods(baselines) -> list[str]:
    from samurai.baselines import PROTOCOLS

    return [
        name if name in BY_WORDS else f"{name}/{protocol}"
        for name in baselines
        for protocol in ((None,) if name in BY_WORDS else PROTOCOLS)
    ]


def open_echo_cases(data, kind=None, split=None):
    """The cases of an echo dataset, each loaded when evaluated (dataset warnings printed)."""
    from samurai.data import DatasetError, DatasetWarning, open_dataset

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DatasetWarning)
        try:
            ds = open_dataset(data, kind=kind, split=split)
        except DatasetError as err:
            raise UserError(str(err)) from None
    for w in caught:
        print(f"warning: {w.message}")
    if len(ds) == 0:
        raise UserError(f"no usable case in {data} (split {split}); check the folder and --split")
    return EchoCases([LazyCase(ds, i) for i in range(len(ds))], ds.skipped)


class EchoCases(list):
    """The cases of a dataset and ``skipped``: ``(case id, reason)`` of those it left out
    (recorded in the run's summaries and manifest, and said by the exit status)."""

    def __init__(self, cases, skipped):
        super().__init__(cases)
        self.skipped = list(skipped)


class LazyCase:
    """One case of a dataset, loaded when evaluated (keeps memory flat over many cases)."""

    def __init__(self, ds, i):
        self.ds, self.i = ds, i
        self.case_id = ds.case_ids[i]
        self.n_frames = 0  # known once checked: it balances the shards of the ranks

    def load(self):
        return self.ds[self.i]

    def problems(self) -> list[str]:
        """What keeps this case from being evaluated (read from its files), [] when usable."""
        import numpy as np

        from samurai.data import DatasetError

        try:
            case = self.load()
        except (DatasetError, OSError) as err:
            return [str(err)]
        self.n_frames = len(case.frames)
        labelled = np.flatnonzero(case.labelled)
        if labelled.size == 0 and case.meta.get("labelled_lost"):
            return [
                f"{case.meta['ended_early']}: every labelled frame "
                f"({', '.join(map(str, case.meta['labelled_lost']))}) comes after it; "
                "re-export or re-encode the video, or remove the case"
            ]
        if labelled.size == 0:
            return ["no labelled frame (its masks are missing); add a label mask PNG per labelled frame"]
        if not case.masks[labelled].any():
            return ["every mask is empty (all 0); paint each structure with its label id"]
        if not case.masks[labelled[0]].any():
            return [
                f"the first labelled frame ({int(labelled[0])}) has no structure to prompt; "
                "it must show every structure to track"
            ]
        return []


def track_case(predictor, samurai: bool, frames, prompts, start: int):
    """Masks bool [T, B, H, W] for prompts on frame ``start``, tracked forward."""
    import numpy as np

    from samurai.tracking import sam2_track

    ids = sorted(prompts)
    t_all, h, w = frames.shape[:3]
    rgb = frames if frames.ndim == 4 else np.repeat(frames[..., None], 3, axis=3)
    masks = np.zeros((t_all, len(ids), h, w), bool)
    for t, frame_masks, _ in sam2_track(predictor, rgb[start:], prompts, samurai):
        for i, k in enumerate(ids):
            if k in frame_masks:
                masks[start + t, i] = frame_masks[k]
    return masks


def track_case_learned(predictor, samurai: bool, frames, names: dict[int, str], start: int):
    """Masks bool [T, B, H, W] of the structures ``names`` (label id -> class name, ids in
    order), found by the predictor's class prompts from frame ``start`` on, with no box."""
    import numpy as np

    from samurai.prompters.learned import track_chambers

    ids = sorted(names)
    classes = [names[k] for k in ids]
    t_all, h, w = frames.shape[:3]
    rgb = frames if frames.ndim == 4 else np.repeat(frames[..., None], 3, axis=3)
    masks = np.zeros((t_all, len(ids), h, w), bool)
    for t, frame_masks, _ in track_chambers(predictor, rgb[start:], classes, samurai=samurai):
        for i in range(len(ids)):
            if i + 1 in frame_masks:
                masks[start + t, i] = frame_masks[i + 1]
    return masks


def learned_masks(predictor, samurai: bool, case, ids, start: int):
    """Masks bool [T, len(ids), H, W]: every structure the class prompts know is looked for on
    its own (no box); the labelled ones (``ids``) are returned for scoring."""
    import numpy as np

    known = set(predictor.class_prompts.class_names)
    names = {k: case.labels[k].lower() for k in sorted(case.labels) if case.labels[k].lower() in known}
    found = track_case_learned(predictor, samurai, case.frames, names, start)
    masks = np.zeros(found.shape[:1] + (len(ids),) + found.shape[2:], bool)
    for i, k in enumerate(ids):
        if k in names:
            masks[:, i] = found[:, sorted(names).index(k)]
    return masks


def seg_scores(pred, gt, spacing):
    """Mean Dice / IoU / HD95 and box metrics over frames for one structure."""
    import numpy as np

    from samurai.eval.metrics import box_metrics, dice, hd95, iou, masks_to_xywh

    d = [dice(p, g) for p, g in zip(pred, gt)]
    j = [iou(p, g) for p, g in zip(pred, gt)]
    h = [hd95(p, g, spacing) for p, g in zip(pred, gt)]
    row = {
        "frames": len(d),
        "dice": float(np.mean(d)),
        "iou": float(np.mean(j)),
        "hd95": float(np.nanmean(h)) if np.isfinite(h).any() else float("nan"),
        "hd95_unit": "mm" if spacing is not None else "px",
    }
    if any(g.any() for g in gt):
        boxes = box_metrics(masks_to_xywh(pred), masks_to_xywh(gt))
        row.update({k: v for k, v in boxes.items() if k != "frames"})
    return row


def echo_case(case, predictors, prompt_kind, baselines=None, frame_batch=8, export=None):
    """One echo case tracked by every method: (seg rows, EF rows, read-out rows, the chambers'
    outlines per method (chamber -> [T] outlines, frames from the prompt on), area curves, the
    (method, structure) pairs whose mask is empty on every frame from the prompt on). The
    read-out rows and outlines also hold :data:`~samurai.eval.readout.TRUTH`'s, the read-out
    of the dataset's own masks (outlines of its :func:`~samurai.eval.readout.truth_frames` only).

    ``export(method, masks, ids)``, when given, is called with each method's masks
    ``bool [T, len(ids), H, W]`` of the label ids ``ids`` (``samurai.eval.mask_exports``)."""
    import numpy as np

    from samurai.eval.metrics import area_curve

    seg_rows, ef_rows, readout_rows, outlines, area_plots, empty = [], [], [], {}, {}, []
    labelled = np.flatnonzero(case.labelled)
    start = int(labelled[0])
    ids = [k for k in sorted(case.labels) if (case.masks[start] == k).any()]
    prompts = echo_prompts(case.masks[start], ids, prompt_kind)
    scored = [int(f) for f in labelled if f != start] or [start]
    lv_id = next((k for k in ids if case.labels[k].upper() == "LV"), None)
    if prompt_kind == "learned":
        runs = (
            (method, learned_masks(predictor, samurai, case, ids, start), True)
            for method, (predictor, samurai) in predictors.items()
        )
    else:
        runs = (
            (method, track_case(predictor, samurai, case.frames, prompts, start), True)
            for method, (predictor, samurai) in predictors.items()
        )
    if baselines:
        runs = chain(runs, baseline_runs(case, baselines, ids, start, frame_batch))
    for method, masks, every_frame in runs:
        if export is not None:
            export(method, masks, ids)
        for i, k in enumerate(ids):
            if not masks[start:, i].any():
                empty.append((method, case.labels[k]))
            gt = case.masks[scored] == k
            row = {"case": case.case_id, "method": method, "structure": case.labels[k], "status": "ok"}
            row.update(seg_scores(masks[scored, i], gt, case.spacing))
            seg_rows.append(row)
        if lv_id is not None and every_frame:
            area_plots.setdefault(case.case_id, {})[method] = area_curve(
                masks[start:, ids.index(lv_id)], case.spacing
            )
            shapes = chamber_shapes(case, ids, masks[start:])  # outlines only: memory stays flat
            outlines[method] = shapes
            ef_rows.append(ef_row(case, method, shapes["lv"]))
            readout_rows.append(readout_row(case, method, shapes, view_name(case)))
    if lv_id is not None:
        gt_lv = case.masks[start:] == lv_id
        if case.labelled[start:].all():
            area_plots[case.case_id][TRUTH] = area_curve(gt_lv, case.spacing)
        outlines[TRUTH] = truth_shapes(case, ids, lv_id)
        readout_rows.append(readout_row(case, TRUTH, outlines[TRUTH], view_name(case)))
    return seg_rows, ef_rows, readout_rows, outlines, area_plots, empty


def baseline_runs(case, baselines, ids, start, frame_batch):
    """(method, masks [T, K, H, W], masks on every frame from ``start``) per baseline and protocol.

    ``oracle-box`` and ``florence2`` segment the labelled frames only, so the LV area curve (and
    EF) exists only when every frame from the first labelled one is labelled.
    """
    from tqdm.auto import tqdm

    from samurai.baselines import PROTOCOLS, segment_case
    from samurai.baselines.florence2 import segment_case_by_words

    labelled = int(case.labelled[start:].sum())
    per_run = {"oracle-box": labelled, "first-box": len(case.frames) - start}
    total = sum(labelled if name in BY_WORDS else sum(per_run.values()) for name in baselines)
    every_labelled = labelled == len(case.frames) - start
    with tqdm(total=total, desc=f"{case.case_id} baselines", unit="frame", leave=False, disable=None) as bar:
        for name, segmenter in baselines.items():
            if name in BY_WORDS:
                masks = segment_case_by_words(
                    segmenter,
                    case.frames,
                    case.labelled,
                    [case.labels[k] for k in ids],
                    start,
                    frame_batch,
                    on_frames=bar.update,
                )
                yield name, masks, every_labelled
                continue
            for protocol in PROTOCOLS:
                masks = segment_case(
                    segmenter,
                    case.frames,
                    case.masks,
                    case.labelled,
                    ids,
                    start,
                    protocol,
                    frame_batch,
                    on_frames=bar.update,
                )
                yield f"{name}/{protocol}", masks, protocol == "first-box" or every_labelled


def echo_case_record(
    lazy, predictors, prompt_kind, baselines=None, frame_batch=8, exports_to=None
) -> tuple[dict, dict]:
    """One case tracked by every method, as stored in the work folder: (record, arrays).
    ``exports_to``: a folder for its masks.nii.gz / seg.dcm per method (none written if None)."""
    import sys

    from samurai.eval.mask_exports import CaseExports

    exporter = None
    try:
        case = lazy.load()
        if exports_to is not None:
            exporter = CaseExports(exports_to, case, lazy.ds.kind)
        try:
            seg, ef, readout, outlines, plots, empty = echo_case(
                case, predictors, prompt_kind, baselines, frame_batch, exporter
            )
        finally:
            if exporter is not None:
                exporter.close()
    except Exception as err:  # noqa: BLE001  one bad case must not lose the others
        print(
            f"warning: case {lazy.case_id} failed and is recorded as failed: {failure_text(err)}", flush=True
        )
        return {
            "failed": True,
            "seg": [
                {"case": lazy.case_id, "method": m, "status": "failed", "error": failure_text(err)}
                for m in list(predictors) + baseline_methods(baselines or {})
            ],
        }, {}
    arrays = {}
    if patient_view(case.case_id)[1] is not None:  # a view that may pair: keep its outlines
        for method, shapes in outlines.items():
            for chamber, frames in shapes.items():
                arrays.update(pack_shapes(f"shape/{method}/{chamber}", frames))
    for method, curve in plots.get(lazy.case_id, {}).items():
        arrays[f"area/{method}"] = curve
    record = {
        "failed": False,
        "seg": seg,
        "ef": ef,
        "readout": readout,
        "meta": {k: case.meta[k] for k in READOUT_META if k in case.meta},
        "spacing": None if case.spacing is None else list(case.spacing),
        "empty": [{"method": m, "object": name} for m, name in empty],
    }
    if exporter is not None:
        record["exports"] = exporter.record()
    if "ended_early" in case.meta:
        lost = case.meta.get("labelled_lost", [])
        record["ended_early"] = case.meta["ended_early"]
        print(
            f"warning: case {lazy.case_id}: {case.meta['ended_early']}; its {case.meta['frames_read']} "
            "frames read are scored"
            + (
                f", the labelled frame(s) {', '.join(map(str, lost))} went with the end and are not"
                if lost
                else ""
            ),
            file=sys.stderr,
            flush=True,
        )
    return record, arrays


def write_echo_report(
    records, methods, folder, baselines: bool, notes: dict, exports: dict | None = None
) -> tuple[str, list[str]]:
    """Write per_case.csv, ef.csv, the summaries and plots from every case's stored record;
    ``exports``: the manifest's entry of the mask exports placed in ``folder`` (summary.md names
    them in one line)."""
    import numpy as np

    from samurai.eval.mask_exports import exports_text
    from samurai.eval.report import format_table, plot_bars, plot_curves
    from samurai.formats import write_csv
    from samurai.output import atomic_write_text

    seg_rows, ef_rows, readout_rows, outlines, metas = [], [], [], {}, {}
    area_plots, failed = {}, []
    for record, arrays in records:
        case_id = record["case_id"]
        seg_rows += record["seg"]
        if record["failed"]:
            failed.append(case_id)
            continue
        ef_rows += record["ef"]
        # A case stored by an earlier version (resumed) may have no read-out, or no truth row.
        readout_rows += record.get("readout", [])
        metas[case_id] = (record.get("meta", {}), record.get("spacing"))
        for row in record.get("readout", []):
            if f"shape/{row['method']}/lv/count" in arrays:
                outlines[(case_id, row["method"])] = stored_views(arrays, row["method"])
        curves = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("area/")}
        if curves:
            area_plots[case_id] = curves

    add_biplane(ef_rows, {key: views["lv"] for key, views in outlines.items()})
    biplane = biplane_rows(readout_rows, outlines, metas)
    write_csv(folder / "per_case.csv", seg_rows, fieldnames=SEG_COLUMNS)
    if ef_rows:
        write_csv(folder / "ef.csv", ef_rows, fieldnames=EF_COLUMNS)
    if readout_rows:
        write_csv(folder / "readout.csv", readout_rows + biplane, fieldnames=READOUT_COLUMNS)
    readout_md, readout_json = write_agreement(folder, readout_rows, biplane, methods)

    summary_rows = summarise(
        [r for r in seg_rows if r["status"] == "ok"],
        ("method", "structure"),
        ("dice", "iou", "hd95", "success_auc", "precision_20", "norm_precision", "norm_precision_auc"),
    )
    ef_summary = []
    for method in methods:
        errs = [r["ef_error"] for r in ef_rows if r["method"] == method and np.isfinite(r["ef_error"])]
        ef_summary.append(
            {
                "method": method,
                "cases": len(errs),
                "ef_mae": float(np.mean(np.abs(errs))) if errs else float("nan"),
            }
        )
    table = format_table(
        summary_rows,
        [
            "method",
            "structure",
            "cases",
            "dice",
            "iou",
            "hd95",
            "success_auc",
            "precision_20",
            "norm_precision",
            "norm_precision_auc",
        ],
    )
    ef_table = format_table(ef_summary, ["method", "cases", "ef_mae"])
    unit = "mm" if any(r.get("hd95_unit") == "mm" for r in seg_rows) else "px"
    protocols = (
        (
            "\nPer-frame baselines (NAME/PROTOCOL): oracle-box prompts every labelled frame with "
            "its truth box (an upper bound no tracker gets; no EF unless every frame is "
            "labelled); first-box prompts the first labelled frame with its truth box and each "
            "later frame with the box of the method's own previous mask (the fair comparison "
            "with tracking). florence2 segments each structure by its name alone, on the "
            "labelled frames. See docs/evaluation.md.\n"
        )
        if baselines
        else ""
    )
    exported = exports_text(exports)
    text = (
        f"# samurai eval\n\nMeans over cases (HD95 in {unit}; box metrics on the masks' boxes).\n{protocols}"
        f"{failed_note(failed, len(records))}{notes_text(notes)}\n{table}\n\nLV ejection fraction: mean absolute error against the dataset's EF label "
        f"(area-length, or biplane disks where both views exist).\n\n{ef_table}\n{readout_md}"
        + (
            f"\nMasks of every case and method: {exported} (manifest.json, `exports`, lists them).\n"
            if exported
            else ""
        )
    )
    atomic_write_text(folder / "summary.md", text)
    atomic_write_text(
        folder / "summary.json",
        json.dumps(
            {"segmentation": summary_rows, "ef": ef_summary, **readout_json, "failed_cases": failed, **notes},
            indent=2,
            default=float,
        )
        + "\n",
    )
    plot_bars(
        folder / "dice_per_structure.png",
        {m: {r["structure"]: r["dice"] for r in summary_rows if r["method"] == m} for m in methods},
        "Mean Dice per structure",
        "Dice",
    )
    for case_id, curves in list(area_plots.items())[:4]:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", case_id)
        plot_curves(
            folder / f"lv_area_{safe}.png",
            curves,
            f"{case_id}: LV area",
            "frame (from the prompt)",
            "LV area (mm²)" if unit == "mm" else "LV area (px)",
        )
    return text, failed
