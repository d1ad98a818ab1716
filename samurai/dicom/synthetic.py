"""Ultrasound DICOM files written in the encodings scanners export, for tests, benchmarks and
trying ``samurai track`` without patient data.

Pixel data are encoded by the libraries a scanner's exporter would use: JPEG baseline frames by
Pillow (libjpeg-turbo, chroma sub-sampled 4:2:2, so YBR_FULL_422 as PS3.5 8.2.1 requires),
RLE lossless by pydicom's encoder, native data as they are. The identifying attributes carry
made-up values that the privacy tests look for in every output.

    python -m samurai.dicom.synthetic /tmp/echo.dcm --frames 12 --encoding jpeg
"""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from samurai_common.dicom import US_IMAGE_STORAGE, US_MULTIFRAME_STORAGE

# Made-up identity of the phantom patient: tests assert none of it reaches an output.
PATIENT = {
    "PatientName": "Phantom^Jane^Q",
    "PatientID": "PID-8675309",
    "PatientBirthDate": "19700101",
    "PatientSex": "F",
    "AccessionNumber": "ACC-5551234",
    "InstitutionName": "Phantom General Hospital",
    "ReferringPhysicianName": "Doctor^Referring",
    "OperatorsName": "Sonographer^Sam",
}

ENCODINGS = ("native", "implicit", "jpeg", "rle", "jpegls", "j2k")
PHOTOMETRICS = ("RGB", "YBR_FULL", "YBR_FULL_422", "MONOCHROME2", "MONOCHROME1", "PALETTE COLOR")


def tissue_region(width: int, height: int, spacing_cm: tuple[float, float], **extra) -> dict:
    """A Sequence of Ultrasound Regions item for a 2D tissue (B-mode) image over the frame."""
    return {
        "RegionSpatialFormat": 1,
        "RegionDataType": 1,
        "RegionFlags": 0,
        "RegionLocationMinX0": 0,
        "RegionLocationMinY0": 0,
        "RegionLocationMaxX1": width - 1,
        "RegionLocationMaxY1": height - 1,
        "PhysicalUnitsXDirection": 3,
        "PhysicalUnitsYDirection": 3,
        "PhysicalDeltaX": float(spacing_cm[0]),
        "PhysicalDeltaY": float(spacing_cm[1]),
        **extra,
    }


def doppler_region(width: int, height: int) -> dict:
    """A spectral (PW Doppler) region: time across, velocity up."""
    return {
        "RegionSpatialFormat": 3,
        "RegionDataType": 3,
        "RegionFlags": 0,
        "RegionLocationMinX0": 0,
        "RegionLocationMinY0": 0,
        "RegionLocationMaxX1": width - 1,
        "RegionLocationMaxY1": height - 1,
        "PhysicalUnitsXDirection": 4,
        "PhysicalUnitsYDirection": 7,
        "PhysicalDeltaX": 0.01,
        "PhysicalDeltaY": 1.0,
    }


def echo_frames(n_frames: int = 8, size=(96, 128), seed: int = 0) -> np.ndarray:
    """``T×H×W×3`` uint8 RGB frames: a grey sector with speckle, a dark pulsing cavity and a
    coloured annotation box (so colour conversion errors show)."""
    rng = np.random.default_rng(seed)
    h, w = size
    rows, cols = np.mgrid[0:h, 0:w]
    sector = np.abs(np.arctan2(cols - w / 2, rows + 2)) < 0.7
    out = np.zeros((n_frames, h, w, 3), np.uint8)
    for t in range(n_frames):
        phase = 0.5 - 0.5 * np.cos(2 * np.pi * t / max(n_frames, 1))
        grey = np.where(sector, 110.0, 0.0) * rng.rayleigh(1.0, size) / 1.25
        cavity = ((rows - 0.45 * h) / (0.25 * h * (1 - 0.2 * phase))) ** 2 + (
            (cols - 0.5 * w) / (0.14 * w)
        ) ** 2 <= 1
        grey[cavity] = 20
        out[t] = np.clip(grey, 0, 255).astype(np.uint8)[..., None]
        out[t, 2:8, 2:20] = (220, 40, 40)
        out[t, 2:8, 22:40] = (40, 200, 60)
    return out


