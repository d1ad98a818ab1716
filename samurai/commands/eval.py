"""``samurai eval``: vanilla SAM 2 vs SAMURAI (vs SAMURAI + adapter) on a labelled dataset.

Echo datasets (CAMUS 2023 / 2019, EchoNet-Dynamic, the generic frames + masks layout): every
labelled structure is prompted on the first labelled frame (a box from its mask, or the mask
itself) and tracked forward; the other labelled frames are scored (Dice, IoU, HD95 — mm where
the spacing is known — and box metrics on the masks' boxes). The LV gets the clinical
read-out (area curve, ED/ES, area-length EF per view, biplane disks EF when both apical views of
a patient are present) and its EF error against the dataset's label.

Per-frame image baselines (``--methods sam2-image,medsam``): SAM 2's image predictor and MedSAM
segment every frame on its own from a box, under two protocols reported side by side
(``sam2-image/oracle-box``: the truth box on every labelled frame; ``sam2-image/first-box``: the
truth box on the first labelled frame, then the box of the method's own previous mask).
``--methods florence2`` adds a Florence-2 (``--florence2 DIR``, ``--florence2-adapter DIR``) that
segments each structure by its name on every labelled frame, with no box.

LaSOT-style data (``--lasot``): one folder per sequence with its frames (``img/`` or the folder
itself, or one video file) and ``groundtruth.txt`` (``x,y,w,h`` per frame); the first box is
the prompt and the box metrics are reported.

See docs/evaluation.md.
"""

from __future__ import annotations

import json
import re
import time
import warnings
from itertools import chain
from pathlib import Path

from samurai.errors import UserError

SEG_COLUMNS = ["case", "method", "structure", "status", "frames", "dice", "iou", "hd95", "hd95_unit",
               "success_auc", "precision_20", "norm_precision", "norm_precision_auc", "error"]
EF_COLUMNS = ["case", "view", "method", "ed_frame", "es_frame", "ef_area_length", "ef_biplane",
              "ef_label", "ef_error"]
BOX_COLUMNS = ["case", "method", "status", "frames", "frames_announced", "success_auc",
               "precision_20", "norm_precision", "norm_precision_auc", "error"]
# --methods: the trackers, then the per-frame baselines (each scored under every protocol).
TRACKERS = ("vanilla", "samurai")
BASELINES = ("sam2-image", "medsam")
BY_WORDS = ("florence2",)
# Exit status when some cases failed while tracking (recorded in per_case.csv, the others scored).
EXIT_SOME_FAILED = 3


def add_parser(sub) -> None:
    from samurai.commands.track import add_model_arguments, add_motion_arguments, add_random_weights_arguments

    p = sub.add_parser(
        "eval",
        help="evaluate vanilla SAM 2 vs SAMURAI on CAMUS / EchoNet / generic / LaSOT-style data",
        description=(
            "Track every labelled structure of every case with vanilla SAM 2 and with SAMURAI "
            "(and SAMURAI + a LoRA adapter), then write per-case CSVs, a summary table and plots."
        ),
    )
    p.add_argument("data", help="dataset folder")
    p.add_argument("--kind", choices=("camus2023", "camus2019", "echonet", "generic"),
                   help="dataset layout (default: detected)")
    p.add_argument("--lasot", action="store_true",
                   help="LaSOT/GOT-10k-style sequences (groundtruth.txt boxes) instead of an echo dataset")
    p.add_argument("--split", help="train, val or test (default: all cases)")
    p.add_argument("--max-cases", type=int, default=None, help="evaluate at most this many cases")
    p.add_argument("--prompt", choices=("box", "mask", "learned"), default="box",
                   help="first-frame prompt of each structure, echo datasets (default: box); "
                   "learned: no box, the --adapter's class prompts find each structure by name "
                   "(methods vanilla+learned and samurai+learned)")
    p.add_argument("--checkpoint", help="SAM 2 checkpoint (.pt, official format)")
    add_model_arguments(p)
    p.add_argument("--adapter", help="also evaluate SAMURAI with this LoRA adapter folder")
    p.add_argument("--methods", default="vanilla,samurai",
                   help="comma-separated methods: vanilla, samurai (SAM 2 video), and the per-frame "
                        "baselines sam2-image, medsam, each scored under the oracle-box and first-box "
                        "protocols, and florence2 (by name, no box) (default: vanilla,samurai)")
    p.add_argument("--medsam", metavar="PATH",
                   help="MedSAM weights for --methods medsam: the official medsam_vit_b.pth or a "
                        "transformers SamModel folder")
    p.add_argument("--florence2", metavar="DIR", help="Florence-2 folder for --methods florence2")
    p.add_argument("--florence2-adapter", metavar="DIR",
                   help="its LoRA adapter from `samurai train --model florence2`")
    p.add_argument("--frame-batch", type=int, default=8,
                   help="frames per image-encoder call of the per-frame baselines (default: 8)")
    add_motion_arguments(p)
    p.add_argument("--out", default="samurai_eval", help="output folder (default: samurai_eval)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing output folder written by samurai (or an empty one)")
    add_random_weights_arguments(p)
    p.set_defaults(run=run)


