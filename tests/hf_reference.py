"""transformers' own video model driven by hand the way SAM 2's predictor reviews a video: the
reference of the tests of ``HFVideoPredictor``'s prompts, corrections and re-propagation.

Tracking is the library's streaming API (``model(inference_session=..., frame_idx=t,
frame=pixels)`` on the library's class, not the SAMURAI subclass). A correction is SAM 2's
(``sam2_video_predictor.add_new_points_or_box`` with ``add_all_frames_to_correct_as_cond``):
the clicks go in with the processor's ``add_inputs_to_inference_session``, the frame runs
through the library's ``_run_single_frame_inference`` with the object's memory and its earlier
mask as a mask prompt, its output replaces the tracking one as a conditioning frame and its
memory is encoded before propagation resumes at that frame. ``spy_frames`` records which
frames a model ran and whose image features it asked for (what a re-propagation may touch).
"""

from __future__ import annotations

import torch


class LibraryReview:
    """One video on the library's model. ``frames``: ``H×W×3`` uint8 arrays."""

    def __init__(self, model, processor, frames):
        self.model, self.processor, self.frames = model, processor, frames
        self.size = tuple(frames[0].shape[:2])
        self.session = processor.init_video_session(inference_device="cpu")

    def _pixels(self, t: int) -> torch.Tensor:
        return self.processor(images=self.frames[t], return_tensors="pt").pixel_values[0]

    def _logits(self, low: torch.Tensor) -> torch.Tensor:
        return self.processor.post_process_masks([low], original_sizes=[list(self.size)], binarize=False)[0]

    def boxes(self, frame_idx: int, boxes: dict) -> None:
        """Every object's box on one frame, in one call (the library's way)."""
        self.processor.add_inputs_to_inference_session(
            self.session,
            frame_idx=frame_idx,
            obj_ids=list(boxes),
            input_boxes=[[list(map(float, b)) for b in boxes.values()]],
            original_size=self.size,
        )

    @torch.inference_mode()
    def track(self, start: int, stop: int) -> dict[int, torch.Tensor]:
        """Frames ``start..stop-1``: ``{t: logits [N, 1, H, W]}`` at the video's resolution."""
        return {
            t: self._logits(
                self.model(inference_session=self.session, frame_idx=t, frame=self._pixels(t)).pred_masks
            )
            for t in range(start, stop)
        }

    @torch.inference_mode()
    def click(self, frame_idx: int, obj_id, point, label: int) -> torch.Tensor:
        """SAM 2's correction of ``obj_id`` on a tracked frame; that object's logits there."""
        s, model = self.session, self.model
        self.processor.add_inputs_to_inference_session(
            s,
            frame_idx=frame_idx,
            obj_ids=obj_id,
            input_points=[[[list(map(float, point))]]],
            input_labels=[[[label]]],
            original_size=self.size,
            clear_old_inputs=False,
        )
        obj_idx = s.obj_id_to_idx(obj_id)
        earlier = s.output_dict_per_obj[obj_idx]["non_cond_frame_outputs"].pop(frame_idx)
        s.add_new_frame(self._pixels(frame_idx), frame_idx)
        batched = hasattr(model, "_batch_encode_memories")  # EdgeTAM encodes inside the run
        out = model._run_single_frame_inference(
            inference_session=s,
            frame_idx=frame_idx,
            obj_idx=obj_idx,
            batch_size=1,
            is_init_cond_frame=False,
            point_inputs=s.point_inputs_per_obj[obj_idx][frame_idx],
            mask_inputs=None,
            reverse=False,
            prev_sam_mask_logits=earlier["pred_masks"].clamp(-32.0, 32.0),
            streaming=True,
            **({} if batched else {"run_mem_encoder": True}),
        )
        s.store_output(obj_idx, frame_idx, output_value=out, is_conditioning_frame=True)
        if batched:
            model._batch_encode_memories(
                s, frame_idx, [obj_idx], [out["high_res_masks"]], [out["object_score_logits"]], [True]
            )
        s.obj_with_new_inputs.remove(obj_id)
        return self._logits(out["pred_masks"])


def spy_frames(monkeypatch, model) -> tuple[list, list]:
    """Frames the model's forward ran (tracked or prompted) and frames whose image features it asked for."""
    forwards, features = [], []
    forward, prepare = model.forward, model._prepare_vision_features

    def spy_forward(inference_session, frame_idx=None, frame=None, **kwargs):
        forwards.append(frame_idx)
        return forward(inference_session, frame_idx=frame_idx, frame=frame, **kwargs)

    def spy_prepare(session, frame_idx, batch_size):
        features.append(frame_idx)
        return prepare(session, frame_idx, batch_size)

    monkeypatch.setattr(model, "forward", spy_forward)
    monkeypatch.setattr(model, "_prepare_vision_features", spy_prepare)
    return forwards, features
