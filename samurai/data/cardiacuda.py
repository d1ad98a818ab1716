"""CardiacUDA (Yang et al., ICCV 2023): per patient and view, a NIfTI image volume and a NIfTI
label volume, ``H × W × T`` (frames on the last axis), read as its authors' public loader does.

Two ways in: the authors' index file ``infos.npy`` (a dict per case with ``dataset_name`` = the
site and ``views_images`` / ``views_labels`` = a path per view key), or a folder of
``*image*.nii.gz`` files with a label file beside each (``image`` -> ``label`` in the name).
Label values per view (DATASETS.md): apical four-chamber 1 LV, 2 LA, 3 RA, 4 RV; LV long and
short axis 1 LV, 2 RV; pulmonary artery long axis 1 PA. Frames whose label is all zero are
unlabelled (training videos label five frames, validation and test every frame). Labels drawn
as closed contours are filled (filling a filled region changes nothing).

What cannot be known without the data is an option with a clear error: which view key is the
apical four-chamber view (``view``, default "4"), how index paths map onto this machine
(relative paths resolve under the root, absolute ones that do not exist by their trailing
parts), and the split (the index may carry one; else ``derive_splits=True`` derives 8:1:1 per
site by sorted case id).
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
    check_root,
    normalise_split,
)

VIEW_LABELS = {
    "a4c": {1: "LV", 2: "LA", 3: "RA", 4: "RV"},
    "lvla": {1: "LV", 2: "RV"},
    "lvsa": {1: "LV", 2: "RV"},
    "pala": {1: "PA"},
}


def _read_volume(path: Path) -> tuple[np.ndarray, tuple[float, float] | None]:
    """A NIfTI ``H × W × T`` volume as ``[T, H, W]`` and its (row, col) spacing in mm."""
    import nibabel as nib

    try:
        image = nib.load(str(path))
        data = np.asarray(image.dataobj)
    except Exception as err:  # nibabel raises several types for damaged files
        raise DatasetError(f"cannot read {path}: {err}; re-download it") from err
    if data.ndim == 4 and data.shape[2] == 1:
        data = data[:, :, 0, :]
    if data.ndim != 3:
        raise DatasetError(f"{path} has shape {data.shape}; CardiacUDA volumes are H x W x T")
    zooms = image.header.get_zooms()
    return np.moveaxis(data, -1, 0), (float(zooms[0]), float(zooms[1]))


def fill_contours(labels: np.ndarray) -> np.ndarray:
    """Fill each label's closed contours per frame, only over background pixels."""
    from scipy.ndimage import binary_fill_holes

    out = labels.copy()
    for t in range(labels.shape[0]):
        for value in np.unique(labels[t]):
            if value == 0:
                continue
            filled = binary_fill_holes(labels[t] == value)
            out[t][filled & (out[t] == 0)] = value
    return out


def _resolve(root: Path, recorded: str) -> Path:
    path = Path(str(recorded))
    if not path.is_absolute() and (root / path).is_file():
        return root / path
    if path.is_file():
        return path
    parts = path.parts
    for i in range(1, len(parts)):
        candidate = root.joinpath(*parts[i:])
        if candidate.is_file():
            return candidate
    raise DatasetError(
        f"the index names {recorded!r}, which is neither under {root} nor on this machine; "
        f"put the files under the dataset root with the index's relative layout"
    )


def _index_entries(root: Path, view: str) -> list[tuple[str, str | None, str | None, Path, Path]]:
    """(case id, site, split, image, label) from ``infos.npy``."""
    raw = np.load(root / "infos.npy", allow_pickle=True)
    infos = raw.item() if raw.dtype == object and raw.ndim == 0 else list(raw)
    items = list(infos.items()) if isinstance(infos, dict) else [(None, v) for v in infos]
    entries = []
    for i, (key, info) in enumerate(items):
        images, labels = dict(info.get("views_images", {})), dict(info.get("views_labels", {}))
        views = {str(k): k for k in images}
        if str(view) not in views:
            raise DatasetError(
                f"case {key or i} in {root / 'infos.npy'} has no view {view!r} (views: "
                f"{sorted(views)}); pass view= the key of the apical four-chamber view"
            )
        k = views[str(view)]
        if k not in labels:
            raise DatasetError(f"case {key or i}: view {view!r} has an image but no label")
        case_id = str(info.get("case_name", key if key is not None else i))
        entries.append(
            (
                case_id,
                info.get("dataset_name"),
                info.get("split"),
                _resolve(root, images[k]),
                _resolve(root, labels[k]),
            )
        )
    return entries


