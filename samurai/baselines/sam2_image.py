"""``sam2-image``: SAM 2's image predictor, frame by frame, on the video model's own weights.

sam2's ``SAM2ImagePredictor`` wraps any ``SAM2Base``; the video predictor is one, so the image
baseline runs the very checkpoint (and image size) the tracker runs, without its memory.
A box prompt gives one mask (``multimask_output=False``, SAM's advice for unambiguous prompts).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class Sam2ImageSegmenter:
    """:class:`samurai.baselines.FrameSegmenter` on ``sam2.sam2_image_predictor``."""

    name = "sam2-image"

    def __init__(self, sam2_model):
        import warnings

        from sam2.sam2_image_predictor import SAM2ImagePredictor

        # sam2 1.1.0 builds its image transforms with torch.jit.script, which newer torch
        # deprecates with a FutureWarning; the transforms still work, the notice is not ours.
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r".*torch\.jit\.script.* is deprecated", category=FutureWarning
            )
            self.predictor = SAM2ImagePredictor(sam2_model)
        # sam2 1.1.0 fixes the backbone's feature sizes for 1024 px input; the hiera strides
        # (4, 8, 16) give them for the model's own size (``--image-size``).
        size = int(sam2_model.image_size)
        self.predictor._bb_feat_sizes = [(size // s, size // s) for s in (4, 8, 16)]

    def encode(self, frames: Sequence[np.ndarray]) -> None:
        import torch

        with torch.inference_mode():
            self.predictor.set_image_batch(list(frames))

    def segment(self, index: int, boxes: np.ndarray) -> np.ndarray:
        import torch

        # What SAM2ImagePredictor.predict_batch does for image `index`, for one image at a
        # time: the first-box protocol needs frame t's masks before frame t+1's boxes.
        p = self.predictor
        with torch.inference_mode():
            _, _, _, box = p._prep_prompts(
                None, None, np.asarray(boxes, np.float32), None, True, img_idx=index
            )
            masks, _, _ = p._predict(None, None, box, None, multimask_output=False, img_idx=index)
        return masks[:, 0].cpu().numpy()
