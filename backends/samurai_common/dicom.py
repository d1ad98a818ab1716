"""Ultrasound DICOM as a frame source: frames streamed one at a time, and what the file says
about pixel spacing, frame time, heart rate and the study (hashed, never the patient).

One file of ~600 lines on purpose: the frame reader, the clinical metadata (spacing, frame
time, study hash) and the folder/DICOMDIR listing all read the same pydicom dataset through one
lazy import and one set of checks.

Reads Ultrasound Multi-frame Image Storage and Ultrasound Image Storage (and any other image
object with pixel data) in the transfer syntaxes pydicom's pixel handlers decode: implicit and
explicit VR little endian, JPEG baseline, RLE lossless, JPEG-LS and JPEG 2000 (the last two
through the pylibjpeg plugins of the ``dicom`` extra). Photometric interpretations RGB,
YBR_FULL, YBR_FULL_422, MONOCHROME1/2 and PALETTE COLOR become RGB as PS3.3 C.7.6.3 says;
grey pixels pass through the file's modality rescale and first VOI window (C.11) when it records
one, else their stored range is scaled to 8 bits.

Streaming: the header is read once; each frame's bytes are located in the file (the native
frame's offset, or the encapsulated fragments of the frame, found with pydicom's ``encaps``
parsers without reading their data) and read and decoded on demand. Memory does not grow with
the cine's length. JPEG baseline colour frames (the usual scanner export) go straight to
Pillow's libjpeg-turbo, which decodes, up-samples the chroma and converts YCbCr to RGB in one C
pass (pydicom's own route converts colour in NumPy, about three times slower); everything else
goes through ``pydicom.pixels.get_decoder``.

>>> frames = open_dicom("echo.dcm")             # doctest: +SKIP
>>> frames.info.spacing, frames.info.frame_time_ms, len(frames)  # doctest: +SKIP
((0.0312, 0.0312), 33.3, 87)

Import cost: pydicom is imported when a DICOM is opened, not when this module is.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from samurai_common.frame_source import FrameError, FrameSource, _Cache
from samurai_common.source_info import SourceInfo, check_spacing, study_hash

INSTALL_HINT = "pip install -e '.[dicom]'"
DICOM_SUFFIXES = (".dcm", ".dicom")

US_MULTIFRAME_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"
US_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.6.1"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"

# PS3.3 C.8.5.5.1: Region Spatial Format 1 = 2D, Region Data Type 1 = tissue, units 3 = cm.
_SPATIAL_2D, _DATA_TISSUE, _UNITS_CM = 1, 1, 3
_SPATIAL_FORMATS = {0: "none", 1: "2D", 2: "M-mode", 3: "spectral (Doppler)", 4: "waveform", 5: "graphics"}
_PIXEL_DATA_TAG = 0x7FE00010


class DicomError(FrameError):
    """A DICOM file samurai cannot use as a video; the message names the file, the problem and
    the fix."""


def _pydicom():
    try:
        import pydicom
        import pydicom.encaps  # noqa: F401
        import pydicom.pixels  # noqa: F401
    except ImportError as err:
        raise DicomError(
            f"reading DICOM needs pydicom, which is not installed ({err}); install the DICOM "
            f"extra: {INSTALL_HINT}"
        ) from err
    return pydicom


def is_dicom_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` starts with the DICOM file preamble (128 bytes, then ``DICM``)."""
    try:
        with open(path, "rb") as fp:
            head = fp.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:] == b"DICM"


def looks_like_dicom(path: Path) -> bool:
    """A ``.dcm``/``.dicom`` file, or a suffix-less file with the DICOM preamble (PACS exports
    name files by UID or number)."""
    suffix = path.suffix.lower()
    if suffix in DICOM_SUFFIXES:
        return True
    return (suffix == "" or suffix[1:].isdigit()) and path.is_file() and is_dicom_file(path)