def run(args) -> int:
    """One process, or one rank of ``torchrun``: the cases are sharded over the ranks, each
    finished case is kept in ``OUT.cases/`` (a rerun resumes) and rank 0 writes the output."""
    from samurai import distributed
    from samurai.shard import RANK_TIMEOUT

    if args.max_cases is not None and args.max_cases < 1:
        raise UserError("--max-cases must be at least 1")
    methods = _parse_methods(args)
    if args.prompt == "learned" and (args.lasot or not args.adapter):
        raise UserError("--prompt learned needs an echo dataset and --adapter DIR trained with "
                       "`samurai train --prompts learned`")
    cases = _lasot_sequences(Path(args.data)) if args.lasot else _echo_dataset(args)
    if args.max_cases is not None:
        cases = cases[: args.max_cases]
    info = distributed.setup(timeout=RANK_TIMEOUT)
    try:
        return _run(args, cases, methods, info)
    finally:
        distributed.cleanup(info)


def _run(args, cases, methods, info) -> int:
    import sys

    from samurai import shard
    from samurai.commands.track import build_predictor, cpu_notice, is_untrained, run_info, warn_empty
    from samurai.distributed import device_for

    out_dir = Path(args.out)
    device = device_for(args.device, info)

    def build(adapter):
        return build_predictor(args.model, args.checkpoint, device, args.image_size,
                               samurai=True, adapter=adapter, random_weights=args.random_weights,
                               noise=args.noise, motion_model=args.motion_model, seed=args.seed)

    t0 = time.perf_counter()
    with shard.main_output(info, out_dir, args.force) as out:
        # Every case's files are read once before any tracking, so that a bad file stops the
        # run in seconds (all problems listed), not after hours with the earlier cases lost.
        if info.is_main:
            print(f"checking the files of {len(cases)} case(s) before tracking", flush=True)
        problems, frames = shard.check_cases(cases, info)
        if problems:
            raise shard.problems_error(problems, args.data, "fix or remove these cases")
        # Method name -> (predictor, SAMURAI on): vanilla and SAMURAI share one model.
        if args.prompt == "learned":  # the adapter's class prompts find every structure
            base = shard.agree(info, lambda: _learned_predictor(args, build))
            predictors = {f"{m}+learned": (base, m == "samurai") for m in TRACKERS if m in methods}
        else:
            base = shard.agree(info, lambda: build(None))
            predictors = {m: (base, m == "samurai") for m in TRACKERS if m in methods}
            if args.adapter:
                predictors["samurai+adapter"] = (shard.agree(info, lambda: build(args.adapter)), True)
        notice = cpu_notice(base, args.model, None)
        if notice and info.is_main:
            print(notice, file=sys.stderr)
        baselines = shard.agree(info, lambda: _build_baselines(args, methods, base))
        weights = _baseline_weights(args)
        prompt = "box (groundtruth.txt, first frame)" if args.lasot else args.prompt
        all_methods = list(predictors) + _baseline_methods(baselines)
        store = shard.open_store(info, out_dir, _settings(args, base, all_methods, prompt, weights),
                                 args.force)
        if args.lasot:
            records = shard.run_cases(cases, frames, store, info, lambda c: _lasot_case(c, predictors))
        else:
            records = shard.run_cases(
                cases, frames, store, info,
                lambda c: _echo_case_record(c, predictors, args.prompt, baselines, args.frame_batch))
        if out is None:  # another rank than 0: its cases are stored, rank 0 writes the output
            return 0
        # What track also reports: videos that ended early, objects empty on every frame.
        notes = {"ended_early": {r["case_id"]: r["ended_early"] for r, _ in records if r.get("ended_early")},
                 "empty_objects": [{"case": r["case_id"], **e} for r, _ in records for e in r.get("empty", [])]}
        out.info.update(run_info(args, base), data=str(args.data), methods=all_methods,
                        prompt=prompt, cases=[c.case_id for c in cases], ranks=info.world_size,
                        **weights, **notes)
        if args.lasot:
            summary, failed = _eval_lasot(records, predictors, out.path, notes)
        else:
            summary, failed = _eval_echo(records, all_methods, out.path, bool(baselines), notes)
        out.info.update(failed_cases=failed)
    shard.finish(info, store)
    print(summary)
    print(f"wrote {out_dir}/ in {time.perf_counter() - t0:.1f} s")
    warn_empty([f"{e['case']}/{e['method']}/{e['object']}" for e in notes["empty_objects"]],
               "on every tracked frame", is_untrained(args))
    if failed:
        print(f"warning: {len(failed)} of {len(cases)} case(s) failed while tracking and are "
              f"recorded as failed in {out_dir}/per_case.csv (status, error): {', '.join(failed)}",
              file=sys.stderr)
        return EXIT_SOME_FAILED
    return 0


