"""The sam2 release this backend is written against, what it relies on beyond sam2's public
API, and the guard that checks both when a predictor is built.

The predictor subclasses ``SAM2VideoPredictor`` of sam2 1.1.0 and reaches into it: it builds
sam2's private ``inference_state`` dict itself (the streaming ``init_state``: keys
``images``, ``num_frames``, ``output_dict_per_obj``, ``temp_output_dict_per_obj``,
``frames_tracked_per_obj``, ``cached_features``, ``constants``, ...), calls private methods,
reads model attributes, and re-implements ``_prepare_memory_conditioned_features`` (its
differences are listed on ``SamuraiVideoPredictor._memory_conditioned_features``). Another
sam2 release may rename or change any of these; the parity tests against vanilla SAM 2 are
the alarm, this check is the guard.
"""

from __future__ import annotations

from importlib import metadata

SUPPORTED_SAM2_VERSION = "1.1.0"

# What the predictor uses on itself from sam2 1.1.0 (inherited, not public API), checked on
# every predictor at construction. SAM2VideoPredictor's private methods, called by it:
SAM2_PRIVATE_METHODS = (
    "_get_image_feature",
    "_encode_new_memory",
    "_get_maskmem_pos_enc",
    "_get_orig_video_res_output",
    "_get_obj_num",
    "_obj_idx_to_id",
    "_use_multimask",
    "propagate_in_video_preflight",
)
# SAM2Base attributes (set by its __init__): the modules of the candidate heads, object
# pointers, memory attention and memory encoder, and the settings the re-implemented memory
# steps read.
SAM2_MODEL_ATTRIBUTES = (
    "sam_prompt_encoder",
    "sam_mask_decoder",
    "obj_ptr_proj",
    "obj_ptr_tpos_proj",
    "no_obj_ptr",
    "maskmem_tpos_enc",
    "memory_attention",
    "memory_encoder",
    "sigmoid_scale_for_mem_enc",
    "sigmoid_bias_for_mem_enc",
    "no_obj_embed_spatial",
    "num_maskmem",
    "max_obj_ptrs_in_encoder",
    "max_cond_frames_in_attn",
    "memory_temporal_stride_for_eval",
    "use_obj_ptrs_in_encoder",
    "only_obj_ptrs_in_the_past_for_eval",
    "use_signed_tpos_enc_to_obj_ptrs",
    "add_tpos_enc_to_obj_ptrs",
    "proj_tpos_enc_in_obj_ptrs",
    "pred_obj_scores",
    "soft_no_obj_ptr",
    "fixed_no_obj_ptr",
    "fill_hole_area",
    "clear_non_cond_mem_around_input",
    "hidden_dim",
    "mem_dim",
    "image_size",
)

# Module-level names of sam2's internals that the predictor imports.
SAM2_MODULE_INTERNALS = (
    ("sam2.modeling.sam2_base", "NO_OBJ_SCORE"),
    ("sam2.modeling.sam2_utils", "get_1d_sine_pe"),
    ("sam2.modeling.sam2_utils", "select_closest_cond_frames"),
    ("sam2.utils.misc", "fill_holes_in_mask_scores"),
    # samurai_sam2.memory_attention (restated memory attention of the batched path)
    ("sam2.modeling.memory_attention", "MemoryAttention"),
    ("sam2.modeling.sam.transformer", "RoPEAttention"),
    # the batched path's memory encoder (SamuraiVideoPredictor._encode_tracked_memories)
    ("sam2.modeling.memory_encoder", "MemoryEncoder"),
)


class UnsupportedSam2Error(RuntimeError):
    """The installed sam2 is not the release this backend supports."""


def _fix() -> str:
    return (
        f"the SAMURAI sam2 backend supports sam2 {SUPPORTED_SAM2_VERSION} only; install it with "
        f"`pip install sam2=={SUPPORTED_SAM2_VERSION}` (scripts/setup.sh does)"
    )


def check_sam2(obj=None) -> None:
    """Raise ``UnsupportedSam2Error`` unless sam2 is the supported release and every name of
    ``SAM2_MODULE_INTERNALS`` exists, and, given a predictor class ``obj``, every name of
    ``SAM2_PRIVATE_METHODS`` on it; given a built predictor, ``SAM2_MODEL_ATTRIBUTES`` too."""
    import importlib

    try:
        version = metadata.version("sam2")
    except metadata.PackageNotFoundError:
        raise UnsupportedSam2Error(f"sam2 is not installed (no package metadata); {_fix()}") from None
    if version != SUPPORTED_SAM2_VERSION:
        raise UnsupportedSam2Error(f"sam2 {version} is installed; {_fix()}")
    missing = []
    for module, name in SAM2_MODULE_INTERNALS:
        try:
            if not hasattr(importlib.import_module(module), name):
                missing.append(f"{module}.{name}")
        except ImportError:
            missing.append(f"{module}.{name}")
    if obj is not None:
        names = SAM2_PRIVATE_METHODS
        if not isinstance(obj, type):
            names += SAM2_MODEL_ATTRIBUTES
        missing += [name for name in names if not hasattr(obj, name)]
    if missing:
        raise UnsupportedSam2Error(
            f"sam2 {version} lacks what the backend relies on ({', '.join(missing)}); {_fix()}"
        )