class _Header:
    """A file's dataset without pixel data, and where its pixel data value lies."""

    def __init__(self, path: Path):
        pydicom = _pydicom()
        self.path = path
        self.size = path.stat().st_size
        try:
            with open(path, "rb") as fp:
                self.ds = pydicom.dcmread(fp, stop_before_pixels=True)
                self.value_offset, self.length = self._pixel_element(fp)
        except (pydicom.errors.InvalidDicomError, EOFError, struct.error) as err:
            raise DicomError(
                f"{str(path)!r} is not a readable DICOM file ({err}); it is damaged or "
                f"truncated: export it again from the scanner or PACS"
            ) from err
        meta = getattr(self.ds, "file_meta", None)
        tsyntax = meta.get("TransferSyntaxUID") if meta is not None else None
        if tsyntax is None:
            raise DicomError(
                f"{str(path)!r} has no Transfer Syntax UID in its file meta information (not in "
                f"the DICOM file format); re-export it as a DICOM Part 10 file"
            )
        self.tsyntax = pydicom.uid.UID(tsyntax)

    def _pixel_element(self, fp) -> tuple[int | None, int]:
        """After the header: the offset of the Pixel Data value and its length (0xFFFFFFFF for
        encapsulated data), or (None, 0) when the file has no Pixel Data."""
        start = fp.tell()
        head = fp.read(8)
        if len(head) < 8:
            return None, 0
        group, elem = struct.unpack("<HH", head[:4])
        if (group << 16 | elem) != _PIXEL_DATA_TAG:
            return None, 0
        meta = self.ds.file_meta
        implicit = meta.get("TransferSyntaxUID") == "1.2.840.10008.1.2"
        if implicit:
            (length,) = struct.unpack("<L", head[4:8])
            return start + 8, length
        extra = fp.read(4)
        if len(extra) < 4:
            raise EOFError("the file ends inside the Pixel Data element header")
        (length,) = struct.unpack("<L", extra)
        return start + 12, length

    @property
    def has_pixels(self) -> bool:
        return self.value_offset is not None

    @property
    def number_of_frames(self) -> int:
        value = self.ds.get("NumberOfFrames", 1)
        try:
            return max(int(value), 1)
        except (TypeError, ValueError):
            return 1

    @property
    def sop_class_name(self) -> str:
        uid = self.ds.get("SOPClassUID")
        return getattr(uid, "name", None) or str(uid or "unknown SOP class")


# --- clinical metadata -------------------------------------------------------------------------


def _tissue_region_spacing(
    ds, where: str, several_ok: bool = False
) -> tuple[tuple[float, float] | None, str | None]:
    """The spacing of the one 2D tissue region (PS3.3 C.8.5.5), or (None, None) without regions.

    Several tissue regions with the same calibration (a dual display of one probe) are one
    spacing; with different calibrations samurai cannot know which holds the heart and stops.
    """
    regions = list(ds.get("SequenceOfUltrasoundRegions", []) or [])
    if not regions:
        return None, None
    tissue = [
        (i, r)
        for i, r in enumerate(regions)
        if int(r.get("RegionSpatialFormat", -1)) == _SPATIAL_2D
        and int(r.get("RegionDataType", -1)) == _DATA_TISSUE
    ]
    if not tissue:
        kinds = sorted(
            {_SPATIAL_FORMATS.get(int(r.get("RegionSpatialFormat", 0)), "unknown") for r in regions}
        )
        raise DicomError(
            f"{where}: its Sequence of Ultrasound Regions holds only {', '.join(kinds)} regions, "
            f"no 2D tissue (B-mode) image; samurai segments 2D echo cines: export the B-mode "
            f"clip instead of the Doppler or M-mode recording"
        )
    found = []
    for i, r in tissue:
        ux, uy = int(r.get("PhysicalUnitsXDirection", 0)), int(r.get("PhysicalUnitsYDirection", 0))
        if ux != _UNITS_CM or uy != _UNITS_CM:
            continue  # a region not calibrated in cm gives no spacing
        sx, sy = abs(float(r.PhysicalDeltaX)), abs(float(r.PhysicalDeltaY))
        found.append((i, check_spacing((sx, sy), f"{where}: ultrasound region {i}")))
    if not found:
        return None, None
    spacings = {s for _, s in found}
    if len(spacings) > 1 and several_ok:
        return None, None
    if len(spacings) > 1:
        listing = "; ".join(f"region {i}: {s[0]:.5g} x {s[1]:.5g} cm" for i, s in found)
        raise DicomError(
            f"{where}: it holds several 2D tissue regions with different calibrations ({listing}), "
            f"as a dual or biplane display does; samurai cannot tell which one shows the heart: "
            f"export a single-view clip, or pass the spacing of the view you segment with "
            f"--spacing CM"
        )
    return found[0][1], f"DICOM Sequence of Ultrasound Regions (2D tissue region {found[0][0]})"


