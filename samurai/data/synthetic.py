"""Small echo-like phantom datasets written in the real on-disk layouts, for tests and for
trying the loaders and ``samurai train`` without the real data.

Each phantom is an apical view: a dark LV cavity with its apex at the top, a bright myocardial
wall around it and a dark LA below, inside an ultrasound sector with speckle. The LV contracts
from ED (phase 0) to ES (phase 1) and the LA fills.

    python -m samurai.data.synthetic camus2023 /tmp/camus
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from samurai.output import atomic_write_text

LV, MYO, LA = 1, 2, 3
# The fewest frames each layout can be written with: EchoNet traces ED on frame 1 and ES on
# frame n - 3, which must come after it.
MIN_FRAMES = {"camus2023": 1, "camus2019": 1, "echonet": 5, "generic": 1, "four_chamber": 1, "cardiacuda": 1}


def check_counts(kind: str, n_cases: int, n_frames: int) -> None:
    """ValueError (naming the option and its least value) before anything is written."""
    if int(n_cases) < 1:
        raise ValueError(f"{kind}: --cases {n_cases}: write at least 1 case")
    if int(n_frames) < MIN_FRAMES[kind]:
        why = " (ED is traced on frame 1, ES on frame N-3 after it)" if kind == "echonet" else ""
        raise ValueError(f"{kind}: --frames {n_frames} is too few; use at least {MIN_FRAMES[kind]}{why}")


def _ellipse(shape, centre, axes) -> np.ndarray:
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return ((rows - centre[0]) / axes[0]) ** 2 + ((cols - centre[1]) / axes[1]) ** 2 <= 1.0


def phantom(size=(64, 56), phase: float = 0.0, rng=None, shift=(0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """One apical-view frame and its label map (1 LV, 2 MYO, 3 LA) at cardiac ``phase`` in [0, 1].

    Returns ``(frame uint8 [H, W], labels uint8 [H, W])``.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    h, w = size
    dy, dx = shift
    lv_c = (0.36 * h + dy, 0.5 * w + dx)
    lv_axes = (0.22 * h * (1 - 0.18 * phase), 0.15 * w * (1 - 0.25 * phase))
    wall = 0.06 * min(h, w)
    la_c = (0.76 * h + dy, 0.5 * w + dx)
    la_axes = (0.11 * h * (1 + 0.25 * phase), 0.14 * w)
    labels = np.zeros(size, dtype=np.uint8)
    labels[_ellipse(size, lv_c, (lv_axes[0] + wall, lv_axes[1] + wall))] = MYO
    labels[_ellipse(size, lv_c, lv_axes)] = LV
    labels[_ellipse(size, la_c, la_axes)] = LA
    rows, cols = np.mgrid[0:h, 0:w]
    angle = np.arctan2(cols - w / 2, rows + 0.05 * h)
    sector = (np.abs(angle) < 0.75) & (np.hypot(rows + 0.05 * h, cols - w / 2) < 1.05 * h)
    mean = np.where(sector, 90.0, 0.0)
    mean[labels == MYO] = 180.0
    mean[(labels == LV) | (labels == LA)] = 30.0
    speckle = rng.rayleigh(1.0, size) / np.sqrt(np.pi / 2)
    frame = np.clip(mean * speckle, 0, 255).astype(np.uint8)
    return frame, labels


def phantom_sequence(n_frames, size, rng, phases=None) -> tuple[np.ndarray, np.ndarray]:
    """``n_frames`` phantom frames with phases ED→ES (or the given ``phases``)."""
    phases = np.linspace(0.0, 1.0, n_frames) if phases is None else phases
    shift = tuple(rng.uniform(-0.04, 0.04, 2) * np.asarray(size))
    pairs = [phantom(size, float(p), rng, shift) for p in phases]
    return np.stack([f for f, _ in pairs]), np.stack([m for _, m in pairs])


def _split_of(i: int, n: int) -> str:
    """Patient ``i`` of ``n``: the last is test (n >= 3), the one before validation (n >= 2)."""
    if n >= 3 and i == n - 1:
        return "test"
    if n >= 2 and i == n - 1 - (1 if n >= 3 else 0):
        return "val"
    return "train"


