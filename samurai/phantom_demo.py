"""The outputs of ``samurai demo``: Dice against the phantom's truth per method, chamber and
frame, the LV area and EF read-out, the plots, the captioned overlay video and stills, and the
summary. The command (``samurai/commands/demo.py``) runs the trackers and calls
:func:`write_outputs`.
"""

from __future__ import annotations

import json

LOST_DICE = 0.1  # a track is "lost" when its Dice on the last frame is below this


# One colour per method in every plot (the overlays colour chambers, not methods).
METHOD_COLOURS = ("tab:red", "tab:orange", "tab:purple", "tab:blue", "tab:brown", "tab:green")


def _lost(d) -> bool:
    return bool(d[-1] < LOST_DICE)


def _events(ph) -> dict[str, list[int]]:
    """The phantom's scripted events: label -> frames (for shading plots and captions)."""
    events = {"LV fades": ph.meta["dropout_frames"], "RV drops out": ph.meta["rv_dropout_frames"]}
    return {label: frames for label, frames in events.items() if frames}


def write_outputs(folder, ph, runs, scale: int, seed: int) -> dict:
    """Write every file of the demo into ``folder``; returns the summary it wrote."""
    import numpy as np

    from samurai.eval.report import format_table
    from samurai.formats import write_csv
    from samurai.output import atomic_write_text
    from samurai.video_writers import mp4_available

    ids = sorted(ph.labels)
    gt = np.stack([ph.masks == k for k in ids], axis=1)  # [T, B, H, W]
    dice_t = _dice_per_frame(runs, gt)
    rows = _dice_rows(ph, dice_t)
    ef_rows = _ef_rows(ph, runs, gt)
    write_csv(folder / "metrics.csv", rows)
    write_csv(
        folder / "per_frame.csv",
        _per_frame_rows(ph, runs, dice_t),
        fieldnames=[
            "frame",
            "method",
            "chamber",
            "dice",
            "chosen",
            "predicted_quality",
            "object_score",
            "motion_iou",
            "stable_frames",
            "memory_frames",
        ],
    )
    write_csv(folder / "lv_ef.csv", ef_rows)
    _write_plots(folder, ph, runs, gt, dice_t, rows)
    _write_overlays(folder, ph, runs, scale)

    summary = {
        "data": "synthetic echo phantom (not patient data)",
        "frames": len(ph.frames),
        "size": list(ph.frames.shape[1:]),
        "seed": seed,
        "dropout_frames": ph.meta["dropout_frames"],
        "rv_dropout_frames": ph.meta["rv_dropout_frames"],
        "true_ef_ellipsoid": ph.meta["ef"],
        "dice": rows,
        "lv_ef": ef_rows,
        "table": _pivot_table(rows, [ph.labels[k] for k in ids], list(runs)),
        "ef_table": format_table(ef_rows, ["method", "ed_frame", "es_frame", "ef_area_length", "ef_error"]),
        "mp4": mp4_available(),
    }
    atomic_write_text(folder / "summary.json", json.dumps(summary, indent=2, default=_json) + "\n")
    return summary


def _dice_per_frame(runs, gt) -> dict:
    """Method -> Dice float [T, B] against the phantom's truth ``gt`` (bool [T, B, H, W])."""
    import numpy as np

    from samurai.eval.metrics import dice

    n_t, b = gt.shape[:2]
    return {
        name: np.array([[dice(masks[t, i], gt[t, i]) for i in range(b)] for t in range(n_t)])
        for name, (masks, _) in runs.items()
    }


def _dice_rows(ph, dice_t) -> list[dict]:
    """One row per method and chamber (chambers in label order: LV, LA, RV, RA); frame 0, the
    prompt, is not scored."""
    ids = sorted(ph.labels)
    return [
        {
            "method": name,
            "chamber": ph.labels[k],
            "mean_dice": d[1:, i].mean(),
            "min_dice": d[1:, i].min(),
            "frames_dice_below_0.5": int((d[1:, i] < 0.5).sum()),
            "lost": _lost(d[:, i]),
        }
        for name, d in dice_t.items()
        for i, k in enumerate(ids)
    ]