def _frame_time_ms(ds) -> float | None:
    if ds.get("FrameTime") not in (None, ""):
        return float(ds.FrameTime)
    vector = ds.get("FrameTimeVector")
    if vector is not None:
        # PS3.3 C.7.6.5.1.2: the first value is 0, the others the time since the previous frame.
        steps = [float(v) for v in list(vector)[1:]]
        if steps:
            return float(np.mean(steps))
    if ds.get("CineRate") not in (None, ""):
        rate = float(ds.CineRate)
        if rate > 0:
            return 1000.0 / rate
    return None


def source_info(
    ds,
    where: str = "DICOM file",
    salt: str = "",
    hash_length: int = 12,
    spacing: tuple[float, float] | None = None,
) -> SourceInfo:
    """Spacing, frame time, heart rate and a hashed study identity from a DICOM dataset.

    Spacing: ``spacing`` when given (``--spacing``: it wins over the file); else the 2D tissue
    region of the Sequence of Ultrasound Regions when calibrated in cm; else Pixel Spacing (mm,
    row then column); else unknown. Raises DicomError for Doppler- or M-mode-only files and,
    without ``spacing``, for several tissue regions with different calibrations.
    """
    if spacing is not None:
        _tissue_region_spacing(ds, where, several_ok=True)  # still refuses Doppler-only files
        spacing, spacing_source = check_spacing(spacing, f"{where}: --spacing"), "--spacing"
    else:
        spacing, spacing_source = _tissue_region_spacing(ds, where)
    if spacing is None and ds.get("PixelSpacing") is not None:
        row_mm, col_mm = (float(v) for v in ds.PixelSpacing)
        spacing = check_spacing((col_mm / 10.0, row_mm / 10.0), f"{where}: Pixel Spacing")
        spacing_source = "DICOM Pixel Spacing"
    heart_rate = ds.get("HeartRate")
    uid = ds.get("StudyInstanceUID")
    return SourceInfo(
        spacing=spacing,
        spacing_source=spacing_source,
        frame_time_ms=_frame_time_ms(ds),
        heart_rate=float(heart_rate) if heart_rate not in (None, "") else None,
        study_hash=study_hash(str(uid), salt=salt, length=hash_length) if uid else None,
    )


# --- frames ------------------------------------------------------------------------------------