# What a case's result does not depend on: left out of the work folder's settings, so that a
# rerun may change them and still reuse the finished cases (the case list itself may change).
_NOT_SETTINGS = ("argv", "device", "checkpoint", "adapter", "noise")


def _settings(args, base, methods, prompt, weights) -> dict:
    """Everything that changes a case's result (compared when a run resumes)."""
    from samurai.commands.track import run_info

    info = {k: v for k, v in run_info(args, base).items() if k not in _NOT_SETTINGS}
    return {**info, "data": str(Path(args.data).resolve()), "kind": args.kind, "lasot": args.lasot,
            "methods": methods, "prompt": prompt, **weights}


def _learned_predictor(args, build):
    """The predictor with the ``--adapter`` whose class prompts ``--prompt learned`` uses."""
    predictor = build(args.adapter)
    if getattr(predictor, "class_prompts", None) is None:
        raise UserError(f"adapter {args.adapter} has no class prompts (class_prompts.safetensors); "
                       "train one with `samurai train --prompts learned`")
    return predictor


def _parse_methods(args) -> list[str]:
    """``--methods`` as a list, checked against the known names and the data kind."""
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    known = TRACKERS + BASELINES + BY_WORDS
    unknown = [m for m in methods if m not in known]
    if unknown or not methods:
        raise UserError(f"--methods {args.methods!r}: unknown method(s) {', '.join(unknown) or '(none given)'}; "
                       f"choose from {', '.join(known)}")
    if args.lasot and any(m in BASELINES + BY_WORDS for m in methods):
        raise UserError("the per-frame baselines (sam2-image, medsam, florence2) are scored on echo datasets "
                       "with masks; drop them from --methods for --lasot")
    from samurai.commands.track import HF_PREFIX

    if "sam2-image" in methods and args.model.startswith(HF_PREFIX):
        raise UserError("--methods sam2-image runs the sam2 package's image predictor on the SAM 2 "
                       "model; give a SAM 2 --model and --checkpoint, not hf:DIR")
    if "medsam" in methods and not args.medsam:
        from samurai.baselines.medsam import WEIGHTS_HELP

        raise UserError(f"--methods medsam: {WEIGHTS_HELP}")
    if "medsam" in methods and not Path(args.medsam).exists():
        from samurai.baselines.medsam import WEIGHTS_HELP

        raise UserError(f"--medsam {args.medsam} does not exist; {WEIGHTS_HELP}")
    if "florence2" in methods and not (args.florence2 and (Path(args.florence2) / "config.json").is_file()):
        from samurai.florence.model import WEIGHTS_HELP

        raise UserError(f"--methods florence2 needs --florence2 DIR, a Florence-2 folder with config.json "
                       f"(got {args.florence2}). {WEIGHTS_HELP}")
    if args.frame_batch < 1:
        raise UserError("--frame-batch must be at least 1")
    return methods


