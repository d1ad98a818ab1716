"""SAMURAI on transformers' SAM-family video trackers (SAM 2, EdgeTAM, SAM 3 tracker).

One mixin, :class:`SamuraiVideoMixin`, placed before the library's model class:
``SamuraiSam2VideoModel``, ``SamuraiEdgeTamVideoModel`` and ``SamuraiSam3TrackerVideoModel``.
They keep transformers' video API unchanged (the processor's inference session and
``add_inputs_to_inference_session``, ``model(inference_session=..., frame_idx=...)``,
``propagate_in_video_iterator``). Per frame, for every object on a tracking frame at once, the
model

1. runs the tracker up to the mask decoder and keeps all candidate masks, their predicted IoUs
   and the object score (the library keeps only the argmax mask);
2. computes the candidates' boxes on the model's device and copies ONE small packed batch to
   the host;
3. lets ``samurai_core.step`` choose each object's candidate and the memory frames of its next
   frame (one jitted call for all objects);
4. finishes each object with the chosen candidate (object pointer, memory encoding) and, on the
   next frame, attends to the conditioning frames plus the core's memory frames.

With SAMURAI off (``samurai=None``) ``forward`` is the library's own: bitwise its masks. With
``batch_objects`` (SAMURAI on or off) step 1 runs for all tracked objects at once: the image
features once, memory attention once per group of objects whose memories have the same shape,
the mask decoder once (:meth:`SamuraiVideoMixin._batched_candidates`).

One file of ~600 lines on purpose: every method of the mixin overrides or restates internals of
the one library class it sits on (listed below), and the list is the contract a transformers
upgrade must be checked against; split over files, that contract would be too.

Per-video state (:class:`samurai_common.tracks.VideoTracks`) lives on the inference session
(``inference_session.samurai``), never on the model.

transformers internals relied upon (checked by the parity tests; the version is checked at
construction, see ``TRANSFORMERS_VERSION``): the session's ``output_dict_per_obj``,
``_obj_id_to_idx``, ``obj_with_new_inputs``, ``point_inputs_per_obj``, ``mask_inputs_per_obj``,
``frames_tracked_per_obj``, ``store_output``, ``get_output``, ``add_new_frame`` (and, in
``samurai_hf.video``, ``processed_frames``, and the model's ``_batch_encode_memories`` and
``_run_single_frame_inference``'s ``prev_sam_mask_logits`` for prompts on a tracked frame);
the model's
``_prepare_vision_features``, ``_prepare_memory_conditioned_features`` (whose steps 2-4,
``_build_memory_attention_inputs``, ``_get_object_pointers``, ``_process_object_pointers``,
and its ``memory_attention`` call, :meth:`SamuraiVideoMixin._memory_inputs` and
``_batched_candidates`` restate), ``_gather_memory_frame_outputs``,
``_select_closest_cond_frames``, ``_run_single_frame_inference``,
``_use_multimask``, ``_encode_new_memory``, ``_batch_encode_memories`` (SAM 2, SAM 3),
``get_image_wide_positional_embeddings``, ``prompt_encoder``, ``mask_decoder``,
``object_pointer_proj``, ``no_object_pointer``, ``backbone_feature_sizes``, and the tail of
``_single_frame_forward`` (mask gating at ``NO_OBJ_SCORE``, bilinear upsampling, argmax choice,
object pointer), which :meth:`SamuraiVideoMixin._candidates` and ``_finish`` restate.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from samurai_common import candidates as cd
from samurai_common.candidates import Candidates
from samurai_common.config import check_model_config, model_preset
from samurai_common.tracks import VideoTracks

# The transformers release whose internals this module restates. Another release may change
# them silently; construction refuses it (see check_transformers_version).
TRANSFORMERS_VERSION = "5.24.0"

# The three families' "no object" mask logit (the same constant in all three modeling files).
NO_OBJ_SCORE = -1024.0


class TransformersVersionError(RuntimeError):
    """The installed transformers is not the release the backend was written against."""


def check_transformers_version(installed: str | None = None) -> None:
    """Raise :class:`TransformersVersionError` unless transformers is ``TRANSFORMERS_VERSION``.

    Only the major.minor release has to match (patch releases keep the model internals).
    """
    if installed is None:
        import transformers

        installed = transformers.__version__
    want = TRANSFORMERS_VERSION.split(".")[:2]
    if installed.split(".")[:2] != want:
        raise TransformersVersionError(
            f"samurai_hf was written against transformers {TRANSFORMERS_VERSION}, whose private "
            f"video-tracker internals it reuses; transformers {installed} is installed. Install "
            f"the supported release (pip install 'transformers=={TRANSFORMERS_VERSION}') or use "
            f"the SAM 2 backend (samurai_sam2)."
        )


class SamuraiVideoMixin:
    """SAMURAI for a transformers SAM-family video model; put it before the model class.

    Family differences are class attributes of the concrete classes below:
    ``_output_class`` and ``_session_class`` (the family's segmentation output and inference
    session) and ``_batched_memory`` (SAM 2 and
    SAM 3 encode all objects' memories in one batch after the object loop,
    ``_batch_encode_memories``; EdgeTAM encodes each object's inside
    ``_run_single_frame_inference``).
    """

    _output_class: type
    _session_class: type
    _batched_memory: bool
    # EdgeTAM's memory attention is told how many spatial memories precede the pointers
    # (its perceiver keys take their own rotary encoding) and EdgeTAM leaves the memory in its
    # stored dtype; SAM 2 and SAM 3 cast it to the session's dtype and count no memories.
    _spatial_memory_count: bool = False

    # All tracked objects of a frame in one pass (memory attention batched per group of equal
    # memory shapes, the mask decoder once), SAMURAI on or off; False: one by one, the
    # library's structure (and with SAMURAI off the library's own forward).
    batch_objects: bool = False

    samurai_config = None  # a samurai_core.SamuraiConfig, or None: SAMURAI off
    # Where the core runs, as (platform, id): a JAX Device object would make the model
    # impossible to deep-copy (training copies models).
    samurai_jax_device_key: tuple[str, int] = ("cpu", 0)

    # ------------------------------------------------------------------ configuration
    def configure_samurai(self, config=None, jax_device=None) -> None:
        """Set SAMURAI's ``SamuraiConfig`` (None: off). Applies to sessions started afterwards
        that do not carry their own (``session.samurai_config``).

        A config whose ``num_maskmem`` / ``max_obj_ptrs_in_encoder`` differ from the model's
        is refused (``ValueError``, see :meth:`check_samurai_config`); :meth:`samurai_preset`
        gives a preset with the model's values.
        """
        self.samurai_config = self.check_samurai_config(config)
        if jax_device is not None:
            self.samurai_jax_device_key = (jax_device.platform, jax_device.id)

    def samurai_preset(self, size: str = "tiny", **overrides):
        """``samurai_core.preset(size, **overrides)`` with this model's memory sizes
        (``samurai_common.config.MODEL_MEMORY_FIELDS``)."""
        return model_preset(self._memory_sizes(), size, **overrides)

    def _memory_sizes(self) -> dict[str, int]:
        # transformers names the pointer budget max_object_pointers_in_encoder.
        return {
            "num_maskmem": self.num_maskmem,
            "max_obj_ptrs_in_encoder": self.config.max_object_pointers_in_encoder,
        }

    def check_samurai_config(self, config):
        """``config`` (a ``SamuraiConfig`` or None) validated against the model's memory sizes
        (the rule of ``samurai_common.config.check_model_config``: refused if they differ)."""
        if config is None:
            return None
        name = f"transformers {self.config.model_type}"
        return check_model_config(config, self._memory_sizes(), name, "model")

    @property
    def samurai_jax_device(self):
        """The JAX device the core runs on (default: the first CPU)."""
        import jax

        platform, index = self.samurai_jax_device_key
        return next(d for d in jax.devices(platform) if d.id == index)

    def _samurai_tracks(self, session) -> VideoTracks | None:
        """The session's SAMURAI state (created on first use), or None when SAMURAI is off.

        A session reset (``reset_inference_session``/``reset_tracking_data``) gives every object
        a new output dict: an object whose dict changed starts a new track.
        """
        tracks = getattr(session, "samurai", None)
        if tracks is None:
            # A session may carry its own setting (one model serving SAMURAI and vanilla runs).
            config = getattr(session, "samurai_config", self.samurai_config)
            if config is None:
                return None
            if config is not self.samurai_config:  # set on the session: checked here, once
                config = self.check_samurai_config(config)
            tracks = VideoTracks(config, self.samurai_jax_device)
            session.samurai = tracks
        for obj_id, outputs in list(tracks.handles.items()):
            idx = session._obj_id_to_idx.get(obj_id)
            if idx is None or session.output_dict_per_obj[idx] is not outputs:
                tracks.remove(obj_id)
        return tracks

    # ------------------------------------------------------------------ forward
    def forward(self, inference_session, frame_idx=None, frame=None, reverse=False, **kwargs):
        """The library's ``forward`` for one frame, with SAMURAI's choice on tracking frames
        and, with ``batch_objects``, all tracked objects in one pass (SAMURAI on or off)."""
        tracks = self._samurai_tracks(inference_session)
        if tracks is None and not self.batch_objects:
            return super().forward(
                inference_session, frame_idx=frame_idx, frame=frame, reverse=reverse, **kwargs
            )
        return self._samurai_forward(inference_session, tracks, frame_idx, frame, reverse, **kwargs)

    def _samurai_forward(self, session, tracks, frame_idx, frame, reverse, run_mem_encoder=True):
        # The object loop of the library's forward, with tracking frames deferred until every
        # object has its candidates (one core step for all). ``tracks`` None: SAMURAI off
        # (batched objects, the library's memory rule and argmax choice).
        if frame is not None:
            frame_idx = session.add_new_frame(frame, frame_idx)
        if frame is not None and session.get_obj_num() == 0:
            raise ValueError("No objects are provided for tracking; please add inputs first.")
        streaming = frame is not None
        num_objects = session.get_obj_num()
        pred_masks_per_obj = [None] * num_objects
        scores_per_obj = [None] * num_objects
        to_encode: list[tuple[int, torch.Tensor, torch.Tensor, bool]] = []
        pending: list[tuple[int, Any, Candidates]] = []
        deferred: list[tuple[int, Any, list[int] | None]] = []  # batched: (obj_idx, obj_id, memory)
        for obj_idx in range(num_objects):
            obj_id = session.obj_idx_to_id(obj_idx)
            if tracks is not None:
                tracks.handles[obj_id] = session.output_dict_per_obj[obj_idx]
            has_new_inputs = obj_id in session.obj_with_new_inputs
            has_cond_output = frame_idx in session.output_dict_per_obj[obj_idx]["cond_frame_outputs"]
            if not has_new_inputs and has_cond_output:
                pred_masks = session.get_output(obj_idx, frame_idx, "pred_masks", is_conditioning_frame=True)
                object_score_logits = session.get_output(
                    obj_idx, frame_idx, "object_score_logits", is_conditioning_frame=True
                )
                if tracks is not None:
                    tracks.visit(obj_id, frame_idx, reverse)
                pred_masks_per_obj[obj_idx] = pred_masks
                scores_per_obj[obj_idx] = object_score_logits.squeeze(-1)
                continue
            if not has_new_inputs:
                memory = None if tracks is None else tracks.memory_frames(obj_id, frame_idx, reverse)
                if self.batch_objects:
                    deferred.append((obj_idx, obj_id, memory))
                else:
                    cand = self._candidates(session, obj_idx, frame_idx, reverse, streaming, memory)
                    pending.append((obj_idx, obj_id, cand))
                session.frames_tracked_per_obj[obj_idx][frame_idx] = {"reverse": reverse}
                continue
            # New prompts: exactly the library's path (as its forward, which also keeps
            # ``reverse = False`` for the objects after a new conditioning frame).
            is_init_cond_frame = frame_idx not in session.frames_tracked_per_obj[obj_idx]
            if is_init_cond_frame:
                reverse = False
            point_inputs = session.point_inputs_per_obj[obj_idx].get(frame_idx, None)
            mask_inputs = session.mask_inputs_per_obj[obj_idx].get(frame_idx, None)
            if point_inputs is not None or mask_inputs is not None:
                session.obj_with_new_inputs.remove(obj_id)
            current_out = self._run_prompted(
                session, obj_idx, frame_idx, is_init_cond_frame, point_inputs, mask_inputs, reverse, streaming
            )
            session.store_output(
                obj_idx, frame_idx, output_value=current_out, is_conditioning_frame=is_init_cond_frame
            )
            if run_mem_encoder and self.num_maskmem > 0 and self._batched_memory:
                from_pts = point_inputs is not None or mask_inputs is not None
                to_encode.append(
                    (obj_idx, current_out["high_res_masks"], current_out["object_score_logits"], from_pts)
                )
            pred_masks_per_obj[obj_idx] = current_out["pred_masks"]
            scores_per_obj[obj_idx] = current_out["object_score_logits"].squeeze(-1)
            if not is_init_cond_frame:
                session.frames_tracked_per_obj[obj_idx][frame_idx] = {"reverse": reverse}
                if tracks is not None:
                    tracks.visit(obj_id, frame_idx, reverse)

        if deferred:
            # Tracking objects run after the prompted ones: each reads only its own memory.
            cands = self._batched_candidates(
                session, frame_idx, reverse, streaming, [(obj_idx, memory) for obj_idx, _, memory in deferred]
            )
            pending = [(obj_idx, obj_id, c) for (obj_idx, obj_id, _), c in zip(deferred, cands)]
        if pending:
            if tracks is None:
                chosen = [torch.argmax(c.ious, dim=-1) for _, _, c in pending]
                records = [None] * len(pending)
            else:
                chosen, records = self._decide(tracks, frame_idx, pending)
            for (obj_idx, _, cand), idx, record in zip(pending, chosen, records):
                current_out, _ = self._finish(session, cand, idx, record, run_mem_encoder)
                session.store_output(
                    obj_idx, frame_idx, output_value=current_out, is_conditioning_frame=False
                )
                if run_mem_encoder and self.num_maskmem > 0 and self._batched_memory:
                    to_encode.append(
                        (obj_idx, current_out["high_res_masks"], cand.object_score_logits, False)
                    )
                pred_masks_per_obj[obj_idx] = current_out["pred_masks"]
                scores_per_obj[obj_idx] = cand.object_score_logits.squeeze(-1)

        if self._batched_memory:
            to_encode.sort(key=lambda item: item[0])  # the library's object order
            self._batch_encode_memories(
                inference_session=session,
                frame_idx=frame_idx,
                objects_needing_memory_encoding=[item[0] for item in to_encode],
                high_res_masks_for_memory=[item[1] for item in to_encode],
                object_score_logits_for_memory=[item[2] for item in to_encode],
                is_mask_from_pts_per_obj=[item[3] for item in to_encode],
            )
        if num_objects > 1:
            all_pred_masks = torch.cat(pred_masks_per_obj, dim=0)
            all_scores = torch.cat(scores_per_obj, dim=0)
        else:
            all_pred_masks, all_scores = pred_masks_per_obj[0], scores_per_obj[0]
        return self._output_class(
            object_ids=session.obj_ids.copy(),
            pred_masks=all_pred_masks,
            object_score_logits=all_scores,
            frame_idx=frame_idx,
        )

    def _run_prompted(
        self,
        session,
        obj_idx,
        frame_idx,
        is_init_cond_frame,
        point_inputs,
        mask_inputs,
        reverse,
        streaming,
        prev_sam_mask_logits=None,
    ):
        """The library's ``_run_single_frame_inference`` for a frame with new prompts
        (``prev_sam_mask_logits``: the frame's earlier mask, fed with new clicks as SAM 2 does)."""
        extra = {} if self._batched_memory else {"run_mem_encoder": True}
        return self._run_single_frame_inference(
            inference_session=session,
            obj_idx=obj_idx,
            frame_idx=frame_idx,
            batch_size=1,
            is_init_cond_frame=is_init_cond_frame,
            point_inputs=point_inputs,
            mask_inputs=mask_inputs,
            reverse=reverse,
            prev_sam_mask_logits=prev_sam_mask_logits,
            streaming=streaming,
            **extra,
        )

    # ------------------------------------------------------------------ memory
    def _gather_memory_frame_outputs(
        self, inference_session, obj_idx, frame_idx, track_in_reverse_time=False
    ):
        """The library's memory frames, or on a SAMURAI tracking frame the conditioning frames
        plus the core's memory frames (newest first; the k-th newest at temporal offset k+1,
        the slot the library gives the frame k+1 steps back, as in the official SAMURAI code)."""
        attend = getattr(inference_session, "samurai_attend", None)
        if attend is None or attend[:2] != (obj_idx, frame_idx):
            return super()._gather_memory_frame_outputs(
                inference_session, obj_idx, frame_idx, track_in_reverse_time
            )
        outputs = inference_session.output_dict_per_obj[obj_idx]
        if not outputs["cond_frame_outputs"]:
            raise ValueError(
                f"object {inference_session.obj_idx_to_id(obj_idx)} has no prompt yet; add one with "
                f"processor.add_inputs_to_inference_session before propagating"
            )
        selected, unselected = self._select_closest_cond_frames(
            frame_idx, outputs["cond_frame_outputs"], max_cond_frame_num=self.config.max_cond_frame_num
        )
        gathered = [(0, out) for out in selected.values()]
        chosen = list(attend[2])[: self.num_maskmem - 1]
        non_cond = outputs["non_cond_frame_outputs"]
        for k in range(len(chosen) - 1, -1, -1):  # oldest first, as the library orders memory
            f = chosen[k]
            gathered.append((k + 1, non_cond.get(f, unselected.get(f, None))))
        return gathered

    # ------------------------------------------------------------------ candidates
    def _candidates(
        self, session, obj_idx, frame_idx, reverse, streaming, memory_frames=None, point_inputs=None
    ) -> Candidates:
        """``_run_single_frame_inference`` up to the mask decoder: every candidate kept, nothing
        chosen. A tracking frame attends to ``memory_frames`` (None: the library's rule); with
        ``point_inputs`` (the session's form of clicks/boxes) it is a new conditioning frame."""
        feats, pos = self._prepare_vision_features(session, frame_idx, 1)
        conditioning = point_inputs is not None
        if memory_frames is not None:
            session.samurai_attend = (obj_idx, frame_idx, memory_frames)
        try:
            pix_feat = self._prepare_memory_conditioned_features(
                inference_session=session,
                frame_idx=frame_idx,
                obj_idx=obj_idx,
                is_initial_conditioning_frame=conditioning,
                current_vision_features=feats[-1],
                current_vision_positional_embeddings=pos[-1],
                num_total_frames=session.num_frames,
                track_in_reverse_time=reverse,
                streaming=streaming,
            )
        finally:
            session.samurai_attend = None
        return self._decoder_candidates(
            feats, pix_feat, self._use_multimask(conditioning, point_inputs), point_inputs
        )

    def _batched_candidates(self, session, frame_idx, reverse, streaming, tracked) -> list[Candidates]:
        """:meth:`_candidates` of several objects on a tracking frame in one pass, one
        ``Candidates`` per object in the order of ``tracked`` (``(obj_idx, memory frames or
        None)``): the image features once, memory attention once per group of objects whose
        memories have the same shape (each object attends to its own memory), the mask
        decoder once for all."""
        feats, pos = self._prepare_vision_features(session, frame_idx, 1)
        curr, curr_pos = feats[-1], pos[-1]  # [HW, 1, C]: the image's, shared by every object
        B, C = len(tracked), self.hidden_dim
        H, W = self.backbone_feature_sizes[-1]
        if self.num_maskmem == 0:  # no memory: the image's own features (the library's rule)
            pix_feat = curr.permute(1, 2, 0).view(1, C, H, W).expand(B, -1, -1, -1)
        else:
            inputs = [
                self._memory_inputs(session, obj_idx, frame_idx, reverse, streaming, memory, curr.device)
                for obj_idx, memory in tracked
            ]
            # Objects whose memories have the same length, pointer tokens and spatial memories
            # attend in one batch: SAMURAI's sets of frames differ between objects, their sizes
            # mostly do not (grouping measured faster than padding in the SAM 2 backend).
            groups: dict[tuple[int, int, int], list[int]] = {}
            for k, (memory, _, num_ptr, num_spatial) in enumerate(inputs):
                groups.setdefault((memory.shape[0], num_ptr, num_spatial), []).append(k)
            rows: list = [None] * B
            for (_, num_ptr, num_spatial), members in groups.items():
                G = len(members)
                extra = {"num_spatial_memory_tokens": num_spatial} if self._spatial_memory_count else {}
                flat = self.memory_attention(
                    current_vision_features=curr.expand(-1, G, -1),
                    current_vision_position_embeddings=curr_pos.expand(-1, G, -1),
                    memory=torch.cat([inputs[k][0] for k in members], dim=1),
                    memory_posision_embeddings=torch.cat([inputs[k][1] for k in members], dim=1),
                    num_object_pointer_tokens=num_ptr,
                    **extra,
                )
                # [1, G, HW, C] (the prompt axis first) -> [G, C, H, W]
                attended = flat[0].transpose(1, 2).reshape(G, C, H, W)
                for j, k in enumerate(members):
                    rows[k] = attended[j : j + 1]
            pix_feat = torch.cat(rows, dim=0) if B > 1 else rows[0]
        return cd.split_objects(self._decoder_candidates(feats, pix_feat, self._use_multimask(False, None)))

    def _memory_inputs(self, session, obj_idx, frame_idx, reverse, streaming, memory_frames, device):
        """Steps 2-4 of the library's ``_prepare_memory_conditioned_features`` for one object
        (its memory frames, object pointers and their encodings, as memory attention reads
        them): ``(memory [L, 1, Cm], memory_pos [L, 1, Cm], pointer tokens, spatial memories)``.
        ``memory_frames``: SAMURAI's (None: the library's rule)."""
        if memory_frames is not None:
            session.samurai_attend = (obj_idx, frame_idx, memory_frames)
        try:
            gathered = self._gather_memory_frame_outputs(session, obj_idx, frame_idx, reverse)
        finally:
            session.samurai_attend = None
        memories, positions = self._build_memory_attention_inputs(gathered, device)
        num_spatial = len(memories)
        offsets, pointers, max_pointers = self._get_object_pointers(
            session, obj_idx, frame_idx, session.num_frames, device, reverse, streaming
        )
        num_ptr = 0
        if pointers:
            pointer, pointer_pos = self._process_object_pointers(
                offsets, pointers, max_pointers, 1, self.hidden_dim, device
            )
            if pointer is not None:
                memories.append(pointer)
                positions.append(pointer_pos)
                num_ptr = pointer.shape[0]
        memory = torch.cat(memories, dim=0)
        if not self._spatial_memory_count:  # SAM 2, SAM 3 (see the class attribute)
            memory = memory.to(dtype=session.dtype)
        return memory, torch.cat(positions, dim=0), num_ptr, num_spatial

    def _decoder_candidates(self, feats, pix_feat, multimask: bool, point_inputs=None) -> Candidates:
        """``_single_frame_forward`` with image embeddings (and no mask prompt), up to its argmax,
        for the ``B`` objects of ``pix_feat [B, C, H, W]`` (the memory-conditioned features;
        ``point_inputs`` only with ``B = 1``)."""
        B = pix_feat.size(0)
        high_res_features = [
            x.permute(1, 2, 0).view(x.size(1), x.size(2), *s).expand(B, -1, -1, -1)
            for x, s in zip(feats[:-1], self.backbone_feature_sizes[:-1])
        ]
        image_pe = self.get_image_wide_positional_embeddings().repeat(B, 1, 1, 1)
        device, dtype = pix_feat.device, pix_feat.dtype
        if point_inputs is not None:
            points, labels = point_inputs["point_coords"], point_inputs["point_labels"]
        else:
            points = torch.zeros(B, 1, 1, 2, dtype=dtype, device=device)
            labels = -torch.ones(B, 1, 1, dtype=torch.int32, device=device)
        sparse, dense = self.prompt_encoder(
            input_points=points, input_labels=labels, input_boxes=None, input_masks=None
        )
        low, ious, tokens, obj_logits = self.mask_decoder(
            image_embeddings=pix_feat,
            image_positional_embeddings=image_pe,
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
            high_resolution_features=high_res_features,
            attention_similarity=None,
            target_embedding=None,
        )
        low = torch.where((obj_logits > 0)[:, None, None], low, NO_OBJ_SCORE)
        high = (
            F.interpolate(
                low.squeeze(1).float(),
                size=(self.image_size, self.image_size),
                mode="bilinear",
                align_corners=False,
            )
            .unsqueeze(1)
            .to(low.dtype)
        )
        # The library's [B, 1, M, ...] (object, prompt batch, candidate) as the shared [B, M, ...].
        return Candidates(
            low.squeeze(1),
            high.squeeze(1),
            ious.squeeze(1),
            tokens.squeeze(1),
            obj_logits,
            multimask,
            features=feats,
        )

    def _decide(self, tracks: VideoTracks, frame_idx: int, pending):
        """One core step for every pending object; returns chosen indices and step records."""
        return cd.decide(tracks, [obj_id for _, obj_id, _ in pending], frame_idx, [c for _, _, c in pending])

    def _finish(
        self,
        session,
        cand: Candidates,
        idx: torch.Tensor,
        record,
        run_mem_encoder: bool,
        from_points: bool = False,
    ) -> tuple[dict, torch.Tensor]:
        """The chosen candidate's masks and object pointer (as ``_single_frame_forward`` forms
        them), memory-encoded as the family does: the frame's output dict and the chosen
        high-res mask logits ``[1, 1, S, S]``. ``record``: the
        SAMURAI decision (None: the library's argmax); ``from_points``: a prompted frame (its
        mask is binarised for memory, as the library does)."""
        low, high, token = cd.select_candidate(cand, idx)
        # The library's layout again: [1, 1, ...] (object, prompt batch).
        pointer = cd.object_pointer(
            self.object_pointer_proj(token.unsqueeze(1)), cand.object_score_logits, self.no_object_pointer
        )
        out = {"pred_masks": low, "object_pointer": pointer}
        if self._batched_memory:
            out["high_res_masks"] = high
        else:
            features, pos_enc = None, None
            if run_mem_encoder and self.num_maskmem > 0:
                features, pos_enc = self._encode_new_memory(
                    current_vision_feats=cand.features[-1],
                    pred_masks_high_res=high,
                    object_score_logits=cand.object_score_logits,
                    is_mask_from_pts=from_points,
                )
            out["maskmem_features"] = features
            out["maskmem_pos_enc"] = pos_enc
        out["object_score_logits"] = cand.object_score_logits
        # Kept for SAMURAI and for users (the library drops them): every candidate's IoU.
        out["ious"] = cand.ious
        out["chosen"] = idx
        if record is not None:
            out["samurai"] = record
        return out, high

    # ------------------------------------------------------------------ inspection
    def frame_scores(self, inference_session, frame_idx: int) -> dict[Any, dict]:
        """Per-object scores of a tracked frame (``samurai_common.candidates.frame_scores``):
        ``{obj_id: {"object_score", and where SAMURAI decided the frame "ious", "chosen",
        "kf_iou", "kf_score", "kf_score_valid", "stable_frames", "boxes", "kf_box",
        "memory_frames", ...}}`` (the library's own tracker keeps only the object score; the
        batched pass, SAMURAI off, also ``"ious"`` and ``"chosen"``);
        objects without a tracking output on that frame are absent."""
        return cd.frame_scores(
            (inference_session.obj_idx_to_id(obj_idx), outputs["non_cond_frame_outputs"].get(frame_idx))
            for obj_idx, outputs in inference_session.output_dict_per_obj.items()
        )


from transformers.models.edgetam_video import modeling_edgetam_video as _edgetam  # noqa: E402
from transformers.models.sam2_video import modeling_sam2_video as _sam2  # noqa: E402
from transformers.models.sam3_tracker_video import modeling_sam3_tracker_video as _sam3  # noqa: E402


class SamuraiSam2VideoModel(SamuraiVideoMixin, _sam2.Sam2VideoModel):
    """transformers' ``Sam2VideoModel`` with SAMURAI."""

    _output_class = _sam2.Sam2VideoSegmentationOutput
    _session_class = _sam2.Sam2VideoInferenceSession
    _batched_memory = True


class SamuraiEdgeTamVideoModel(SamuraiVideoMixin, _edgetam.EdgeTamVideoModel):
    """transformers' ``EdgeTamVideoModel`` with SAMURAI."""

    _output_class = _edgetam.EdgeTamVideoSegmentationOutput
    _session_class = _edgetam.EdgeTamVideoInferenceSession
    _batched_memory = False
    _spatial_memory_count = True


class SamuraiSam3TrackerVideoModel(SamuraiVideoMixin, _sam3.Sam3TrackerVideoModel):
    """transformers' ``Sam3TrackerVideoModel`` with SAMURAI."""

    _output_class = _sam3.Sam3TrackerVideoSegmentationOutput
    _session_class = _sam3.Sam3TrackerVideoInferenceSession
    _batched_memory = True


# config.json "model_type" -> (the library's class, the SAMURAI class)
FAMILIES = {
    "sam2_video": (_sam2.Sam2VideoModel, SamuraiSam2VideoModel),
    "edgetam_video": (_edgetam.EdgeTamVideoModel, SamuraiEdgeTamVideoModel),
    "sam3_tracker_video": (_sam3.Sam3TrackerVideoModel, SamuraiSam3TrackerVideoModel),
}