def _base_dataset(sop_class: str, study_uid: str | None):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    for key, value in PATIENT.items():
        setattr(ds, key, value)
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20260101", "120000", "1"
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.Modality = "US"
    ds.Manufacturer = "samurai phantom"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "CARDIOLOGY", ""]
    ds.ContentDate, ds.ContentTime = "20260101", "120000"
    ds.PatientOrientation = ""
    return ds


def _grey_lut():
    """A palette that is not the identity, so a reader that ignores the LUT is caught."""
    ramp = np.arange(256)
    return (
        (ramp * 257).astype(np.uint16),
        ((255 - ramp) * 257).astype(np.uint16),
        ((ramp // 2) * 257).astype(np.uint16),
    )


def write_ultrasound(
    path: str | os.PathLike,
    frames: np.ndarray,
    *,
    encoding: str = "native",
    photometric: str = "RGB",
    spacing_cm: tuple[float, float] | None = (0.03, 0.04),
    regions: Sequence[dict] | None = None,
    pixel_spacing_mm: tuple[float, float] | None = None,
    frame_time_ms: float | None = 33.3,
    frame_time_vector: Sequence[float] | None = None,
    cine_rate: float | None = None,
    heart_rate: float | None = 72,
    study_uid: str | None = None,
    number_of_frames: int | None = None,
    jpeg_quality: int = 92,
) -> Path:
    """Write ``frames`` (``T×H×W×3`` RGB or ``T×H×W`` grey uint8) as an ultrasound DICOM.

    ``T == 1`` writes single-frame Ultrasound Image Storage, else Ultrasound Multi-frame.
    ``regions`` overrides the one tissue region made from ``spacing_cm`` (``[]``: none);
    ``number_of_frames`` overrides the header's count (to write an inconsistent file).
    For PALETTE COLOR, grey values index a fixed non-identity palette.
    """
    from pydicom.encaps import encapsulate
    from pydicom.pixels import convert_color_space
    from pydicom.uid import (
        ExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        JPEG2000Lossless,
        JPEGBaseline8Bit,
        JPEGLSLossless,
        RLELossless,
    )

    if encoding not in ENCODINGS:
        raise ValueError(f"encoding {encoding!r}: use one of {ENCODINGS}")
    if photometric not in PHOTOMETRICS:
        raise ValueError(f"photometric {photometric!r}: use one of {PHOTOMETRICS}")
    frames = np.asarray(frames, np.uint8)
    colour = photometric in ("RGB", "YBR_FULL", "YBR_FULL_422")
    if colour and frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=3)
    if not colour and frames.ndim == 4:
        frames = frames.mean(axis=3).round().astype(np.uint8)
    n, h, w = frames.shape[:3]
    ds = _base_dataset(US_MULTIFRAME_STORAGE if n > 1 else US_IMAGE_STORAGE, study_uid)
    ds.Rows, ds.Columns = h, w
    ds.SamplesPerPixel = 3 if colour else 1
    ds.PhotometricInterpretation = photometric
    if colour:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    if n > 1 or number_of_frames is not None:
        ds.NumberOfFrames = number_of_frames if number_of_frames is not None else n
        ds.FrameIncrementPointer = 0x00181063 if frame_time_vector is None else 0x00181065
    if frame_time_ms is not None and frame_time_vector is None:
        ds.FrameTime = frame_time_ms
    if frame_time_vector is not None:
        ds.FrameTimeVector = list(frame_time_vector)
    if cine_rate is not None:
        ds.CineRate = cine_rate
    if heart_rate is not None:
        ds.HeartRate = heart_rate
    if pixel_spacing_mm is not None:
        ds.PixelSpacing = list(pixel_spacing_mm)
    if regions is None and spacing_cm is not None:
        regions = [tissue_region(w, h, spacing_cm)]
    if regions:
        from pydicom.dataset import Dataset

        items = []
        for region in regions:
            item = Dataset()
            for key, value in region.items():
                setattr(item, key, value)
            items.append(item)
        ds.SequenceOfUltrasoundRegions = items
    if photometric == "PALETTE COLOR":
        red, green, blue = _grey_lut()
        for name, lut in (("Red", red), ("Green", green), ("Blue", blue)):
            setattr(ds, f"{name}PaletteColorLookupTableDescriptor", [256, 0, 16])
            setattr(ds, f"{name}PaletteColorLookupTableData", lut.astype("<u2").tobytes())

    if encoding == "jpeg":
        if photometric not in ("YBR_FULL_422", "MONOCHROME2"):
            raise ValueError("JPEG baseline frames are YBR_FULL_422 (colour) or MONOCHROME2")
        from PIL import Image

        encoded = []
        for frame in frames:
            buf = io.BytesIO()
            Image.fromarray(frame).save(buf, "JPEG", quality=jpeg_quality, subsampling="4:2:2")
            encoded.append(buf.getvalue())
        ds.PixelData = encapsulate(encoded)
        ds["PixelData"].VR = "OB"
        ds.LossyImageCompression = "01"
        ds.LossyImageCompressionMethod = "ISO_10918_1"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    else:
        stored = frames
        if photometric in ("YBR_FULL", "YBR_FULL_422"):
            stored = convert_color_space(frames, "RGB", "YBR_FULL")
        if photometric == "MONOCHROME1":
            stored = 255 - frames
        if photometric == "YBR_FULL_422":
            if encoding != "native" and encoding != "implicit":
                raise ValueError(
                    "lossless-compressed data are not YBR_FULL_422 (PS3.5 8.2); use YBR_FULL or RGB"
                )
            # Native 4:2:2 (PS3.3 C.7.6.3.1.2): Y1 Y2 Cb Cr per pixel pair, chroma of the pair's
            # first pixel.
            pairs = stored.reshape(n, h, w // 2, 2, 3)
            stored = np.stack(
                [pairs[..., 0, 0], pairs[..., 1, 0], pairs[..., 0, 1], pairs[..., 0, 2]], axis=-1
            )
        ds.PixelData = np.ascontiguousarray(stored).tobytes()
        ds["PixelData"].VR = "OB" if encoding != "implicit" else "OW"
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if encoding == "implicit" else ExplicitVRLittleEndian
        )
        if encoding in ("rle", "jpegls", "j2k"):
            # Lossless encoders: RLE by pydicom, JPEG-LS by pyjpegls, JPEG 2000 by OpenJPEG
            # (pylibjpeg-openjpeg); the stored values come back exactly.
            tsyntax, plugin = {
                "rle": (RLELossless, "pydicom"),
                "jpegls": (JPEGLSLossless, "pyjpegls"),
                "j2k": (JPEG2000Lossless, "pylibjpeg"),
            }[encoding]
            ds.compress(
                tsyntax,
                np.ascontiguousarray(stored if n > 1 else stored[0]),
                encoding_plugin=plugin,
                generate_instance_uid=False,
            )
            if number_of_frames is not None:
                ds.NumberOfFrames = number_of_frames
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m samurai.dicom.synthetic",
        description="Write a phantom ultrasound DICOM cine (made-up patient, known spacing).",
    )
    parser.add_argument("path", help="the .dcm file to write")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--size", default="96x128", help="HxW (default 96x128)")
    parser.add_argument("--encoding", choices=ENCODINGS, default="jpeg")
    parser.add_argument(
        "--photometric",
        choices=PHOTOMETRICS,
        default=None,
        help="default: YBR_FULL_422 for jpeg, RGB otherwise",
    )
    parser.add_argument("--spacing", type=float, default=0.03, help="cm per pixel (square)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    h, w = (int(v) for v in args.size.lower().split("x"))
    photometric = args.photometric or ("YBR_FULL_422" if args.encoding == "jpeg" else "RGB")
    path = write_ultrasound(
        args.path,
        echo_frames(args.frames, (h, w), args.seed),
        encoding=args.encoding,
        photometric=photometric,
        spacing_cm=(args.spacing, args.spacing),
    )
    print(f"wrote {path} ({args.frames} frames {h}x{w}, {args.encoding}, {photometric})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
