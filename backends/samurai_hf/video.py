"""``HFVideoPredictor``: the SAM 2 predictor's calls (``init_state``, ``add_new_points_or_box``,
``add_new_mask``, ``propagate_in_video``, ``frame_scores``) on a transformers tracker, so the
CLI drives both backends the same way.

Frames are streamed one by one into the library's session (``model(..., frame=...)``) and
released once tracked, as are per-frame outputs beyond the look-back window: memory stays flat
on long videos. Python users of transformers need none of this: they keep the library's own
session API on the model of :func:`samurai_hf.build_samurai_hf_model`.

Prompts follow SAM 2's predictor, not the library's session: ``add_new_points_or_box`` and
``add_new_mask`` run the prompted object on its frame at once and return every object's mask
there; the prompted frames' memories are encoded when propagation starts (all objects of a
frame in one batch, as the library's ``forward`` does on a frame with new inputs, so a run
prompted on frame 0 is the library's, bitwise). For a review loop (``samurai app``):
``release_old_frames = False`` keeps every frame's output, so that ``propagate_in_video(state,
start_frame_idx=t)`` resumes at ``t`` reading the memory of the frames before it; with
``add_all_frames_to_correct_as_cond = True`` clicks on a tracked frame make it a conditioning
frame of that object (its clicked mask is kept and enters memory) and restart the object's
SAMURAI motion track there.
"""

from __future__ import annotations

