"""Run folders in the layout `samurai track --chambers` writes (masks/NNNNN.png with pixel value
= object id, manifest.json with names), made from known masks for the report tests."""

import json

import numpy as np
from PIL import Image

NAMES = ("lv", "la", "rv", "ra")
SOURCE_KEYS = ("study_hash", "spacing_cm", "frame_time_ms")


def write_run(path, masks: dict, frames=None, **manifest):
    """``masks``: chamber -> bool [T, H, W] (ids in NAMES order); ``frames``: uint8 [T, H, W]
    written as a frame folder the manifest's ``video`` points to; ``manifest``: extra keys, of
    which ``study_hash``, ``spacing_cm`` and ``frame_time_ms`` go into the ``source`` block as
    `samurai track` writes them."""
    path.mkdir(parents=True)
    (path / "masks").mkdir()
    names = {str(i + 1): n for i, n in enumerate(NAMES) if n in masks}
    first = next(iter(masks.values()))
    for t in range(len(first)):
        label = np.zeros(first.shape[1:], np.uint8)
        for k, n in names.items():
            label[masks[n][t]] = int(k)
        Image.fromarray(label).save(path / "masks" / f"{t:05d}.png")
    if frames is not None:
        video = path.parent / f"{path.name}_frames"
        video.mkdir()
        for t, f in enumerate(frames):
            Image.fromarray(f).save(video / f"{t:05d}.png")
        manifest.setdefault("video", str(video))
    source = {k: manifest.pop(k) for k in SOURCE_KEYS if k in manifest}
    if source:
        manifest["source"] = source
    info = {
        "tool": "samurai",
        "command": "track",
        "names": names,
        "complete": True,
        "model": "tiny",
        "samurai": True,
        **manifest,
    }
    info["files"] = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    (path / "manifest.json").write_text(json.dumps(info))
    return path


def phantom_run(path, size=192, n_frames=44, **manifest):
    """The phantom's ground-truth chambers as an A4C run (0.9 mm pixels, 25 fps)."""
    from samurai_phantom import make_phantom

    ph = make_phantom(n_frames=n_frames, size=size, seed=0, mm_per_pixel=0.9 * 128 / size)
    masks = {name.lower(): ph.masks == k for k, name in ph.labels.items()}
    sp = ph.spacing[1] / 10.0
    defaults = {
        "view": "A4C",
        "study_hash": "5f0c1a9e2b7d",
        "spacing_cm": [sp, sp],
        "frame_time_ms": 1000.0 / ph.meta["fps"],
        "phantom": True,
        "random_weights": False,
    }
    write_run(path, masks, frames=ph.frames, **{**defaults, **manifest})
    return ph
