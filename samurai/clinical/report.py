"""The study report: ``report.json`` (every value, unit, range and flag), ``report.html``
(self-contained: inline PNG figures and CSS, no scripts, no network) and ``report.pdf`` (the
same page printed by headless Chromium, or a note saying why not), in an output folder written
as a whole (``OutputDir``: never over files samurai did not write).
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from samurai.clinical import figures
from samurai.clinical.geometry import BASE_MIN_FRACTION, N_DISCS
from samurai.clinical.measurements import Readout, read_out
from samurai.clinical.ranges import LANG_2015, body_surface_area
from samurai.clinical.study import Run

PROVENANCE_KEYS = (
    "model",
    "checkpoint",
    "checkpoint_sha256",
    "adapter",
    "adapter_sha256",
    "random_weights",
    "samurai",
    "motion_model",
    "noise",
    "noise_sha256",
    "image_size",
    "prompter",
    "argv",
    "video",
)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


@dataclass
class Body:
    """Body size for indexed values: BSA in m² and how it was obtained."""

    bsa_m2: float | None = None
    source: str = "not given: no indexed values (give --height and --weight, or --bsa)"

    @classmethod
    def from_args(cls, height_cm=None, weight_kg=None, bsa_m2=None) -> Body:
        if bsa_m2 is not None:
            if not bsa_m2 > 0:
                raise ValueError(f"--bsa {bsa_m2}: body surface area must be positive (m²)")
            return cls(float(bsa_m2), "given (--bsa)")
        if (height_cm is None) != (weight_kg is None):
            raise ValueError("give both --height (cm) and --weight (kg), or --bsa (m²)")
        if height_cm is None:
            return cls()
        bsa = body_surface_area(height_cm, weight_kg)
        return cls(bsa, f"Mosteller, √(height·weight/3600) from {height_cm:g} cm, {weight_kg:g} kg")


@dataclass
class Report:
    out: Path
    readout: Readout
    document: dict
    notes: list[str] = field(default_factory=list)


def stamps(manifest: dict) -> list[str]:
    """The warnings a run's output carries: PHANTOM (synthetic data), UNTRAINED (random weights)."""
    out = []
    if manifest.get("phantom") or str(manifest.get("backend", "")).lower() == "phantom":
        out.append("PHANTOM")
    if manifest.get("random_weights"):
        out.append("UNTRAINED")
    return out


