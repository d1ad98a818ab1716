"""Per-frame image segmenters that echo papers compare trackers against (docs/evaluation.md).

A baseline segments each frame on its own from box prompts: SAM 2's image predictor
(:mod:`samurai.baselines.sam2_image`) and MedSAM (:mod:`samurai.baselines.medsam`). Where the
boxes come from is the *protocol* (:mod:`samurai.baselines.protocols`): the truth box on every
frame (``oracle-box``) or the truth box on the first frame and the method's own previous mask
after that (``first-box``).
"""

from samurai.baselines.protocols import PROTOCOLS, FrameSegmenter, segment_case

__all__ = ["PROTOCOLS", "FrameSegmenter", "segment_case"]
