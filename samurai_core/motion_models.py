"""The motion models of the Kalman filter, by name (see ``docs/core.md``).

A leaf module with no imports, so that command-line parsers can list the choices without
loading JAX.
"""

MOTION_MODELS = ("xyah", "xywh", "xyxy")  # official parity (centre, aspect, height), seed, corners


def check_motion_model(motion_model: str) -> None:
    """Raise ValueError unless ``motion_model`` is one of ``MOTION_MODELS`` (the one check the
    config, the Kalman filter and the calibration share)."""
    if motion_model not in MOTION_MODELS:
        raise ValueError(f"motion_model={motion_model!r} is not known; use one of {MOTION_MODELS}")