def _clean(x):
    """JSON-safe: NaN/inf -> None, NumPy -> Python."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return _clean(x.tolist())
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x


def build_document(runs: list[Run], readout: Readout, body: Body) -> dict:
    """Everything the report shows, as plain data (this is ``report.json``)."""
    views = {}
    for run in runs:
        c = readout.views[run.view.name]
        views[run.view.name] = {
            "run": str(run.path),
            "view_source": run.view_source,
            "frames": len(next(iter(c.areas.values()))),
            "chambers": sorted(c.areas),
            "spacing_cm": run.view.spacing,
            "spacing_source": run.spacing_source,
            "frame_time_s": run.view.frame_time_s,
            "frame_time_source": run.frame_time_source,
            "study_hash": run.study_hash,
            "beats": [b._asdict() for b in c.beats.beats] if c.beats else [],
            "beats_from": c.beats_from,
            "whole_clip": c.beats.whole_clip if c.beats else None,
            "heart_rate_bpm": c.beats.heart_rate_bpm if c.beats else None,
            "curves": {"area": c.areas, "lv_volume_single_plane_discs": c.lv_volume},
            "provenance": {k: run.manifest.get(k) for k in PROVENANCE_KEYS if k in run.manifest},
            "stamps": stamps(run.manifest),
            "notes": run.notes,
        }
    return _clean(
        {
            "tool": "samurai report",
            "guideline": LANG_2015,
            "units": readout.units,
            "sex": readout.sex,
            "bsa_m2": body.bsa_m2,
            "bsa_source": body.source,
            "methods": {
                "discs": N_DISCS,
                "long_axis": (
                    "annulus midpoint to apex, from each mask's outline (annulus: the outline's "
                    f"straight cut, the longest convex-hull edge ≥ {BASE_MIN_FRACTION:g} of the "
                    "Feret diameter, at 60° or steeper to the axis; apex: where the outline "
                    "is farthest from the annulus midpoint)"
                ),
                "lv_volumes": "biplane method of discs (A4C + A2C, the longer long axis); single-plane "
                "discs and area-length 8·A²/(3·π·L) per view",
                "la_volume": "at LV end-systole: biplane (or single-plane) discs; area-length with the "
                "shorter long axis",
                "gls": "contour-based estimate: endocardial outline length (annulus chord left out), ED→ES; "
                "not speckle-tracking strain",
                "beats": readout.notes,
            },
            "values": [asdict(v) for v in readout.values],
            "views": views,
        }
    )


def _img(png: bytes, alt: str, ident: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img id="{ident}" class="plot" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(value) -> str:
    if value is None:
        return "—"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 1 else 3
    return f"{value:.{digits}f}"


CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:1.5em;color:#111;max-width:1100px}
h1{font-size:1.4em;margin-bottom:0.2em} h2{font-size:1.1em;border-bottom:1px solid #ccc;margin-top:1.4em}
table{border-collapse:collapse;font-size:0.85em;width:100%} td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f0f0} td.num{text-align:right;white-space:nowrap}
.flag-normal{color:#1a7f37} .flag-low,.flag-high{color:#b00020;font-weight:bold} .flag-depends{color:#9a6700}
.stamp{display:inline-block;background:#b00020;color:#fff;font-weight:bold;padding:2px 8px;margin-right:6px}
.missing{color:#666;font-style:italic} .small{font-size:0.8em;color:#444}
img.plot{max-width:100%;border:1px solid #ddd;margin:4px}
@media print{body{margin:0.5cm} h2{page-break-after:avoid} img.plot{page-break-inside:avoid}}
"""


