"""The motion models of the Kalman filter, by name (see ``docs/core.md``).

A leaf module with no imports, so that command-line parsers can list the choices without
loading JAX.
"""

MOTION_MODELS = ("xyah", "xywh", "xyxy")  # official parity (centre, aspect, height), seed, corners