class DicomFrames(FrameSource):
    """The frames of one DICOM image object, decoded one at a time (see the module docstring).

    ``min_frames``: refuse files with fewer frames (2 where a cine is needed); ``spacing``:
    ``(sx_cm, sy_cm)`` from ``--spacing``, used instead of the file's; ``salt`` and
    ``hash_length``: of the study hash (see :func:`samurai_common.source_info.study_hash`).

    Attributes beside the FrameSource ones: ``info`` (:class:`SourceInfo`), ``path``,
    ``transfer_syntax`` (UID), ``photometric``, ``sop_instance_uid``, ``sop_class_uid``.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        min_frames: int = 1,
        spacing: tuple[float, float] | None = None,
        salt: str = "",
        hash_length: int = 12,
        cache_size: int = 4,
    ):
        self.path = Path(path)
        self.name = str(self.path)
        header = _Header(self.path)
        self._header = header
        ds = header.ds
        where = repr(self.name)
        if not header.has_pixels and ("SOPClassUID" not in ds or "Rows" in ds):
            raise DicomError(
                f"{where} is truncated or damaged: it ends before its pixel data "
                f"({header.size} bytes); copy or export it again"
            )
        if not header.has_pixels:
            raise DicomError(
                f"{where} holds no pixel data (a {header.sop_class_name} object); it is not an "
                f"image: pass the ultrasound cine export of the study"
            )
        self.info = source_info(ds, where, salt=salt, hash_length=hash_length, spacing=spacing)
        self.fps = self.info.fps
        self.transfer_syntax = header.tsyntax
        self.photometric = str(ds.get("PhotometricInterpretation", "")).strip()
        self.sop_instance_uid = str(ds.get("SOPInstanceUID", ""))
        self.sop_class_uid = str(ds.get("SOPClassUID", ""))
        self.height, self.width = int(ds.Rows), int(ds.Columns)
        self._n = header.number_of_frames
        if self._n < min_frames:
            raise DicomError(
                f"{where} holds a single image ({self._n} frame), not a cine; a video is needed "
                f"here: export the clip as a multi-frame (cine) object"
            )
        self._decoder, self._opts = self._decoder_for(ds)
        self._fast_jpeg = (
            str(self.transfer_syntax) == JPEG_BASELINE
            and int(ds.get("BitsAllocated", 8)) == 8
            and self.photometric in ("YBR_FULL_422", "YBR_FULL", "MONOCHROME2")
        )
        if self.transfer_syntax.is_encapsulated:
            self._frame_spans = self._locate_encapsulated()
        else:
            self._frame_spans = self._locate_native()
        self._fp = open(self.path, "rb")
        self._cache = _Cache(cache_size)

    # The decoder: pydicom's, chosen by transfer syntax; a missing plugin is a user error.
    def _decoder_for(self, ds):
        pydicom = _pydicom()
        from pydicom.pixels import get_decoder
        from pydicom.pixels.utils import as_pixel_options

        tsyntax = self.transfer_syntax
        try:
            decoder = get_decoder(tsyntax)
        except NotImplementedError:
            raise DicomError(
                f"{self.name!r} uses transfer syntax {tsyntax} ({tsyntax.name}), which pydicom "
                f"{pydicom.__version__} cannot decode; convert it to an uncompressed or JPEG "
                f"baseline file, e.g. with DCMTK: dcmdjpeg in.dcm out.dcm, or gdcmconv --raw"
            ) from None
        if not decoder.is_available:
            missing = "; ".join(decoder.missing_dependencies) or "a decoding plugin"
            raise DicomError(
                f"{self.name!r} is compressed as {tsyntax.name}, and no decoder for it is "
                f"installed (needs {missing}); install the DICOM extra, which brings pylibjpeg "
                f"and its plugins: {INSTALL_HINT}"
            )
        opts = as_pixel_options(
            ds, transfer_syntax_uid=tsyntax, number_of_frames=1, pixel_keyword="PixelData"
        )
        return decoder, opts

    def _mismatch(self, found: int, unit: str) -> DicomError:
        return DicomError(
            f"{self.name!r} says it holds {self._n} frames (Number of Frames) but its pixel data "
            f"holds {found} {unit}; the file was written inconsistently or cut short: export it "
            f"again from the scanner or PACS"
        )

    def _truncated(self, where: str) -> DicomError:
        return DicomError(
            f"{self.name!r} is truncated: the file ends inside {where} ({self._header.size} "
            f"bytes); copy or export it again"
        )

    def _locate_native(self) -> list[list[tuple[int, int]]]:
        from pydicom.pixels.utils import get_expected_length

        header = self._header
        frame_len = get_expected_length(header.ds, "bytes") // self._n
        have = header.length // frame_len if frame_len else 0
        if have != self._n:
            raise self._mismatch(have, f"frames of {frame_len} bytes ({header.length} bytes)")
        if header.value_offset + self._n * frame_len > header.size:
            raise self._truncated(f"frame {(header.size - header.value_offset) // frame_len}")
        return [[(header.value_offset + i * frame_len, frame_len)] for i in range(self._n)]

    def _locate_encapsulated(self) -> list[list[tuple[int, int]]]:
        """Each frame's fragments as (data offset, length), found by reading item headers only."""
        from pydicom.encaps import parse_basic_offsets, parse_fragments

        header = self._header
        with open(self.path, "rb") as fp:
            fp.seek(header.value_offset)
            try:
                offsets = parse_basic_offsets(fp)
                first = fp.tell()
                _, starts = parse_fragments(fp)
            except (ValueError, struct.error) as err:
                raise DicomError(
                    f"{self.name!r}: its encapsulated pixel data cannot be parsed ({err}); the file "
                    f"is damaged or truncated: export it again"
                ) from err
            fragments = []
            for start in starts:
                fp.seek(start + 4)
                raw = fp.read(4)
                if len(raw) < 4:
                    raise self._truncated(f"fragment {len(fragments)}")
                (length,) = struct.unpack("<L", raw)
                if start + 8 + length > header.size:
                    raise self._truncated(f"fragment {len(fragments)}")
                fragments.append((start + 8, length))
            if not fragments:
                raise self._mismatch(0, "fragments")
            if offsets:
                if len(offsets) != self._n:
                    raise self._mismatch(len(offsets), "entries in its Basic Offset Table")
                bounds = [first + o for o in offsets] + [header.size + 1]
                return [
                    [f for f in fragments if bounds[k] <= f[0] - 8 < bounds[k + 1]] for k in range(self._n)
                ]
            if len(fragments) == self._n:
                return [[f] for f in fragments]
            if self._n == 1:
                return [fragments]
            # Several fragments per frame without an offset table: a frame starts where a
            # fragment starts with a JPEG SOI or a JPEG 2000 codestream marker (PS3.5 A.4).
            heads = []
            for off, _ in fragments:
                fp.seek(off)
                heads.append(fp.read(2) in (b"\xff\xd8", b"\xff\x4f"))
        frames: list[list[tuple[int, int]]] = []
        for frag, is_start in zip(fragments, heads):
            if is_start or not frames:
                frames.append([])
            frames[-1].append(frag)
        if len(frames) != self._n:
            raise self._mismatch(len(frames), "frames")
        return frames

    def __len__(self) -> int:
        return self._n

    def frame_bytes(self, index: int) -> bytes:
        """The stored (encoded) bytes of frame ``index``, as in the file."""
        parts = []
        for offset, length in self._frame_spans[index]:
            self._fp.seek(offset)
            data = self._fp.read(length)
            if len(data) < length:
                raise self._truncated(f"frame {index}")
            parts.append(data)
        return b"".join(parts)

    def _read(self, index: int) -> np.ndarray:
        frame = self._cache.get(index)
        if frame is not None:
            return frame
        data = self.frame_bytes(index)
        try:
            frame = self._decode(data)
        except DicomError:
            raise
        except Exception as err:  # the codecs raise many types for damaged data
            raise DicomError(
                f"cannot decode frame {index} of {self.name!r} ({self.transfer_syntax.name}): "
                f"{err}; the file is damaged: export it again"
            ) from err
        self._cache.put(index, frame)
        return frame

    def _decode(self, data: bytes) -> np.ndarray:
        if self._fast_jpeg:
            frame = _pillow_jpeg(data)
            if frame is not None:
                return _as_rgb8(frame, 8, False, 0)
        from pydicom.encaps import encapsulate

        src = encapsulate([data]) if self.transfer_syntax.is_encapsulated else data
        arr, _ = self._decoder.as_array(src, index=0, **self._opts)
        return self._to_rgb(arr)

    def _to_rgb(self, arr: np.ndarray) -> np.ndarray:
        ds = self._header.ds
        bits = int(ds.get("BitsStored", 8))
        signed = int(ds.get("PixelRepresentation", 0)) == 1
        if self.photometric == "PALETTE COLOR":
            from pydicom.pixels import apply_color_lut

            lut_bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
            return _as_rgb8(apply_color_lut(arr, ds), lut_bits, False, 0)
        window = _voi_window(ds) if self.photometric.startswith("MONOCHROME") else None
        if window is not None:
            return _windowed_rgb8(arr, ds, window, self.photometric == "MONOCHROME1")
        return _as_rgb8(arr, bits, signed, self.photometric == "MONOCHROME1")

    def close(self) -> None:
        """Close the file."""
        self._fp.close()

    def __del__(self):
        fp = getattr(self, "_fp", None)
        if fp is not None:
            fp.close()


