"""The LV ejection-fraction rows of an echo evaluation (``ef.csv``): per view, ED and ES are the
frames of largest and smallest LV outline area and the EF is the single-plane area-length one;
where a patient's two- and four-chamber views are both present the biplane method of discs
(each view at its own ED and ES) replaces it in the error. The geometry is
``samurai.clinical.geometry``'s, the one implementation of the read-out."""

from __future__ import annotations

import numpy as np

from samurai.clinical import geometry as geo
from samurai.eval.readout import patient_view

EF_COLUMNS = [
    "case",
    "view",
    "method",
    "ed_frame",
    "es_frame",
    "ef_area_length",
    "ef_biplane",
    "ef_label",
    "ef_error",
]


def extreme_frames(shapes: list) -> tuple[int, int] | None:
    """(ED, ES): the frames of largest and smallest outline area (first occurrence); None when
    no frame has an outline."""
    areas = np.array([np.nan if s is None else s.area for s in shapes], np.float64)
    if not np.isfinite(areas).any():
        return None
    return int(np.nanargmax(areas)), int(np.nanargmin(areas))


def area_length_ef(lv_shapes: list) -> tuple[int, int, float] | None:
    """(ED, ES, EF %) of one view's [T] LV outlines: the frames of largest and smallest area and
    the single-plane area-length EF between them; None when no frame has an outline."""
    frames = extreme_frames(lv_shapes)
    if frames is None:
        return None
    ed, es = (lv_shapes[f] for f in frames)
    edv = geo.volume_area_length(ed.area, ed.axis.length)
    esv = geo.volume_area_length(es.area, es.axis.length)
    return frames[0], frames[1], geo.ejection_fraction(edv, esv)


def lv_masks_ef(lv_masks, spacing=None) -> tuple[int, int, float] | None:
    """:func:`area_length_ef` of bool [T, H, W] LV masks (``spacing``: (row, col) mm per pixel)."""
    from samurai.clinical.dataset import spacing_cm
    from samurai.clinical.measurements import measure_frames

    return area_length_ef(measure_frames(lv_masks, spacing_cm(spacing)))


def ef_row(case, method: str, lv_shapes: list) -> dict:
    """The ``ef.csv`` row of one view: ED/ES frames (counted from the prompt) and the
    area-length EF of the LV outlines ``lv_shapes`` ([T], None where absent)."""
    row = {
        "case": case.case_id,
        "view": case.meta.get("view", ""),
        "method": method,
        "ef_label": float(case.meta["ef"]) if "ef" in case.meta else float("nan"),
        "ef_biplane": float("nan"),
    }
    found = area_length_ef(lv_shapes)
    if found is None:
        row.update(ed_frame=-1, es_frame=-1, ef_area_length=float("nan"))
    else:
        row.update(ed_frame=found[0], es_frame=found[1], ef_area_length=found[2])
    row["ef_error"] = row["ef_area_length"] - row["ef_label"]
    return row


def add_biplane(ef_rows: list[dict], lv_outlines: dict) -> None:
    """Biplane discs EF where a patient's 2CH and 4CH are both present; it replaces the error.
    ``lv_outlines[(case, method)]`` = the view's [T] LV outlines."""
    for row in ef_rows:
        patient, view = patient_view(row["case"])
        if view is None or row["ed_frame"] < 0:
            continue
        two = lv_outlines.get((f"{patient}_2CH", row["method"]))
        four = lv_outlines.get((f"{patient}_4CH", row["method"]))
        if two is None or four is None:
            continue
        f2, f4 = extreme_frames(two), extreme_frames(four)
        if f2 is None or f4 is None:
            continue
        edv = geo.volume_biplane_discs(four[f4[0]], two[f2[0]])
        esv = geo.volume_biplane_discs(four[f4[1]], two[f2[1]])
        row["ef_biplane"] = geo.ejection_fraction(edv, esv)
        if np.isfinite(row["ef_label"]):
            row["ef_error"] = row["ef_biplane"] - row["ef_label"]