def _folder_entries(root: Path) -> list[tuple[str, str | None, str | None, Path, Path]]:
    entries = []
    for image in sorted(root.rglob("*image*.nii*")):
        label = image.with_name(image.name.replace("image", "label"))
        if not label.is_file():
            raise DatasetError(
                f"{image} has no label file {label.name} beside it; CardiacUDA pairs each "
                f"image volume with a label volume of the same name with 'label' for 'image'"
            )
        case_id = str(image.relative_to(root)).split(".nii")[0].replace("image", "").strip("_-/")
        entries.append((case_id, None, None, image, label))
    return entries


def _derived_split(entries, ratios=(8, 1, 1)) -> dict[str, str]:
    """8:1:1 per site by sorted case id (the authors' own lists are not known offline)."""
    out: dict[str, str] = {}
    by_site: dict = {}
    for case_id, site, *_ in entries:
        by_site.setdefault(site, []).append(case_id)
    for ids in by_site.values():
        ids = sorted(ids)
        n_train = round(len(ids) * ratios[0] / sum(ratios))
        n_val = round(len(ids) * ratios[1] / sum(ratios))
        for j, case_id in enumerate(ids):
            out[case_id] = "train" if j < n_train else "val" if j < n_train + n_val else "test"
    return out


def load_cardiacuda(
    root, split: str | None = None, view: str = "4", labels: str = "a4c", derive_splits: bool = False
) -> EchoDataset:
    """Open CardiacUDA at ``root`` (with ``infos.npy``, or a folder of image/label pairs).

    Args:
      split: "train", "val", "test" or None (all cases).
      view: the index's key of the view to read (default "4").
      labels: which label table the view uses: "a4c" (1 LV, 2 LA, 3 RA, 4 RV), "lvla", "lvsa",
        "pala".
      derive_splits: without splits in the index, derive 8:1:1 per site by sorted case id.
    """
    root = check_root(root)
    split = normalise_split(split)
    if labels not in VIEW_LABELS:
        raise DatasetError(f"unknown label table {labels!r}; use one of {sorted(VIEW_LABELS)}")
    names = VIEW_LABELS[labels]
    entries = _index_entries(root, view) if (root / "infos.npy").is_file() else _folder_entries(root)
    if not entries:
        raise DatasetError(f"no CardiacUDA cases in {root}: no infos.npy and no *image*.nii.gz files")
    splits = {case_id: s for case_id, _, s, _, _ in entries}
    if split is not None and any(s is None for s in splits.values()):
        if not derive_splits:
            raise DatasetError(
                f"{root} does not say which cases are {split!r} (the authors' split lists are not "
                f"in it); leave out --split for every case (split=None in Python), or let samurai split "
                f"8:1:1 per site by sorted case id (samurai train: --train-split none; "
                f"derive_splits=True in Python)"
            )
        splits = _derived_split(entries)
    chosen = [e for e in entries if split is None or normalise_split(splits[e[0]]) == split]

    def loader(case_id, site, image_path, label_path):
        def load() -> EchoCase:
            frames, spacing = _read_volume(image_path)
            masks, _ = _read_volume(label_path)
            masks = fill_contours(as_labels(masks, label_path))
            unknown = set(np.unique(masks).tolist()) - {0} - set(names)
            if unknown:
                raise DatasetError(
                    f"{label_path} holds label values {sorted(unknown)} outside the {labels} "
                    f"table {names}; pass labels= the view's table"
                )
            return EchoCase(
                case_id=case_id,
                frames=as_uint8(frames, image_path),
                masks=masks,
                labelled=masks.reshape(masks.shape[0], -1).any(axis=1),
                labels=dict(names),
                spacing=spacing,
                meta={"site": site, "view": str(view)},
            )

        return load

    return EchoDataset(
        "cardiacuda",
        root,
        [
            (c, normalise_split(splits[c]) if splits[c] else None, loader(c, site, im, lb))
            for c, site, _, im, lb in chosen
        ],
        skipped=[],
    )


__all__ = ["VIEW_LABELS", "fill_contours", "load_cardiacuda"]
