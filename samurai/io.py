"""Compatibility re-exports: the names ``samurai.io`` held before it was split by concern.

New code imports from the module that holds each name: ``samurai.output`` (``OutputDir``,
atomic writes), ``samurai.formats`` (PNG masks, LaSOT boxes, CSV, JSON, calibration files),
``samurai.drawing`` (overlay, palette), ``samurai.video_writers`` (GIF, MP4) and
``samurai.provenance`` (file hashes, package versions). No module of the project imports this
one (tests/test_layers.py).
"""

from samurai.drawing import PALETTE, draw_box, overlay, stamp  # noqa: F401
from samurai.formats import (  # noqa: F401
    load_calibration,
    read_lasot_boxes,
    read_mask_png,
    save_calibration,
    write_csv,
    write_json,
    write_lasot_boxes,
    write_png,
)
from samurai.output import (  # noqa: F401
    MANIFEST,
    PARTIAL_MARKER,
    OutputDir,
    OutputError,
    atomic_write_bytes,
    atomic_write_text,
    package_versions,
    written_by_samurai,
)
from samurai.provenance import file_sha256, fingerprint  # noqa: F401
from samurai.video_writers import MP4Writer, mp4_available, write_gif, write_mp4  # noqa: F401
