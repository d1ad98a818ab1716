"""The clinical read-out (``samurai.clinical``) on an echo evaluation: per case and method, the
tracked chambers' outlines over the clip, the read-out's row (``readout.csv``), the LV EF rows
(``ef.csv``, ``samurai.eval.ef``), biplane rows for a patient's A4C + A2C pair, and the
agreement with the dataset's own EF / EDV / ESV (``summary.md``, ``summary.json``, one
Bland–Altman plot per method and quantity). The same read-out of the dataset's own masks
(method :data:`TRUTH`, on the frames they label) separates the geometry's error from the
segmentation's: the truth against the dataset's values, each method against the truth.

A case keeps its outlines, not its masks: for a view that may pair with another view of the same
patient (CAMUS 2CH / 4CH) the outlines of every tracked frame are stored in the case's arrays
(a few hundred points a frame), so the biplane discs are computed when the report is written
without holding any mask.
"""

from __future__ import annotations

import re

import numpy as np

from samurai.clinical import geometry as geo
from samurai.clinical.dataset import REFERENCE_KEYS, case_readout, reference_values, spacing_cm
from samurai.clinical.measurements import CHAMBERS, measure_frames

READOUT_COLUMNS = [
    "case",
    "view",
    "method",
    "lv_method",
    "lv_edv",
    "lv_esv",
    "lv_ef",
    "lv_sv",
    "lv_gls",
    "la_volume",
    "rv_fac",
    "ra_area",
    "volume_unit",
    "area_unit",
    "ref_ef",
    "ref_edv",
    "ref_esv",
]
# Dataset view names -> the read-out's; a case naming no view is taken as an apical 4-chamber
# view (EchoNet-Dynamic's only view).
VIEW_NAMES = {"2CH": "A2C", "4CH": "A4C", "A2C": "A2C", "A4C": "A4C"}
PAIRED = {"A4C": "4CH", "A2C": "2CH"}
# The method name of the read-out of the dataset's own masks (as the LV area curve of the
# dataset's masks is named in the case's arrays and plots).
TRUTH = "truth"


def patient_view(case_id: str) -> tuple[str, str | None]:
    """``("patient0001", "4CH")`` for ``patient0001_4CH``; ``(case_id, None)`` otherwise."""
    m = re.match(r"(.+)_(2CH|4CH)$", case_id)
    return (m.group(1), m.group(2)) if m else (case_id, None)


def view_name(case) -> str:
    return VIEW_NAMES.get(str(case.meta.get("view", "")).upper(), "A4C")


def frame_time(case) -> float | None:
    fps = case.meta.get("fps")
    return 1.0 / float(fps) if fps else None


def chamber_shapes(case, ids, masks) -> dict[str, list]:
    """Chamber name -> [T] outlines (None where absent) of the tracked masks bool [T, K, H, W]
    (frames from the prompt on), for the labelled structures that are chambers (not MYO)."""
    spacing = spacing_cm(case.spacing)
    out = {}
    for i, k in enumerate(ids):
        name = case.labels[k].lower()
        if name in CHAMBERS:
            out[name] = measure_frames(masks[:, i], spacing)
    return out


def truth_frames(case, lv_id: int) -> list[int]:
    """The frames whose masks the truth's read-out is made of: the dataset's ED and ES
    (``meta`` ``ed_index`` / ``es_index``) where it names and labels both, else every frame from
    the first labelled one where all of them are labelled; [] where neither holds, or where
    fewer than two of those frames show the LV (no ED/ES pair: every quantity is read at them)."""
    t = len(case.labelled)
    ed, es = case.meta.get("ed_index"), case.meta.get("es_index")
    named = [f for f in (ed, es) if f is not None and 0 <= f < t and case.labelled[f]]
    if len(named) == 2 and ed != es:
        frames = sorted(named)
    else:
        first = int(np.flatnonzero(case.labelled)[0])
        frames = list(range(first, t)) if case.labelled[first:].all() else []
    if sum(bool((case.masks[f] == lv_id).any()) for f in frames) < 2:
        return []
    return frames


def truth_shapes(case, ids, lv_id: int) -> dict[str, list]:
    """Chamber -> outlines of the dataset's own masks on :func:`truth_frames` (in time order,
    the frames between them left out, so that the read-out's ED and ES can only be labelled
    frames); {} where those frames cannot give an ED/ES pair."""
    frames = truth_frames(case, lv_id)
    if not frames:
        return {}
    labels = case.masks[frames]
    return chamber_shapes(case, ids, np.stack([labels == k for k in ids], axis=1))


