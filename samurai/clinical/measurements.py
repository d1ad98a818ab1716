"""The chamber read-out of one study: LV volumes, EF, SV, length and GLS; LA volume, LAVI and
area; RV areas and FAC; RA area; per beat, then averaged over the beats, each value flagged.

Inputs are the tracker's masks of one or two apical views (:class:`View`). Beats (ED/ES) are
found per view on its LV volume curve (single-plane discs; the RV area curve when the view has
no LV); the other chambers are measured on the LV's ED and ES frames (the LA and RA at LV
end-systole, their largest size). Biplane values pair beat *k* of the four-chamber view with
beat *k* of the two-chamber view. Method per quantity:

- LV volumes: biplane method of discs (A4C + A2C); with one view, single-plane discs; the
  single-plane area-length volumes are reported beside them.
- LA volume at LV end-systole: biplane discs (A4C + A2C) or single-plane discs, and biplane or
  single-plane area-length (the shorter long axis, as the guideline says for the LA).
- RV end-diastolic / end-systolic area and FAC, RA end-systolic area: A4C only.
- LV GLS: contour-based estimate, the endocardial length (annulus chord left out) from ED to ES,
  averaged over the views; not speckle-tracking strain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from samurai.clinical import geometry as geo
from samurai.clinical.beats import Beats, find_beats
from samurai.clinical.ranges import flag

CHAMBERS = ("lv", "la", "rv", "ra")
VIEWS = ("A4C", "A2C")


def units(spacing) -> dict[str, str]:
    """Unit names for lengths, areas and volumes: cm, cm², mL or px, px², px³."""
    if spacing is None:
        return {"length": "px", "area": "px²", "volume": "px³", "index": "px³/m²"}
    return {"length": "cm", "area": "cm²", "volume": "mL", "index": "mL/m²"}


@dataclass
class View:
    """One apical view's masks: chamber name -> bool [T, H, W] (chambers it does not show are
    left out), or -> the [T] outlines :func:`measure_frames` already found (``eval`` keeps those,
    not the masks); spacing ``(sx_cm, sy_cm)`` or None, seconds between frames or None."""

    name: str  # "A4C" or "A2C"
    masks: dict[str, np.ndarray]
    spacing: tuple[float, float] | None = None
    frame_time_s: float | None = None


@dataclass
class Value:
    """One measurement: its average over the beats, the per-beat values, unit, method, the
    guideline's ranges and the flag, or why it is missing."""

    key: str
    label: str
    unit: str
    method: str
    value: float | None = None
    per_beat: list[float] = field(default_factory=list)
    missing: str | None = None
    flag: str = "not graded"
    flag_note: str = ""
    ranges: list[dict] = field(default_factory=list)
    primary: bool = True  # False: an alternative method beside the study's main one


@dataclass
class ViewCurves:
    """Per view: area curves (NaN where a chamber is absent), the LV volume curve, the beats."""

    name: str
    areas: dict[str, np.ndarray]
    lv_volume: np.ndarray | None
    beats: Beats | None
    beats_from: str
    shapes: dict[str, list]  # chamber -> [T] geometry.Shape or None


@dataclass
class Readout:
    values: list[Value]
    views: dict[str, ViewCurves]
    units: dict[str, str]
    notes: list[str]
    sex: str | None
    bsa_m2: float | None

    def get(self, key: str) -> Value:
        """The value with ``key`` (e.g. ``lv_ef``, ``lv_edv:A4C:discs``, ``rv_fac``)."""
        for v in self.values:
            if v.key == key:
                return v
        raise KeyError(f"no measurement {key!r}; there are {[v.key for v in self.values]}")


def measure_frames(masks, spacing) -> list:
    """[T] :class:`geometry.Shape` (None where the chamber is absent) of bool [T, H, W] masks;
    a list of shapes (already measured) is returned as it is."""
    if isinstance(masks, list):
        return masks
    out = []
    for m in np.asarray(masks, bool):
        try:
            out.append(geo.measure(m, spacing))
        except geo.ChamberAbsent:
            out.append(None)
    return out


def view_curves(view: View) -> ViewCurves:
    """Outlines per frame, area curves, LV volume curve and beats of one view."""
    shapes = {c: measure_frames(m, view.spacing) for c, m in view.masks.items() if c in CHAMBERS}
    areas = {c: np.array([np.nan if s is None else s.area for s in ss]) for c, ss in shapes.items()}
    volume = None
    if "lv" in shapes and any(s is not None for s in shapes["lv"]):
        volume = np.array([np.nan if s is None else geo.volume_discs(s) for s in shapes["lv"]])
    beats, source = None, ""
    if volume is not None:
        beats, source = find_beats(volume, view.frame_time_s), "LV volume (single-plane discs)"
    elif "rv" in areas and np.isfinite(areas["rv"]).any():
        beats, source = find_beats(areas["rv"], view.frame_time_s), "RV area (no LV in this view)"
    return ViewCurves(view.name, areas, volume, beats, source, shapes)


