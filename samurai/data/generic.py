"""Generic layout: per case a folder of frames (or one video file) and a folder of PNG masks
whose stems match the frames; mask values are object ids, frames without a mask are unlabelled.

    root/                      root/
      frames/0000.png   or       caseA/frames/...   caseA/masks/...
      masks/0000.png             caseB/video.mp4    caseB/masks/00003.png  (stem = frame index)
                                 caseC/echo.dcm     caseC/masks/00000.png  (an ultrasound DICOM)

An optional ``labels.json`` (``{"1": "LV", ...}``) in a case folder or the root names the ids.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from samurai.data._base import DatasetError, EchoCase, EchoDataset, as_uint8, check_root
from samurai.data.echonet import note_ended_early, read_video
from samurai_common.frames import HIGH_DEPTH_MODES


def _videos(folder: Path) -> list[Path]:
    from samurai_common.frames import VIDEO_SUFFIXES  # the frame reader's, imported when used

    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def _read_dicom_video(path: Path) -> tuple[np.ndarray, tuple[float, float] | None]:
    """Grey ``uint8 [T, H, W]`` frames of an ultrasound DICOM (ITU-R 601 luma of its RGB, as
    OpenCV's grey conversion of the other videos) and its (row, col) spacing in mm or None."""
    from samurai_common.dicom import DicomError, open_dicom

    try:
        source = open_dicom(path)
        frames = np.stack(
            [
                np.round(f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114).astype(np.uint8)
                for f in source
            ]
        )
    except DicomError as err:
        raise DatasetError(str(err)) from err
    spacing = source.info.spacing
    return frames, (None if spacing is None else (spacing[1] * 10.0, spacing[0] * 10.0))


def _is_case(folder: Path) -> bool:
    return (folder / "frames").is_dir() or len(_videos(folder)) == 1


def _read_image(path: Path, grey: bool) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            # PIL's convert("L") clips deeper greys to 255: those go through as_uint8 instead.
            if grey and image.mode not in ("L", *HIGH_DEPTH_MODES):
                image = image.convert("L")
            array = np.asarray(image)
    except (OSError, UnidentifiedImageError) as err:
        raise DatasetError(f"cannot read image {path}: {err}; replace or remove the file") from err
    if array.ndim == 3:
        array = array[..., 0]
    return array


def _read_frames(paths: list[Path]) -> tuple[np.ndarray, str | None]:
    """Grey frames ``uint8 [T, H, W]`` of a frame folder, read in order up to the first file
    that cannot be read or has another size than the first (the case ends before it, as a video
    whose tail does not decode), and why it ended early (None when every file was read).
    16-bit frames are brought to 8 bits over the range of the frames read (``as_uint8``)."""
    frames = [_read_image(paths[0], grey=True)]
    for i, path in enumerate(paths[1:], 1):
        try:
            frame = _read_image(path, grey=True)
        except DatasetError as err:
            return as_uint8(
                np.stack(frames), paths[0].parent
            ), f"{err} (the case ends before it: {i} of {len(paths)} frames)"
        if frame.shape != frames[0].shape:
            return as_uint8(np.stack(frames), paths[0].parent), (
                f"frame {path} is {frame.shape[1]}x{frame.shape[0]}, frame 0 {frames[0].shape[1]}x"
                f"{frames[0].shape[0]} (the case ends before it: {i} of {len(paths)} frames)"
            )
        frames.append(frame)
    return as_uint8(np.stack(frames), paths[0].parent), None


def load_generic(root) -> EchoDataset:
    """Cases in the generic frames + PNG-masks layout (see the module docstring)."""
    root = check_root(root)
    if _is_case(root):
        folders = [root]
    else:
        folders = sorted(p for p in root.iterdir() if p.is_dir() and _is_case(p))
    if not folders:
        raise DatasetError(
            f"{root} holds no case: expected frames/ (or one video file) and masks/, directly or "
            "in one subfolder per case"
        )
    entries, skipped = [], []
    for folder in folders:
        case_id = folder.name
        if not (folder / "masks").is_dir():
            skipped.append((case_id, "no masks/ folder"))
            continue
        entries.append((case_id, None, _generic_loader(case_id, folder, root)))
    return EchoDataset("generic", root, entries, skipped)


def _label_names(folder: Path, root: Path, ids: list[int]) -> dict[int, str]:
    for path in (folder / "labels.json", root / "labels.json"):
        if path.is_file():
            try:
                names = {int(k): str(v) for k, v in json.loads(path.read_text()).items()}
            except (ValueError, AttributeError) as err:
                raise DatasetError(f'{path} must map label ids to names, e.g. {{"1": "LV"}}') from err
            _refuse_shared_names(path, names)
            return {i: names.get(i, str(i)) for i in ids}
    return {i: str(i) for i in ids}


def _refuse_shared_names(path: Path, names: dict[int, str]) -> None:
    """Two ids with one name would be scored as one structure (results are keyed by name;
    class names compare case-insensitively)."""
    ids_of: dict[str, list[int]] = {}
    for i, name in sorted(names.items()):
        ids_of.setdefault(name.strip().lower(), []).append(i)
    shared = {names[ids[0]].strip(): ids for ids in ids_of.values() if len(ids) > 1}
    if shared:
        listed = "; ".join(f"{name!r} for ids {', '.join(map(str, ids))}" for name, ids in shared.items())
        raise DatasetError(
            f"{path} gives one name to several labels ({listed}); give each label id its own name"
        )


def _generic_loader(case_id: str, folder: Path, root: Path):
    def load() -> EchoCase:
        from samurai_common.frames import IMAGE_SUFFIXES

        spacing = None  # known for DICOM videos only
        dicom_video = None
        mask_files = {p.stem: p for p in (folder / "masks").iterdir() if p.suffix.lower() == ".png"}
        if (folder / "frames").is_dir():
            frame_files = sorted(
                p for p in (folder / "frames").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not frame_files:
                raise DatasetError(f"{folder / 'frames'} holds no image")
            frames, ended = _read_frames(frame_files)
            keys = {p.stem: i for i, p in enumerate(frame_files)}
        else:
            video = _videos(folder)[0]
            if video.suffix.lower() in (".dcm", ".dicom"):
                (frames, spacing), ended = _read_dicom_video(video), None
                dicom_video = video
            else:
                frames, ended = read_video(video)
            keys = {}
            for stem in mask_files:
                if not stem.isdigit():
                    raise DatasetError(
                        f"mask {stem}.png of a video case must be named by frame index (e.g. 00012.png)"
                    )
                keys[stem] = int(stem)
        masks = np.zeros(frames.shape, dtype=np.uint8)
        labelled = np.zeros(frames.shape[0], dtype=bool)
        lost = []
        for stem, path in mask_files.items():
            if ended is not None and keys.get(stem, -1) >= frames.shape[0]:
                lost.append(keys[stem])  # its frame went with the video's end: not scored
                continue
            if stem not in keys or not 0 <= keys[stem] < frames.shape[0]:
                raise DatasetError(
                    f"mask {path} matches no frame of case {case_id} ({frames.shape[0]} frames); "
                    "name each mask like the frame it labels (frames/00012.png -> masks/00012.png, "
                    "or the frame index for a video) or remove it"
                )
            mask = _read_image(path, grey=False)
            if mask.shape != frames.shape[1:]:
                raise DatasetError(
                    f"mask {path} is {mask.shape[1]}x{mask.shape[0]} but the frames are "
                    f"{frames.shape[2]}x{frames.shape[1]}; save each mask at its frame's size"
                )
            if mask.max() > 255:
                raise DatasetError(f"mask {path} has ids above 255; use 8-bit label PNGs")
            masks[keys[stem]] = mask.astype(np.uint8)
            labelled[keys[stem]] = True
        ids = sorted(int(v) for v in np.unique(masks) if v != 0)
        # The file itself, for what eval writes beside the scores (seg.dcm references it).
        meta: dict = {"dicom": str(dicom_video)} if dicom_video else {}
        note_ended_early(meta, frames.shape[0], ended, lost)
        return EchoCase(case_id, frames, masks, labelled, _label_names(folder, root, ids), spacing, meta)

    return load