import contextlib
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

    # SAM 2's predictor's switches, same defaults and meaning. True: drop per-frame outputs that
    # the next frame can no longer read (flat memory); False: keep them all (re-propagation).
    release_old_frames = True
    # False: a prompt on a frame the object was tracked on stays a tracking output (the next
    # propagation over the frame re-tracks it); True: the frame becomes a conditioning frame.
    add_all_frames_to_correct_as_cond = False

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
        # "unencoded": frame -> object indices whose prompted output awaits its memory encoding.
        return {
            "session": session,
            "frames": frames,
            "size": (frames.height, frames.width),
            "unencoded": {},
        }

    def _pixels(self, state, frame_idx: int) -> torch.Tensor:
        return self.processor(
            images=state["frames"][frame_idx], device=self.device, return_tensors="pt"
        ).pixel_values[0]

    @contextlib.contextmanager
    def _frame_in_session(self, state, frame_idx: int):
        """The frame's pixels in the session while the model reads them (the session holds only
        the frame being tracked; a prompt or a memory encoding may be on any frame)."""
        session = state["session"]
        added = session.processed_frames is None or frame_idx not in session.processed_frames
        if added:
            session.add_new_frame(self._pixels(state, frame_idx), frame_idx)
        try:
            yield
        finally:
            if added:
                session.processed_frames.pop(frame_idx, None)

    def _add_inputs(self, state, **inputs) -> None:
        session = state["session"]
        waiting = list(session.obj_with_new_inputs)
        self.processor.add_inputs_to_inference_session(session, original_size=state["size"], **inputs)
        # The processor replaces the list of objects awaiting their prompt with this call's;
        # objects prompted by earlier calls still await theirs.
        session.obj_with_new_inputs = waiting + [o for o in session.obj_with_new_inputs if o not in waiting]

    def _check_frame_idx(self, state, frame_idx) -> None:
        frames = state["frames"]
        if not isinstance(frame_idx, (int, np.integer)) or frame_idx < 0 or not frames.available(frame_idx):
            raise ValueError(f"frame_idx={frame_idx!r} is not a frame of this video (0..{len(frames) - 1})")

    @torch.inference_mode()
    def add_new_points_or_box(
        self, state, frame_idx: int, obj_id, box=None, *, points=None, labels=None, clear_old_points=True
    ) -> tuple[int, list, torch.Tensor]:
        """A box ``[x0, y0, x1, y1]`` and/or clicks (``points [P, 2]``, ``labels [P]``: 1
        positive, 0 negative), in pixels of the video, for ``obj_id`` on ``frame_idx``, as SAM
        2's predictor takes them by keyword (``clear_old_points=False`` adds the clicks to the
        frame's earlier ones; a box replaces them). Returns ``(frame_idx, obj_ids, logits [N,
        1, H, W])``: every object's mask on the frame at the video's resolution (see
        :meth:`_prompt`)."""
        self._check_frame_idx(state, frame_idx)
        if (points is None) != (labels is None):
            raise ValueError("points and labels must be given together")
        if points is None and box is None:
            raise ValueError("give points (with labels) or a box")
        inputs = {}
        if points is not None:
            xy = np.asarray(points, np.float64).reshape(-1, 2)
            inputs["input_points"] = [[xy.tolist()]]
            inputs["input_labels"] = [[[int(v) for v in np.asarray(labels).reshape(-1)]]]
        if box is not None:
            inputs["input_boxes"] = [[[float(v) for v in np.asarray(box).reshape(4)]]]
        self._add_inputs(
            state, frame_idx=int(frame_idx), obj_ids=obj_id, clear_old_inputs=clear_old_points, **inputs
        )
        return self._prompt(state, int(frame_idx), obj_id)

    @torch.inference_mode()
    def add_new_mask(self, state, frame_idx: int, obj_id, mask) -> tuple[int, list, torch.Tensor]:
        """A ``H×W`` mask (the video's resolution) for ``obj_id`` on ``frame_idx``; returns as
        :meth:`add_new_points_or_box`."""
        self._check_frame_idx(state, frame_idx)
        self._add_inputs(state, frame_idx=int(frame_idx), obj_ids=obj_id, input_masks=np.asarray(mask, bool))
        return self._prompt(state, int(frame_idx), obj_id)

    def _prompt(self, state, frame_idx: int, obj_id) -> tuple[int, list, torch.Tensor]:
        """Run ``obj_id``'s new inputs on ``frame_idx`` (SAM 2's ``add_new_points_or_box``):

        - on a frame the object was not tracked on, a new conditioning frame (no memory), as the
          library's ``forward`` makes it;
        - on a tracked frame, with the object's memory and the frame's earlier mask as a mask
          prompt beside the clicks; a conditioning frame with
          ``add_all_frames_to_correct_as_cond`` (its tracking output is dropped), else a
          tracking output.

        A new conditioning frame restarts the object's SAMURAI motion track.

        The frame's earlier output of this object enters as that mask prompt only, never as its
        own memory. Other objects are not run."""
        model, session = self.model, state["session"]
        obj_idx = session.obj_id_to_idx(obj_id)
        outputs = session.output_dict_per_obj[obj_idx]
        tracked = session.frames_tracked_per_obj[obj_idx]
        init = frame_idx not in tracked
        reverse = False if init else tracked[frame_idx]["reverse"]
        cond = init or self.add_all_frames_to_correct_as_cond
        mask_inputs = session.mask_inputs_per_obj[obj_idx].get(frame_idx)
        prev = outputs["cond_frame_outputs"].pop(frame_idx, None)
        prev = outputs["non_cond_frame_outputs"].pop(frame_idx, prev)
        state["unencoded"].get(frame_idx, set()).discard(obj_idx)
        prev_logits = None
        if prev is not None and mask_inputs is None:
            prev_logits = torch.clamp(prev["pred_masks"].to(self.device), -32.0, 32.0)
        if not init:  # this object's memory must be complete before a frame attends to it
            self._encode_prompted(state)
        with self._frame_in_session(state, frame_idx):
            out = model._run_prompted(
                session,
                obj_idx,
                frame_idx,
                init,
                session.point_inputs_per_obj[obj_idx].get(frame_idx),
                mask_inputs,
                reverse,
                True,
                prev_sam_mask_logits=prev_logits,
            )
        if obj_id in session.obj_with_new_inputs:
            session.obj_with_new_inputs.remove(obj_id)
        session.store_output(obj_idx, frame_idx, output_value=out, is_conditioning_frame=cond)
        if model._batched_memory and model.num_maskmem > 0:
            state["unencoded"].setdefault(frame_idx, set()).add(obj_idx)
        tracks = getattr(session, "samurai", None)
        if cond and tracks is not None and obj_id in tracks.slot_of:
            # A new conditioning frame of a tracked object: its motion track starts again here
            # (as the SAM 2 backend's class prompts; its propagation also restarts every track
            # that resumes away from where it stopped).
            tracks.restart(obj_id)
        return frame_idx, list(session.obj_ids), self._frame_masks(state, frame_idx)

    def _encode_prompted(self, state) -> None:
        """Encode the memories of the prompted outputs that lack them: per frame, all objects in
        one batch (object order), as the library's ``forward`` encodes a frame's new inputs."""
        session, model = state["session"], self.model
        for frame_idx in sorted(state["unencoded"]):
            objs = sorted(state["unencoded"].pop(frame_idx))
            if not objs:
                continue
            outs = [_frame_output(session, obj_idx, frame_idx) for obj_idx in objs]
            with self._frame_in_session(state, frame_idx):
                model._batch_encode_memories(
                    inference_session=session,
                    frame_idx=frame_idx,
                    objects_needing_memory_encoding=objs,
                    high_res_masks_for_memory=[o["high_res_masks"] for o in outs],
                    object_score_logits_for_memory=[o["object_score_logits"] for o in outs],
                    is_mask_from_pts_per_obj=[True] * len(objs),
                )

    def _frame_masks(self, state, frame_idx: int) -> torch.Tensor:
        """Every object's mask logits on ``frame_idx`` at the video's resolution ``[N, 1, H, W]``
        (its conditioning output, else its tracking output, else no object), as SAM 2's
        predictor returns them after a prompt."""
        from samurai_hf.model import NO_OBJ_SCORE

        session = state["session"]
        low = []
        for obj_idx in range(session.get_obj_num()):
            out = _frame_output(session, obj_idx, frame_idx)
            low.append(None if out is None else out["pred_masks"].to(self.device))
        shape = next(m for m in low if m is not None).shape
        low = [torch.full(shape, NO_OBJ_SCORE, device=self.device) if m is None else m for m in low]
        return self.processor.post_process_masks(
            [torch.cat(low, dim=0)], original_sizes=[list(state["size"])], binarize=False
        )[0]

    def look_back(self) -> int:
        """How many frames back a tracked frame may read a per-frame output: object pointers,
        the library's memory frames and, with SAMURAI, the core's window."""
        cfg = self.model.config
        reach = max(cfg.max_object_pointers_in_encoder - 1, self.model.num_maskmem - 1)
        if self.samurai:
            reach = max(reach, self.samurai_config.memory_window)
        return reach

    @torch.inference_mode()
    def propagate_in_video(
        self, state, start_frame_idx: int | None = None, max_frame_num_to_track: int | None = None
    ) -> Iterator[tuple[int, list, torch.Tensor]]:
        """Track forward from ``start_frame_idx`` (default: the earliest conditioning frame)
        for ``max_frame_num_to_track`` more frames (default: until the frames end,
        ``FrameSource.available``: past a container's announced count, or up to a frame that
        cannot be read); yields ``(frame_idx, obj_ids, logits [N, 1, H, W])`` at the video's
        resolution. A conditioning frame's output is reused, as SAM 2's predictor does."""
        session, frames = state["session"], state["frames"]
        height, width = state["size"]
        self._encode_prompted(state)
        if start_frame_idx is None:
            prompted = [f for out in session.output_dict_per_obj.values() for f in out["cond_frame_outputs"]]
            start_frame_idx = min(prompted, default=0)
        last = None if max_frame_num_to_track is None else start_frame_idx + max_frame_num_to_track
        reach = self.look_back()
        t = start_frame_idx - 1
        while (last is None or t < last) and frames.available(t + 1):
            t += 1
            out = self.model(inference_session=session, frame_idx=t, frame=self._pixels(state, t))
            logits = self.processor.post_process_masks(
                [out.pred_masks], original_sizes=[[height, width]], binarize=False
            )[0]
            # Streaming keeps every frame and output; the next frame reads only these.
            session.processed_frames.pop(t, None)
            if self.release_old_frames:
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


def _frame_output(session, obj_idx: int, frame_idx: int) -> dict | None:
    """An object's output on a frame: its conditioning one, else its tracking one, else None."""
    outputs = session.output_dict_per_obj[obj_idx]
    out = outputs["cond_frame_outputs"].get(frame_idx)
    return outputs["non_cond_frame_outputs"].get(frame_idx) if out is None else out
