"""``SamuraiVideoPredictor``: SAM 2's video predictor with SAMURAI's motion-aware decisions.

One file of ~1000 lines on purpose: it is one subclass whose methods each override a hook of
sam2's ``SAM2VideoPredictor`` / ``SAM2Base`` and share its per-video ``inference_state``; split
across modules, one class's overrides would have to be read in several places.

A thin subclass of ``sam2.sam2_video_predictor.SAM2VideoPredictor`` (sam2 1.1.0) with the same
public API. Per frame, for every object at once, it

1. runs SAM 2 up to the mask decoder and keeps every candidate mask, its predicted IoU and the
   object score (SAM 2 keeps only the argmax mask and drops the scores);
2. computes the candidates' boxes in torch on the model's device and hands the core ONE small
   packed batch (one device-to-host copy per frame);
3. lets ``samurai_core.step`` choose each object's candidate and the memory frames for the next
   frame (one jitted call for all objects);
4. finishes each object with the chosen candidate (object pointer, memory encoder) and builds the
   next frame's memory from the conditioning frames plus the core's ``memory_frames``.

With ``samurai=False`` steps 2–3 are skipped: the argmax candidate and SAM 2's own memory rule
are used, giving bitwise the masks of ``SAM2VideoPredictor``.

Per-video state (a ``samurai_common.tracks.VideoTracks``: the core's ``TrackState``, the
object→slot map, the memory choice) lives in ``inference_state["samurai"]``, never on the
module. Per-frame outputs older than the look-back window are released as tracking goes, and
frames can be streamed from a file, a folder or an iterator, so memory stays flat on long videos.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from samurai_common import candidates as cd
from samurai_common.candidates import Candidates
from samurai_common.config import MODEL_MEMORY_FIELDS, check_model_config, model_preset
from samurai_common.frames import FrameSource, open_frames
from samurai_common.tracks import VideoTracks
from samurai_sam2.class_prompts import ClassPromptError, class_prompt_heads, first_frame_features
from samurai_sam2.compat import check_sam2
from samurai_sam2.memory_attention import attend_memories, restatement_applies

try:  # sam2 internals (listed in samurai_sam2.compat)
    from sam2.modeling.memory_encoder import MemoryEncoder
    from sam2.modeling.sam2_base import NO_OBJ_SCORE
    from sam2.modeling.sam2_utils import get_1d_sine_pe, select_closest_cond_frames
    from sam2.sam2_video_predictor import SAM2VideoPredictor
    from sam2.utils.misc import fill_holes_in_mask_scores
except ImportError:
    check_sam2()  # another sam2 release: name the supported one
    raise

# SAM 2's image normalisation (sam2.utils.misc.load_video_frames).
IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)

_TRACKED_FORWARD = {"reverse": False}
_TRACKED_REVERSE = {"reverse": True}


class LazyVideoFrames:
    """SAM 2's ``inference_state["images"]``, preprocessed on demand from a FrameSource.

    ``frames[i]`` is the ``[3, S, S]`` float32 normalised image, computed exactly as SAM 2's
    JPEG loader does (PIL resize, /255 in float64, then mean/std in float32) so streamed and
    preloaded frames are bitwise equal. A small LRU keeps the last few.
    """

    def __init__(self, source: FrameSource, image_size: int, device, cache_size: int = 2):
        from PIL import Image

        self._Image = Image
        self.source = source
        self.image_size = int(image_size)
        self.device = torch.device(device)
        self.cache_size = cache_size
        self._cache: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._mean = torch.tensor(IMG_MEAN, dtype=torch.float32)[:, None, None]
        self._std = torch.tensor(IMG_STD, dtype=torch.float32)[:, None, None]

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> torch.Tensor:
        index = int(index)
        img = self._cache.get(index)
        if img is not None:
            self._cache.move_to_end(index)
            return img
        rgb = self.source[index]
        resized = self._Image.fromarray(rgb).resize((self.image_size, self.image_size))
        img = torch.from_numpy(np.asarray(resized) / 255.0).permute(2, 0, 1).float()
        img = ((img - self._mean) / self._std).to(self.device)
        self._cache[index] = img
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return img


class MissingExtensionWarning(UserWarning):
    """sam2 was installed without its CUDA extension (``sam2._C``): masks' small holes stay."""


def _hole_filling_available() -> bool:
    # sam2 fills small mask holes with a connected-components kernel from its compiled
    # extension; without it sam2 skips the step and warns at length on every video.
    try:
        from sam2 import _C  # noqa: F401
    except ImportError:
        return False
    return True