def _per_frame_rows(ph, runs, dice_t) -> list[dict]:
    """Dice per frame, method and chamber, with the core's decisions for the phantom tracker."""
    ids = sorted(ph.labels)
    out = []
    for name, (_, run_) in runs.items():
        d = dice_t[name]
        for t in range(len(ph.frames)):
            for i, k in enumerate(ids):
                rec = {"frame": t, "method": name, "chamber": ph.labels[k], "dice": d[t, i]}
                if run_ is not None:
                    rec.update(
                        chosen=int(run_.chosen[t, i]),
                        predicted_quality=float(run_.aff[t, i]),
                        object_score=float(run_.obj[t, i]),
                        motion_iou=float(run_.kf_iou[t, i]),
                        stable_frames=int(run_.stable[t, i]),
                        memory_frames=" ".join(str(f) for f in run_.memory_frames[t, i] if f >= 0),
                    )
                out.append(rec)
    return out


def _ef_rows(ph, runs, gt) -> list[dict]:
    """Clinical read-out of the LV: truth, and each method's masks (ED/ES = largest/smallest area)."""
    from samurai.eval.ef import lv_masks_ef

    lv = sorted(ph.labels).index(1)
    t_ed, t_es, t_ef = lv_masks_ef(gt[:, lv], ph.spacing)
    rows = [
        {
            "method": "truth (phantom masks)",
            "ed_frame": t_ed,
            "es_frame": t_es,
            "ef_area_length": t_ef,
            "ef_error": 0.0,
        }
    ]
    for name, (masks, _) in runs.items():
        found = lv_masks_ef(masks[:, lv], ph.spacing)
        if found is None:
            rows.append(
                {
                    "method": name,
                    "ed_frame": -1,
                    "es_frame": -1,
                    "ef_area_length": float("nan"),
                    "ef_error": float("nan"),
                }
            )
        else:
            rows.append(
                {
                    "method": name,
                    "ed_frame": found[0],
                    "es_frame": found[1],
                    "ef_area_length": found[2],
                    "ef_error": found[2] - t_ef,
                }
            )
    return rows


def _short(name: str) -> str:
    return name.replace("phantom-segmenter/", "")


def _write_plots(folder, ph, runs, gt, dice_t, rows) -> None:
    """LV area, Dice per frame of the two chambers with an event, mean Dice per chamber."""
    from samurai.eval.ef import lv_masks_ef
    from samurai.eval.metrics import area_curve
    from samurai.eval.report import plot_bars, plot_curves

    ids = sorted(ph.labels)
    lv, rv = ids.index(1), ids.index(3)
    colours = {_short(name): c for name, c in zip(runs, METHOD_COLOURS)}
    colours["truth"] = "black"
    events = _events(ph)
    areas = {"truth": area_curve(gt[:, lv], ph.spacing)}
    areas.update({_short(n): area_curve(m[:, lv], ph.spacing) for n, (m, _) in runs.items()})
    t_ed, t_es, _ = lv_masks_ef(gt[:, lv], ph.spacing)
    plot_curves(
        folder / "lv_area.png",
        areas,
        "PHANTOM - LV area over time (ED/ES of the truth marked)",
        "frame",
        "LV area (mm²)",
        marks={"ED": [t_ed], "ES": [t_es]},
        shade=events,
        colors=colours,
    )
    for chamber, i in (("LV", lv), ("RV", rv)):
        plot_curves(
            folder / f"{chamber.lower()}_dice.png",
            {_short(name): d[:, i] for name, d in dice_t.items()},
            f"PHANTOM - {chamber} Dice per frame",
            "frame",
            "Dice",
            shade=events,
            colors=colours,
        )
    plot_bars(
        folder / "dice_per_chamber.png",
        {_short(name): {r["chamber"]: r["mean_dice"] for r in rows if r["method"] == name} for name in runs},
        "PHANTOM - mean Dice per chamber",
        "Dice",
        colors=colours,
    )


