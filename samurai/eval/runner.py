"""An evaluation run, as ``samurai eval`` and ``samurai.evaluate`` start it: the cases of an echo
or LaSOT-style dataset tracked by every method, sharded over ``torchrun``'s ranks, each finished
case kept in ``OUT.cases/`` (a rerun resumes), the tables and plots written by rank 0 into an
all-or-nothing output folder (``samurai.eval.echo``, ``samurai.eval.lasot``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from samurai.errors import UserError

# Exit status when some cases failed while tracking (recorded in per_case.csv, the others scored).
EXIT_SOME_FAILED = 3
# Exit status when none failed but the dataset skipped cases (recorded with their reasons).
EXIT_SOME_SKIPPED = 4


@dataclass
class EvalOptions:
    """The settings of an evaluation run (the options of ``samurai eval``, same names)."""

    data: str
    out: str = "samurai_eval"
    force: bool = False
    kind: str | None = None
    lasot: bool = False
    split: str | None = None
    max_cases: int | None = None
    prompt: str = "box"
    methods: str = "vanilla,samurai"
    model: str = "tiny"
    checkpoint: str | None = None
    adapter: str | None = None
    image_size: int | None = None
    device: str | None = None
    noise: str | None = None
    motion_model: str | None = None
    random_weights: bool = False
    seed: int = 0
    batch_objects: bool = False
    compile: bool = False
    dtype: str | None = None
    medsam: str | None = None
    florence2: str | None = None
    florence2_adapter: str | None = None
    frame_batch: int = 8
    mask_exports: bool = True
    command: str = "eval"
    argv: list | None = None


class EvalResult(NamedTuple):
    """What an evaluation run wrote: ``status`` 0, :data:`EXIT_SOME_FAILED` when some cases
    failed while tracking, else :data:`EXIT_SOME_SKIPPED` when the dataset skipped some;
    ``summary``: summary.md's text; ``failed``: those cases; ``skipped``: ``{"case", "reason"}``
    of the skipped ones."""

    status: int
    out_dir: Path
    summary: str
    failed: list
    skipped: list = []


def evaluate(args: EvalOptions) -> EvalResult:
    """Run an evaluation. One process, or one rank of ``torchrun``: the cases are sharded over
    the ranks, each finished case is kept in ``OUT.cases/`` (a rerun resumes) and rank 0 writes
    the output (other ranks return status 0 and an empty summary)."""
    from samurai import distributed
    from samurai.shard import RANK_TIMEOUT

    if args.max_cases is not None and args.max_cases < 1:
        raise UserError("--max-cases must be at least 1")
    methods = _parse_methods(args)
    if args.prompt == "learned" and (args.lasot or not args.adapter):
        raise UserError(
            "--prompt learned needs an echo dataset and --adapter DIR trained with "
            "`samurai train --prompts learned`"
        )
    from samurai.eval.echo import open_echo_cases
    from samurai.eval.lasot import lasot_sequences

    cases = (
        lasot_sequences(Path(args.data)) if args.lasot else open_echo_cases(args.data, args.kind, args.split)
    )
    skipped = [{"case": c, "reason": r} for c, r in getattr(cases, "skipped", ())]
    if args.max_cases is not None:
        cases = cases[: args.max_cases]
    info = distributed.setup(timeout=RANK_TIMEOUT)
    try:
        return _run(args, cases, methods, info, skipped)
    finally:
        distributed.cleanup(info)


def _run(args, cases, methods, info, skipped) -> EvalResult:
    import sys

    from samurai import shard
    from samurai.distributed import device_for
    from samurai.eval.echo import (
        TRACKERS,
        baseline_methods,
        build_baselines,
        echo_case_record,
        write_echo_report,
    )
    from samurai.eval.lasot import lasot_case, write_lasot_report
    from samurai.eval.mask_exports import place_mask_exports
    from samurai.predictors import cpu_notice, is_untrained, predictor_from_args
    from samurai.provenance import run_info_from_args
    from samurai.tracking import warn_empty

    out_dir = Path(args.out)
    device = device_for(args.device, info)

    def build(adapter):
        return predictor_from_args(args, device, samurai=True, adapter=adapter)

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
            base = shard.agree(info, lambda: _learned_predictor(args, build, cases))
            predictors = {f"{m}+learned": (base, m == "samurai") for m in TRACKERS if m in methods}
        else:
            base = shard.agree(info, lambda: build(None))
            predictors = {m: (base, m == "samurai") for m in TRACKERS if m in methods}
            if args.adapter:
                predictors["samurai+adapter"] = (shard.agree(info, lambda: build(args.adapter)), True)
        notice = cpu_notice(base, args.model, None)
        if notice and info.is_main:
            print(notice, file=sys.stderr)
        baselines = shard.agree(
            info,
            lambda: build_baselines(
                methods,
                base,
                medsam=args.medsam,
                florence2=args.florence2,
                florence2_adapter=args.florence2_adapter,
            ),
        )
        weights = _baseline_weights(args)
        prompt = "box (groundtruth.txt, first frame)" if args.lasot else args.prompt
        all_methods = list(predictors) + baseline_methods(baselines)
        store = shard.open_store(
            info, out_dir, _settings(args, base, all_methods, prompt, weights), args.force
        )
        if args.lasot:
            records = shard.run_cases(cases, frames, store, info, lambda c: lasot_case(c, predictors))
        else:
            records = shard.run_cases(
                cases,
                frames,
                store,
                info,
                lambda c: echo_case_record(
                    c,
                    predictors,
                    args.prompt,
                    baselines,
                    args.frame_batch,
                    store.staging(c.case_id) if args.mask_exports else None,
                ),
            )
        if out is None:  # another rank than 0: its cases are stored, rank 0 writes the output
            return EvalResult(0, out_dir, "", [], [])
        # What track also reports: videos that ended early, objects empty on every frame.
        notes = {
            "ended_early": {r["case_id"]: r["ended_early"] for r, _ in records if r.get("ended_early")},
            "empty_objects": [{"case": r["case_id"], **e} for r, _ in records for e in r.get("empty", [])],
            "skipped": skipped,
        }
        out.info.update(
            run_info_from_args(args, base),
            data=str(args.data),
            methods=all_methods,
            prompt=prompt,
            cases=[c.case_id for c in cases],
            ranks=info.world_size,
            **weights,
            **notes,
        )
        exports = None
        if args.lasot:
            summary, failed = write_lasot_report(records, predictors, out.path, notes)
        else:
            exports = place_mask_exports(records, store, out.path, args.mask_exports)
            out.info.update(exports=exports)
            summary, failed = write_echo_report(
                records, all_methods, out.path, bool(baselines), notes, exports
            )
        out.info.update(failed_cases=failed)
    print(summary)  # it names the mask exports too
    print(f"wrote {out_dir}/ in {time.perf_counter() - t0:.1f} s")
    warn_empty(
        [f"{e['case']}/{e['method']}/{e['object']}" for e in notes["empty_objects"]],
        "on every tracked frame",
        is_untrained(args.model, args.checkpoint),
    )
    if failed:
        print(
            f"warning: {len(failed)} of {len(cases)} case(s) failed while tracking and are "
            f"recorded as failed in {out_dir}/per_case.csv (status, error): {', '.join(failed)}",
            file=sys.stderr,
        )
    if skipped:
        print(
            f"warning: the dataset skipped {len(skipped)} case(s), recorded with their reasons in "
            f"{out_dir}/summary.md: {', '.join(s['case'] for s in skipped)}",
            file=sys.stderr,
        )
    status = EXIT_SOME_FAILED if failed else EXIT_SOME_SKIPPED if skipped else 0
    return EvalResult(status, out_dir, summary, failed, skipped)


def _settings(args, base, methods, prompt, weights) -> dict:
    """Everything that changes a case's result (compared when a run resumes)."""
    from samurai.provenance import run_info_from_args
    from samurai.settings import result_settings

    return {
        **result_settings(run_info_from_args(args, base)),
        "data": str(Path(args.data).resolve()),
        "kind": args.kind,
        "lasot": args.lasot,
        "methods": methods,
        "prompt": prompt,
        **weights,
        # A resumed run's finished cases must have the exports the run writes.
        **({} if args.lasot else {"mask_exports": args.mask_exports}),
    }