def readout_row(case, method: str, shapes: dict[str, list], view: str | None = None) -> dict:
    """One row of ``readout.csv``: the read-out of ``shapes`` (view name -> chamber -> [T]
    outlines) and the dataset's own values."""
    views = shapes if view is None else {view: shapes}
    r = case_readout(views, spacing_cm(case.spacing), frame_time(case))
    refs = reference_values(case.meta)
    row = {
        "case": case.case_id,
        "view": "+".join(views),
        "method": method,
        **{k: r[k] for k in READOUT_COLUMNS if k in r},
        "volume_unit": r["lv_edv_unit"],
        "area_unit": r["ra_area_unit"],
    }
    for key, (meta_key, _) in REFERENCE_KEYS.items():
        row[f"ref_{meta_key}"] = refs.get(key)
    return row


# ----------------------------------------------------------------------------- storage


def pack_shapes(prefix: str, shapes: list) -> dict[str, np.ndarray]:
    """A chamber's [T] outlines as arrays for the case's ``.npz``: the outline points of every
    frame concatenated, their count per frame (0: absent), area, long axis."""
    counts = np.array([0 if s is None else len(s.contour) for s in shapes], np.int64)
    points = [s.contour for s in shapes if s is not None]
    axis = np.full((len(shapes), 9), np.nan)
    area = np.full(len(shapes), np.nan)
    for t, s in enumerate(shapes):
        if s is not None:
            hinges = np.full(4, np.nan) if s.axis.hinges is None else np.ravel(s.axis.hinges)
            axis[t] = np.concatenate([s.axis.base_mid, s.axis.apex, hinges, [s.axis.length]])
            area[t] = s.area
    return {
        f"{prefix}/points": np.concatenate(points) if points else np.zeros((0, 2)),
        f"{prefix}/count": counts,
        f"{prefix}/axis": axis,
        f"{prefix}/area": area,
    }


def unpack_shapes(prefix: str, arrays: dict) -> list:
    """The outlines :func:`pack_shapes` stored under ``prefix``."""
    ends = np.cumsum(arrays[f"{prefix}/count"])
    out = []
    for t, (n, end) in enumerate(zip(arrays[f"{prefix}/count"], ends)):
        if n == 0:
            out.append(None)
            continue
        a = arrays[f"{prefix}/axis"][t]
        hinges = None if np.isnan(a[4]) else a[4:8].reshape(2, 2)
        axis = geo.LongAxis(a[0:2], a[2:4], hinges, float(a[8]))
        out.append(
            geo.Shape(arrays[f"{prefix}/points"][end - n : end], float(arrays[f"{prefix}/area"][t]), axis)
        )
    return out


def stored_views(arrays: dict, method: str) -> dict[str, list]:
    """Chamber -> [T] outlines stored for ``method`` in a case's arrays."""
    prefix = f"shape/{method}/"  # method names may hold "/" (sam2-image/oracle-box); chambers do not
    names = {
        rest.split("/")[0]
        for rest in (k[len(prefix) :] for k in arrays if k.startswith(prefix))
        if rest.count("/") == 1
    }
    return {c: unpack_shapes(f"shape/{method}/{c}", arrays) for c in sorted(names)}


# ----------------------------------------------------------------------------- biplane, agreement


def biplane_rows(single_rows: list[dict], outlines: dict, metas: dict) -> list[dict]:
    """A row per patient and method whose A4C and A2C were both tracked: the read-out of the two
    views together (biplane discs). ``outlines[(case, method)]`` = chamber -> [T] outlines;
    ``metas[case]`` = (case meta, spacing) of each case."""
    out = []
    for row in single_rows:
        patient, view = patient_view(row["case"])
        if view != "4CH":
            continue
        four, two = f"{patient}_4CH", f"{patient}_2CH"
        a4c, a2c = outlines.get((four, row["method"])), outlines.get((two, row["method"]))
        if a4c is None or a2c is None:
            continue
        case = _Case(four, *metas[four])
        both = readout_row(case, row["method"], {"A4C": a4c, "A2C": a2c})
        both["case"] = patient
        out.append(both)
    return out


class _Case:
    """What :func:`readout_row` reads of a case, rebuilt from the stored record."""

    def __init__(self, case_id, meta, spacing):
        self.case_id, self.meta = case_id, meta
        self.spacing = None if spacing is None else tuple(spacing)


