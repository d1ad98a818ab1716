"""CAMUS loaders: the 2023 NIfTI release (half sequences, every frame labelled) and the 2019
MetaImage release (full sequences, ED and ES labelled).

Orientation: SimpleITK returns sequences as ``[T, H, W]`` with the apex in row 0 for the
apical views, which is display orientation; no flip is applied.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from samurai.data._base import (
    DatasetError,
    EchoCase,
    EchoDataset,
    as_labels,
    as_uint8,
    cfg_number,
    check_root,
    normalise_split,
    read_cfg,
    read_medical_image,
)

CAMUS_LABELS = {1: "LV", 2: "MYO", 3: "LA"}
VIEWS = ("2CH", "4CH")
_SPLIT_FILES = {"train": "training", "val": "validation", "test": "testing"}


def _check_views(views) -> tuple[str, ...]:
    views = tuple(str(v).upper() for v in views)
    bad = [v for v in views if v not in VIEWS]
    if bad:
        raise DatasetError(f"unknown CAMUS view(s) {bad}; use a subset of {VIEWS}")
    return views


def _read_split_files(split_dir: Path) -> dict[str, str]:
    """patient id -> split, from ``database_split/subgroup_*.txt`` (empty if absent)."""
    result: dict[str, str] = {}
    for split, name in _SPLIT_FILES.items():
        path = split_dir / f"subgroup_{name}.txt"
        if path.is_file():
            for line in path.read_text().split():
                result[line.strip()] = split
    return result


def _spacing_2d(spacing: tuple[float, ...]) -> tuple[float, float]:
    return (spacing[-2], spacing[-1])


def _info_meta(info: dict[str, str], view: str) -> dict:
    meta: dict = {"view": view}
    ef = cfg_number(info, "EF", "LVef")
    if ef is not None:
        meta["ef"] = ef
    # The 2023 release's LV volumes (mL, biplane discs on the expert contours).
    for key, cfg_key in (("edv", "LVedv"), ("esv", "LVesv")):
        value = cfg_number(info, cfg_key)
        if value is not None:
            meta[key] = value
    fps = cfg_number(info, "FrameRate", "FPS")
    if fps is not None:
        meta["fps"] = fps
    for key in ("Sex", "Age", "ImageQuality"):
        if key in info:
            meta[key.lower() if key != "ImageQuality" else "image_quality"] = info[key]
    return meta


def _nifti_root(root: Path) -> Path:
    return root / "database_nifti" if (root / "database_nifti").is_dir() else root


def load_camus2023(root, split: str | None = None, views=VIEWS) -> EchoDataset:
    """The CAMUS 2023 NIfTI release: one case per patient and view (the ED→ES half sequence).

    ``root`` is the folder holding ``database_nifti/`` and ``database_split/`` (or
    ``database_nifti`` itself). Patient-level splits come from ``database_split`` when present.

    >>> ds = load_camus2023("/data/CAMUS_public", split="train", views=("4CH",))  # doctest: +SKIP
    >>> ds[0].case_id
    'patient0001_4CH'
    """
    root = check_root(root)
    split = normalise_split(split)
    views = _check_views(views)
    nifti = _nifti_root(root)
    patient_split = _read_split_files(root / "database_split")
    if split is not None and not patient_split:
        raise DatasetError(
            f"split={split!r} asked but {root / 'database_split'} has no subgroup_*.txt files; "
            "leave out --split (split=None in Python) or add the official split files"
        )
    patients = sorted(p for p in nifti.iterdir() if p.is_dir() and p.name.startswith("patient"))
    if not patients:
        raise DatasetError(f"no patientNNNN folders under {nifti}; is this the CAMUS 2023 root?")
    entries, skipped = [], []
    for pdir in patients:
        pid = pdir.name
        psplit = patient_split.get(pid)
        if split is not None and psplit != split:
            continue
        for view in views:
            case_id = f"{pid}_{view}"
            seq = pdir / f"{pid}_{view}_half_sequence.nii.gz"
            gt = pdir / f"{pid}_{view}_half_sequence_gt.nii.gz"
            missing = [p.name for p in (seq, gt) if not p.is_file()]
            if missing:
                skipped.append((case_id, f"missing {', '.join(missing)}"))
                continue
            entries.append(
                (
                    case_id,
                    psplit,
                    _camus2023_loader(case_id, seq, gt, pdir / f"Info_{view}.cfg", view, psplit),
                )
            )
    return EchoDataset("camus2023", root, entries, skipped)


def _camus2023_loader(case_id, seq, gt, info_path, view, split):
    def load() -> EchoCase:
        frames, spacing = read_medical_image(seq)
        masks, _ = read_medical_image(gt)
        if frames.ndim != 3:
            raise DatasetError(f"{seq} should be a [T,H,W] sequence, got shape {frames.shape}")
        info = read_cfg(info_path) if info_path.is_file() else {}
        meta = _info_meta(info, view)
        t = frames.shape[0]
        # The half sequence runs ED -> ES; Info's ED/ES are 1-based within it.
        ed, es = cfg_number(info, "ED"), cfg_number(info, "ES")
        meta["ed_index"] = int(ed) - 1 if ed is not None and 1 <= ed <= t else 0
        meta["es_index"] = int(es) - 1 if es is not None and 1 <= es <= t else t - 1
        meta["split"] = split
        return EchoCase(
            case_id=case_id,
            frames=as_uint8(frames, seq),
            masks=as_labels(masks, gt),
            labelled=np.ones(t, dtype=bool),
            labels=dict(CAMUS_LABELS),
            spacing=_spacing_2d(spacing),
            meta=meta,
        )

    return load


def load_camus2019(root, split: str | None = None, views=VIEWS) -> EchoDataset:
    """The CAMUS 2019 MetaImage release: one case per patient and view, full sequence with
    ground truth on the ED and ES frames only (``labelled`` marks them).

    ``root`` holds ``training/`` (split "train") and ``testing/`` (split "test", labels withheld).
    With ``split=None`` the cases without any ground-truth file (the release's ``testing/``)
    are skipped, each recorded in ``skipped`` with the reason; ``split="test"`` loads them with
    no labelled frame. ED/ES come from ``Info_*.cfg`` (keys ``ED``/``ES``,
    1-based); when absent they are found by matching the ED/ES images to the sequence.
    """
    root = check_root(root)
    split = normalise_split(split)
    views = _check_views(views)
    folders = {"train": root / "training", "test": root / "testing"}
    if split == "val":
        raise DatasetError("CAMUS 2019 has no validation split; use --split train or --split test")
    if not any(f.is_dir() for f in folders.values()):
        raise DatasetError(f"{root} has neither training/ nor testing/; is this the CAMUS 2019 root?")
    entries, skipped = [], []
    for fsplit, folder in folders.items():
        if (split is not None and fsplit != split) or not folder.is_dir():
            continue
        for pdir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("patient")):
            pid = pdir.name
            for view in views:
                case_id = f"{pid}_{view}"
                seq = pdir / f"{pid}_{view}_sequence.mhd"
                if not seq.is_file():
                    skipped.append((case_id, f"missing {seq.name}"))
                    continue
                if split is None and not any(
                    (pdir / f"{pid}_{view}_{p}_gt.mhd").is_file() for p in ("ED", "ES")
                ):
                    skipped.append(
                        (
                            case_id,
                            f"unlabelled: no {pid}_{view}_ED_gt.mhd or _ES_gt.mhd (the "
                            f"release withholds the ground truth of {folder.name}/); "
                            "--split test (split='test' in Python) loads such cases "
                            "without labels",
                        )
                    )
                    continue
                entries.append((case_id, fsplit, _camus2019_loader(case_id, pdir, view, fsplit)))
    return EchoDataset("camus2019", root, entries, skipped)


def _match_frame(frames: np.ndarray, image: np.ndarray) -> int:
    err = np.abs(frames.astype(np.float32) - image.astype(np.float32)[None]).mean(axis=(1, 2))
    return int(np.argmin(err))


def _camus2019_loader(case_id, pdir, view, split):
    pid = pdir.name

    def load() -> EchoCase:
        seq = pdir / f"{pid}_{view}_sequence.mhd"
        frames, spacing = read_medical_image(seq)
        if frames.ndim != 3:
            raise DatasetError(f"{seq} should be a [T,H,W] sequence, got shape {frames.shape}")
        frames = as_uint8(frames, seq)
        t = frames.shape[0]
        info_path = pdir / f"Info_{view}.cfg"
        info = read_cfg(info_path) if info_path.is_file() else {}
        meta = _info_meta(info, view)
        meta["split"] = split
        masks = np.zeros(frames.shape, dtype=np.uint8)
        labelled = np.zeros(t, dtype=bool)
        for phase in ("ED", "ES"):
            gt = pdir / f"{pid}_{view}_{phase}_gt.mhd"
            img = pdir / f"{pid}_{view}_{phase}.mhd"
            number = cfg_number(info, phase)
            index = int(number) - 1 if number is not None and 1 <= number <= t else None
            if index is None and img.is_file():
                index = _match_frame(frames, read_medical_image(img)[0])
            if index is not None:
                meta[f"{phase.lower()}_index"] = index
            if index is None or not gt.is_file():
                continue
            mask, _ = read_medical_image(gt)
            if mask.shape != frames.shape[1:]:
                raise DatasetError(
                    f"{gt} has shape {mask.shape} but the sequence frames are {frames.shape[1:]}; "
                    "the files of this case do not belong together"
                )
            masks[index] = as_labels(mask, gt)
            labelled[index] = True
        return EchoCase(
            case_id=case_id,
            frames=frames,
            masks=masks,
            labelled=labelled,
            labels=dict(CAMUS_LABELS),
            spacing=_spacing_2d(spacing),
            meta=meta,
        )

    return load
