"""What the clinic knows about a video beside its frames: physical pixel spacing, frame time,
heart rate and a study identity that names no patient.

A spacing is ``(sx_cm, sy_cm)``: centimetres per pixel along a column step (x, to the right) and
a row step (y, down), or ``None`` when unknown. Every length, area and volume the project
reports takes its unit from :func:`units` so that an unknown spacing says "px" plainly instead
of passing pixels off as centimetres.

>>> info = SourceInfo(spacing=(0.03, 0.03), spacing_source="DICOM Pixel Spacing")
>>> units(info.spacing)["area"], units(None)["area"]
('cm²', 'px²')
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Spacing = tuple[float, float]


class SpacingError(ValueError):
    """A pixel spacing that cannot be used; the message names where it came from and the fix."""


@dataclass(frozen=True)
class SourceInfo:
    """Clinical facts about one video source; every field may be unknown (``None``).

    spacing: ``(sx_cm, sy_cm)`` per pixel, or None.
    spacing_source: where the spacing came from, in words (e.g. "DICOM Sequence of Ultrasound
      Regions, region 0"), or None when unknown.
    frame_time_ms: milliseconds between frames (the mean where a Frame Time Vector varies).
    heart_rate: beats per minute as recorded by the scanner.
    study_hash: a salted hash of the Study Instance UID (see :func:`study_hash`); never the UID.
    """

    spacing: Spacing | None = None
    spacing_source: str | None = None
    frame_time_ms: float | None = None
    heart_rate: float | None = None
    study_hash: str | None = None

    @property
    def fps(self) -> float | None:
        return 1000.0 / self.frame_time_ms if self.frame_time_ms else None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for ``manifest.json``), with the units the values imply."""
        return {
            "spacing_cm": list(self.spacing) if self.spacing else None,
            "spacing_source": self.spacing_source if self.spacing else "unknown (values in pixels)",
            "frame_time_ms": self.frame_time_ms,
            "heart_rate_bpm": self.heart_rate,
            "study_hash": self.study_hash,
            "units": units(self.spacing),
        }


def check_spacing(spacing: Any, where: str) -> Spacing:
    """``spacing`` as a ``(sx_cm, sy_cm)`` pair of positive finite floats, else SpacingError."""
    try:
        sx, sy = (float(v) for v in spacing)
    except (TypeError, ValueError):
        raise SpacingError(
            f"{where}: spacing {spacing!r} is not two numbers; give (sx_cm, sy_cm) per pixel"
        ) from None
    if not (math.isfinite(sx) and math.isfinite(sy) and sx > 0 and sy > 0):
        raise SpacingError(
            f"{where}: spacing ({sx}, {sy}) cm must be positive and finite; check the source's "
            f"calibration or pass --spacing CM"
        )
    return (sx, sy)


def parse_spacing_flag(text: str) -> Spacing:
    """The value of ``--spacing``: ``CM`` (square pixels) or ``SX,SY`` in cm per pixel.

    >>> parse_spacing_flag("0.03"), parse_spacing_flag("0.03,0.04")
    ((0.03, 0.03), (0.03, 0.04))
    """
    parts = [p for p in str(text).replace("x", ",").split(",") if p.strip()]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise SpacingError(
            f"--spacing {text!r}: give one number (cm per pixel, square pixels) or two, "
            f"SX,SY (cm per pixel along a row and down a column), e.g. --spacing 0.03"
        )
    return check_spacing(parts, "--spacing")


def spacing_from_flag(text: str | None) -> SourceInfo:
    """A :class:`SourceInfo` for a plain video: the ``--spacing`` value, or unknown."""
    if text is None:
        return SourceInfo()
    return SourceInfo(spacing=parse_spacing_flag(text), spacing_source="--spacing")


def spacing_from_medical_image(path) -> SourceInfo:
    """Spacing from a NIfTI or MetaImage header (CAMUS): its in-plane spacing is in mm.

    The image's first axis is x (columns) and the second y (rows), as ITK stores them.
    """
    import SimpleITK as sitk

    path = Path(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as err:
        raise SpacingError(
            f"cannot read the header of {str(path)!r}: {str(err).strip().splitlines()[-1]}; "
            f"re-download the file"
        ) from err
    sx_mm, sy_mm = reader.GetSpacing()[:2]
    return SourceInfo(
        spacing=check_spacing((sx_mm / 10.0, sy_mm / 10.0), str(path)),
        spacing_source=f"image header of {path.name}",
    )


def units(spacing: Spacing | None) -> dict[str, str]:
    """The unit of a length, an area and a volume for values measured with ``spacing``."""
    if spacing is None:
        return {"length": "px", "area": "px²", "volume": "px³"}
    return {"length": "cm", "area": "cm²", "volume": "ml"}


def pixel_area_cm2(spacing: Spacing | None) -> float | None:
    """The area of one pixel in cm², or None when the spacing is unknown."""
    return None if spacing is None else spacing[0] * spacing[1]


def study_hash(study_uid: str, salt: str = "", length: int = 12) -> str:
    """A stable pseudonym for a study: the first ``length`` hex digits of SHA-256 over
    ``salt`` and the Study Instance UID. With a secret salt the UID cannot be recovered by
    hashing candidate UIDs; with the same salt two runs name a study alike."""
    if not 4 <= length <= 64:
        raise ValueError(f"study hash length {length} must be between 4 and 64 hex digits")
    digest = hashlib.sha256(f"{salt}\x00{str(study_uid).strip()}".encode()).hexdigest()
    return digest[:length]


__all__ = [
    "SourceInfo",
    "Spacing",
    "SpacingError",
    "check_spacing",
    "parse_spacing_flag",
    "pixel_area_cm2",
    "spacing_from_flag",
    "spacing_from_medical_image",
    "study_hash",
    "units",
]
