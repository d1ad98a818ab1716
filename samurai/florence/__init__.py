"""Florence-2 as a chamber finder: phrase grounding (boxes) and referring segmentation (polygons).

Users bring a local Florence-2 folder in transformers format (model + processor, base or
large); :mod:`samurai.train.florence` fine-tunes it with LoRA on echo data; the ``florence2``
prompter (:mod:`samurai.prompters.florence2`) and ``samurai eval --methods florence2`` use it.
See docs/training.md.
"""

from samurai.florence.model import (
    TASK_BOX,
    TASK_POLYGON,
    FlorenceError,
    FlorenceFinder,
    box_target,
    load_florence,
    phrase_for,
    polygon_target,
    write_tiny_florence,
)

__all__ = [
    "TASK_BOX",
    "TASK_POLYGON",
    "FlorenceError",
    "FlorenceFinder",
    "box_target",
    "load_florence",
    "phrase_for",
    "polygon_target",
    "write_tiny_florence",
]