def _pillow_jpeg(data: bytes) -> np.ndarray | None:
    """A JPEG baseline frame decoded by Pillow (libjpeg-turbo converts YCbCr to RGB with the
    JFIF full-range equations, which are PS3.3's YBR_FULL ones), or None when the codestream
    declares it holds RGB untransformed (an Adobe marker with transform 0), which pydicom's
    route handles."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        if img.info.get("adobe_transform") == 0 or img.mode not in ("RGB", "L"):
            return None
        img.load()
        return np.asarray(img)


def _voi_window(ds) -> tuple[float, float, str] | None:
    """The file's first VOI window as ``(center, width, function)`` (PS3.3 C.11.2), or None
    when it records none or an unusable one (width below 1, or below 2 for LINEAR, which the
    standard forbids): then the stored range is shown whole."""
    if "WindowCenter" not in ds or "WindowWidth" not in ds:
        return None

    def first(value) -> float:  # a multi-valued element lists alternative windows
        return float(value if isinstance(value, (int, float, str)) else value[0])

    try:
        center, width = first(ds.WindowCenter), first(ds.WindowWidth)
    except (TypeError, ValueError, IndexError):
        return None
    function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    if function not in ("LINEAR", "LINEAR_EXACT", "SIGMOID"):
        function = "LINEAR"
    if not (np.isfinite(center) and np.isfinite(width)) or width < (2 if function == "LINEAR" else 1):
        return None
    return center, width, function


def _windowed_rgb8(arr: np.ndarray, ds, window: tuple[float, float, str], invert: bool) -> np.ndarray:
    """Grey pixels through the display pipeline of PS3.3 C.11: the modality rescale (slope,
    intercept), then the VOI window onto 0..255 (LINEAR as C.11.2.1.2.1, LINEAR_EXACT and SIGMOID
    as C.11.2.1.3), then MONOCHROME1's inversion, grey repeated into three channels."""
    x = arr.astype(np.float64) * float(ds.get("RescaleSlope", 1) or 1) + float(
        ds.get("RescaleIntercept", 0) or 0
    )
    center, width, function = window
    if function == "LINEAR":
        y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    elif function == "LINEAR_EXACT":
        y = ((x - center) / width + 0.5) * 255.0
    else:
        y = 255.0 / (1.0 + np.exp(-4.0 * (x - center) / width))
    out = np.round(np.clip(y, 0.0, 255.0)).astype(np.uint8)
    if invert:
        out = 255 - out
    return np.ascontiguousarray(np.repeat(out[:, :, None], 3, axis=2) if out.ndim == 2 else out)