def _build_baselines(args, methods, sam2_model) -> dict:
    """Baseline name -> FrameSegmenter, in --methods order (MedSAM loaded before any tracking)."""
    baselines = {}
    for m in methods:
        if m == "sam2-image":
            from samurai.baselines.sam2_image import Sam2ImageSegmenter

            baselines[m] = Sam2ImageSegmenter(sam2_model)
        elif m == "medsam":
            from samurai.baselines.medsam import MedSamError, MedSamSegmenter, load_medsam

            try:
                baselines[m] = MedSamSegmenter(load_medsam(args.medsam, str(sam2_model.device)))
            except MedSamError as err:
                raise UserError(f"--medsam: {err}") from None
        elif m == "florence2":
            from samurai.florence import FlorenceError, FlorenceFinder, load_florence

            try:
                baselines[m] = FlorenceFinder(*load_florence(args.florence2, args.florence2_adapter,
                                                             str(sam2_model.device)))
            except FlorenceError as err:
                raise UserError(f"--florence2: {err}") from None
    return baselines


def _baseline_methods(baselines) -> list[str]:
    from samurai.baselines import PROTOCOLS

    return [name if name in BY_WORDS else f"{name}/{protocol}"
            for name in baselines for protocol in ((None,) if name in BY_WORDS else PROTOCOLS)]


def _baseline_weights(args) -> dict:
    """The per-frame baselines' weight files and their SHA-256 (manifest and resume settings)."""
    from samurai.provenance import fingerprint

    found = {}
    for key in ("medsam", "florence2", "florence2_adapter"):
        if getattr(args, key):
            found.update({key: getattr(args, key), f"{key}_sha256": fingerprint(getattr(args, key))})
    return found


def _failure(err: Exception) -> str:
    return f"{type(err).__name__}: {err}".replace("\n", " ")


def _failed_note(failed: list, total: int) -> str:
    if not failed:
        return ""
    return (f"\n**{len(failed)} of {total} case(s) failed** while tracking and are not in the "
            f"means (per_case.csv: status, error): {', '.join(failed)}.\n")


def _notes_text(notes: dict) -> str:
    """summary.md's lines for the cases whose video ended early and the objects never segmented."""
    text = ""
    if notes["ended_early"]:
        text += (f"\n{len(notes['ended_early'])} case(s) ended before the frames their video announces "
                 f"and are scored on the frames read (summary.json: ended_early): "
                 f"{', '.join(notes['ended_early'])}.\n")
    if notes["empty_objects"]:
        text += ("\nEmpty on every tracked frame (nothing segmented): "
                 + ", ".join(f"{e['case']}/{e['method']}/{e['object']}" for e in notes["empty_objects"]) + ".\n")
    return text


# ----------------------------------------------------------------------------- echo


def _echo_dataset(args):
    from samurai.data import DatasetError, DatasetWarning, open_dataset

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DatasetWarning)
        try:
            ds = open_dataset(args.data, kind=args.kind, split=args.split)
        except DatasetError as err:
            raise UserError(str(err)) from None
    for w in caught:
        print(f"warning: {w.message}")
    if len(ds) == 0:
        raise UserError(f"no usable case in {args.data} (split {args.split}); check the folder and --split")
    return [_Lazy(ds, i) for i in range(len(ds))]


class _Lazy:
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
            return [f"{case.meta['ended_early']}: every labelled frame "
                    f"({', '.join(map(str, case.meta['labelled_lost']))}) comes after it; "
                    "re-export or re-encode the video, or remove the case"]
        if labelled.size == 0:
            return ["no labelled frame (its masks are missing); add a label mask PNG per "
                    "labelled frame"]
        if not case.masks[labelled].any():
            return ["every mask is empty (all 0); paint each structure with its label id"]
        if not case.masks[labelled[0]].any():
            return [f"the first labelled frame ({int(labelled[0])}) has no structure to prompt; "
                    "it must show every structure to track"]
        return []


def echo_prompts(labels, ids, prompt_kind: str) -> dict:
    """Object id -> ``("box", samurai_core.mask_to_box of its mask)`` or ``("mask", mask)``
    from a label map ``[H, W]`` (the prompt frame's ground truth)."""
    from samurai_core.boxes import mask_to_box

    if prompt_kind == "box":
        return {k: ("box", mask_to_box(labels == k)) for k in ids}
    return {k: ("mask", labels == k) for k in ids}


