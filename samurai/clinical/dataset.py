"""The read-out on an evaluation dataset: per-case values for eval's per-case table, and their
agreement with the dataset's own values where it has them (CAMUS ``Info_*.cfg``: EF, and EDV /
ESV where the file carries ``LVedv`` / ``LVesv``; EchoNet-Dynamic ``FileList.csv``: EF, EDV,
ESV): mean absolute error, bias, limits of agreement, correlation, and a Bland–Altman plot.

Volumes are compared only in mL (pixel spacing known); EF needs no spacing.
"""

from __future__ import annotations

import io
from typing import NamedTuple

import numpy as np

from samurai.clinical.measurements import View, read_out

# Read-out key -> (dataset meta key, Info_*.cfg keys).
REFERENCE_KEYS = {
    "lv_ef": ("ef", ("EF", "LVef")),
    "lv_edv": ("edv", ("LVedv", "EDV")),
    "lv_esv": ("esv", ("LVesv", "ESV")),
}
ROW_KEYS = ("lv_edv", "lv_esv", "lv_ef", "lv_sv", "lv_gls", "la_volume", "rv_fac", "ra_area")


def spacing_cm(spacing_rc_mm) -> tuple[float, float] | None:
    """A dataset case's ``(row, col)`` mm per pixel as the read-out's ``(sx_cm, sy_cm)``."""
    if spacing_rc_mm is None:
        return None
    return float(spacing_rc_mm[1]) / 10.0, float(spacing_rc_mm[0]) / 10.0


def case_readout(
    views: dict[str, dict[str, np.ndarray]], spacing=None, frame_time_s: float | None = None
) -> dict:
    """One case's read-out as a flat row for eval's per-case table.

    Args:
        views: view name ("A4C"/"A2C") -> chamber name -> bool [T, H, W] predicted masks.
        spacing: ``(sx_cm, sy_cm)`` or None (pixels; then volumes are px³).
        frame_time_s: seconds between frames, or None.

    Returns:
        ``{key: value or None, key + "_unit": unit, "lv_method": ...}`` for :data:`ROW_KEYS`.
    """
    r = read_out([View(name, masks, spacing, frame_time_s) for name, masks in views.items()])
    row = {}
    for key in ROW_KEYS:
        hits = [v for v in r.values if v.key == key or (v.key.startswith(key + ":") and v.primary)]
        v = next((h for h in hits if h.value is not None), hits[0] if hits else None)
        row[key] = None if v is None else v.value
        row[key + "_unit"] = None if v is None else v.unit
        if key == "lv_ef":
            row["lv_method"] = None if v is None else v.method
    return row


def reference_values(meta: dict, info: dict[str, str] | None = None) -> dict[str, float]:
    """The dataset's own EF / EDV / ESV for a case: from the loader's ``meta`` (``ef``, ``edv``,
    ``esv``) or a CAMUS ``Info_*.cfg`` read as ``{key: text}``."""
    out = {}
    for key, (meta_key, cfg_keys) in REFERENCE_KEYS.items():
        if meta.get(meta_key) is not None:
            out[key] = float(meta[meta_key])
            continue
        for k in cfg_keys:
            if info and k in info:
                try:
                    out[key] = float(info[k])
                except ValueError:
                    pass
                break
    return out


class Agreement(NamedTuple):
    """Agreement of the read-out (``ours``) with the dataset's values (``ref``)."""

    key: str
    unit: str
    n: int
    mae: float
    bias: float  # mean of ours − ref
    sd: float  # SD of the differences
    loa: tuple[float, float]  # bias ± 1.96 SD
    r: float | None  # Pearson correlation; None with fewer than 3 pairs or no spread


def agreement(key: str, unit: str, ours, ref) -> Agreement:
    """MAE, bias, limits of agreement and correlation of paired values."""
    a, b = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    d = a - b
    sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    r = None
    if len(d) >= 3 and a.std() > 0 and b.std() > 0:
        r = float(np.corrcoef(a, b)[0, 1])
    bias = float(d.mean())
    return Agreement(
        key, unit, len(d), float(np.abs(d).mean()), bias, sd, (bias - 1.96 * sd, bias + 1.96 * sd), r
    )


def compare(rows: list[dict], refs: list[dict]) -> tuple[list[Agreement], dict, list[str]]:
    """Agreement per quantity over the cases that have both values (volumes only in mL).
    Returns (agreements, key -> (ours, ref) arrays for the plots, notes on what was left out)."""
    out, pairs, notes = [], {}, []
    for key in REFERENCE_KEYS:
        unit = "%" if key == "lv_ef" else "mL"
        both = [
            (row[key], ref[key])
            for row, ref in zip(rows, refs)
            if row.get(key) is not None and key in ref and row.get(key + "_unit") == unit
        ]
        skipped = sum(
            1 for row, ref in zip(rows, refs) if key in ref and row.get(key + "_unit") not in (None, unit)
        )
        if skipped:
            notes.append(
                f"{key}: {skipped} case(s) left out, their pixel spacing is unknown (volumes in px³)"
            )
        if both:
            ours, ref = map(np.array, zip(*both))
            out.append(agreement(key, unit, ours, ref))
            pairs[key] = (ours, ref)
    return out, pairs, notes


def summary_markdown(agreements: list[Agreement], notes: list[str] = (), against: str = "dataset") -> str:
    """The agreement table for eval's ``summary.md``; ``against`` names the reference values
    (the dataset's own, or another read-out's)."""
    if not agreements:
        return f"No case had both a read-out and the {against}'s EF / EDV / ESV.\n"
    lines = [
        f"| quantity | n | MAE | bias (ours − {against}) | 95 % limits of agreement | r |",
        "|---|---|---|---|---|---|",
    ]
    for a in agreements:
        r = "—" if a.r is None else f"{a.r:.3f}"
        lines.append(
            f"| {a.key} ({a.unit}) | {a.n} | {a.mae:.2f} | {a.bias:+.2f} | "
            f"{a.loa[0]:+.2f} to {a.loa[1]:+.2f} | {r} |"
        )
    return "\n".join(lines + [f"\n{n}" for n in notes]) + "\n"


def bland_altman_png(ours, ref, label: str, unit: str) -> bytes:
    """Bland–Altman plot (difference against mean, bias and 95 % limits) as PNG bytes."""
    from matplotlib.figure import Figure

    a, b = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    ag = agreement(label, unit, a, b)
    fig = Figure(figsize=(4.8, 3.6), layout="constrained")
    ax = fig.add_subplot()
    ax.scatter((a + b) / 2, a - b, s=14, color="#4363d8")
    ax.axhline(ag.bias, color="#222222", lw=1.2, label=f"bias {ag.bias:+.2f}")
    for y in ag.loa:
        ax.axhline(y, color="#e6194b", lw=1.0, ls="--")
    ax.plot([], [], color="#e6194b", ls="--", label=f"±1.96 SD ({ag.loa[0]:+.2f}, {ag.loa[1]:+.2f})")
    ax.set_xlabel(f"mean of read-out and dataset ({unit})")
    ax.set_ylabel(f"read-out − dataset ({unit})")
    ax.set_title(f"{label}: Bland–Altman, n = {ag.n}", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    return buf.getvalue()