def _at(curves: ViewCurves, chamber: str, frame: int):
    ss = curves.shapes.get(chamber)
    return None if ss is None else ss[frame]


def _absent_reason(curves: dict[str, ViewCurves], chamber: str, views) -> str:
    for v in views:
        if v not in curves:
            return f"no {v} view"
        c = curves[v]
        if chamber not in c.shapes:
            return f"{chamber.upper()} not among the {v} run's chambers"
        if all(s is None for s in c.shapes[chamber]):
            return f"{chamber.upper()} not segmented on any frame of the {v} view"
        if c.beats is None:
            return f"no ventricle in the {v} view to find ED and ES"
    return f"{chamber.upper()} absent at the ED/ES frames"


def _ready(curves, chamber, views) -> bool:
    return all(
        v in curves
        and curves[v].beats is not None
        and chamber in curves[v].shapes
        and any(s is not None for s in curves[v].shapes[chamber])
        for v in views
    )


def _paired(curves, views, chamber, phases=("ed", "es")) -> list[dict]:
    """Per beat (beat k of each view paired): phase -> [the chamber's outline in each view];
    a beat where one of them is missing is left out."""
    if not _ready(curves, chamber, views):
        return []
    out = []
    for k in range(min(len(curves[v].beats.beats) for v in views)):
        beat = {
            ph: [_at(curves[v], chamber, getattr(curves[v].beats.beats[k], ph)) for v in views]
            for ph in phases
        }
        if all(s is not None for shapes in beat.values() for s in shapes):
            out.append(beat)
    return out