def _as_rgb8(arr: np.ndarray, bits: int, signed: bool, invert: bool) -> np.ndarray:
    """Decoded pixels as ``H×W×3`` uint8: MONOCHROME1 inverted (0 is white, PS3.3 C.7.6.3.1.2),
    more than 8 stored bits scaled down linearly over the stored range (used where the file
    records no VOI window; with one, :func:`_windowed_rgb8`), grey repeated into three channels."""
    if signed:
        arr = arr.astype(np.int32) + (1 << (bits - 1))
    if invert:
        arr = ((1 << bits) - 1) - arr.astype(np.int32)
    if bits > 8 or arr.dtype != np.uint8:
        arr = (np.clip(arr, 0, (1 << bits) - 1).astype(np.uint32) >> max(bits - 8, 0)).astype(np.uint8)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    return np.ascontiguousarray(arr)


def open_dicom(path: str | os.PathLike, **kwargs: Any) -> DicomFrames:
    """Open one DICOM image object as a :class:`DicomFrames` (keyword arguments as there)."""
    return DicomFrames(path, **kwargs)


# --- folders and DICOMDIR ----------------------------------------------------------------------

_NON_IMAGE_CLASSES = (
    "Structured Report",
    "SR Storage",
    "Encapsulated",
    "Presentation State",
    "Key Object",
    "Segmentation",
)


