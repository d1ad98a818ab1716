"""``HFVideoPredictor``: the SAM 2 predictor's calls (``init_state``, ``add_new_points_or_box``,
``add_new_mask``, ``propagate_in_video``, ``frame_scores``) on a transformers tracker, so the
CLI drives both backends the same way.

Frames are streamed one by one into the library's session (``model(..., frame=...)``) and
released once tracked, as are per-frame outputs beyond the look-back window: memory stays flat
on long videos. Python users of transformers need none of this: they keep the library's own
session API on the model of :func:`samurai_hf.build_samurai_hf_model`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from samurai_common.frames import FrameSource, open_frames


class HFVideoPredictor:
    """A SAMURAI transformers video model and its processor behind SAM 2's predictor calls.

    Args:
      model: from :func:`samurai_hf.build_samurai_hf_model`.
      processor: the model's processor (:func:`samurai_hf.load_processor`).
      config: the ``SamuraiConfig`` used when SAMURAI is on (default: the model's, else
        ``model.samurai_preset("tiny")``); its memory sizes must be the model's.
    """

    def __init__(self, model, processor, config=None):
        self.model = model
        self.processor = processor
        self.device = next(model.parameters()).device
        self.samurai = model.samurai_config is not None
        self.samurai_config = config or model.samurai_config or model.samurai_preset("tiny")
        self.configure_samurai(self.samurai, self.samurai_config)

    @property
    def batch_objects(self) -> bool:
        """All tracked objects of a frame in one pass (the model's ``batch_objects``); settable
        between videos."""
        return self.model.batch_objects

    @batch_objects.setter
    def batch_objects(self, value: bool) -> None:
        self.model.batch_objects = bool(value)

    @property
    def image_size(self) -> int:
        """The model's input size in pixels (what ``--image-size`` sets for SAM 2 models)."""
        return int(self.model.image_size)

    def configure_samurai(self, enabled: bool = True, config=None) -> None:
        """SAMURAI on (with ``config``) or off (the library's tracker) for videos started next."""
        if config is not None:
            self.samurai_config = self.model.check_samurai_config(config)
        self.samurai = bool(enabled)
        self.model.configure_samurai(self.samurai_config if enabled else None)

    def init_state(self, video, samurai: bool | None = None) -> dict:
        """Start a video (a path, a FrameSource, arrays or an iterator: ``open_frames`` rules).

        ``samurai`` switches SAMURAI on or off for this video only (None: as configured); the
        predictor and the model are left unchanged.
        """
        frames = video if isinstance(video, FrameSource) else open_frames(video)
        session = self.processor.init_video_session(inference_device=self.device)
        if samurai is not None:
            session.samurai_config = self.samurai_config if samurai else None
        return {"session": session, "frames": frames, "size": (frames.height, frames.width)}

    def _add_inputs(self, state, **inputs) -> None:
        session = state["session"]
        waiting = list(session.obj_with_new_inputs)
        self.processor.add_inputs_to_inference_session(session, **inputs)
        # The processor replaces the list of objects awaiting their prompt with this call's;
        # objects prompted by earlier calls (one call per object here) still await theirs.
        session.obj_with_new_inputs = waiting + [o for o in session.obj_with_new_inputs if o not in waiting]

    def add_new_points_or_box(self, state, frame_idx: int, obj_id, box) -> None:
        """A box ``[x0, y0, x1, y1]`` (pixels of the video) for ``obj_id`` on ``frame_idx``."""
        self._add_inputs(
            state,
            frame_idx=frame_idx,
            obj_ids=obj_id,
            input_boxes=[[[float(v) for v in np.asarray(box).reshape(4)]]],
            original_size=state["size"],
        )

    def add_new_mask(self, state, frame_idx: int, obj_id, mask) -> None:
        """A ``H×W`` mask (the video's resolution) for ``obj_id`` on ``frame_idx``."""
        self._add_inputs(state, frame_idx=frame_idx, obj_ids=obj_id, input_masks=np.asarray(mask, bool))

    def look_back(self) -> int:
        """How many frames back a tracked frame may read a per-frame output: object pointers,
        the library's memory frames and, with SAMURAI, the core's window."""
        cfg = self.model.config
        reach = max(cfg.max_object_pointers_in_encoder - 1, self.model.num_maskmem - 1)
        if self.samurai:
            reach = max(reach, self.samurai_config.memory_window)
        return reach

    @torch.inference_mode()
    def propagate_in_video(self, state) -> Iterator[tuple[int, list, torch.Tensor]]:
        """Track from frame 0 until the frames end (``FrameSource.available``: past a container's
        announced count, or up to a frame that cannot be read); yields ``(frame_idx, obj_ids,
        logits [N, 1, H, W])`` at the video's resolution."""
        session, frames = state["session"], state["frames"]
        height, width = state["size"]
        reach = self.look_back()
        t = -1
        while frames.available(t + 1):
            t += 1
            pixels = self.processor(images=frames[t], device=self.device, return_tensors="pt").pixel_values[0]
            out = self.model(inference_session=session, frame_idx=t, frame=pixels)
            logits = self.processor.post_process_masks(
                [out.pred_masks], original_sizes=[[height, width]], binarize=False
            )[0]
            # Streaming keeps every frame and output; the next frame reads only these.
            session.processed_frames.pop(t, None)
            for outputs in session.output_dict_per_obj.values():
                non_cond = outputs["non_cond_frame_outputs"]
                for f in [f for f in non_cond if t - f >= reach]:
                    del non_cond[f]
            yield t, list(out.object_ids), logits

    def frame_scores(self, state, frame_idx: int) -> dict[Any, dict]:
        """Per-object scores of a tracked frame (``model.frame_scores``: SAMURAI's, or with
        SAMURAI off only ``{"object_score"}``, as the library keeps no candidate scores; batched,
        also ``"ious"`` and ``"chosen"``)."""
        return self.model.frame_scores(state["session"], frame_idx)