def read_out(views: list[View], sex: str | None = None, bsa_m2: float | None = None) -> Readout:
    """Every measurement of the study made of ``views`` (one A4C and/or one A2C), flagged
    against the guideline's ranges for ``sex`` (both when None); indexed values with
    ``bsa_m2``. A chamber missing from every frame leaves its values missing with the reason."""
    names = [v.name for v in views]
    if len(set(names)) != len(names) or not set(names) <= set(VIEWS):
        raise ValueError(f"views {names}: give at most one A4C and one A2C")
    spacings = {v.spacing is None for v in views}
    if len(spacings) > 1:
        raise ValueError(
            "one view has a pixel spacing and the other none: give both views' spacing (--spacing) or neither"
        )
    u = units(views[0].spacing)
    curves = {v.name: view_curves(v) for v in views}
    notes = [f"{c.name}: {c.beats.note} (from the {c.beats_from})" for c in curves.values() if c.beats]
    values: list[Value] = []

    def add(key, label, unit, method, per_beat, missing=None, primary=True):
        per_beat = [float(x) for x in per_beat if x is not None and np.isfinite(x)]
        val = Value(key, label, unit, method, per_beat=per_beat, primary=primary)
        if per_beat:
            val.value = float(np.mean(per_beat))
        else:
            val.missing = missing or "no beat had the outlines it needs"
        f, ranges = flag(key.split(":")[0], val.value, unit, sex)
        val.flag, val.flag_note = f
        val.ranges = [dict(r._asdict(), text=r.text()) for r in ranges]
        values.append(val)
        return val

    for c in curves.values():
        if c.beats is not None and c.beats.heart_rate_bpm is not None:
            add(
                f"heart_rate:{c.name}",
                "Heart rate",
                "bpm",
                f"ES-to-ES interval ({c.name})",
                [c.beats.heart_rate_bpm],
            )

    # ---------------------------------------------------------------- LV volumes and EF
    def area_length(shape):
        return geo.volume_area_length(shape.area, shape.axis.length)

    biplane = _ready(curves, "lv", VIEWS)
    single = next((v for v in VIEWS if _ready(curves, "lv", [v])), None)
    primary_suffix = "" if biplane else f":{single}:discs"  # the main method, indexed to BSA
    methods = [("biplane discs (A4C + A2C)", VIEWS, geo.volume_biplane_discs, "")] if biplane else []
    for v in VIEWS:
        if _ready(curves, "lv", [v]):
            methods += [
                (f"single-plane discs ({v})", [v], geo.volume_discs, f":{v}:discs"),
                (f"single-plane area-length ({v})", [v], area_length, f":{v}:al"),
            ]
    if not methods:
        reason = _absent_reason(curves, "lv", [v for v in VIEWS if v in curves])
        for key, label, unit in (
            ("lv_edv", "LV EDV", u["volume"]),
            ("lv_esv", "LV ESV", u["volume"]),
            ("lv_ef", "LV EF", "%"),
            ("lv_sv", "LV SV", u["volume"]),
        ):
            add(key, label, unit, "—", [], reason)
    for method, mviews, fn, suffix in methods:
        beats = _paired(curves, mviews, "lv")
        edv = [fn(*b["ed"]) for b in beats]
        esv = [fn(*b["es"]) for b in beats]
        main = suffix == primary_suffix
        add("lv_edv" + suffix, "LV EDV", u["volume"], method, edv, primary=main)
        add("lv_esv" + suffix, "LV ESV", u["volume"], method, esv, primary=main)
        add("lv_ef" + suffix, "LV EF", "%", method, list(map(geo.ejection_fraction, edv, esv)), primary=main)
        add("lv_sv" + suffix, "LV SV", u["volume"], method, [a - b for a, b in zip(edv, esv)], primary=main)
        if main and bsa_m2:
            add("lv_edvi" + suffix, "LV EDV index", u["index"], method, [a / bsa_m2 for a in edv])
            add("lv_esvi" + suffix, "LV ESV index", u["index"], method, [b / bsa_m2 for b in esv])
    lv_views = [v for v in VIEWS if _ready(curves, "lv", [v])]
    for v in lv_views:
        add(
            f"lv_length:{v}",
            "LV length at ED",
            u["length"],
            f"annulus midpoint to apex ({v})",
            [b["ed"][0].axis.length for b in _paired(curves, [v], "lv", ("ed",))],
        )

    # ---------------------------------------------------------------- LV GLS (contour-based)
    def gls(beat):
        return float(
            np.mean(
                [
                    geo.strain(geo.endocardial_length(ed), geo.endocardial_length(es))
                    for ed, es in zip(beat["ed"], beat["es"])
                ]
            )
        )

    add(
        "lv_gls",
        "LV GLS (contour-based estimate)",
        "%",
        f"endocardial contour length ED→ES, {' + '.join(lv_views) or 'no view'}; not speckle tracking",
        [gls(b) for b in _paired(curves, lv_views, "lv")] if lv_views else [],
        _absent_reason(curves, "lv", [v for v in VIEWS if v in curves]),
    )

    # ---------------------------------------------------------------- LA at LV end-systole
    la_views = [v for v in VIEWS if _ready(curves, "la", [v])]
    la_reason = _absent_reason(curves, "la", [v for v in VIEWS if v in curves])
    if len(la_views) == 2:

        def la_area_length(a, b):  # the guideline's biplane LA formula: the shorter length
            return geo.volume_biplane_area_length(a.area, b.area, min(a.axis.length, b.axis.length))

        disc_fn, al_fn, how = geo.volume_biplane_discs, la_area_length, "biplane (A4C + A2C)"
    else:
        disc_fn, al_fn = geo.volume_discs, area_length
        how = f"single-plane ({la_views[0]})" if la_views else "—"
    la_es = _paired(curves, la_views, "la", ("es",)) if la_views else []
    la_vol = add(
        "la_volume",
        "LA volume at LV ES",
        u["volume"],
        f"discs, {how}",
        [disc_fn(*b["es"]) for b in la_es],
        la_reason,
    )
    add(
        "la_volume_al",
        "LA volume at LV ES",
        u["volume"],
        f"area-length, {how}",
        [al_fn(*b["es"]) for b in la_es],
        la_reason,
        primary=False,
    )
    if bsa_m2:
        add(
            "lavi",
            "LA volume index (LAVI)",
            u["index"],
            f"discs, {how} / BSA",
            [x / bsa_m2 for x in la_vol.per_beat],
            la_vol.missing,
        )
    else:
        add(
            "lavi",
            "LA volume index (LAVI)",
            "mL/m²",
            "—",
            [],
            "body surface area unknown: give --height and --weight, or --bsa",
        )

    # ---------------------------------------------------------------- A4C areas, RV FAC
    def a4c_areas(chamber, phase):
        return [b[phase][0].area for b in _paired(curves, ["A4C"], chamber, (phase,))]

    add(
        "la_area",
        "LA area at LV ES (A4C)",
        u["area"],
        "A4C outline area",
        a4c_areas("la", "es"),
        _absent_reason(curves, "la", ["A4C"]),
    )
    rv_reason = _absent_reason(curves, "rv", ["A4C"])
    add(
        "rv_eda",
        "RV end-diastolic area",
        u["area"],
        "A4C outline area at LV ED",
        a4c_areas("rv", "ed"),
        rv_reason,
    )
    add(
        "rv_esa",
        "RV end-systolic area",
        u["area"],
        "A4C outline area at LV ES",
        a4c_areas("rv", "es"),
        rv_reason,
    )
    add(
        "rv_fac",
        "RV fractional area change",
        "%",
        "(EDA − ESA) / EDA, A4C",
        [
            geo.fractional_area_change(b["ed"][0].area, b["es"][0].area)
            for b in _paired(curves, ["A4C"], "rv")
        ],
        rv_reason,
    )
    add(
        "ra_area",
        "RA end-systolic area",
        u["area"],
        "A4C outline area at LV ES",
        a4c_areas("ra", "es"),
        _absent_reason(curves, "ra", ["A4C"]),
    )
    return Readout(values, curves, u, notes, sex, bsa_m2)