def track_case(predictor, samurai: bool, frames, prompts, start: int):
    """Masks bool [T, B, H, W] for prompts on frame ``start``, tracked forward."""
    import numpy as np

    from samurai.commands.track import sam2_track

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


def _learned_masks(predictor, samurai: bool, case, ids, start: int):
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


def _seg_scores(pred, gt, spacing):
    """Mean Dice / IoU / HD95 and box metrics over frames for one structure."""
    import numpy as np

    from samurai.eval.metrics import box_metrics, dice, hd95, iou, masks_to_xywh

    d = [dice(p, g) for p, g in zip(pred, gt)]
    j = [iou(p, g) for p, g in zip(pred, gt)]
    h = [hd95(p, g, spacing) for p, g in zip(pred, gt)]
    row = {"frames": len(d), "dice": float(np.mean(d)), "iou": float(np.mean(j)),
           "hd95": float(np.nanmean(h)) if np.isfinite(h).any() else float("nan"),
           "hd95_unit": "mm" if spacing is not None else "px"}
    if any(g.any() for g in gt):
        boxes = box_metrics(masks_to_xywh(pred), masks_to_xywh(gt))
        row.update({k: v for k, v in boxes.items() if k != "frames"})
    return row


def _patient(case_id: str) -> tuple[str, str | None]:
    m = re.match(r"(.+)_(2CH|4CH)$", case_id)
    return (m.group(1), m.group(2)) if m else (case_id, None)


def _echo_case(case, predictors, prompt_kind, baselines=None, frame_batch=8):
    """One echo case tracked by every method: (seg rows, EF rows, ED/ES LV store, area curves,
    the (method, structure) pairs whose mask is empty on every frame from the prompt on)."""
    import numpy as np

    from samurai.eval import clinical

    seg_rows, ef_rows, lv_store, area_plots, empty = [], [], {}, {}, []
    labelled = np.flatnonzero(case.labelled)
    start = int(labelled[0])
    ids = [k for k in sorted(case.labels) if (case.masks[start] == k).any()]
    prompts = echo_prompts(case.masks[start], ids, prompt_kind)
    scored = [int(f) for f in labelled if f != start] or [start]
    lv_id = next((k for k in ids if case.labels[k].upper() == "LV"), None)
    if prompt_kind == "learned":
        runs = ((method, _learned_masks(predictor, samurai, case, ids, start), True)
                for method, (predictor, samurai) in predictors.items())
    else:
        runs = ((method, track_case(predictor, samurai, case.frames, prompts, start), True)
                for method, (predictor, samurai) in predictors.items())
    if baselines:
        runs = chain(runs, _baseline_runs(case, baselines, ids, start, frame_batch))
    for method, masks, every_frame in runs:
        for i, k in enumerate(ids):
            if not masks[start:, i].any():
                empty.append((method, case.labels[k]))
            gt = case.masks[scored] == k
            row = {"case": case.case_id, "method": method, "structure": case.labels[k], "status": "ok"}
            row.update(_seg_scores(masks[scored, i], gt, case.spacing))
            seg_rows.append(row)
        if lv_id is not None and every_frame:
            lv = masks[start:, ids.index(lv_id)]
            area_plots.setdefault(case.case_id, {})[method] = clinical.area_curve(lv, case.spacing)
            row = _ef_row(case, method, lv)
            ef_rows.append(row)
            if row["ed_frame"] >= 0:  # keep only ED and ES masks: memory stays flat
                lv_store[(case.case_id, method)] = (lv[row["ed_frame"]], lv[row["es_frame"]], case.spacing)
    if lv_id is not None:
        gt_lv = case.masks[start:] == lv_id
        if case.labelled[start:].all():
            area_plots[case.case_id]["truth"] = clinical.area_curve(gt_lv, case.spacing)
    return seg_rows, ef_rows, lv_store, area_plots, empty