def _learned_predictor(args, build, cases):
    """The predictor with the ``--adapter`` whose class prompts ``--prompt learned`` uses; the
    cases' classes must be among the adapter's (the rule of ``train --val-data``), or a class it
    does not know would be scored as found nowhere."""
    from samurai.train.prompts import check_val_classes

    predictor = build(args.adapter)
    if getattr(predictor, "class_prompts", None) is None:
        raise UserError(
            f"adapter {args.adapter} has no class prompts (class_prompts.safetensors); "
            "train one with `samurai train --prompts learned`"
        )
    try:
        check_val_classes(
            cases[0].ds,
            [c.i for c in cases],
            predictor.class_prompts.class_names,
            role="data",
            fix=f"evaluate adapter {args.adapter} on data with those labels, "
            "or train one whose --classes include them",
        )
    except ValueError as err:
        raise UserError(f"--prompt learned: {err}") from None
    return predictor


def _parse_methods(args) -> list[str]:
    """``--methods`` as a list, checked against the known names and the data kind."""
    from samurai.eval.echo import BASELINES, BY_WORDS, TRACKERS
    from samurai.predictors import HF_PREFIX

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    known = TRACKERS + BASELINES + BY_WORDS
    unknown = [m for m in methods if m not in known]
    if unknown or not methods:
        raise UserError(
            f"--methods {args.methods!r}: unknown method(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(known)}"
        )
    if args.lasot and any(m in BASELINES + BY_WORDS for m in methods):
        raise UserError(
            "the per-frame baselines (sam2-image, medsam, florence2) are scored on echo datasets "
            "with masks; drop them from --methods for --lasot"
        )
    if "sam2-image" in methods and args.model.startswith(HF_PREFIX):
        raise UserError(
            "--methods sam2-image runs the sam2 package's image predictor on the SAM 2 "
            "model; give a SAM 2 --model and --checkpoint, not hf:DIR"
        )
    if "medsam" in methods and not args.medsam:
        from samurai.baselines.medsam import WEIGHTS_HELP

        raise UserError(f"--methods medsam: {WEIGHTS_HELP}")
    if "medsam" in methods and not Path(args.medsam).exists():
        from samurai.baselines.medsam import WEIGHTS_HELP

        raise UserError(f"--medsam {args.medsam} does not exist; {WEIGHTS_HELP}")
    if "florence2" in methods and not (args.florence2 and (Path(args.florence2) / "config.json").is_file()):
        from samurai.florence.model import WEIGHTS_HELP

        raise UserError(
            f"--methods florence2 needs --florence2 DIR, a Florence-2 folder with config.json "
            f"(got {args.florence2}). {WEIGHTS_HELP}"
        )
    if args.frame_batch < 1:
        raise UserError("--frame-batch must be at least 1")
    return methods


def _baseline_weights(args) -> dict:
    """The per-frame baselines' weight files and their SHA-256 (manifest and resume settings)."""
    from samurai.provenance import fingerprint

    found = {}
    for key in ("medsam", "florence2", "florence2_adapter"):
        if getattr(args, key):
            found.update({key: getattr(args, key), f"{key}_sha256": fingerprint(getattr(args, key))})
    return found
