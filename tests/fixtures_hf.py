"""Tiny random-init transformers video trackers (SAM 2, EdgeTAM, SAM 3 tracker) at <= 256 px.

Each family is built from a shrunken config (hidden sizes, layers, 256 px input; 224 px for
SAM 3's 14-px patches), saved with ``save_pretrained`` beside its processor and loaded back by
the tests, as users load real checkpoints. The object-score head's bias is raised so that the
random model sees its objects on most frames (an untrained head puts them at the threshold).
"""

from __future__ import annotations

import pytest

FAMILY_NAMES = ("sam2_video", "edgetam_video", "sam3_tracker_video")
OBJECT_SCORE_BIAS = 1.0


# The tiny SAM 3 image encoder of the SAM 3 tracker and SAM 3 test models.
SAM3_TINY_VIT = dict(
    model_type="sam3_vit_model",
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    image_size=224,
    patch_size=14,
    window_size=8,
    global_attn_indexes=[1],
    pretrain_image_size=224,
)


def _hiera(size: int) -> dict:
    return dict(
        model_type="sam2_vision_model",
        backbone_config=dict(
            model_type="sam2_hiera_det_model",
            image_size=[size, size],
            hidden_size=16,
            blocks_per_stage=[1, 2, 2, 1],
            embed_dim_per_stage=[16, 32, 64, 128],
            num_attention_heads_per_stage=[1, 1, 1, 1],
            window_size_per_stage=[8, 4, 4, 4],
            global_attention_blocks=[4],
            window_positional_embedding_background_size=[4, 4],
        ),
        backbone_channel_list=[128, 64, 32, 16],
        backbone_feature_sizes=[[size // 4] * 2, [size // 8] * 2, [size // 16] * 2],
        fpn_hidden_size=128,
    )


def _common(size: int) -> dict:
    # The memory attention's cross-attention reads 64-channel memories (fixed in transformers),
    # and object pointers are split into memory-sized tokens: hidden 128, memory 64.
    return dict(
        prompt_encoder_config=dict(hidden_size=128, image_size=size),
        mask_decoder_config=dict(hidden_size=128, mlp_dim=64, num_attention_heads=2, iou_head_hidden_dim=32),
        memory_attention_hidden_size=128,
        memory_attention_num_layers=2,  # the LoRA targets include layers 0 and 1
        memory_attention_rope_feat_sizes=[size // 16] * 2,
        memory_encoder_hidden_size=128,
        memory_encoder_output_channels=64,
        mask_downsampler_embed_dim=128,
        memory_fuser_embed_dim=128,
        memory_fuser_intermediate_dim=64,
        memory_fuser_num_layers=1,
        initializer_range=0.1,
    )


def tiny_config(family: str):
    """A small config of ``family`` (a config.json ``model_type``)."""
    from transformers import EdgeTamVideoConfig, Sam2VideoConfig, Sam3TrackerVideoConfig

    if family == "sam2_video":
        return Sam2VideoConfig(
            vision_config=_hiera(256),
            image_size=256,
            memory_attention_feed_forward_hidden_size=64,
            **_common(256),
        )
    if family == "edgetam_video":
        return EdgeTamVideoConfig(
            vision_config=_hiera(256),
            image_size=256,
            memory_attention_mlp_hidden_size=64,
            memory_attention_rope_k_sizes=[4, 4],  # the 4x4 grid of 16 2-D latents
            perceiver_resampler_num_latents=16,
            perceiver_resampler_num_latents_2d=16,
            perceiver_resampler_hidden_size=64,
            perceiver_resampler_mlp_intermediate_size=32,
            perceiver_resampler_num_layers=1,
            **_common(256),
        )
    vit = dict(SAM3_TINY_VIT)
    return Sam3TrackerVideoConfig(
        vision_config=dict(model_type="sam3_vision_model", backbone_config=vit, fpn_hidden_size=128),
        image_size=224,
        memory_attention_feed_forward_hidden_size=64,
        **_common(224),
    )


def tiny_hf_model(family: str, seed: int = 0, **config_fields):
    """The library's random-init model of ``family`` (eval mode); ``config_fields`` are set on
    its config first (e.g. ``num_maskmem=5``)."""
    import torch

    from samurai_hf import FAMILIES

    config = tiny_config(family)
    for name, value in config_fields.items():
        setattr(config, name, value)
    torch.manual_seed(seed)
    model = FAMILIES[family][0](config).eval()
    with torch.no_grad():
        model.mask_decoder.pred_obj_score_head.proj_out.bias.fill_(OBJECT_SCORE_BIAS)
        # The library starts the memory frames' temporal encoding at zero: every temporal offset
        # would then look alike, and a memory frame attended at the wrong offset would go unseen
        # by the parity tests. Random rows (seeded) make each offset count.
        tpos = model.memory_temporal_positional_encoding
        tpos.copy_(torch.randn(tpos.shape, generator=torch.Generator().manual_seed(seed + 1)))
    return model


def _official_sam3_layout(folder) -> None:
    """Rewrite a saved SAM 3 tracker into the key layout of the released SAM 3 checkpoints.

    transformers 5.24.0 saves the vision backbone under ``tracker_model.detector_model.`` and
    the neck under ``tracker_model.tracker_neck.``, which its own loader does not map back (the
    vision weights come back random). It loads the backbone from ``detector_model.`` (where the
    released SAM 3 checkpoints keep it) and the tracker's own weights, neck included, from
    ``tracker_model.<module>``.
    """
    from safetensors.torch import load_file, save_file

    (path,) = folder.glob("*.safetensors")
    tensors = load_file(path)
    renamed = {}
    for key, value in tensors.items():
        if key.startswith("tracker_model.detector_model."):
            key = key[len("tracker_model.") :]
        elif key.startswith("tracker_model.tracker_neck."):
            key = "tracker_model.vision_encoder.neck." + key[len("tracker_model.tracker_neck.") :]
        renamed[key] = value
    save_file(renamed, path, metadata={"format": "pt"})


@pytest.fixture(scope="session")
def hf_tiny_folders(tmp_path_factory):
    """``{family: folder}``: each tiny model and its processor saved with save_pretrained."""
    pytest.importorskip("transformers")
    from samurai_hf import default_processor

    folders = {}
    for family in FAMILY_NAMES:
        model = tiny_hf_model(family)
        folder = tmp_path_factory.mktemp(f"hf_{family}")
        model.save_pretrained(folder)
        if family == "sam3_tracker_video":
            _official_sam3_layout(folder)
        default_processor(family, model.config.image_size).save_pretrained(folder)
        folders[family] = folder
    return folders


def tiny_sam3_detector():
    """A random-init ``Sam3Model`` (text/concept prompts) at 224 px and its processor, with a
    26-letter CLIP tokenizer (every word spelled out letter by letter)."""
    import torch
    from transformers import CLIPTokenizer, Sam3Config, Sam3ImageProcessor, Sam3Model, Sam3Processor

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c] = len(vocab)
        vocab[c + "</w>"] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    vit = dict(SAM3_TINY_VIT)
    small = dict(hidden_size=32, num_attention_heads=2, intermediate_size=64)
    config = Sam3Config(
        vision_config=dict(
            backbone_config=vit, fpn_hidden_size=32, backbone_feature_sizes=[[64, 64], [32, 32], [16, 16]]
        ),
        text_config=dict(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            projection_dim=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            max_position_embeddings=32,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        geometry_encoder_config=dict(num_layers=1, **small),
        detr_encoder_config=dict(num_layers=1, **small),
        detr_decoder_config=dict(num_layers=1, num_queries=8, **small),
        mask_decoder_config=dict(hidden_size=32, num_upsampling_stages=3, num_attention_heads=2),
    )
    torch.manual_seed(0)
    model = Sam3Model(config).eval()
    processor = Sam3Processor(
        image_processor=Sam3ImageProcessor(
            size={"height": 224, "width": 224}, mask_size={"height": 56, "width": 56}
        ),
        tokenizer=tokenizer,
    )
    return model, processor


@pytest.fixture(scope="session")
def hf_tiny_sam3_detector_folder(tmp_path_factory):
    """A folder holding the tiny ``Sam3Model`` and its processor (save_pretrained)."""
    pytest.importorskip("transformers")
    model, processor = tiny_sam3_detector()
    folder = tmp_path_factory.mktemp("hf_sam3_detector")
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