def _write_overlays(folder, ph, runs, scale) -> None:
    """overlay.gif (and .mp4 when an encoder is present): truth | each method, side by side,
    labelled as a phantom; stills.png: three frames of it and a legend of the chamber colours."""
    import numpy as np

    from samurai.drawing import overlay
    from samurai.formats import write_png
    from samurai.video_writers import mp4_available, write_gif, write_mp4

    ids = sorted(ph.labels)
    n_t = len(ph.frames)
    events = _events(ph)
    panels = ["truth"] + [_short(name) for name in runs]
    frames_rgb = []
    for t in range(n_t):
        tiles = [overlay(ph.frames[t], ph.masks[t])]
        tiles += [overlay(ph.frames[t], _label_map(masks[t], ids)) for masks, _ in runs.values()]
        note = ", ".join(label for label, frames in events.items() if t in frames)
        frames_rgb.append(_captioned(tiles, panels, t, note, scale))
    write_gif(folder / "overlay.gif", frames_rgb, fps=ph.meta["fps"] / 2)
    if mp4_available():
        write_mp4(folder / "overlay.mp4", frames_rgb, fps=ph.meta["fps"] / 2)
    # The middle of each event and the last frame (who came back); a short clip: start, middle, end.
    picks = [f[len(f) // 2] for f in events.values()] or [0, n_t // 2]
    stills = sorted({f for f in [*picks, n_t - 1] if 0 <= f < n_t})
    legend = _chamber_legend(ph.labels, frames_rgb[0].shape[1])
    write_png(folder / "stills.png", np.concatenate([frames_rgb[f] for f in stills] + [legend], axis=0))


def _json(v):
    import numpy as np

    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _label_map(masks, ids):
    import numpy as np

    # Lower ids (the LV first) are drawn last, on top: a lost LV track shows where it went.
    out = np.zeros(masks.shape[1:], np.uint8)
    for i, k in reversed(list(enumerate(ids))):
        out[masks[i]] = k
    return out


def _captioned(tiles, titles, t, note, scale):
    """Tiles side by side, upscaled, with a caption bar naming each panel, the frame and the
    phantom's event on it (``note``, empty for none)."""
    import numpy as np
    from PIL import Image, ImageDraw

    row = np.concatenate(tiles, axis=1)
    row = np.kron(row, np.ones((scale, scale, 1), np.uint8)) if scale > 1 else row
    tile_w = row.shape[1] // len(tiles)
    bar = Image.new("RGB", (row.shape[1], 38), (0, 0, 0))
    draw = ImageDraw.Draw(bar)
    for i, title in enumerate(titles):
        draw.text((i * tile_w + 4, 1), title, fill=(255, 255, 255))
        draw.text((i * tile_w + 4, 13), f"PHANTOM f{t}", fill=(170, 170, 170))
        draw.text((i * tile_w + 4, 25), note, fill=(255, 200, 0))
    return np.concatenate([np.asarray(bar), row], axis=0)


def _chamber_legend(labels, width):
    """A bar naming each chamber's overlay colour (the overlays' palette, by label id)."""
    import numpy as np
    from PIL import Image, ImageDraw

    from samurai.drawing import PALETTE

    bar = Image.new("RGB", (width, 16), (0, 0, 0))
    draw = ImageDraw.Draw(bar)
    x = 4
    for k, name in sorted(labels.items()):
        colour = tuple(int(c) for c in PALETTE[(k - 1) % len(PALETTE)])
        draw.rectangle((x, 3, x + 10, 12), fill=colour)
        draw.text((x + 14, 2), name, fill=(255, 255, 255))
        x += 50
    return np.asarray(bar)


def _pivot_table(rows, chambers, methods) -> str:
    """Mean Dice with chambers as rows and methods as columns; ``lost`` tracks marked ``*``."""
    from samurai.eval.report import format_table

    cell = {(r["method"], r["chamber"]): f"{r['mean_dice']:.3f}" + ("*" if r["lost"] else " ") for r in rows}
    table = [{"chamber": c, **{_short(m): cell[(m, c)] for m in methods}} for c in chambers]
    return format_table(table, ["chamber", *(_short(m) for m in methods)])
