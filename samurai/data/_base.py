"""The dataset containers shared by every loader, and small file helpers."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")
_SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "test": "test",
    "testing": "test",
}


class DatasetError(ValueError):
    """A dataset cannot be read: the message names the file and what to do about it."""


class DatasetWarning(UserWarning):
    """A case was skipped because it cannot be used (the message says why)."""


@dataclass
class EchoCase:
    """One echo sequence (one patient and view, or one video) with its ground truth.

    ``frames`` are grey ``uint8 [T, H, W]`` in display orientation (apex at the top for apical
    views); ``masks`` is a ``uint8 [T, H, W]`` label map (0 background), all zeros on frames
    where ``labelled`` is False.
    """

    case_id: str
    frames: np.ndarray
    masks: np.ndarray
    labelled: np.ndarray
    labels: dict[int, str]
    spacing: tuple[float, float] | None = None  # (row, col) mm per pixel
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.frames.ndim != 3 or self.frames.dtype != np.uint8:
            raise DatasetError(
                f"case {self.case_id}: frames must be uint8 [T,H,W], got "
                f"{self.frames.dtype} {self.frames.shape}"
            )
        if self.masks.shape != self.frames.shape:
            raise DatasetError(
                f"case {self.case_id}: masks {self.masks.shape} do not match frames "
                f"{self.frames.shape}; the ground-truth file belongs to another sequence"
            )
        if self.labelled.shape != (self.frames.shape[0],):
            raise DatasetError(f"case {self.case_id}: labelled must have shape [T]")


class EchoDataset(Sequence):
    """A lazily loaded list of :class:`EchoCase`.

    ``dataset[i]`` reads case ``i`` from disk; ``case_ids`` lists what is available and
    ``skipped`` lists ``(case_id, reason)`` for cases left out (each also raised a
    :class:`DatasetWarning` when the dataset was opened).
    """

    def __init__(
        self,
        kind: str,
        root: Path,
        entries: list[tuple[str, str | None, Callable[[], EchoCase]]],
        skipped: list[tuple[str, str]],
    ) -> None:
        self.kind = kind
        self.root = Path(root)
        self._entries = entries
        self.skipped = skipped
        for case_id, reason in skipped:
            warnings.warn(f"{kind}: skipped case {case_id}: {reason}", DatasetWarning, stacklevel=3)

    @property
    def case_ids(self) -> list[str]:
        return [case_id for case_id, _, _ in self._entries]

    @property
    def splits(self) -> list[str | None]:
        """The split of each case ("train", "val", "test"), None where unknown."""
        return [split for _, split, _ in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> EchoCase:
        if not isinstance(index, (int, np.integer)):
            raise TypeError(f"index cases by position (int), got {type(index).__name__}")
        return self._entries[index][2]()

    def __iter__(self) -> Iterator[EchoCase]:
        for i in range(len(self)):
            yield self[i]

    def index(self, case_id: str) -> int:  # type: ignore[override]
        """Position of ``case_id``; raises KeyError naming a few known ids."""
        for i, (cid, _, _) in enumerate(self._entries):
            if cid == case_id:
                return i
        raise KeyError(f"no case {case_id!r} in {self.root}; known: {self.case_ids[:5]}...")

    def __repr__(self) -> str:
        return (
            f"EchoDataset(kind={self.kind!r}, root='{self.root}', cases={len(self)}, "
            f"skipped={len(self.skipped)})"
        )


def normalise_split(split: str | None) -> str | None:
    """Map "training"/"TRAIN"/"validation"/... to "train", "val" or "test"."""
    if split is None:
        return None
    key = str(split).strip().lower()
    if key not in _SPLIT_ALIASES:
        raise DatasetError(f"unknown split {split!r}; use one of {SPLITS} (or None for all)")
    return _SPLIT_ALIASES[key]


def check_root(root: str | os.PathLike) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist; check the --data path")
    return root


def read_cfg(path: Path) -> dict[str, str]:
    """Read a CAMUS ``Info_*.cfg`` file of ``Key: value`` lines."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"cannot read {path}: {err}; re-download the file") from err
    info: dict[str, str] = {}
    for line in text.splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            info[key.strip()] = value.strip()
    return info


def cfg_number(info: dict[str, str], *keys: str) -> float | None:
    """The first of ``keys`` present in ``info`` that parses as a number."""
    for key in keys:
        if key in info:
            try:
                return float(info[key])
            except ValueError:
                continue
    return None


def read_medical_image(path: Path) -> tuple[np.ndarray, tuple[float, ...]]:
    """Read a NIfTI or MetaImage file with SimpleITK.

    Returns the voxel array in SimpleITK's order (``[T, H, W]`` or ``[H, W]``) and the spacing
    in the same axis order.
    """
    import SimpleITK as sitk

    if str(path).lower().endswith(".gz"):
        _check_gzip_complete(path)
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise DatasetError(
            f"cannot read {path}: {str(err).strip().splitlines()[-1]}; the file is corrupt or "
            "truncated: re-download it or delete its case folder"
        ) from err
    array = sitk.GetArrayFromImage(image)
    spacing = tuple(float(s) for s in reversed(image.GetSpacing()))
    return array, spacing


def _check_gzip_complete(path: Path) -> None:
    """Refuse a gzip file cut short: ITK's NIfTI reader fills what is missing with zeros and
    reports nothing, so a truncated download would be scored as an empty ground truth."""
    import gzip
    import zlib

    try:
        with gzip.open(path, "rb") as stream:
            while stream.read(1 << 22):
                pass
    except (EOFError, OSError, zlib.error) as err:
        raise DatasetError(
            f"cannot read {path}: the compressed file is truncated or damaged ({err}); "
            "re-download it or delete its case folder"
        ) from err


def as_uint8(array: np.ndarray, path: Path) -> np.ndarray:
    """Grey frames as uint8 by the one conversion of every frame reader
    (``samurai_common.frames.to_uint8``: 0..255 kept, wider ranges stretched to 0..255)."""
    from samurai_common.frames import FrameError, to_uint8

    try:
        return to_uint8(array, str(path))
    except FrameError as err:
        raise DatasetError(str(err)) from None


def as_labels(array: np.ndarray, path: Path) -> np.ndarray:
    """A label map as uint8, refusing values that are not small non-negative integers."""
    if array.size and (array.min() < 0 or array.max() > 255 or not np.all(array == np.round(array))):
        raise DatasetError(
            f"{path} is not a label map (values must be integers 0..255); is it the image "
            "instead of its _gt file?"
        )
    return array.astype(np.uint8)