def _baseline_runs(case, baselines, ids, start, frame_batch):
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
    with tqdm(total=total, desc=f"{case.case_id} baselines", unit="frame", leave=False,
              disable=None) as bar:
        for name, segmenter in baselines.items():
            if name in BY_WORDS:
                masks = segment_case_by_words(segmenter, case.frames, case.labelled,
                                              [case.labels[k] for k in ids], start, frame_batch,
                                              on_frames=bar.update)
                yield name, masks, every_labelled
                continue
            for protocol in PROTOCOLS:
                masks = segment_case(segmenter, case.frames, case.masks, case.labelled, ids, start,
                                     protocol, frame_batch, on_frames=bar.update)
                yield f"{name}/{protocol}", masks, protocol == "first-box" or every_labelled


def _echo_case_record(lazy, predictors, prompt_kind, baselines=None, frame_batch=8) -> tuple[dict, dict]:
    """One case tracked by every method, as stored in the work folder: (record, arrays)."""
    import sys

    try:
        case = lazy.load()
        seg, ef, lv, plots, empty = _echo_case(case, predictors, prompt_kind, baselines, frame_batch)
    except Exception as err:  # noqa: BLE001  one bad case must not lose the others
        print(f"warning: case {lazy.case_id} failed and is recorded as failed: "
              f"{_failure(err)}", flush=True)
        return {"failed": True, "seg": [{"case": lazy.case_id, "method": m, "status": "failed",
                                         "error": _failure(err)}
                                        for m in list(predictors) + _baseline_methods(baselines or {})]}, {}
    arrays, spacing = {}, {}
    for (_, method), (ed, es, sp) in lv.items():
        arrays[f"ed/{method}"], arrays[f"es/{method}"], spacing[method] = ed, es, sp
    for method, curve in plots.get(lazy.case_id, {}).items():
        arrays[f"area/{method}"] = curve
    record = {"failed": False, "seg": seg, "ef": ef, "spacing": spacing,
              "empty": [{"method": m, "object": name} for m, name in empty]}
    if "ended_early" in case.meta:
        lost = case.meta.get("labelled_lost", [])
        record["ended_early"] = case.meta["ended_early"]
        print(f"warning: case {lazy.case_id}: {case.meta['ended_early']}; its {case.meta['frames_read']} "
              "frames read are scored" + (f", the labelled frame(s) {', '.join(map(str, lost))} "
                                          "went with the end and are not" if lost else ""),
              file=sys.stderr, flush=True)
    return record, arrays


def _eval_echo(records, methods, folder, baselines: bool, notes: dict) -> tuple[str, list[str]]:
    """Write per_case.csv, ef.csv, the summaries and plots from every case's stored record."""
    import numpy as np

    from samurai.eval.report import format_table, plot_bars, plot_curves
    from samurai.formats import write_csv
    from samurai.output import atomic_write_text

    seg_rows, ef_rows, lv_store = [], [], {}
    area_plots, failed = {}, []
    for record, arrays in records:
        case_id = record["case_id"]
        seg_rows += record["seg"]
        if record["failed"]:
            failed.append(case_id)
            continue
        ef_rows += record["ef"]
        for method, sp in record["spacing"].items():
            lv_store[(case_id, method)] = (arrays[f"ed/{method}"], arrays[f"es/{method}"],
                                           None if sp is None else tuple(sp))
        curves = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("area/")}
        if curves:
            area_plots[case_id] = curves

    _add_biplane(ef_rows, lv_store)
    write_csv(folder / "per_case.csv", seg_rows, fieldnames=SEG_COLUMNS)
    if ef_rows:
        write_csv(folder / "ef.csv", ef_rows, fieldnames=EF_COLUMNS)

    summary_rows = _summarise([r for r in seg_rows if r["status"] == "ok"], ("method", "structure"),
                              ("dice", "iou", "hd95", "success_auc", "precision_20", "norm_precision",
                               "norm_precision_auc"))
    ef_summary = []
    for method in methods:
        errs = [r["ef_error"] for r in ef_rows if r["method"] == method and np.isfinite(r["ef_error"])]
        ef_summary.append({"method": method, "cases": len(errs),
                           "ef_mae": float(np.mean(np.abs(errs))) if errs else float("nan")})
    table = format_table(summary_rows, ["method", "structure", "cases", "dice", "iou", "hd95",
                                        "success_auc", "precision_20", "norm_precision", "norm_precision_auc"])
    ef_table = format_table(ef_summary, ["method", "cases", "ef_mae"])
    unit = "mm" if any(r.get("hd95_unit") == "mm" for r in seg_rows) else "px"
    protocols = ("\nPer-frame baselines (NAME/PROTOCOL): oracle-box prompts every labelled frame with "
                 "its truth box (an upper bound no tracker gets; no EF unless every frame is "
                 "labelled); first-box prompts the first labelled frame with its truth box and each "
                 "later frame with the box of the method's own previous mask (the fair comparison "
                 "with tracking). florence2 segments each structure by its name alone, on the "
                 "labelled frames. See docs/evaluation.md.\n") if baselines else ""
    text = (f"# samurai eval\n\nMeans over cases (HD95 in {unit}; box metrics on the masks' boxes).\n{protocols}"
            f"{_failed_note(failed, len(records))}{_notes_text(notes)}\n{table}\n\nLV ejection fraction: mean absolute error against the dataset's EF label "
            f"(area-length, or biplane disks where both views exist).\n\n{ef_table}\n")
    atomic_write_text(folder / "summary.md", text)
    atomic_write_text(folder / "summary.json", json.dumps(
        {"segmentation": summary_rows, "ef": ef_summary, "failed_cases": failed, **notes},
        indent=2, default=float) + "\n")
    plot_bars(folder / "dice_per_structure.png",
              {m: {r["structure"]: r["dice"] for r in summary_rows if r["method"] == m} for m in methods},
              "Mean Dice per structure", "Dice")
    for case_id, curves in list(area_plots.items())[:4]:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", case_id)
        plot_curves(folder / f"lv_area_{safe}.png", curves, f"{case_id}: LV area",
                    "frame (from the prompt)", "LV area (mm²)" if unit == "mm" else "LV area (px)")
    return text, failed


