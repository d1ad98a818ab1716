"""Tables and plots for evaluation reports (matplotlib, headless; written atomically)."""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence

import numpy as np

from samurai.output import atomic_write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike, dpi: int = 100) -> None:
    """Save a matplotlib figure as PNG atomically, then close it."""
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


def plot_curves(
    path: str | os.PathLike,
    curves: Mapping[str, np.ndarray],
    title: str,
    xlabel: str,
    ylabel: str,
    marks: Mapping[str, Sequence[int]] | None = None,
    shade: Mapping[str, Sequence[int]] | None = None,
    x: np.ndarray | None = None,
    colors: Mapping[str, str] | None = None,
) -> None:
    """Line plot of named curves (e.g. LV area over time), with optional frame marks.

    The legend sits outside the axes, so it hides no data.

    Args:
        marks: label -> frame indices drawn as vertical dotted lines (e.g. ED / ES).
        shade: label -> frame indices to shade, one span each (e.g. the phantom's events).
        x: shared x values (default: frame index).
        colors: curve name -> matplotlib colour (default: the colour cycle), so that one
            method keeps its colour across plots.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.4, 3.4))
    for j, (label, frames) in enumerate((shade or {}).items()):
        if len(frames):
            ax.axvspan(min(frames) - 0.5, max(frames) + 0.5, color=("0.85", "0.92")[j % 2], label=label)
    n = len(curves)
    for i, (name, y) in enumerate(curves.items()):
        y = np.asarray(y, np.float64)
        # Earlier curves are drawn wider and in other dash styles: equal curves stay visible.
        ax.plot(
            np.arange(len(y)) if x is None else x,
            y,
            label=name,
            lw=1.2 + 0.7 * (n - 1 - i),
            ls=("-", "--", "-.", ":")[i % 4],
            color=(colors or {}).get(name),
        )
    for j, (label, frames) in enumerate((marks or {}).items()):
        for i, f in enumerate(frames):
            ax.axvline(f, ls=(":", "--", "-.")[j % 3], color="0.3", label=label if i == 0 else None)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def plot_bars(
    path: str | os.PathLike,
    values: Mapping[str, Mapping[str, float]],
    title: str,
    ylabel: str,
    colors: Mapping[str, str] | None = None,
) -> None:
    """Grouped bar chart: ``values[method][group]`` (e.g. mean Dice per structure).

    Groups keep the order in which they first appear (e.g. LV, LA, RV, RA, as the tables);
    the legend sits outside the axes, so it covers no bar; ``colors`` maps a method to a
    matplotlib colour.
    """
    plt = _pyplot()
    methods = list(values)
    groups = list(dict.fromkeys(g for v in values.values() for g in v))
    fig, ax = plt.subplots(figsize=(7.4, 3.4))
    width = 0.8 / max(1, len(methods))
    for i, m in enumerate(methods):
        ys = [values[m].get(g, np.nan) for g in groups]
        ax.bar(np.arange(len(groups)) + i * width, ys, width, label=m, color=(colors or {}).get(m))
    ax.set_xticks(np.arange(len(groups)) + width * (len(methods) - 1) / 2, groups)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3, axis="y")
    save_figure(fig, path)


def format_table(rows: Sequence[Mapping[str, object]], columns: Sequence[str]) -> str:
    """A plain-text table (for the terminal and Markdown files) of dict rows."""

    def cell(v):
        if isinstance(v, (float, np.floating)):
            return "-" if not np.isfinite(v) else f"{float(v):.3f}"
        return str(v)

    cells = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [
        max(len(c), *(len(row[i]) for row in cells)) if cells else len(c) for i, c in enumerate(columns)
    ]
    line = "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths)) + " |" for row in cells]
    return "\n".join([line, sep, *body])


def failure_text(err: Exception) -> str:
    return f"{type(err).__name__}: {err}".replace("\n", " ")


def failed_note(failed: list, total: int) -> str:
    if not failed:
        return ""
    return (
        f"\n**{len(failed)} of {total} case(s) failed** while tracking and are not in the "
        f"means (per_case.csv: status, error): {', '.join(failed)}.\n"
    )


def notes_text(notes: dict) -> str:
    """summary.md's lines for the cases whose video ended early, the objects never segmented and
    the cases the dataset skipped."""
    text = ""
    if notes["ended_early"]:
        text += (
            f"\n{len(notes['ended_early'])} case(s) ended before the frames their video announces "
            f"and are scored on the frames read (summary.json: ended_early): "
            f"{', '.join(notes['ended_early'])}.\n"
        )
    if notes["empty_objects"]:
        text += (
            "\nEmpty on every tracked frame (nothing segmented): "
            + ", ".join(f"{e['case']}/{e['method']}/{e['object']}" for e in notes["empty_objects"])
            + ".\n"
        )
    if notes.get("skipped"):
        text += (
            f"\n**{len(notes['skipped'])} case(s) of the dataset were skipped** and are not "
            "evaluated (summary.json: skipped): "
            + "; ".join(f"{s['case']} ({s['reason']})" for s in notes["skipped"])
            + ".\n"
        )
    return text


def summarise(rows, keys, metrics):
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
