"""The LV ejection-fraction rows of an echo evaluation: area-length EF per view, replaced by the
biplane disks EF where a patient's two- and four-chamber views are both present
(``samurai.eval.clinical`` computes the read-out)."""

from __future__ import annotations

import re


EF_COLUMNS = ["case", "view", "method", "ed_frame", "es_frame", "ef_area_length", "ef_biplane",
              "ef_label", "ef_error"]


def ef_row(case, method, lv):
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


def add_biplane(ef_rows, lv_store) -> None:
    """Biplane disks EF where a patient's 2CH and 4CH are both present; it replaces the error."""
    import numpy as np

    from samurai.eval import clinical

    for row in ef_rows:
        patient, view = patient_view(row["case"])
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


def patient_view(case_id: str) -> tuple[str, str | None]:
    m = re.match(r"(.+)_(2CH|4CH)$", case_id)
    return (m.group(1), m.group(2)) if m else (case_id, None)