def _write_sitk(array: np.ndarray, path: Path, spacing_rc=(0.154, 0.308)) -> None:
    """Write with SimpleITK into a temporary folder under the final name, then move the
    file(s) in (a MetaImage header names its .raw file, so both keep their names)."""
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array)
    image.SetSpacing((spacing_rc[1], spacing_rc[0]) + ((1.0,) if array.ndim == 3 else ()))
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".write.") as tmp:
        sitk.WriteImage(image, str(Path(tmp) / path.name), useCompression=str(path).endswith(".gz"))
        written = sorted(Path(tmp).iterdir(), key=lambda p: p.suffix == ".mhd")
        for produced in written:  # the .raw before its .mhd header
            os.replace(produced, path.parent / produced.name)


def _save_png(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    Image.fromarray(array).save(tmp)
    os.replace(tmp, path)


def write_camus2023(
    root, n_patients: int = 2, n_frames: int = 6, size=(64, 56), seed: int = 0, spacing=(0.154, 0.308)
) -> dict:
    """Write a CAMUS 2023 NIfTI layout (``database_nifti``, ``database_split``); ``spacing``:
    (row, col) mm per pixel.

    Returns ``{"root", "cases": {case_id: {"frames", "masks", "split", "ed_index",
    "es_index", "spacing"}}}`` with the arrays as written (``[T, H, W]``).
    """
    check_counts("camus2023", n_patients, n_frames)
    root = Path(root)
    rng = np.random.default_rng(seed)
    (root / "database_split").mkdir(parents=True, exist_ok=True)
    cases, splits = {}, {"train": [], "val": [], "test": []}
    for i in range(n_patients):
        pid = f"patient{i + 1:04d}"
        split = _split_of(i, n_patients)
        splits[split].append(pid)
        pdir = root / "database_nifti" / pid
        pdir.mkdir(parents=True, exist_ok=True)
        for view in ("2CH", "4CH"):
            frames, masks = phantom_sequence(n_frames, size, rng)
            stem = f"{pid}_{view}"
            _write_sitk(frames, pdir / f"{stem}_half_sequence.nii.gz", spacing)
            _write_sitk(masks, pdir / f"{stem}_half_sequence_gt.nii.gz", spacing)
            for phase, idx in (("ED", 0), ("ES", n_frames - 1)):
                _write_sitk(frames[idx], pdir / f"{stem}_{phase}.nii.gz", spacing)
                _write_sitk(masks[idx], pdir / f"{stem}_{phase}_gt.nii.gz", spacing)
            atomic_write_text(
                pdir / f"Info_{view}.cfg",
                f"ED: 1\nES: {n_frames}\nNbFrame: {n_frames}\nSex: F\nAge: {50 + i}\n"
                f"ImageQuality: Good\nEF: {55 + i}\nFrameRate: 25.0\n",
            )
            cases[stem] = {
                "frames": frames,
                "masks": masks,
                "split": split,
                "ed_index": 0,
                "es_index": n_frames - 1,
                "spacing": tuple(spacing),
            }
    for split, name in (("train", "training"), ("val", "validation"), ("test", "testing")):
        atomic_write_text(
            root / "database_split" / f"subgroup_{name}.txt", "".join(p + "\n" for p in splits[split])
        )
    return {"root": root, "cases": cases}


def write_camus2019(
    root, n_patients: int = 2, n_testing: int = 1, n_frames: int = 6, size=(64, 56), seed: int = 0
) -> dict:
    """Write a CAMUS 2019 MetaImage layout: ``training/`` (ED/ES labelled) and ``testing/``
    (no ground truth). The sequence is a full cycle: ED is frame 0, ES frame ``n_frames // 2``."""
    check_counts("camus2019", n_patients, n_frames)
    root = Path(root)
    rng = np.random.default_rng(seed)
    cases = {}
    es = n_frames // 2
    phases = 0.5 - 0.5 * np.cos(np.linspace(0.0, 2 * np.pi, n_frames, endpoint=False))
    for i in range(n_patients + n_testing):
        folder = "training" if i < n_patients else "testing"
        pid = f"patient{i + 1:04d}"
        pdir = root / folder / pid
        pdir.mkdir(parents=True, exist_ok=True)
        for view in ("2CH", "4CH"):
            frames, masks = phantom_sequence(n_frames, size, rng, phases)
            stem = f"{pid}_{view}"
            _write_sitk(frames, pdir / f"{stem}_sequence.mhd")
            for phase, idx in (("ED", 0), ("ES", es)):
                _write_sitk(frames[idx], pdir / f"{stem}_{phase}.mhd")
                if folder == "training":
                    _write_sitk(masks[idx], pdir / f"{stem}_{phase}_gt.mhd")
            atomic_write_text(
                pdir / f"Info_{view}.cfg",
                f"ED: 1\nES: {es + 1}\nNbFrame: {n_frames}\nSex: M\nAge: {60 + i}\n"
                f"ImageQuality: Medium\nLVef: {50 + i}\n",
            )
            cases[stem] = {
                "frames": frames,
                "masks": masks,
                "split": "train" if folder == "training" else "test",
                "ed_index": 0,
                "es_index": es,
                "spacing": (0.154, 0.308),
            }
    return {"root": root, "cases": cases}


def lv_tracing(mask: np.ndarray, n_chords: int = 20) -> np.ndarray:
    """EchoNet-style tracing rows ``[1 + n_chords, 4]`` (X1, Y1, X2, Y2) of a binary LV mask
    whose long axis is vertical: row 0 the long axis, then horizontal chords top to bottom."""
    rows = np.nonzero(mask.any(axis=1))[0]
    top, bottom = float(rows[0]), float(rows[-1])
    cols = np.nonzero(mask[rows[len(rows) // 2]])[0]
    centre = (cols[0] + cols[-1]) / 2.0
    out = [[centre, top, centre, bottom]]
    for y in np.linspace(top, bottom, n_chords):
        inside = np.nonzero(mask[int(round(y))])[0]
        out.append([float(inside[0]), float(y), float(inside[-1]), float(y)])
    return np.asarray(out)


def write_echonet(root, n_videos: int = 3, n_frames: int = 12, size=(112, 112), seed: int = 0) -> dict:
    """Write an EchoNet-Dynamic layout: MJPG ``Videos/*.avi``, ``FileList.csv`` and
    ``VolumeTracings.csv`` with ED (frame 1) and ES (frame ``n_frames - 3``) traced.

    The returned ``cases[id]["masks"]`` are the phantom's LV masks (1 = LV) on all frames.
    """
    check_counts("echonet", n_videos, n_frames)
    import cv2

    root = Path(root)
    rng = np.random.default_rng(seed)
    (root / "Videos").mkdir(parents=True, exist_ok=True)
    ed, es = 1, n_frames - 3
    phases = np.clip((np.arange(n_frames) - ed) / (es - ed), 0.0, 1.0)
    cases, file_rows, tracing_rows = {}, [], []
    for i in range(n_videos):
        name = "0X" + "".join(f"{b:02X}" for b in rng.integers(0, 256, 8))
        frames, labels = phantom_sequence(n_frames, size, rng, phases)
        lv = (labels == LV).astype(np.uint8)
        split = ("TRAIN", "VAL", "TEST")[i % 3] if n_videos >= 3 else "TRAIN"
        path = root / "Videos" / f"{name}.avi"
        tmp = path.with_name(f".{name}.tmp.avi")
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"MJPG"), 50.0, (size[1], size[0]))
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
        writer.release()
        os.replace(tmp, path)
        edv, esv = float(lv[ed].sum()), float(lv[es].sum())
        file_rows.append(
            [name, f"{100 * (edv - esv) / edv:.2f}", esv, edv, size[0], size[1], 50, n_frames, split]
        )
        for frame in (ed, es):
            for x1, y1, x2, y2 in lv_tracing(lv[frame]):
                tracing_rows.append([f"{name}.avi", x1, y1, x2, y2, frame])
        cases[name] = {"frames": frames, "masks": lv, "split": split.lower(), "ed_index": ed, "es_index": es}
    header = ["FileName", "EF", "ESV", "EDV", "FrameHeight", "FrameWidth", "FPS", "NumberOfFrames", "Split"]
    _write_csv(root / "FileList.csv", header, file_rows)
    _write_csv(root / "VolumeTracings.csv", ["FileName", "X1", "Y1", "X2", "Y2", "Frame"], tracing_rows)
    return {"root": root, "cases": cases}


def _write_csv(path: Path, header, rows) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)


def write_generic(root, n_videos: int = 2, n_frames: int = 6, size=(64, 56), seed: int = 0) -> dict:
    """Write the generic layout: ``<case>/frames/NNNNN.png`` and ``<case>/masks/NNNNN.png`` on
    every other frame (values 1 LV, 2 MYO, 3 LA), plus ``labels.json`` at the root."""
    check_counts("generic", n_videos, n_frames)
    root = Path(root)
    rng = np.random.default_rng(seed)
    cases = {}
    for i in range(n_videos):
        case_id = f"video{i:02d}"
        frames, masks = phantom_sequence(n_frames, size, rng)
        (root / case_id / "frames").mkdir(parents=True, exist_ok=True)
        (root / case_id / "masks").mkdir(parents=True, exist_ok=True)
        labelled = np.arange(n_frames) % 2 == 0
        for t in range(n_frames):
            _save_png(frames[t], root / case_id / "frames" / f"{t:05d}.png")
            if labelled[t]:
                _save_png(masks[t], root / case_id / "masks" / f"{t:05d}.png")
        cases[case_id] = {
            "frames": frames,
            "masks": np.where(labelled[:, None, None], masks, 0),
            "labelled": labelled,
        }
    atomic_write_text(root / "labels.json", json.dumps({"1": "LV", "2": "MYO", "3": "LA"}))
    return {"root": root, "cases": cases}


def write_four_chamber(root, n_videos: int = 4, n_frames: int = 16, size: int = 128, seed: int = 0) -> dict:
    """Write ``samurai_phantom`` four-chamber clips (LV, LA, RV, RA) in the generic layout,
    every frame labelled. Each video draws its own speckle seed, heart rate (period 12-26
    frames), position (shift up to 4 % of the image), chamber size (x0.9-1.1) and, for half of
    them, an LV fade of 3-6 frames. ``cases[id]["params"]`` records the draw."""
    check_counts("four_chamber", n_videos, n_frames)
    from samurai_phantom.phantom import LABELS, make_phantom

    root = Path(root)
    rng = np.random.default_rng(seed)
    cases = {}
    for i in range(n_videos):
        case_id = f"phantom{i:03d}"
        fade = None
        if rng.random() < 0.5 and n_frames >= 8:
            start = int(rng.integers(2, n_frames - 4))
            fade = (start, min(n_frames, start + int(rng.integers(3, 7))))
        params = {
            "seed": int(rng.integers(0, 2**31)),
            "period": float(rng.uniform(12.0, 26.0)),
            "shift": tuple(float(v) for v in rng.uniform(-0.04, 0.04, 2)),
            "scale": float(rng.uniform(0.9, 1.1)),
            "dropout": fade,
        }
        ph = make_phantom(n_frames=n_frames, size=size, **params)
        (root / case_id / "frames").mkdir(parents=True, exist_ok=True)
        (root / case_id / "masks").mkdir(parents=True, exist_ok=True)
        for t in range(n_frames):
            _save_png(ph.frames[t], root / case_id / "frames" / f"{t:05d}.png")
            _save_png(ph.masks[t], root / case_id / "masks" / f"{t:05d}.png")
        cases[case_id] = {"frames": ph.frames, "masks": ph.masks, "params": params}
    atomic_write_text(root / "labels.json", json.dumps({str(k): v for k, v in LABELS.items()}))
    return {"root": root, "cases": cases}


def write_cardiacuda(
    root, n_videos: int = 3, n_frames: int = 6, size: int = 64, seed: int = 0, labelled=None
) -> dict:
    """Write ``samurai_phantom`` four-chamber clips as CardiacUDA does: per case an image and a
    label NIfTI volume ``H x W x T`` for view "4" (labels 1 LV, 2 LA, 3 RA, 4 RV) and the index
    ``infos.npy`` with relative paths, a site and a split. ``labelled``: the frames that keep
    their labels (default every frame); the LV of case 0 is drawn as a closed contour."""
    import nibabel as nib

    from samurai_phantom.phantom import LABELS, make_phantom

    to_uda = {name: value for value, name in {1: "LV", 2: "LA", 3: "RA", 4: "RV"}.items()}
    remap = np.zeros(256, np.uint8)
    for value, name in LABELS.items():
        remap[value] = to_uda[name]
    root = Path(root)
    rng = np.random.default_rng(seed)
    infos, cases = {}, {}
    for i in range(n_videos):
        case_id = f"patient{i:03d}"
        ph = make_phantom(n_frames=n_frames, size=size, seed=int(rng.integers(0, 2**31)), dropout=None)
        masks = remap[ph.masks]
        if labelled is not None:
            keep = np.zeros(n_frames, bool)
            keep[list(labelled)] = True
            masks[~keep] = 0
        written = masks.copy()
        if i == 0:  # the LV as its outline only, as some CardiacUDA labels are drawn
            from scipy.ndimage import binary_erosion

            for t in range(n_frames):
                lv = written[t] == 1
                written[t][lv & binary_erosion(lv)] = 0
        folder = root / "SiteG" / case_id
        folder.mkdir(parents=True, exist_ok=True)
        for name, volume in (("image", ph.frames), ("label", written)):
            nib.save(
                nib.Nifti1Image(np.ascontiguousarray(np.moveaxis(volume, 0, -1)), np.eye(4)),
                str(folder / f"{case_id}_4_{name}.nii.gz"),
            )
        infos[case_id] = {
            "dataset_name": "SiteG",
            "split": _split_of(i, n_videos),
            "views_images": {4: f"SiteG/{case_id}/{case_id}_4_image.nii.gz"},
            "views_labels": {4: f"SiteG/{case_id}/{case_id}_4_label.nii.gz"},
        }
        cases[case_id] = {"frames": ph.frames, "masks": masks}
    np.save(root / "infos.npy", np.array(infos, dtype=object), allow_pickle=True)
    return {"root": root, "cases": cases}


WRITERS = {
    "camus2023": write_camus2023,
    "camus2019": write_camus2019,
    "echonet": write_echonet,
    "generic": write_generic,
    "four_chamber": write_four_chamber,
    "cardiacuda": write_cardiacuda,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m samurai.data.synthetic",
        description="Write a small phantom echo dataset in a real on-disk layout.",
    )
    parser.add_argument("kind", choices=sorted(WRITERS))
    parser.add_argument("root", help="output folder (created)")
    parser.add_argument("--cases", type=int, default=None, help="patients (CAMUS) or videos")
    parser.add_argument("--frames", type=int, default=None, help="frames per sequence")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    kwargs: dict = {"seed": args.seed}
    if args.cases is not None:
        kwargs[
            "n_videos" if args.kind in ("echonet", "generic", "four_chamber", "cardiacuda") else "n_patients"
        ] = args.cases
    if args.frames is not None:
        kwargs["n_frames"] = args.frames
    counts = {**{k: v.default for k, v in inspect.signature(WRITERS[args.kind]).parameters.items()}, **kwargs}
    try:  # before the folder is made
        check_counts(args.kind, counts.get("n_videos", counts.get("n_patients")), counts["n_frames"])
    except ValueError as err:
        parser.error(str(err))
    written = WRITERS[args.kind](args.root, **kwargs)
    print(f"wrote {len(written['cases'])} {args.kind} case(s) to {written['root']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
