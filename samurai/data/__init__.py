"""Echo datasets: CAMUS (2023 NIfTI, 2019 MetaImage), EchoNet-Dynamic and a generic
frames + masks layout, all returned as lazily loaded :class:`EchoCase` lists.

>>> from samurai.data import open_dataset
>>> ds = open_dataset("/data/CAMUS_public", split="train")  # doctest: +SKIP
>>> case = ds[0]; case.frames.shape, case.labels  # doctest: +SKIP
((20, 843, 512), {1: 'LV', 2: 'MYO', 3: 'LA'})
"""

from __future__ import annotations

from pathlib import Path

from samurai.data._base import (
    DatasetError,
    DatasetWarning,
    EchoCase,
    EchoDataset,
    normalise_split,
)
from samurai.data.camus import load_camus2019, load_camus2023
from samurai.data.cardiacuda import load_cardiacuda
from samurai.data.echonet import load_echonet, rasterise_tracing
from samurai.data.generic import load_generic
from samurai.dataset_kinds import KINDS


def detect_kind(root) -> str:
    """Guess the layout of a dataset folder; raises DatasetError when none fits."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist; check the --data path")
    if (root / "FileList.csv").is_file() and (root / "Videos").is_dir():
        return "echonet"
    if (root / "infos.npy").is_file():
        return "cardiacuda"
    nifti = root / "database_nifti" if (root / "database_nifti").is_dir() else root
    if any(nifti.glob("patient*/*_half_sequence.nii.gz")):
        return "camus2023"
    if any(root.glob("training/patient*/*.mhd")) or any(root.glob("testing/patient*/*.mhd")):
        return "camus2019"
    if (root / "masks").is_dir() or any(root.glob("*/masks")):
        return "generic"
    raise DatasetError(
        f"cannot recognise the dataset layout of {root}; expected CAMUS 2023 (database_nifti/), "
        "CAMUS 2019 (training/patientNNNN/*.mhd), EchoNet-Dynamic (FileList.csv + Videos/) or "
        f"generic (frames/ + masks/); or pass kind= one of {KINDS}"
    )


def open_dataset(root, kind: str | None = None, split: str | None = None) -> EchoDataset:
    """Open a dataset folder, detecting its layout when ``kind`` is None."""
    kind = detect_kind(root) if kind is None else kind
    if kind == "camus2023":
        return load_camus2023(root, split=split)
    if kind == "camus2019":
        return load_camus2019(root, split=split)
    if kind == "echonet":
        return load_echonet(root, split=split)
    if kind == "cardiacuda":
        return load_cardiacuda(root, split=split)
    if kind == "generic":
        if split is not None:
            raise DatasetError(
                "the generic layout has no splits; leave out --split (split=None in Python; "
                "samurai train: --train-split none --val-split none, or split the cases into two folders)"
            )
        return load_generic(root)
    raise DatasetError(f"unknown dataset kind {kind!r}; use one of {KINDS} or None to detect it")


__all__ = [
    "KINDS",
    "DatasetError",
    "DatasetWarning",
    "EchoCase",
    "EchoDataset",
    "detect_kind",
    "load_camus2019",
    "load_camus2023",
    "load_cardiacuda",
    "load_echonet",
    "load_generic",
    "normalise_split",
    "open_dataset",
    "rasterise_tracing",
]
