"""A video input of ``samurai track`` with what the clinic knows about it: the frames (any
source ``samurai_common.frames.open_frames`` reads; an ultrasound DICOM as a cine) and its
:class:`~samurai_common.source_info.SourceInfo` (spacing, frame time, heart rate, study hash).

- DICOM: the file's spacing, frame time and heart rate; ``spacing`` (``--spacing``) replaces
  the file's spacing (and settles several tissue regions); the study hash is salted with
  ``salt`` (``--study-salt``), else ``$SAMURAI_STUDY_SALT``.
- Anything else: ``spacing`` when given, else unknown (values in pixels); the frame time from
  the video's own frame rate when it has one.
"""

from __future__ import annotations

from samurai.errors import UserError


def parse_spacing(spacing):
    """``spacing`` as ``(sx_cm, sy_cm)``: None, a pair, or ``--spacing`` text (``CM``, ``SX,SY``
    or ``SXxSY``); a bad value is a UserError naming the fix."""
    from samurai_common.source_info import SpacingError, check_spacing, parse_spacing_flag

    if spacing is None:
        return None
    try:
        if isinstance(spacing, str):
            return parse_spacing_flag(spacing)
        return check_spacing(spacing, "spacing")
    except SpacingError as err:
        raise UserError(str(err)) from None


def open_video(video, *, spacing=None, salt: str | None = None):
    """``(frames, info)`` of one video to track (see the module docstring); a DICOM must be a
    cine (two frames or more). Raises FileNotFoundError or FrameError (a DicomError for a
    DICOM) for what cannot be read."""
    from pathlib import Path

    from samurai_common.frames import open_frames
    from samurai_common.source_info import SourceInfo

    spacing = parse_spacing(spacing)
    path = Path(str(video))
    if path.is_file():
        from samurai_common import dicom

        if dicom.looks_like_dicom(path):
            from samurai.dicom.privacy import study_salt

            frames = dicom.DicomFrames(
                path, min_frames=2, spacing=spacing, salt=study_salt() if salt is None else salt
            )
            return frames, frames.info
    frames = open_frames(str(video))
    fps = getattr(frames, "fps", None)
    return frames, SourceInfo(
        spacing=spacing,
        spacing_source="--spacing" if spacing else None,
        frame_time_ms=1000.0 / fps if fps else None,
    )


__all__ = ["open_video", "parse_spacing"]
