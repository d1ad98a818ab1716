"""``samurai report``: the chamber quantification of a study from ``samurai track`` run folders.

Writes ``report.html`` (self-contained), ``report.json`` and ``report.pdf`` (headless Chromium)
into ``--out`` (default: ``<first run>_report`` beside it). See docs/clinical.md.
"""

from __future__ import annotations

from pathlib import Path

from samurai.errors import UserError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="chamber quantification (LV volumes/EF/GLS, LA volume, RV FAC, RA area) of track runs",
        description=(
            "Measure the chambers of one study from `samurai track --chambers` run folders (an "
            "apical four-chamber run, and a two-chamber run for biplane volumes), following the "
            "ASE/EACVI recommendations (Lang et al. 2015), and write report.html, report.json "
            "and report.pdf."
        ),
    )
    p.add_argument(
        "runs",
        nargs="*",
        metavar="RUN_DIR",
        help="run folders of one study (views and study identity from their manifests)",
    )
    p.add_argument("--a4c", metavar="RUN_DIR", help="the apical four-chamber run (pairs runs as given)")
    p.add_argument("--a2c", metavar="RUN_DIR", help="the apical two-chamber run (pairs runs as given)")
    p.add_argument(
        "--sex",
        choices=("male", "female"),
        help="grade against this sex's ranges (default: both ranges shown)",
    )
    p.add_argument("--height", type=float, metavar="CM", help="height in cm (with --weight: BSA)")
    p.add_argument("--weight", type=float, metavar="KG", help="weight in kg (with --height: BSA)")
    p.add_argument(
        "--bsa", type=float, metavar="M2", help="body surface area in m² (instead of height/weight)"
    )
    p.add_argument(
        "--spacing",
        metavar="SX,SY",
        help="pixel spacing in cm per pixel (column, row), e.g. 0.03,0.03; default: the "
        "run's recorded spacing, else pixels",
    )
    p.add_argument("--fps", type=float, help="frame rate (default: the run's recorded one or the video's)")
    p.add_argument(
        "--labels",
        metavar="NAMES",
        help="chamber names of object ids 1, 2, ... for runs that do not name them, e.g. lv,la,rv,ra",
    )
    p.add_argument("--out", help="output folder (default: <first run>_report)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing output folder written by samurai (or an empty one)",
    )
    p.add_argument("--no-pdf", action="store_true", help="skip report.pdf")
    p.set_defaults(run=run)


def parse_spacing(text: str | None):
    if text is None:
        return None
    try:
        sx, sy = (float(v) for v in text.split(","))
    except ValueError:
        raise UserError(
            f"--spacing {text!r}: give two numbers in cm per pixel, e.g. --spacing 0.03,0.03"
        ) from None
    if not (sx > 0 and sy > 0):
        raise UserError(f"--spacing {text!r}: the spacing must be positive (cm per pixel)")
    return sx, sy


def run(args) -> int:
    from samurai.clinical.report import Body, write_report
    from samurai.clinical.study import build_study

    try:
        body = Body.from_args(args.height, args.weight, args.bsa)
    except ValueError as err:
        raise UserError(str(err)) from None
    if args.fps is not None and not args.fps > 0:
        raise UserError(f"--fps {args.fps}: the frame rate must be positive")
    labels = [n for n in args.labels.split(",") if n.strip()] if args.labels else None
    runs = build_study(args.runs, args.a4c, args.a2c, parse_spacing(args.spacing), args.fps, labels)
    out = Path(args.out) if args.out else runs[0].path.with_name(runs[0].path.name + "_report")
    report = write_report(runs, out, sex=args.sex, body=body, force=args.force, pdf=not args.no_pdf)
    for key in ("lv_ef", "lv_edv", "lv_esv", "lv_gls", "la_volume", "rv_fac", "ra_area"):
        hits = [v for v in report.readout.values if v.key == key or v.key.startswith(key + ":")]
        v = next((h for h in hits if h.value is not None), hits[0] if hits else None)
        if v is not None:
            shown = f"{v.value:.1f} {v.unit}" if v.value is not None else f"missing ({v.missing})"
            print(f"{v.label}: {shown}  [{v.method}; {v.flag}]")
    for note in report.notes:
        print(f"note: {note}")
    print(
        f"wrote {out}/: report.html, report.json"
        + ("" if args.no_pdf or any("report.pdf not written" in n for n in report.notes) else ", report.pdf")
    )
    return 0
