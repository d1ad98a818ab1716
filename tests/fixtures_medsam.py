"""Test helpers for the MedSAM baseline: a tiny random-init SamModel and MedSAM's recipe.

Torch and transformers are imported inside the helpers so that core-only runs never load them.
"""

import numpy as np


def tiny_sam(seed=0):
    import torch
    from transformers import SamConfig, SamModel

    torch.manual_seed(seed)
    cfg = SamConfig(
        vision_config=dict(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=128,
            global_attn_indexes=[1],
            output_channels=32,
            mlp_dim=64,
            window_size=4,
            num_pos_feats=16,
        ),
        prompt_encoder_config=dict(image_size=128, hidden_size=32),
        mask_decoder_config=dict(hidden_size=32, mlp_dim=64, num_attention_heads=8, iou_head_hidden_dim=32),
    )
    model = SamModel(cfg).eval()
    with torch.no_grad():  # SAM's init leaves some tensors at 0/1: make every one distinct
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def medsam_recipe(model, frame, box):
    """MedSAM_Inference.py's steps, one frame and one box, written out from the published script."""
    import torch
    import torch.nn.functional as F
    from PIL import Image

    h, w = frame.shape[:2]
    s = model.config.vision_config.image_size
    img = np.asarray(Image.fromarray(frame).resize((s, s), Image.BICUBIC)).astype(np.float64)
    img = (img - img.min()) / np.clip(img.max() - img.min(), 1e-8, None)
    x = torch.tensor(img, dtype=torch.float32).permute(2, 0, 1)[None]
    box_s = box / np.array([w, h, w, h]) * s
    with torch.no_grad():
        emb = model.vision_encoder(x).last_hidden_state
        sparse, dense = model.prompt_encoder(
            input_points=None,
            input_labels=None,
            input_boxes=torch.tensor(box_s, dtype=torch.float32)[None, None],
            input_masks=None,
        )
        low, _ = model.mask_decoder(
            image_embeddings=emb,
            image_positional_embeddings=model.get_image_wide_positional_embeddings(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )
        prob = F.interpolate(torch.sigmoid(low[0, :, :1]), size=(h, w), mode="bilinear", align_corners=False)
    return (prob[0, 0] > 0.5).numpy()