class SamuraiVideoPredictor(SAM2VideoPredictor):
    """SAM 2 video predictor with SAMURAI (Kalman-filtered mask choice and memory selection).

    Build it with :func:`samurai_sam2.build_samurai_video_predictor`; use it exactly as
    SAM 2's predictor::

        predictor = build_samurai_video_predictor("tiny", "sam2.1_hiera_tiny.pt")
        state = predictor.init_state("video.mp4")
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, box=[x0, y0, x1, y1])
        for frame_idx, obj_ids, masks in predictor.propagate_in_video(state):
            ...
    """

    def __init__(
        self,
        samurai: bool = True,  # SAMURAI decisions; False gives plain SAM 2 (bitwise)
        release_old_frames: bool = True,  # drop per-frame outputs older than the look-back window
        bf16_on_cuda: bool = True,  # autocast SAM 2 to bfloat16 on CUDA during propagation
        batch_objects: bool = False,  # all objects of a frame in one pass; False: one by one (sam2's way)
        compile: bool = False,  # torch.compile the image encoder and the per-frame heads
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_sam2(self)
        if self.fill_hole_area > 0 and not _hole_filling_available():
            # Exactly what sam2 does when the kernel is missing (the masks are left as they
            # are), said once in one line instead of sam2's warning on every video.
            warnings.warn(
                "sam2's CUDA extension (sam2._C) is not built: small holes in masks are not "
                "filled (SAM 2 skips this step without it; nothing else changes)",
                MissingExtensionWarning,
                stacklevel=2,
            )
            self.fill_hole_area = 0
        self.samurai = bool(samurai)
        self.samurai_config = None
        self.release_old_frames = release_old_frames
        self.bf16_on_cuda = bf16_on_cuda
        self.batch_objects = bool(batch_objects)
        self.compiled = False
        if compile:
            self.compile_model()
        import jax

        # The core's arrays are tiny: it runs on the CPU unless told otherwise.
        self.jax_device = jax.devices("cpu")[0]

    # Modules torch.compile'd by compile_model, with whether their input shapes change between
    # calls (memory length while memory fills, number of objects when batched).
    COMPILED_MODULES = {
        "image_encoder": False,
        "memory_attention": True,
        "sam_mask_decoder": True,
        "memory_encoder": True,
    }

    def compile_model(self, mode: str | None = None, backend: str = "inductor") -> None:
        """``torch.compile`` the image encoder and the per-frame heads (memory attention, mask
        decoder, memory encoder), as sam2's ``vos_optimized`` predictor does.

        In place (``nn.Module.compile``): parameter names, ``state_dict`` and checkpoints are
        unchanged. The image encoder is compiled for a static input (one frame at the model's
        size); the heads with dynamic shapes. Compilation happens on the first frames that
        reach each module (seconds to minutes; ``benchmarks/bench_compile.py`` reports it apart
        from the per-frame time). ``mode``: torch.compile's (e.g. ``"max-autotune"`` on CUDA);
        ``backend``: torch.compile's (``"eager"`` traces the modules without generating code:
        ``scripts/gpu_bench.sh``'s rehearsal on a CPU uses it to prove the way, not the speed).
        """
        for name, dynamic in self.COMPILED_MODULES.items():
            getattr(self, name).compile(mode=mode, dynamic=dynamic, backend=backend)
        self.compiled = True

    # ------------------------------------------------------------------ configuration
    def samurai_preset(self, size: str = "tiny", **overrides):
        """``samurai_core.preset(size, **overrides)`` with this model's memory sizes
        (``samurai_common.config.MODEL_MEMORY_FIELDS``)."""
        return model_preset(self._memory_sizes(), size, **overrides)

    def _memory_sizes(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in MODEL_MEMORY_FIELDS}

    def configure_samurai(self, enabled: bool = True, config=None, jax_device=None) -> None:
        """Switch SAMURAI on/off and set its ``SamuraiConfig`` (default: ``samurai_preset()``).

        Takes effect for videos initialised afterwards (``init_state``). A config whose
        ``num_maskmem`` / ``max_obj_ptrs_in_encoder`` differ from the model's is refused
        (``ValueError``, see ``samurai_common.config``): the core picks memory frames for the
        model's own memory bank.
        """
        if config is None:
            config = self.samurai_preset()
        config = check_model_config(config, self._memory_sizes(), "SAM 2", "predictor")
        self.samurai = bool(enabled)
        self.samurai_config = config
        if jax_device is not None:
            self.jax_device = jax_device

    # ------------------------------------------------------------------ video state
    @torch.inference_mode()
    def init_state(
        self,
        video_path,
        offload_video_to_cpu=False,
        offload_state_to_cpu=False,
        async_loading_frames=False,
        stream: bool = True,  # decode/preprocess frames lazily (flat memory); False: SAM 2's loader
        frame_cache_size: int = 2,  # preprocessed frames kept when streaming
        samurai: bool | None = None,  # SAMURAI on/off for this video; None: the predictor's setting
    ):
        """Start a video: a path (video file or frame folder), a FrameSource, an array or list
        of ``H×W×3`` uint8 RGB frames, or an iterator of them (``open_frames`` rules apply).

        With ``stream=True`` (default) frames are read and preprocessed on demand; with
        ``stream=False`` a JPEG folder is loaded up front by SAM 2's own loader. ``samurai``
        switches SAMURAI for this video only (one model serves vanilla and SAMURAI runs
        without changing the predictor).
        """
        if not stream:
            if not isinstance(video_path, str):
                raise ValueError(
                    "stream=False uses SAM 2's loader, which needs a path (JPEG folder or .mp4); "
                    "use stream=True for arrays, iterators and other video files"
                )
            inference_state = super().init_state(
                video_path,
                offload_video_to_cpu=offload_video_to_cpu,
                offload_state_to_cpu=offload_state_to_cpu,
                async_loading_frames=async_loading_frames,
            )
        else:
            source = open_frames(video_path)
            compute_device = self.device
            image_device = torch.device("cpu") if offload_video_to_cpu else compute_device
            inference_state = {
                "images": LazyVideoFrames(source, self.image_size, image_device, frame_cache_size),
                "num_frames": len(source),
                "offload_video_to_cpu": offload_video_to_cpu,
                "offload_state_to_cpu": offload_state_to_cpu,
                "video_height": source.height,
                "video_width": source.width,
                "device": compute_device,
                "storage_device": torch.device("cpu") if offload_state_to_cpu else compute_device,
                "point_inputs_per_obj": {},
                "mask_inputs_per_obj": {},
                "cached_features": {},
                "constants": {},
                "obj_id_to_idx": OrderedDict(),
                "obj_idx_to_id": OrderedDict(),
                "obj_ids": [],
                "output_dict_per_obj": {},
                "temp_output_dict_per_obj": {},
                "frames_tracked_per_obj": {},
                "frame_source": source,
            }
            self._get_image_feature(inference_state, frame_idx=0, batch_size=1)
        inference_state["samurai"] = self._new_samurai_state(samurai)
        return inference_state

    def _new_samurai_state(self, enabled: bool | None = None) -> dict:
        if self.samurai_config is None:
            self.configure_samurai(self.samurai)
        return {
            "enabled": self.samurai if enabled is None else bool(enabled),
            # The core's state, the object->slot map and each object's pass and memory choice.
            "tracks": VideoTracks(self.samurai_config, self.jax_device),
        }

    @torch.inference_mode()
    def reset_state(self, inference_state):
        """Remove all prompts, outputs and tracks (SAMURAI tracks included)."""
        super().reset_state(inference_state)
        if "samurai" in inference_state:
            enabled = inference_state["samurai"]["enabled"]
            inference_state["samurai"] = self._new_samurai_state(enabled)

    @torch.inference_mode()
    def remove_object(self, inference_state, obj_id, strict=False, need_output=True):
        """Remove an object (SAM 2 semantics) and free its SAMURAI track slot."""
        out = super().remove_object(inference_state, obj_id, strict=strict, need_output=need_output)
        sam = inference_state.get("samurai")
        if sam is not None:
            sam["tracks"].remove(obj_id)
        return out

    # ------------------------------------------------------------------ prompts
    def _check_frame_idx(self, inference_state, frame_idx) -> None:
        n = inference_state["num_frames"]
        if not isinstance(frame_idx, (int, np.integer)) or not 0 <= frame_idx < n:
            raise ValueError(f"frame_idx={frame_idx!r} is not a frame of this video (0..{n - 1})")

    def _check_coords(self, inference_state, what: str, xy: np.ndarray, normalize: bool) -> None:
        W = inference_state["video_width"] if normalize else 1.0
        H = inference_state["video_height"] if normalize else 1.0
        if not np.all(np.isfinite(xy)):
            raise ValueError(f"{what} has non-finite coordinates {xy.tolist()}")
        x, y = xy[..., 0], xy[..., 1]
        if np.any(x < 0) or np.any(y < 0) or np.any(x > W) or np.any(y > H):
            raise ValueError(
                f"{what} {xy.reshape(-1).tolist()} lies outside the {W}x{H} frame "
                f"({'pixels' if normalize else 'normalised coordinates'}); clip it to the frame, "
                f"e.g. np.clip(box, 0, [W, H, W, H]), or check x/y order"
            )

    @torch.inference_mode()
    def add_new_points_or_box(
        self,
        inference_state,
        frame_idx,
        obj_id,
        points=None,
        labels=None,
        clear_old_points=True,
        normalize_coords=True,
        box=None,
    ):
        """Add clicks and/or a box ``[x_min, y_min, x_max, y_max]`` (pixels) on a frame.

        Same as SAM 2's, with input checks: a box must lie inside the frame with
        ``x_max >= x_min`` and ``y_max >= y_min`` (the corners' pixel indices, the project's box
        convention: a one-pixel object is ``[x, y, x, y]``) and not be all zeros (an empty
        mask's box); points must lie inside the frame.
        """
        self._check_frame_idx(inference_state, frame_idx)
        if box is not None:
            b = np.asarray(box.cpu() if isinstance(box, torch.Tensor) else box, dtype=np.float64)
            if b.size != 4:
                raise ValueError(f"box must have 4 numbers [x_min, y_min, x_max, y_max]; got shape {b.shape}")
            b = b.reshape(2, 2)
            self._check_coords(inference_state, "box", b, normalize_coords)
            if not (b[1, 0] >= b[0, 0] and b[1, 1] >= b[0, 1]) or not b.any():
                raise ValueError(
                    f"box {b.reshape(-1).tolist()} is empty (all zeros: the box of an empty mask) "
                    f"or has negative width/height; a box is [x_min, y_min, x_max, y_max] with "
                    f"x_max >= x_min and y_max >= y_min (samurai_core.mask_to_box of a mask; "
                    f"convert LaSOT x,y,w,h boxes with samurai_core.lasot_to_xyxy)"
                )
        if points is not None:
            p = np.asarray(points.cpu() if isinstance(points, torch.Tensor) else points, np.float64)
            self._check_coords(inference_state, "points", p.reshape(-1, 2), normalize_coords)
        return super().add_new_points_or_box(
            inference_state,
            frame_idx,
            obj_id,
            points=points,
            labels=labels,
            clear_old_points=clear_old_points,
            normalize_coords=normalize_coords,
            box=box,
        )

    @torch.inference_mode()
    def add_new_mask(self, inference_state, frame_idx, obj_id, mask):
        """Add a mask prompt (``H×W`` bool or 0/1) on a frame; same as SAM 2's, with checks."""
        self._check_frame_idx(inference_state, frame_idx)
        m = mask if isinstance(mask, torch.Tensor) else np.asarray(mask)
        if m.ndim != 2:
            raise ValueError(f"mask must be a 2-D H×W array; got shape {tuple(m.shape)}")
        if not bool((m != 0).any()):
            raise ValueError(
                f"the mask for object {obj_id} on frame {frame_idx} is empty; give a mask with "
                f"at least one foreground pixel (or use a box/points prompt)"
            )
        return super().add_new_mask(inference_state, frame_idx, obj_id, mask)

    # ------------------------------------------------------------------ class prompts
    # Learned class prompts (ClassPrompts) are model weights, not per-video state; they are
    # kept outside the module tree so that the model's state_dict stays SAM 2's (official
    # checkpoints, merge_adapter).
    _class_prompts = None

    @property
    def class_prompts(self):
        """The learned class prompts in use (``samurai_sam2.ClassPrompts``), or None."""
        return self._class_prompts

    def set_class_prompts(self, prompts) -> None:
        """Use ``prompts`` (a ``ClassPrompts``, e.g. ``ClassPrompts.load(adapter_dir)``) for
        :meth:`find_classes` and :meth:`add_new_class_prompt`; ``load_adapter`` calls this when
        the adapter folder holds class prompts."""
        object.__setattr__(self, "_class_prompts", None if prompts is None else prompts.to(self.device))

    def _class_heads(self, inference_state, frame_idx: int, class_names):
        if self._class_prompts is None:
            raise ClassPromptError(
                "this predictor has no learned class prompts: load an adapter trained with "
                "`samurai train --prompts learned` (load_adapter / --adapter DIR)"
            )
        self._check_frame_idx(inference_state, frame_idx)
        tokens = self._class_prompts.tokens_for(list(class_names)).to(self.device)
        _, _, feats, pos, sizes = self._get_image_feature(inference_state, frame_idx, len(class_names))
        pix_feat, high_res = first_frame_features(self, feats, pos, sizes)
        return class_prompt_heads(self, pix_feat, high_res, tokens)

    @torch.inference_mode()
    def find_classes(self, inference_state, frame_idx, class_names):
        """Where each named class is on ``frame_idx``, from its learned prompt alone (no memory,
        no state change): ``(masks [K, 1, H, W] logits at video resolution, object_scores [K]
        logits)``; a class counts as present when its object score is above 0."""
        _, _, _, low, _, _, obj_logits = self._class_heads(inference_state, frame_idx, class_names)
        _, video_res = self._get_orig_video_res_output(inference_state, low)
        return video_res, obj_logits.float().reshape(-1)

    @torch.inference_mode()
    def add_new_class_prompt(self, inference_state, frame_idx, obj_id, class_name):
        """Prompt ``obj_id`` on ``frame_idx`` with the learned prompt of ``class_name`` (no box,
        no click): the frame becomes a conditioning frame of that object, as a box would.

        On a frame after the object's earlier prompts this re-seeds it: the new conditioning
        frame joins its memory and its SAMURAI motion track restarts. Call it between passes
        of :meth:`propagate_in_video` (stop after frame ``t - 1``, prompt frame ``t``, resume
        with ``start_frame_idx=t``). Returns ``(frame_idx, obj_ids, masks, object_score)``:
        SAM 2's three outputs plus this object's object-score logit on the frame.
        """
        _, _, _, low, _, obj_ptr, obj_logits = self._class_heads(inference_state, frame_idx, [class_name])
        obj_idx = self._obj_id_to_idx(inference_state, obj_id)
        inference_state["point_inputs_per_obj"][obj_idx].pop(frame_idx, None)
        inference_state["mask_inputs_per_obj"][obj_idx].pop(frame_idx, None)
        pred_masks = low
        if self.fill_hole_area > 0:
            pred_masks = fill_holes_in_mask_scores(pred_masks, self.fill_hole_area)
        # The memory encoder runs in propagate_in_video's preflight, as for SAM 2's prompts.
        inference_state["temp_output_dict_per_obj"][obj_idx]["cond_frame_outputs"][frame_idx] = {
            "maskmem_features": None,
            "maskmem_pos_enc": None,
            "pred_masks": pred_masks.to(inference_state["storage_device"]),
            "obj_ptr": obj_ptr,
            "object_score_logits": obj_logits,
        }
        sam = inference_state.get("samurai")
        if sam is not None and obj_id in sam["tracks"].slot_of:
            sam["tracks"].restart(obj_id)
        consolidated = self._consolidate_temp_output_across_obj(
            inference_state, frame_idx, is_cond=True, consolidate_at_video_res=True
        )
        _, video_res = self._get_orig_video_res_output(inference_state, consolidated["pred_masks_video_res"])
        return frame_idx, inference_state["obj_ids"], video_res, float(obj_logits.float().reshape(-1)[0])

    # ------------------------------------------------------------------ propagation
    # Device types on which ``bf16_on_cuda`` autocasts propagation to bfloat16. Users get CUDA
    # only (``--dtype bf16`` is refused on the CPU); adding "cpu" rehearses the CUDA path's
    # bfloat16 arithmetic on a machine without a GPU (tests, ``scripts/gpu_bench.sh``'s
    # rehearsal): the same autocast, through the same code, with the CPU's kernels.
    autocast_device_types: tuple[str, ...] = ("cuda",)

    def _autocast(self, inference_state):
        device_type = inference_state["device"].type
        if self.bf16_on_cuda and device_type in self.autocast_device_types:
            return torch.autocast(device_type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.inference_mode()
    def propagate_in_video(
        self,
        inference_state,
        start_frame_idx=None,
        max_frame_num_to_track=None,
        reverse=False,
    ) -> Iterator[tuple[int, list, torch.Tensor]]:
        """Track every object through the video; yields ``(frame_idx, obj_ids, masks)``.

        Same arguments and outputs as SAM 2's: ``masks`` are ``[num_objects, 1, H, W]`` logits
        at the video's resolution. A streamed video is tracked until its frames end, not until
        the count it announced (see ``FrameSource.available``): a video file that decodes more
        frames than its container announces is tracked to its last frame, and one that decodes
        fewer (or a frame folder with an unreadable file) ends the propagation at the last frame
        read; ``len`` of the frame source and ``inference_state["num_frames"]`` then give the
        frames read. Each frame's scores (predicted IoUs, object scores, motion scores, chosen
        candidate, memory frames) are readable with :meth:`frame_scores` while the frame is
        inside the look-back window.
        """
        with self._autocast(inference_state):
            self.propagate_in_video_preflight(inference_state)
        num_frames = inference_state["num_frames"]
        source = inference_state.get("frame_source")  # None: frames preloaded by SAM 2's loader
        if start_frame_idx is None:
            start_frame_idx = min(
                t
                for obj_output_dict in inference_state["output_dict_per_obj"].values()
                for t in obj_output_dict["cond_frame_outputs"]
            )
        if reverse:
            limit = num_frames if max_frame_num_to_track is None else max_frame_num_to_track
            end_frame_idx = max(start_frame_idx - limit, 0)
            order = range(start_frame_idx, end_frame_idx - 1, -1) if start_frame_idx > 0 else []
        elif max_frame_num_to_track is None and source is not None:
            order = itertools.count(start_frame_idx)  # until the source's frames end
        else:
            limit = num_frames if max_frame_num_to_track is None else max_frame_num_to_track
            order = range(start_frame_idx, min(start_frame_idx + limit, num_frames - 1) + 1)

        desc = (
            "propagate in video (" + ("SAMURAI" if inference_state["samurai"]["enabled"] else "SAM 2") + ")"
        )
        total = len(order) if isinstance(order, range) else max(num_frames - start_frame_idx, 0)
        for frame_idx in tqdm(order, desc=desc, total=total, disable=total < 2):
            if source is not None:
                if not source.available(frame_idx):
                    # The video ends here (early, or where its frames ran out past the count
                    # its container announced): the frames already yielded stand.
                    inference_state["num_frames"] = len(source)
                    return
                # A video may decode more frames than it announced: the count grows as they come.
                # (SAM 2 scales object-pointer positions by min(num_frames, 16), so on a video
                # that under-announces a count below 16 the first frames see the smaller one.)
                inference_state["num_frames"] = len(source)
            with self._autocast(inference_state):
                masks = self._propagate_frame(inference_state, frame_idx, reverse)
                _, video_res_masks = self._get_orig_video_res_output(inference_state, masks)
            if self.release_old_frames:
                self._release_old_outputs(inference_state, frame_idx, reverse)
            yield frame_idx, inference_state["obj_ids"], video_res_masks

    def _propagate_frame(self, inference_state, frame_idx: int, reverse: bool) -> torch.Tensor:
        """Run one frame for all objects; returns their low-res mask logits ``[N, 1, h, w]``."""
        batch_size = self._get_obj_num(inference_state)
        sam = inference_state["samurai"]
        use_samurai, tracks = sam["enabled"], sam["tracks"]
        device = inference_state["device"]
        tracked_as = _TRACKED_REVERSE if reverse else _TRACKED_FORWARD
        pred_masks_per_obj: list = [None] * batch_size
        tracked: list[tuple[int, list[int] | None]] = []  # (obj_idx, memory frames or None)
        for obj_idx in range(batch_size):
            obj_output_dict = inference_state["output_dict_per_obj"][obj_idx]
            obj_id = self._obj_idx_to_id(inference_state, obj_idx)
            if frame_idx in obj_output_dict["cond_frame_outputs"]:
                out = obj_output_dict["cond_frame_outputs"][frame_idx]
                pred_masks_per_obj[obj_idx] = out["pred_masks"].to(device, non_blocking=True)
                if self.clear_non_cond_mem_around_input:
                    self._clear_obj_non_cond_mem_around_input(inference_state, frame_idx, obj_idx)
                if use_samurai:
                    tracks.visit(obj_id, frame_idx, reverse)
            else:
                memory_frames = None
                if use_samurai:
                    memory_frames = tracks.memory_frames(obj_id, frame_idx, reverse)
                tracked.append((obj_idx, memory_frames))
            inference_state["frames_tracked_per_obj"][obj_idx][frame_idx] = tracked_as
        if not tracked:
            pass
        elif self.batch_objects:
            masks = self._track_objects_batched(inference_state, frame_idx, reverse, tracked, use_samurai)
            if len(tracked) == batch_size:
                return masks  # every object tracked here, in object order
            for i, (obj_idx, _) in enumerate(tracked):
                pred_masks_per_obj[obj_idx] = masks[i : i + 1]
        else:
            self._track_objects_one_by_one(
                inference_state, frame_idx, reverse, tracked, use_samurai, pred_masks_per_obj
            )
        if batch_size > 1:
            return torch.cat(pred_masks_per_obj, dim=0)
        return pred_masks_per_obj[0]

    def _track_objects_one_by_one(
        self, inference_state, frame_idx, reverse, tracked, use_samurai, pred_masks_per_obj
    ):
        """The reference path (``batch_objects=False``): memory attention, the mask decoder and
        the memory encoder run once per object, as in sam2 1.1.0."""
        pending = [
            (
                obj_idx,
                self._frame_candidates(
                    inference_state,
                    inference_state["output_dict_per_obj"][obj_idx],
                    frame_idx,
                    reverse,
                    memory,
                ),
            )
            for obj_idx, memory in tracked
        ]
        if use_samurai:
            chosen, records = self._samurai_decide(inference_state, frame_idx, pending)
        else:
            chosen = [torch.argmax(c.ious, dim=-1) for _, c in pending]
            records = [None] * len(pending)
        for (obj_idx, cand), idx, record in zip(pending, chosen, records):
            out, pred_masks = self._finish_frame(inference_state, cand, idx, record)
            inference_state["output_dict_per_obj"][obj_idx]["non_cond_frame_outputs"][frame_idx] = out
            pred_masks_per_obj[obj_idx] = pred_masks

    def _track_objects_batched(
        self, inference_state, frame_idx, reverse, tracked, use_samurai
    ) -> torch.Tensor:
        """All tracked objects of a frame in one pass: the image features once, memory attention
        once per group of objects whose memories have the same length (each object attends to
        its own memory frames), then the mask decoder, the object pointers and the memory
        encoder once for all. Returns the objects' low-res mask logits ``[B, 1, h, w]`` in the
        order of ``tracked``."""
        cand = self._batched_candidates(inference_state, frame_idx, reverse, tracked)
        B = len(tracked)
        if use_samurai:
            obj_ids = [self._obj_idx_to_id(inference_state, obj_idx) for obj_idx, _ in tracked]
            chosen, records = cd.decide(inference_state["samurai"]["tracks"], obj_ids, frame_idx, [cand])
            idx = torch.cat(chosen) if B > 1 else chosen[0]
        else:
            idx = torch.argmax(cand.ious, dim=-1)
            chosen, records = idx.split(1), [None] * B
        low, high, obj_ptr = self._select_candidate(cand, idx)
        storage = inference_state["storage_device"]
        features, pos_enc = self._encode_memories(inference_state, cand, high)
        pred_masks = low
        if self.fill_hole_area > 0:
            pred_masks = fill_holes_in_mask_scores(pred_masks, self.fill_hole_area)
        stored_masks = pred_masks.to(storage, non_blocking=True)
        for i, (obj_idx, _) in enumerate(tracked):
            out = {
                "maskmem_features": None if features is None else features[i : i + 1],
                "maskmem_pos_enc": pos_enc,
                "pred_masks": stored_masks[i : i + 1],
                "obj_ptr": obj_ptr[i : i + 1],
                "object_score_logits": cand.object_score_logits[i : i + 1],
                "ious": cand.ious[i : i + 1],
                "chosen": chosen[i],
            }
            if records[i] is not None:
                out["samurai"] = records[i]
            inference_state["output_dict_per_obj"][obj_idx]["non_cond_frame_outputs"][frame_idx] = out
        return pred_masks

    def _batched_candidates(self, inference_state, frame_idx, reverse, tracked) -> Candidates:
        """:meth:`_frame_candidates` for several objects at once (``Candidates`` of ``B``)."""
        _, _, feats, pos, sizes = self._get_image_feature(inference_state, frame_idx, 1)
        curr, curr_pos = feats[-1], pos[-1]  # [HW, 1, C]: the image's, shared by every object
        B, C = len(tracked), self.hidden_dim
        H, W = sizes[-1]
        inputs = []
        for obj_idx, memory_frames in tracked:
            if memory_frames is None:
                memory_frames = self._sam2_memory_frames(frame_idx, reverse)
            output_dict = inference_state["output_dict_per_obj"][obj_idx]
            inputs.append(
                self._memory_inputs(
                    frame_idx, output_dict, inference_state["num_frames"], reverse, memory_frames, curr
                )
            )
        # Memory attention batches objects whose memories have the same length and the same
        # number of object-pointer tokens (those skip the rotary encoding): SAMURAI's sets of
        # frames differ between objects, their sizes mostly do not.
        groups: dict[tuple[int, int], list[int]] = {}
        for k, (memory, _, num_ptr) in enumerate(inputs):
            groups.setdefault((memory.shape[0], num_ptr), []).append(k)
        # The restatement shares the image's part of memory attention between the objects and
        # attends to the memory in its own width (samurai_sam2.memory_attention); a compiled
        # module or a model it does not fit runs sam2's module.
        restated = not self.compiled and restatement_applies(self.memory_attention)
        per_object: list = [None] * B
        for (_, num_ptr), members in groups.items():
            G = len(members)
            memory = torch.cat([inputs[k][0] for k in members], dim=1)
            memory_pos = torch.cat([inputs[k][1] for k in members], dim=1)
            if restated:
                attended = attend_memories(self.memory_attention, curr, curr_pos, memory, memory_pos, num_ptr)
            else:
                attended = self.memory_attention(
                    curr=[curr.expand(-1, G, -1)],
                    curr_pos=[curr_pos.expand(-1, G, -1)],
                    memory=memory,
                    memory_pos=memory_pos,
                    num_obj_ptr_tokens=num_ptr,
                )
            attended = attended.permute(1, 2, 0).view(G, C, H, W)
            if G == B:
                pix_feat = attended
                break
            for j, k in enumerate(members):
                per_object[k] = attended[j : j + 1]
        else:
            pix_feat = torch.cat(per_object, dim=0)
        high_res_features = [
            x.permute(1, 2, 0).view(x.size(1), x.size(2), *s).expand(B, -1, -1, -1)
            for x, s in zip(feats[:-1], sizes[:-1])
        ] or None
        multimask = self._use_multimask(False, None)
        low, high, ious, tokens, obj_logits = self._sam_head_candidates(
            pix_feat, high_res_features, multimask
        )
        return Candidates(low, high, ious, tokens, obj_logits, multimask, features=(feats, sizes))

    def _encode_memories(self, inference_state, cand: Candidates, high: torch.Tensor):
        """The memory encoder for the chosen masks ``high [B, 1, S, S]`` of ``B`` objects on one
        frame: ``(features [B, ...] bfloat16 on the storage device, the position encodings of
        one object)`` (the same for every object), or ``(None, None)`` without a memory."""
        if self.num_maskmem == 0:
            return None, None
        feats, sizes = cand.features
        B = high.size(0)
        if self.non_overlap_masks_for_mem_enc and B > 1:
            # That option constrains masks across the batch; sam2 encodes objects one by one.
            parts = [
                self._encode_new_memory(
                    current_vision_feats=feats,
                    feat_sizes=sizes,
                    pred_masks_high_res=high[i : i + 1],
                    object_score_logits=cand.object_score_logits[i : i + 1],
                    is_mask_from_pts=False,
                )
                for i in range(B)
            ]
            features = torch.cat([f for f, _ in parts], dim=0)
            pos_enc = parts[0][1]
        elif self.compiled or type(self.memory_encoder) is not MemoryEncoder:
            features, pos_enc = self._encode_new_memory(
                current_vision_feats=[feats[-1].expand(-1, B, -1)],
                feat_sizes=sizes,
                pred_masks_high_res=high,
                object_score_logits=cand.object_score_logits,
                is_mask_from_pts=False,
            )
        else:
            features, pos_enc = self._encode_tracked_memories(
                feats[-1], sizes, high, cand.object_score_logits
            )
        features = features.to(torch.bfloat16).to(inference_state["storage_device"], non_blocking=True)
        pos_enc = self._get_maskmem_pos_enc(inference_state, {"maskmem_pos_enc": [p[:1] for p in pos_enc]})
        return features, pos_enc

    def _encode_tracked_memories(self, image_feat, feat_sizes, high, object_score_logits):
        """sam2 1.1.0's ``SAM2Base._encode_new_memory`` and ``MemoryEncoder.forward`` for the
        chosen masks ``high [B, 1, S, S]`` of ``B`` objects on one tracking frame, with the
        memory encoder's image projection (``pix_feat_proj``) run once on the frame's features
        ``image_feat [HW, 1, C]`` and broadcast over the objects; the rest is upstream's
        (tracking frames only: masks never come from clicks, so no binarising branch; the
        non-overlap option is handled by the caller)."""
        H, W = feat_sizes[-1]
        pix_feat = image_feat.permute(1, 2, 0).view(1, self.hidden_dim, H, W)
        mask_for_mem = torch.sigmoid(high)
        if self.sigmoid_scale_for_mem_enc != 1.0:
            mask_for_mem = mask_for_mem * self.sigmoid_scale_for_mem_enc
        if self.sigmoid_bias_for_mem_enc != 0.0:
            mask_for_mem = mask_for_mem + self.sigmoid_bias_for_mem_enc
        encoder = self.memory_encoder
        masks = encoder.mask_downsampler(mask_for_mem)
        x = encoder.pix_feat_proj(pix_feat.to(masks.device)) + masks
        x = encoder.out_proj(encoder.fuser(x))
        pos = encoder.position_encoding(x).to(x.dtype)
        if self.no_obj_embed_spatial is not None:
            absent = 1 - (object_score_logits > 0).float()
            x += absent[..., None, None] * self.no_obj_embed_spatial[..., None, None].expand(*x.shape)
        return x, [pos]

    # ------------------------------------------------------------------ SAM 2 pieces
    def _frame_candidates(
        self, inference_state, output_dict, frame_idx, reverse, memory_frames
    ) -> Candidates:
        """SAM 2's tracking step for one object up to the mask decoder, keeping all candidates."""
        (_, _, feats, pos, sizes) = self._get_image_feature(inference_state, frame_idx, 1)
        if len(feats) > 1:
            high_res_features = [
                x.permute(1, 2, 0).view(x.size(1), x.size(2), *s) for x, s in zip(feats[:-1], sizes[:-1])
            ]
        else:
            high_res_features = None
        memory_args = dict(
            frame_idx=frame_idx,
            is_init_cond_frame=False,
            current_vision_feats=feats[-1:],
            current_vision_pos_embeds=pos[-1:],
            feat_sizes=sizes[-1:],
            output_dict=output_dict,
            num_frames=inference_state["num_frames"],
            track_in_reverse=reverse,
        )
        if memory_frames is None:
            memory_frames = self._sam2_memory_frames(frame_idx, reverse)
        pix_feat = self._memory_conditioned_features(memory_frames=memory_frames, **memory_args)
        multimask = self._use_multimask(False, None)
        low, high, ious, tokens, obj_logits = self._sam_head_candidates(
            pix_feat, high_res_features, multimask
        )
        return Candidates(low, high, ious, tokens, obj_logits, multimask, features=(feats, sizes))

    def _sam_head_candidates(self, backbone_features, high_res_features, multimask: bool):
        """The prompt-free SAM heads of a tracking frame: every candidate, nothing chosen.

        Same computation as ``SAM2Base._forward_sam_heads`` without point or mask inputs, up to
        (not including) its argmax over the predicted IoUs.
        """
        B = backbone_features.size(0)
        device = backbone_features.device
        no_points = torch.zeros(B, 1, 2, device=device)
        no_labels = -torch.ones(B, 1, dtype=torch.int32, device=device)
        sparse, dense = self.sam_prompt_encoder(points=(no_points, no_labels), boxes=None, masks=None)
        low, ious, tokens, obj_logits = self.sam_mask_decoder(
            image_embeddings=backbone_features,
            image_pe=self.sam_prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask,
            repeat_image=False,
            high_res_features=high_res_features,
        )
        if self.pred_obj_scores:
            # An absent object gets NO_OBJ_SCORE everywhere: its candidates are empty (zero box).
            low = torch.where(obj_logits[:, :, None, None] > 0, low, NO_OBJ_SCORE)
        low = low.float()
        high = F.interpolate(
            low, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False
        )
        return low, high, ious, tokens, obj_logits

    def _select_candidate(self, cand: Candidates, idx: torch.Tensor):
        """The chosen candidates' low/high-res masks and object pointers (as SAM 2 forms them)."""
        low, high, token = cd.select_candidate(cand, idx)
        obj_ptr = self.obj_ptr_proj(token)
        if self.pred_obj_scores:
            obj_ptr = cd.object_pointer(
                obj_ptr,
                cand.object_score_logits,
                self.no_obj_ptr,
                soft=self.soft_no_obj_ptr,
                scale=self.fixed_no_obj_ptr,
                weight_dtype=torch.float32,
            )
        return low, high, obj_ptr

    def _finish_frame(self, inference_state, cand: Candidates, idx, record):
        """Memory-encode the chosen candidate and store the frame's compact output."""
        low, high, obj_ptr = self._select_candidate(cand, idx)
        storage = inference_state["storage_device"]
        maskmem_features, maskmem_pos_enc = None, None
        if self.num_maskmem > 0:
            maskmem_features, maskmem_pos_enc = self._encode_new_memory(
                current_vision_feats=cand.features[0],
                feat_sizes=cand.features[1],
                pred_masks_high_res=high,
                object_score_logits=cand.object_score_logits,
                is_mask_from_pts=False,
            )
            maskmem_features = maskmem_features.to(torch.bfloat16).to(storage, non_blocking=True)
        pred_masks_gpu = low
        if self.fill_hole_area > 0:
            pred_masks_gpu = fill_holes_in_mask_scores(pred_masks_gpu, self.fill_hole_area)
        out = {
            "maskmem_features": maskmem_features,
            "maskmem_pos_enc": self._get_maskmem_pos_enc(
                inference_state, {"maskmem_pos_enc": maskmem_pos_enc}
            ),
            "pred_masks": pred_masks_gpu.to(storage, non_blocking=True),
            "obj_ptr": obj_ptr,
            "object_score_logits": cand.object_score_logits,
            # Kept for SAMURAI and for users (SAM 2 drops them): all candidates' predicted IoUs.
            "ious": cand.ious,
            "chosen": idx,
        }
        if record is not None:
            out["samurai"] = record
        return out, pred_masks_gpu

    def _sam2_memory_frames(self, frame_idx: int, reverse: bool) -> list[int]:
        """SAM 2's own memory frames, newest first: the previous frame, then every
        ``memory_temporal_stride_for_eval``-th frame before it (may name frames that do not
        exist; those are skipped, keeping the temporal positions of the others)."""
        r = 1 if self.training else self.memory_temporal_stride_for_eval
        frames = [frame_idx + 1 if reverse else frame_idx - 1]
        for t_rel in range(2, self.num_maskmem):
            if reverse:
                frames.append(-(-(frame_idx + 2) // r) * r + (t_rel - 2) * r)
            else:
                frames.append(((frame_idx - 2) // r) * r - (t_rel - 2) * r)
        return frames

    def _memory_conditioned_features(
        self,
        frame_idx,
        is_init_cond_frame,
        current_vision_feats,
        current_vision_pos_embeds,
        feat_sizes,
        output_dict,
        num_frames,
        track_in_reverse,
        memory_frames,
    ):
        """sam2 1.1.0's ``SAM2Base._prepare_memory_conditioned_features`` for a tracking frame,
        with the spatial memory taken from ``memory_frames``.

        Differences from upstream (keep this list current):

        - Spatial memory: the frames of ``memory_frames`` (newest first; the core's choice with
          SAMURAI on, ``_sam2_memory_frames`` — upstream's own rule — with it off) instead of
          the previous frame plus every ``memory_temporal_stride_for_eval``-th frame computed
          inline. The k-th newest gets temporal position ``num_maskmem - 1 - k`` (the slot
          upstream gives the frame k+1 steps back), as in the official SAMURAI code.
        - Tracking frames only: no ``is_init_cond_frame`` branch (``no_mem_embed``) and no
          ``num_maskmem == 0`` shortcut; the caller never asks for those. A missing
          conditioning frame raises ``RuntimeError`` (upstream: ``assert``).
        - The memory concatenation is promoted to one dtype explicitly (upstream relies on the
          float32 object pointers, and fails on CPU when there are none).

        Conditioning frames and object pointers follow upstream's rules unchanged.
        """
        B = current_vision_feats[-1].size(1)
        C = self.hidden_dim
        H, W = feat_sizes[-1]
        memory, memory_pos, num_obj_ptr_tokens = self._memory_inputs(
            frame_idx, output_dict, num_frames, track_in_reverse, memory_frames, current_vision_feats[-1]
        )
        pix_feat = self.memory_attention(
            curr=current_vision_feats,
            curr_pos=current_vision_pos_embeds,
            memory=memory,
            memory_pos=memory_pos,
            num_obj_ptr_tokens=num_obj_ptr_tokens,
        )
        return pix_feat.permute(1, 2, 0).view(B, C, H, W)

    def _memory_inputs(self, frame_idx, output_dict, num_frames, track_in_reverse, memory_frames, curr):
        """One object's memory for frame ``frame_idx``: ``(memory [N, B, mem_dim], memory_pos
        [N, B, mem_dim], num_obj_ptr_tokens)``, the cross-attention inputs of
        :meth:`_memory_conditioned_features` (``curr``: the frame's ``[HW, B, C]`` features,
        for the batch size, device and dtype)."""
        B = curr.size(1)
        device = curr.device
        cond_outputs = output_dict["cond_frame_outputs"]
        if not cond_outputs:
            raise RuntimeError("an object without a conditioning frame cannot be tracked")
        selected_cond, unselected_cond = select_closest_cond_frames(
            frame_idx, cond_outputs, self.max_cond_frames_in_attn
        )
        non_cond = output_dict["non_cond_frame_outputs"]
        memory, memory_pos = self._spatial_memory(
            selected_cond, unselected_cond, non_cond, memory_frames, device
        )
        num_obj_ptr_tokens = 0
        if self.use_obj_ptrs_in_encoder:
            pointers = self._object_pointer_memory(
                frame_idx,
                selected_cond,
                unselected_cond,
                non_cond,
                num_frames,
                track_in_reverse,
                B,
                device,
            )
            if pointers is not None:
                memory.append(pointers[0])
                memory_pos.append(pointers[1])
                num_obj_ptr_tokens = pointers[0].shape[0]

        # Stored memories are bfloat16; SAM 2 relies on the float32 object pointers to promote
        # the concatenation, and fails on CPU when there are none (an object whose prompt lies
        # ahead). Promoting explicitly gives the same values in every other case.
        dtype = functools.reduce(torch.promote_types, [m.dtype for m in memory], curr.dtype)
        memory = torch.cat([m.to(dtype) for m in memory], dim=0)
        return memory, torch.cat(memory_pos, dim=0), num_obj_ptr_tokens

    def _spatial_memory(self, selected_cond, unselected_cond, non_cond, memory_frames, device):
        """Memory tokens and position encodings ``([HW, B, mem_dim], ...)`` of the selected
        conditioning frames (temporal position 0) and of ``memory_frames`` (see above)."""
        t_pos_and_prevs = [(0, out) for out in selected_cond.values()]
        chosen = list(memory_frames)[: self.num_maskmem - 1]
        for k in range(len(chosen) - 1, -1, -1):  # oldest first, as SAM 2 orders its memory
            f = chosen[k]
            out = non_cond.get(f, None)
            if out is None:
                out = unselected_cond.get(f, None)
            t_pos_and_prevs.append((self.num_maskmem - 1 - k, out))

        memory, memory_pos = [], []
        for t_pos, prev in t_pos_and_prevs:
            if prev is None:
                continue
            memory.append(prev["maskmem_features"].to(device, non_blocking=True).flatten(2).permute(2, 0, 1))
            enc = prev["maskmem_pos_enc"][-1].to(device).flatten(2).permute(2, 0, 1)
            memory_pos.append(enc + self.maskmem_tpos_enc[self.num_maskmem - t_pos - 1])
        return memory, memory_pos

    def _object_pointer_memory(
        self,
        frame_idx,
        selected_cond,
        unselected_cond,
        non_cond,
        num_frames,
        track_in_reverse,
        B,
        device,
    ):
        """Upstream's object-pointer tokens and their temporal encodings, or None without any:
        the conditioning frames' pointers (past ones only, at eval), then those of the last
        ``max_obj_ptrs_in_encoder - 1`` frames."""
        C = self.hidden_dim
        max_ptrs = min(num_frames, self.max_obj_ptrs_in_encoder)
        sign = -1 if track_in_reverse else 1
        if not self.training and self.only_obj_ptrs_in_the_past_for_eval:
            ptr_cond = {
                t: out
                for t, out in selected_cond.items()
                if (t >= frame_idx if track_in_reverse else t <= frame_idx)
            }
        else:
            ptr_cond = selected_cond
        pos_and_ptrs = [
            (
                (frame_idx - t) * sign if self.use_signed_tpos_enc_to_obj_ptrs else abs(frame_idx - t),
                out["obj_ptr"],
            )
            for t, out in ptr_cond.items()
        ]
        for t_diff in range(1, max_ptrs):
            t = frame_idx + t_diff if track_in_reverse else frame_idx - t_diff
            if t < 0 or (num_frames is not None and t >= num_frames):
                break
            out = non_cond.get(t, unselected_cond.get(t, None))
            if out is not None:
                pos_and_ptrs.append((t_diff, out["obj_ptr"]))
        if not pos_and_ptrs:
            return None
        pos_list, ptrs_list = zip(*pos_and_ptrs)
        obj_ptrs = torch.stack(ptrs_list, dim=0)
        if self.add_tpos_enc_to_obj_ptrs:
            tpos_dim = C if self.proj_tpos_enc_in_obj_ptrs else self.mem_dim
            obj_pos = torch.tensor(pos_list).to(device=device, non_blocking=True)
            obj_pos = get_1d_sine_pe(obj_pos / (max_ptrs - 1), dim=tpos_dim)
            obj_pos = self.obj_ptr_tpos_proj(obj_pos)
            obj_pos = obj_pos.unsqueeze(1).expand(-1, B, self.mem_dim)
        else:
            obj_pos = obj_ptrs.new_zeros(len(pos_list), B, self.mem_dim)
        if self.mem_dim < C:
            # Split each C-dim pointer into C / mem_dim memory tokens.
            obj_ptrs = obj_ptrs.reshape(-1, B, C // self.mem_dim, self.mem_dim)
            obj_ptrs = obj_ptrs.permute(0, 2, 1, 3).flatten(0, 1)
            obj_pos = obj_pos.repeat_interleave(C // self.mem_dim, dim=0)
        return obj_ptrs, obj_pos

    # ------------------------------------------------------------------ SAMURAI glue
    def _samurai_decide(self, inference_state, frame_idx: int, pending):
        """One core step for every object tracked on this frame; returns chosen indices."""
        obj_ids = [self._obj_idx_to_id(inference_state, obj_idx) for obj_idx, _ in pending]
        return cd.decide(inference_state["samurai"]["tracks"], obj_ids, frame_idx, [c for _, c in pending])

    # ------------------------------------------------------------------ long videos
    def look_back(self, inference_state) -> int:
        """How far back from the frame being tracked SAM 2 may still read a per-frame output.

        The largest of: object pointers (``max_obj_ptrs_in_encoder - 1`` frames), SAM 2's
        memory rule (``1 + stride·(num_maskmem - 2)``) and, with SAMURAI, the core's ring of
        ``memory_window`` stepped frames from which it picks the memory.
        """
        stride = self.memory_temporal_stride_for_eval
        reach = max(self.max_obj_ptrs_in_encoder - 1, 1 + stride * (self.num_maskmem - 2))
        sam = inference_state.get("samurai")
        if sam is not None and sam["enabled"]:
            reach = max(reach, sam["tracks"].config.memory_window)
        return reach

    def _release_old_outputs(self, inference_state, frame_idx: int, reverse: bool) -> None:
        """Drop the non-conditioning outputs the next frame can no longer read.

        Frames at distance ``look_back`` or more from ``frame_idx`` are beyond reach of the next
        frame. Conditioning (prompted) frames are kept: SAM 2 attends to them on every frame.
        """
        reach = self.look_back(inference_state)
        for obj_output_dict in inference_state["output_dict_per_obj"].values():
            non_cond = obj_output_dict["non_cond_frame_outputs"]
            stale = [t for t in non_cond if abs(t - frame_idx) >= reach]
            for t in stale:
                del non_cond[t]

    # ------------------------------------------------------------------ inspection
    def frame_scores(self, inference_state, frame_idx: int) -> dict[Any, dict]:
        """Per-object scores of a tracked frame still in memory (``samurai_common.candidates.
        frame_scores``): ``{obj_id: {"ious": [M] predicted IoUs, "object_score", "chosen", and
        with SAMURAI on "kf_iou", "kf_score", "kf_score_valid", "stable_frames", "boxes",
        "kf_box", "memory_frames", ...}}``; objects without a tracking output on that frame
        are absent."""
        return cd.frame_scores(
            (self._obj_idx_to_id(inference_state, obj_idx), outputs["non_cond_frame_outputs"].get(frame_idx))
            for obj_idx, outputs in inference_state["output_dict_per_obj"].items()
        )