def render_html(doc: dict, images: dict[str, tuple[bytes, str]]) -> str:
    """The report page from ``report.json``'s document and the figures (id -> (PNG, alt))."""
    esc = html.escape
    all_stamps = sorted({s for v in doc["views"].values() for s in v["stamps"]})
    rows = {True: [], False: []}
    for v in doc["values"]:
        ranges = "<br>".join(esc(r["text"]) for r in v["ranges"]) or "—"
        flag_cls = {
            "normal": "flag-normal",
            "low": "flag-low",
            "high": "flag-high",
            "depends on sex": "flag-depends",
        }.get(v["flag"], "")
        if v["value"] is None:
            value = f'<span class="missing">missing: {esc(v["missing"] or "")}</span>'
            flag = "—"
        else:
            beats = ", ".join(_fmt(x) for x in v["per_beat"])
            value = f'{_fmt(v["value"])} <span class="small">({len(v["per_beat"])} beat(s): {beats})</span>'
            flag = f'<span class="{flag_cls}">{esc(v["flag"])}</span>'
            if v["flag_note"]:
                flag += f'<br><span class="small">{esc(v["flag_note"])}</span>'
        src = "<br>".join(sorted({f'<span class="small">{esc(r["where"])}</span>' for r in v["ranges"]}))
        rows[v["primary"]].append(
            f'<tr><td>{esc(v["label"])}</td><td class="num">{value}</td><td>{esc(v["unit"])}</td>'
            f"<td>{esc(v['method'])}</td><td>{ranges}{'<br>' + src if src else ''}</td><td>{flag}</td></tr>"
        )
    header = (
        "<tr><th>Measurement</th><th>Value (mean of beats)</th><th>Unit</th><th>Method</th>"
        "<th>Reference range</th><th>Flag</th></tr>"
    )
    figs = "".join(_img(png, alt, ident) for ident, (png, alt) in images.items())
    view_rows = []
    for name, v in doc["views"].items():
        sp = v["spacing_cm"]
        view_rows.append(
            f"<tr><td>{esc(name)}</td><td>{esc(v['run'])}</td><td>{esc(v['view_source'])}</td>"
            f"<td>{v['frames']}</td><td>{esc(', '.join(c.upper() for c in v['chambers']))}</td>"
            f"<td>{esc(f'{sp[0]:g} × {sp[1]:g} cm' if sp else 'none')}: {esc(v['spacing_source'])}</td>"
            f"<td>{esc(v['frame_time_source'])}</td><td>{esc(v['study_hash'] or 'not recorded')}</td></tr>"
        )
    prov = "".join(
        f"<h3>{esc(name)}</h3><table>"
        + "".join(
            f"<tr><th>{esc(k)}</th><td>{esc(json.dumps(val) if not isinstance(val, str) else val)}</td></tr>"
            for k, val in v["provenance"].items()
        )
        + "</table>"
        for name, v in doc["views"].items()
    )
    methods = doc["methods"]
    notes = "".join(
        f"<li>{esc(n)}</li>"
        for n in methods["beats"] + [n for v in doc["views"].values() for n in v["notes"]]
    )
    unit_note = (
        ""
        if doc["units"]["volume"] == "mL"
        else "<p><b>Pixel spacing unknown: lengths, areas and volumes are in pixels (px, px², px³) "
        "and are not compared with the guideline's ranges.</b> Give --spacing SX,SY (cm per pixel).</p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Chamber quantification report</title>
<style>{CSS}</style></head><body>
<h1>Chamber quantification</h1>
<p>{"".join(f'<span class="stamp">{esc(s)}</span>' for s in all_stamps)}
Sex: {esc(doc["sex"] or "not given (both ranges shown)")} · BSA: {esc(_fmt(doc["bsa_m2"]) + " m²" if doc["bsa_m2"] else "—")} ({esc(doc["bsa_source"])})</p>
{unit_note}
<h2>Measurements</h2>
<p class="small">Reference ranges: {esc(doc["guideline"])}; normal ranges of 2D echocardiography.</p>
<table>{header}{"".join(rows[True])}</table>
<h2>Other methods</h2>
<table>{header}{"".join(rows[False])}</table>
<h2>Curves and stills</h2>
<p class="small">ED: black dashed lines; ES: purple. Outlines: LV red, LA blue, RV green, RA orange; LV long axis dotted, annulus hinges yellow.</p>
{figs}
<h2>Methods</h2>
<ul><li>Method of discs: {methods["discs"]} discs. {esc(methods["lv_volumes"])}.</li>
<li>Long axis: {esc(methods["long_axis"])}.</li>
<li>LA volume: {esc(methods["la_volume"])}.</li><li>GLS: {esc(methods["gls"])}.</li>{notes}</ul>
<table><tr><th>View</th><th>Run</th><th>View from</th><th>Frames</th><th>Chambers</th><th>Spacing</th><th>Frame time</th><th>Study</th></tr>
{"".join(view_rows)}</table>
<h2>Provenance</h2>{prov}
<p class="small">Written by samurai report. A research read-out of automatic segmentations, not a diagnosis.</p>
</body></html>
"""


def _frame_image(run: Run, frame: int):
    if not run.video or not Path(run.video).exists():
        return None
    try:
        from samurai_common.frames import open_frames

        return np.asarray(open_frames(run.video)[frame])
    except Exception:  # noqa: BLE001 - an unreadable video costs the background, not the report
        return None


def make_figures(runs: list[Run], readout: Readout) -> tuple[dict[str, tuple[bytes, str]], list[str]]:
    images, notes = {}, []
    u = readout.units
    for run in runs:
        c = readout.views[run.view.name]
        dt, tag = run.view.frame_time_s, run.view.name.lower()
        images[f"areas-{tag}"] = (figures.area_curves(c, dt, u["area"]), f"{c.name} chamber areas")
        if c.lv_volume is not None:
            images[f"volume-{tag}"] = (figures.volume_curve(c, dt, u["volume"]), f"{c.name} LV volume")
        if c.beats is None:
            continue
        stamp = " ".join(stamps(run.manifest)) or None
        beat = c.beats.beats[0]
        for frame, phase in ((beat.ed, "ED"), (beat.es, "ES")):
            image = _frame_image(run, frame)
            if image is None and phase == "ED":
                notes.append(f"{c.name}: video {run.video!r} not readable: outlines drawn on black")
            images[f"still-{tag}-{phase.lower()}"] = (
                figures.still(c, frame, image, f"{c.name} {phase} (frame {frame})", run.view.spacing, stamp),
                f"{c.name} {phase} still",
            )
    return images, notes


def chromium() -> str | None:
    """Path of a Chromium/Chrome executable, or None."""
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


def print_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 120.0) -> str | None:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium; None on success, else why not."""
    exe = chromium()
    if exe is None:
        return "report.pdf not written: Chromium is not installed (apt-get install chromium)"
    with tempfile.TemporaryDirectory(prefix="samurai-chromium-") as profile:
        cmd = [
            exe,
            "--headless",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf_path}",
            html_path.resolve().as_uri(),
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return f"report.pdf not written: Chromium did not finish within {timeout_s:g} s"
    if proc.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        return f"report.pdf not written: Chromium failed ({proc.stderr.strip()[-300:]})"
    return None


def write_report(
    runs: list[Run],
    out,
    sex: str | None = None,
    body: Body | None = None,
    force: bool = False,
    pdf: bool = True,
) -> Report:
    """Measure the study of ``runs`` and write ``report.json``, ``report.html`` and (unless
    ``pdf`` is False or Chromium is missing, said in the notes) ``report.pdf`` into ``out``."""
    from samurai.output import OutputDir, atomic_write_text

    body = body or Body()
    readout = read_out([r.view for r in runs], sex=sex, bsa_m2=body.bsa_m2)
    doc = build_document(runs, readout, body)
    images, notes = make_figures(runs, readout)
    with OutputDir(
        out, force=force, info={"command": "report", "runs": [str(r.path) for r in runs]}
    ) as folder:
        atomic_write_text(folder.path / "report.json", json.dumps(doc, indent=2, allow_nan=False) + "\n")
        page = folder.path / "report.html"
        atomic_write_text(page, render_html(doc, images))
        if pdf:
            why = print_pdf(page, folder.path / "report.pdf")
            if why:
                notes.append(why)
        folder.info["notes"] = notes
    return Report(Path(out), readout, doc, notes)


def report_after_track(run_dir, force: bool = False, pdf: bool = True) -> str:
    """The read-out ``samurai track --chambers`` writes by itself beside its run folder, in
    ``<run>_report``; returns the line to print. Never fails the run it follows: a study that
    cannot be measured (no lv/la/rv/ra named, a folder in the way) is said in that line, with
    the ``samurai report`` command that does it by hand."""
    from samurai.clinical.study import build_study
    from samurai.errors import UserError

    run_dir = Path(run_dir)
    out = run_dir.with_name(run_dir.name + "_report")
    try:
        report = write_report(build_study([run_dir]), out, force=force, pdf=pdf)
    except (UserError, ValueError) as err:
        return f"note: no chamber report ({err}); run `samurai report {run_dir}` when it is fixed"
    except Exception as err:  # noqa: BLE001 - the run is written: a report bug must not fail it
        return (
            f"warning: the chamber report failed ({type(err).__name__}: {err}); the run in "
            f"{run_dir} is complete; `samurai report {run_dir}` shows the error in full"
        )
    ef = next((v for v in report.readout.values if v.key.startswith("lv_ef") and v.primary), None)
    shown = f"; LV EF {ef.value:.1f} % ({ef.method})" if ef is not None and ef.value is not None else ""
    return f"wrote {out}/: report.html, report.json{'' if any('pdf' in n for n in report.notes) or not pdf else ', report.pdf'}{shown}"