def classify(path: Path, min_frames: int = 2) -> str | None:
    """None when ``path`` is a DICOM cine samurai can track, else why it is not (one line)."""
    try:
        header = _Header(path)
    except DicomError as err:
        return str(err)
    name = header.sop_class_name
    if any(word in name for word in _NON_IMAGE_CLASSES):
        return f"not an image ({name})"
    if not header.has_pixels:  # an image object or header without its pixels was cut short
        damaged = "SOPClassUID" not in header.ds or "Rows" in header.ds or "Image" in name
        return f"truncated or damaged ({name}, no pixel data)" if damaged else f"not an image ({name})"
    if header.number_of_frames < min_frames:
        return f"a single image, not a cine ({name}, {header.number_of_frames} frame)"
    return None


def _dicomdir_files(dicomdir: Path) -> list[Path]:
    """The files a DICOMDIR's directory records name (PS3.3 F.3: Referenced File ID, path
    components relative to the DICOMDIR's folder)."""
    pydicom = _pydicom()
    try:
        records = pydicom.dcmread(dicomdir).DirectoryRecordSequence
    except Exception as err:  # pydicom raises several types for a broken DICOMDIR
        raise DicomError(
            f"cannot read the DICOMDIR {str(dicomdir)!r} ({err}); pass the folder of DICOM files instead"
        ) from err
    files = []
    for record in records:
        file_id = record.get("ReferencedFileID")
        if file_id:
            parts = [file_id] if isinstance(file_id, str) else list(file_id)
            files.append(dicomdir.parent.joinpath(*parts))
    return files


def list_dicom_videos(
    source: str | os.PathLike,
    *,
    min_frames: int = 2,
    recursive: bool = True,
    on_skip: Callable[[str], None] | None = None,
) -> list[Path]:
    """The DICOM cines in a folder (searched recursively) or listed by a DICOMDIR, sorted.

    Files that are not cines (SR, encapsulated PDF, single images, damaged files) are left out
    and ``on_skip`` receives one line each saying which and why. Other (non-DICOM) files are
    ignored. Raises DicomError when nothing is left.
    """
    source = Path(source)
    if source.is_dir() and (source / "DICOMDIR").is_file():
        source = source / "DICOMDIR"
    if source.is_file() and source.name.upper() == "DICOMDIR":
        candidates = _dicomdir_files(source)
    elif source.is_dir():
        walker = source.rglob("*") if recursive else source.iterdir()
        candidates = sorted(
            p for p in walker if p.is_file() and p.name.upper() != "DICOMDIR" and is_dicom_file(p)
        )
    else:
        raise DicomError(f"{str(source)!r} is neither a folder nor a DICOMDIR; pass one of them")
    videos = []
    for path in candidates:
        reason = classify(path, min_frames=min_frames)
        if reason is None:
            videos.append(path)
        elif on_skip is not None:
            on_skip(f"skipped {str(path)!r}: {reason}")
    if not videos:
        raise DicomError(
            f"no DICOM cine in {str(source)!r} ({len(candidates)} DICOM files looked at); pass "
            f"the folder of the study's ultrasound cine exports"
        )
    return videos


__all__ = [
    "DICOM_SUFFIXES",
    "DicomError",
    "DicomFrames",
    "INSTALL_HINT",
    "classify",
    "is_dicom_file",
    "list_dicom_videos",
    "looks_like_dicom",
    "open_dicom",
    "source_info",
]