def chosen_rows(rows: list[dict], biplane: list[dict], method: str) -> list[dict]:
    """The rows of ``method`` that are compared: a patient's biplane row where it has one, its
    single-view rows otherwise."""
    both = {r["case"] for r in biplane if r["method"] == method}
    chosen = [r for r in biplane if r["method"] == method]
    return chosen + [r for r in rows if r["method"] == method and patient_view(r["case"])[0] not in both]


def agreement_rows(
    rows: list[dict], biplane: list[dict], method: str, truth: dict | None = None
) -> tuple[list[dict], list[dict]]:
    """The :func:`chosen_rows` of ``method`` and what they are compared with: the dataset's
    values, or with ``truth`` (case -> the truth's chosen row) the truth's read-out of the same
    case (cases without one left out). Returns (read-out rows as ``compare`` reads them, refs)."""
    outs, refs = [], []
    for r in chosen_rows(rows, biplane, method):
        if truth is not None and r["case"] not in truth:
            continue
        outs.append(
            {
                **{k: r[k] for k in REFERENCE_KEYS},
                **{f"{k}_unit": (r["volume_unit"] if k != "lv_ef" else "%") for k in REFERENCE_KEYS},
            }
        )
        if truth is None:
            ref = {key: r[f"ref_{meta_key}"] for key, (meta_key, _) in REFERENCE_KEYS.items()}
        else:
            ref = {key: truth[r["case"]][key] for key in REFERENCE_KEYS}
        refs.append({key: v for key, v in ref.items() if v is not None})
    return outs, refs


def write_agreement(folder, rows: list[dict], biplane: list[dict], methods) -> tuple[str, dict]:
    """Per method and for the truth: the agreement of the read-out with the dataset's own
    values, a Bland–Altman plot per quantity (``bland_altman_<method>_<quantity>.png``); per
    method, its agreement with the truth's read-out. Returns summary.md's sections and
    summary.json's entries (both empty when no case has a read-out)."""
    from samurai.clinical.dataset import bland_altman_png, compare, summary_markdown
    from samurai.output import atomic_write_bytes

    if not rows:
        return "", {}
    text = (
        "\n## Clinical read-out against the dataset's values\n\nreadout.csv has the read-out of "
        "every case (LV volumes and EF by the method available: biplane discs for a patient's "
        "A4C + A2C, else single-plane discs; GLS, LA volume, RV FAC, RA area where labelled), "
        f"and the same read-out of the dataset's own masks (method `{TRUTH}`: on the dataset's "
        "ED and ES frames, or on every frame where all are labelled; empty where its labelled "
        "frames give no ED/ES pair). Compared here: a patient's biplane row where both views "
        "were tracked, else each view's own row; MAE, bias (read-out − dataset), 95 % limits of "
        f"agreement, Pearson r (with 3 cases or more). The `{TRUTH}` entry is the geometry's own "
        "error; the next section separates each method's segmentation error from it.\n"
    )
    found = {}
    for method in [TRUTH, *methods]:
        ours, refs = agreement_rows(rows, biplane, method)
        if not ours:
            continue
        agreements, pairs, notes = compare(ours, refs)
        text += f"\n### {method}\n\n{summary_markdown(agreements, notes)}"
        found[method] = [{**a._asdict(), "loa": list(a.loa)} for a in agreements]
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", method)
        for a in agreements:
            atomic_write_bytes(
                folder / f"bland_altman_{safe}_{a.key}.png", bland_altman_png(*pairs[a.key], a.key, a.unit)
            )
    truth = {r["case"]: r for r in chosen_rows(rows, biplane, TRUTH)}
    if not truth:  # cases stored by an earlier version have no truth row
        return text, {"readout_agreement": found}
    text += (
        f"\n## Clinical read-out against the {TRUTH}'s read-out\n\nEach method's read-out against the "
        f"`{TRUTH}` read-out of the same case (the same rows as above): the error its "
        "segmentation adds to the geometry's.\n"
    )
    against = {}
    for method in methods:
        ours, refs = agreement_rows(rows, biplane, method, truth)
        if not ours:
            continue
        agreements, _, notes = compare(ours, refs)
        text += f"\n### {method}\n\n{summary_markdown(agreements, notes, against=TRUTH)}"
        against[method] = [{**a._asdict(), "loa": list(a.loa)} for a in agreements]
    return text, {"readout_agreement": found, "readout_agreement_with_truth": against}
