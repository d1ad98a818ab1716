"""The report's figures as PNG bytes (matplotlib's object API, no pyplot state): chamber area
curves and the LV volume curve with ED/ES marked, and ED/ES stills with each chamber's outline."""

from __future__ import annotations

import io

import numpy as np

from samurai.clinical.measurements import ViewCurves

# One colour per chamber in every figure of the report.
CHAMBER_COLOURS = {"lv": "#e6194b", "la": "#4363d8", "rv": "#3cb44b", "ra": "#f58231"}
ED_COLOUR, ES_COLOUR = "#222222", "#911eb4"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96)
    return buf.getvalue()


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _time_axis(n: int, frame_time_s: float | None):
    if frame_time_s:
        return np.arange(n) * frame_time_s, "time (s)"
    return np.arange(n), "frame"


def _mark_beats(ax, x, curves: ViewCurves, y: np.ndarray) -> None:
    if curves.beats is None:
        return
    for k, b in enumerate(curves.beats.beats):
        for frame, colour, name in ((b.ed, ED_COLOUR, "ED"), (b.es, ES_COLOUR, "ES")):
            ax.axvline(x[frame], color=colour, lw=0.8, ls="--")
            if np.isfinite(y[frame]):
                ax.plot([x[frame]], [y[frame]], "o", color=colour, ms=5, label=name if k == 0 else None)


def area_curves(curves: ViewCurves, frame_time_s: float | None, area_unit: str) -> bytes:
    """Each chamber's area over time in one view, ED (black) and ES (purple) of each beat."""
    fig = _figure(6.4, 2.8)
    ax = fig.add_subplot()
    n = len(next(iter(curves.areas.values())))
    x, xlabel = _time_axis(n, frame_time_s)
    for name, a in curves.areas.items():
        ax.plot(x, a, color=CHAMBER_COLOURS[name], lw=1.6, label=name.upper())
    ref = curves.areas.get("lv", next(iter(curves.areas.values())))
    _mark_beats(ax, x, curves, ref)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"area ({area_unit})")
    ax.set_title(f"{curves.name}: chamber areas (ED/ES from the {curves.beats_from or 'none'})", fontsize=9)
    ax.legend(fontsize=7, ncols=3)
    ax.grid(alpha=0.3)
    return _png(fig)


def volume_curve(curves: ViewCurves, frame_time_s: float | None, volume_unit: str) -> bytes:
    """The LV single-plane disc volume over time in one view, ED/ES marked."""
    fig = _figure(6.4, 2.6)
    ax = fig.add_subplot()
    x, xlabel = _time_axis(len(curves.lv_volume), frame_time_s)
    ax.plot(x, curves.lv_volume, color=CHAMBER_COLOURS["lv"], lw=1.8, label="LV volume")
    _mark_beats(ax, x, curves, curves.lv_volume)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"volume ({volume_unit})")
    ax.set_title(f"{curves.name}: LV volume, single-plane method of discs", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(fig)


def still(
    curves: ViewCurves, frame: int, image: np.ndarray | None, title: str, spacing, stamp: str | None
) -> bytes:
    """One frame with every chamber's outline and the LV long axis (annulus, apex)."""
    fig = _figure(3.2, 3.2)
    ax = fig.add_subplot()
    sx, sy = (1.0, 1.0) if spacing is None else spacing
    if image is not None:
        h, w = image.shape[:2]
        ax.imshow(image, cmap="gray", extent=(-0.5 * sx, (w - 0.5) * sx, (h - 0.5) * sy, -0.5 * sy))
    else:
        ax.set_facecolor("black")
    for name, shapes in curves.shapes.items():
        s = shapes[frame]
        if s is None:
            continue
        c = np.vstack([s.contour, s.contour[:1]])
        ax.plot(c[:, 0], c[:, 1], color=CHAMBER_COLOURS[name], lw=1.4, label=name.upper())
        if name == "lv":
            ax.plot(*np.stack([s.axis.base_mid, s.axis.apex]).T, color="white", lw=0.9, ls=":")
            if s.axis.hinges is not None:
                ax.plot(*s.axis.hinges.T, "o", color="yellow", ms=3)
    if image is None:
        ax.invert_yaxis()
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)
    if stamp:
        ax.text(
            0.02,
            0.98,
            stamp,
            transform=ax.transAxes,
            color="yellow",
            fontsize=8,
            va="top",
            ha="left",
            weight="bold",
        )
    return _png(fig)