def _ef_row(case, method, lv):
    from samurai.eval import clinical

    row = {"case": case.case_id, "view": case.meta.get("view", ""), "method": method,
           "ef_label": float(case.meta["ef"]) if "ef" in case.meta else float("nan"),
           "ef_biplane": float("nan")}
    try:
        r = clinical.view_readout(lv, case.spacing)
        row.update(ed_frame=r.ed_index, es_frame=r.es_index, ef_area_length=r.ef)
    except ValueError:
        row.update(ed_frame=-1, es_frame=-1, ef_area_length=float("nan"))
    row["ef_error"] = row["ef_area_length"] - row["ef_label"]
    return row


def _add_biplane(ef_rows, lv_store) -> None:
    """Biplane disks EF where a patient's 2CH and 4CH are both present; it replaces the error."""
    import numpy as np

    from samurai.eval import clinical

    for row in ef_rows:
        patient, view = _patient(row["case"])
        if view is None:
            continue
        two = lv_store.get((f"{patient}_2CH", row["method"]))
        four = lv_store.get((f"{patient}_4CH", row["method"]))
        if two is None or four is None:
            continue
        try:
            row["ef_biplane"] = clinical.biplane_ef(two[0], two[1], four[0], four[1], two[2], four[2])
        except ValueError:
            continue
        if np.isfinite(row["ef_label"]):
            row["ef_error"] = row["ef_biplane"] - row["ef_label"]


def _summarise(rows, keys, metrics):
    import numpy as np

    groups: dict = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, rs in groups.items():
        entry = dict(zip(keys, key))
        entry["cases"] = len(rs)
        for m in metrics:
            vals = np.array([r.get(m, np.nan) for r in rs], np.float64)
            entry[m] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
        out.append(entry)
    return out


# ----------------------------------------------------------------------------- LaSOT-style


def _lasot_sequences(root: Path):
    if not root.is_dir():
        raise UserError(f"dataset folder {root} does not exist; check the path")
    seqs = sorted(p.parent for p in root.rglob("groundtruth.txt"))
    if not seqs:
        raise UserError(f"no groundtruth.txt under {root}; LaSOT-style data needs one folder per "
                       "sequence with its frames (img/ or the folder itself) and groundtruth.txt")
    return [_Sequence(p) for p in seqs]


