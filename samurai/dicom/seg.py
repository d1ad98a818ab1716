"""Masks out as a DICOM Segmentation that references the ultrasound cine it was drawn on.

One segment per tracked structure, coded with SNOMED CT: the chambers by their concepts
(``CHAMBER_CODES``), the LV myocardium by its own, any other structure as "Anatomical
Structure" under the label the user gave it (:func:`segment_type`); one binary frame per
(segment, source frame), each frame naming its source frame in its Derivation Image functional
group (Source Image Sequence > Referenced Frame Number), so a viewer overlays every mask on the
frame it belongs to.

Why not ``highdicom.seg.Segmentation`` alone: ultrasound cines have no Frame of Reference (no
patient coordinates), and highdicom builds multi-frame segmentations of sources without one
only for single-frame sources (it raises "Only a single frame is supported when the source
image has no Frame of Reference UID"). The Segmentation IOD does not need a Frame of Reference
when every frame is tied to its source frame by the Derivation Image functional group (PS3.3
A.51 and C.8.20), so this module writes that form with pydicom, organised by two dimensions,
segment number and temporal position (the source frame number), and uses highdicom for what
its API covers: the segment descriptions (codes, algorithm identification) and reading back.

>>> write_segmentation("seg.dcm", "echo.dcm", {1: lv_masks, 4: rv_masks})  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"

# SNOMED CT concepts for the chambers, as the DICOM standard's code tables name them
# (pydicom.sr.codedict, from PS3.16): (code value, meaning).
CHAMBER_CODES = {
    "LV": ("87878005", "Left ventricle"),
    "LA": ("82471001", "Left atrium"),
    "RV": ("53085002", "Right ventricle"),
    "RA": ("73829009", "Right atrium"),
}
ANATOMICAL_STRUCTURE = ("91723000", "Anatomical Structure")
LV_MYOCARDIUM = ("49848007", "Left Ventricle Myocardium")
_MYOCARDIUM = re.compile(r"(LV[ _-]?)?MYO(CARDIUM)?", re.IGNORECASE)


def segment_type(label: str) -> tuple[str, str]:
    """The SNOMED CT concept (code value, meaning) of a segment labelled ``label``: a chamber
    ("LV", "la", ...), the LV myocardium ("myo", "myocardium", "LV myocardium", CAMUS's second
    label), else the generic "Anatomical Structure" (a box-prompted object the user named
    otherwise, or did not name), whose meaning then lies in its segment label."""
    key = label.strip().upper()
    if key in CHAMBER_CODES:
        return CHAMBER_CODES[key]
    if _MYOCARDIUM.fullmatch(key.strip()):
        return LV_MYOCARDIUM
    return ANATOMICAL_STRUCTURE


class SegmentationError(ValueError):
    """Masks that cannot be written as a Segmentation of the given source; says why and the fix."""


def _code(value: str, meaning: str, scheme: str = "SCT"):
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


def _segment_descriptions(names: list[str], algorithm_version: str):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    algorithm = hd.AlgorithmIdentificationSequence(
        name="samurai", version=algorithm_version, family=codes.DCM.ArtificialIntelligence
    )
    out = []
    for number, name in enumerate(names, start=1):
        out.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=name,
                segmented_property_category=_code(*ANATOMICAL_STRUCTURE),
                segmented_property_type=_code(*segment_type(name)),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=algorithm,
            )
        )
    return out


def _item(**attrs):
    from pydicom.dataset import Dataset

    ds = Dataset()
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


def _copy(src, dst, *keywords: str) -> None:
    """Copy the listed attributes, empty where the source lacks them (type 2 in the SEG)."""
    for keyword in keywords:
        setattr(dst, keyword, src.get(keyword, ""))


def build_segmentation(
    source,
    masks: Mapping[str, np.ndarray],
    *,
    series_number: int = 300,
    instance_number: int = 1,
    software_version: str | None = None,
    content_label: str = "CHAMBERS",
):
    """A Segmentation dataset for ``masks`` drawn on the DICOM ``source``.

    Args:
      source: the source DICOM as a pydicom Dataset (pixel data not needed: read it with
        ``stop_before_pixels=True``) or a path.
      masks: segment label ("LV", "LA", "RV", "RA", "myocardium", or any name up to 64
        characters, coded by :func:`segment_type`) -> boolean ``[T, H, W]`` over every frame of
        the source, in the source's rows and columns: an array, or anything with that
        ``shape`` whose ``[t]`` gives frame ``t`` (read one frame at a time).
      series_number, instance_number: of the new Segmentation series and instance.
      software_version: recorded as the algorithm's version (default: samurai's).

    Returns the pydicom ``FileDataset``-ready Dataset (``file_meta`` set).
    """
    import pydicom
    from highdicom import UID
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sr.codedict import codes

    if not isinstance(source, Dataset):
        source = pydicom.dcmread(source, stop_before_pixels=True)
    if software_version is None:
        from samurai import __version__ as software_version
    names = list(masks)
    if not names:
        raise SegmentationError("no masks to write; pass at least one structure's masks")
    bad = [n for n in names if not str(n).strip() or len(str(n)) > 64 or "\\" in str(n)]
    if bad:
        raise SegmentationError(
            f"segment labels {bad} cannot be written (a label is 1 to 64 characters without a "
            "backslash, DICOM's LO); rename the structures"
        )
    n_frames = int(source.get("NumberOfFrames", 1) or 1)
    shape = (n_frames, int(source.Rows), int(source.Columns))
    stack = []
    for name in names:
        m = masks[name]  # an array, or any [T, H, W] sequence of frames (read one at a time)
        if tuple(getattr(m, "shape", ())) != shape:
            raise SegmentationError(
                f"masks of {name!r} have shape {getattr(m, 'shape', None)} but the source has {shape[0]} frames of "
                f"{shape[1]}x{shape[2]} pixels; a Segmentation covers its source frame for frame"
            )
        stack.append(m)
    now = _dt.datetime.now()

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = EXPLICIT_VR_LE
    ds.file_meta.MediaStorageSOPClassUID = SEGMENTATION_STORAGE
    ds.SOPClassUID = SEGMENTATION_STORAGE
    ds.SOPInstanceUID = UID()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SpecificCharacterSet = source.get("SpecificCharacterSet", "ISO_IR 100")
    # Patient and study: the Segmentation belongs to the source's study (a viewer files it there).
    _copy(
        source,
        ds,
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyDate",
        "StudyTime",
        "ReferringPhysicianName",
        "StudyID",
        "AccessionNumber",
    )
    ds.StudyInstanceUID = source.StudyInstanceUID
    ds.Modality = "SEG"
    ds.SeriesInstanceUID = UID()
    ds.SeriesNumber = series_number
    ds.InstanceNumber = instance_number
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.Manufacturer = "samurai"
    ds.ManufacturerModelName = "samurai"
    ds.DeviceSerialNumber = "0"
    ds.SoftwareVersions = str(software_version)
    if "PositionReferenceIndicator" in source:
        ds.PositionReferenceIndicator = source.PositionReferenceIndicator

    # Segmentation Image module (PS3.3 C.8.20.2): binary, bit-packed.
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.PatientOrientation = source.get("PatientOrientation", "")
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = shape[1], shape[2]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 1, 0
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "00"
    ds.SegmentationType = "BINARY"
    ds.ContentLabel = content_label
    ds.ContentDescription = "Cardiac chambers tracked by samurai"
    ds.ContentCreatorName = ""  # type 2; "samurai" alone is a retired Person Name form
    ds.SegmentSequence = _segment_descriptions(names, str(software_version))

    # Multi-frame Dimension module: frames indexed by (segment, source frame).
    dim_uid = UID()
    ds.DimensionOrganizationSequence = [_item(DimensionOrganizationUID=dim_uid)]
    ds.DimensionIndexSequence = [
        _item(
            DimensionOrganizationUID=dim_uid,
            DimensionIndexPointer=0x0062000B,
            FunctionalGroupPointer=0x0062000A,
            DimensionDescriptionLabel="Segment Number",
        ),
        _item(
            DimensionOrganizationUID=dim_uid,
            DimensionIndexPointer=0x00209128,
            FunctionalGroupPointer=0x00209111,
            DimensionDescriptionLabel="Temporal Position Index",
        ),
    ]

    # Functional groups: each frame names its segment and its source frame.
    source_ref = dict(
        ReferencedSOPClassUID=source.SOPClassUID, ReferencedSOPInstanceUID=source.SOPInstanceUID
    )
    purpose = codes.DCM.SourceImageForImageProcessingOperation
    derivation_code = _item(CodeValue="113076", CodingSchemeDesignator="DCM", CodeMeaning="Segmentation")
    per_frame = []
    for s in range(len(names)):
        for t in range(n_frames):
            # The mask has the source frame's pixel grid: spatial locations are preserved,
            # which is what lets a reader index the Segmentation by source frame.
            source_image = _item(
                **source_ref,
                SpatialLocationsPreserved="YES",
                PurposeOfReferenceCodeSequence=[
                    _item(
                        CodeValue=purpose.value,
                        CodingSchemeDesignator=purpose.scheme_designator,
                        CodeMeaning=purpose.meaning,
                    )
                ],
            )
            if n_frames > 1:
                source_image.ReferencedFrameNumber = t + 1
            per_frame.append(
                _item(
                    FrameContentSequence=[
                        _item(DimensionIndexValues=[s + 1, t + 1], TemporalPositionIndex=t + 1)
                    ],
                    SegmentIdentificationSequence=[_item(ReferencedSegmentNumber=s + 1)],
                    DerivationImageSequence=[
                        _item(SourceImageSequence=[source_image], DerivationCodeSequence=[derivation_code])
                    ],
                )
            )
    ds.PerFrameFunctionalGroupsSequence = per_frame
    # No Pixel Measures group: without a Frame of Reference it is optional, and its Slice
    # Thickness has no meaning for a 2D ultrasound frame; the spacing stays in the source (and in
    # masks.nii.gz), which a viewer reads when it overlays the Segmentation.
    ds.SharedFunctionalGroupsSequence = [_item()]
    ds.NumberOfFrames = len(per_frame)

    # Common Instance Reference module: the source series and instance.
    ds.ReferencedSeriesSequence = [
        _item(
            SeriesInstanceUID=source.SeriesInstanceUID,
            ReferencedInstanceSequence=[_item(**source_ref)],
        )
    ]
    ds.PixelData = _packed_frames(stack, shape)
    ds["PixelData"].VR = "OB"
    return ds


def _packed_frames(stack, shape) -> bytes:
    """The binary frames, segment by segment, bit-packed as PS3.5 8.1.1 says: one bit per pixel,
    least significant first, frames following each other without padding (the total padded
    to an even length). Packed frame by frame when a frame fills whole bytes, so a long cine
    never needs all its masks unpacked at once."""
    from pydicom.pixels import pack_bits

    if (shape[1] * shape[2]) % 8:
        whole = np.stack([np.asarray(m, dtype=bool) for m in stack]).astype(np.uint8)
        return pack_bits(whole.reshape(-1, shape[1], shape[2]))
    packed = b"".join(
        np.packbits(np.asarray(m[t], dtype=bool), bitorder="little").tobytes()
        for m in stack
        for t in range(shape[0])
    )
    return packed + b"\x00" * (len(packed) % 2)


def write_segmentation(
    path: str | os.PathLike,
    source,
    masks: Mapping[str, np.ndarray],
    **kwargs,
) -> Path:
    """Build (see :func:`build_segmentation`) and write a Segmentation to ``path`` atomically."""
    ds = build_segmentation(source, masks, **kwargs)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    ds.save_as(tmp, enforce_file_format=True)
    os.replace(tmp, path)
    return path


def read_segmentation(path: str | os.PathLike, n_source_frames: int | None = None) -> dict[str, np.ndarray]:
    """A Segmentation's masks per segment label as boolean ``[T, H, W]`` over the source frames,
    read with highdicom by the source frames each segmentation frame references."""
    import highdicom as hd

    seg = hd.seg.segread(str(path))
    (source_uid,) = {uid for _, _, uid in seg.get_source_image_uids()}
    labels = {int(d.SegmentNumber): str(d.SegmentLabel) for d in seg.SegmentSequence}
    if n_source_frames is None:
        n_source_frames = seg.NumberOfFrames // len(labels)
    numbers = list(range(1, n_source_frames + 1))
    if n_source_frames == 1:
        pixels = seg.get_pixels_by_source_instance([source_uid], segment_numbers=sorted(labels))
    else:
        pixels = seg.get_pixels_by_source_frame(source_uid, numbers, segment_numbers=sorted(labels))
    return {labels[n]: pixels[..., i].astype(bool) for i, n in enumerate(sorted(labels))}


__all__ = [
    "CHAMBER_CODES",
    "SegmentationError",
    "segment_type",
    "build_segmentation",
    "read_segmentation",
    "write_segmentation",
]