class _Sequence:
    def __init__(self, folder: Path):
        self.folder = folder
        self.case_id = folder.name
        self.n_frames = 0  # known once checked: it balances the shards of the ranks

    def source(self) -> str:
        if (self.folder / "img").is_dir():
            return str(self.folder / "img")
        videos = [p for p in self.folder.iterdir() if p.suffix.lower() in (".mp4", ".avi", ".mov", ".mkv")]
        return str(videos[0]) if videos else str(self.folder)

    def problems(self) -> list[str]:
        """What keeps this sequence from being evaluated, [] when usable."""
        from samurai_common.frames import FrameError, VideoFileFrames, count_frames, open_frames
        from samurai_core.boxes import lasot_present
        from samurai.formats import read_lasot_boxes

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
            found.append(f"groundtruth.txt has {len(gt)} boxes for {len(source)} frames; give one "
                         "x,y,w,h line per frame")
        if len(gt) and not lasot_present(gt[0]):
            found.append("the first ground-truth box is empty; the first frame must show the target")
        return found


def _lasot_case(seq, predictors) -> tuple[dict, dict]:
    """One sequence tracked by every method, as stored in the work folder: (record, arrays)."""
    import numpy as np

    from samurai_common.frames import open_frames
    from samurai.commands.track import report_frames_read, sam2_track
    from samurai.eval.metrics import box_metrics, masks_to_xywh, success_curve, box_iou_xywh
    from samurai_core.boxes import lasot_present, lasot_to_xyxy, mask_to_box
    from samurai.formats import read_lasot_boxes

    try:
        rows, arrays, empties = [], {}, []
        gt = read_lasot_boxes(seq.folder / "groundtruth.txt")
        source = open_frames(seq.source())
        prompt = {1: ("box", lasot_to_xyxy(gt[0]).astype(np.float32))}
        for method, (predictor, samurai) in predictors.items():
            empty = np.zeros((source.height, source.width), bool)
            tracked = {t: fm.get(1, empty) for t, fm, _ in sam2_track(predictor, source, prompt, samurai)}
            read = len(source)  # the frames the video really has (see FrameSource.available)
            masks = np.stack([tracked.get(t, empty) for t in range(read)])
            if not masks.any():
                empties.append({"method": method, "object": "target"})
            pred, g = masks_to_xywh(masks), gt[:read]
            rows.append({"case": seq.case_id, "method": method, "status": "ok",
                         "frames_announced": source.frames_announced,
                         **box_metrics(pred[1:], g[1:])})
            ok = lasot_present(g[1:])
            arrays[f"curve/{method}"] = success_curve(box_iou_xywh(pred[1:][ok], g[1:][ok]))
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{seq.case_id}_{method}")
            arrays[f"boxes/{safe}"] = mask_to_box(masks)
    except Exception as err:  # noqa: BLE001  one bad sequence must not lose the others
        print(f"warning: sequence {seq.case_id} failed and is recorded as failed: "
              f"{_failure(err)}", flush=True)
        return {"failed": True, "rows": [{"case": seq.case_id, "method": m, "status": "failed",
                                          "error": _failure(err)} for m in predictors]}, {}
    report_frames_read(f"sequence {seq.case_id}", source, read,
                       "scored (per_case.csv: frames_announced)")
    record = {"failed": False, "rows": rows, "empty": empties}
    if source.ended_early:
        record["ended_early"] = source.ended_early
    return record, arrays


def _eval_lasot(records, predictors, folder, notes: dict) -> tuple[str, list[str]]:
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
    summary = _summarise([r for r in rows if r["status"] == "ok"], ("method",),
                         ("success_auc", "precision_20", "norm_precision", "norm_precision_auc"))
    table = format_table(summary, ["method", "cases", "success_auc", "precision_20", "norm_precision",
                                   "norm_precision_auc"])
    text = (f"# samurai eval (LaSOT-style boxes, first frame = prompt, not scored)\n"
            f"{_failed_note(failed, len(records))}{_notes_text(notes)}\n{table}\n")
    atomic_write_text(folder / "summary.md", text)
    atomic_write_text(folder / "summary.json", json.dumps({"boxes": summary, "failed_cases": failed,
                                                           **notes}, indent=2) + "\n")
    from samurai.eval.metrics import SUCCESS_THRESHOLDS

    plot_curves(folder / "success.png", {m: np.mean(c, axis=0) for m, c in curves.items() if c},
                "Success plot (mean over sequences)", "IoU threshold", "success rate",
                x=SUCCESS_THRESHOLDS)
    return text, failed
