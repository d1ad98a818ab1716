"""``medsam``: MedSAM (SAM ViT-B fine-tuned on medical images), frame by frame, on transformers.

The model is transformers' ``SamModel``, loaded from either
- a transformers folder (``config.json`` + weights, ``SamModel.save_pretrained``), or
- the official ``medsam_vit_b.pth`` (a segment-anything state dict, bare or under ``"model"``):
  its architecture is read from the tensors' shapes and its keys are renamed to transformers'
  (:func:`official_to_transformers`).

Preprocessing follows MedSAM's published inference recipe (``MedSAM_Inference.py``): the RGB
frame is resized to the model's square input (1024 px for MedSAM; bicubic, as MedSAM's order-3
resize), scaled to [0, 1] by its own min and max (no ImageNet mean/std: MedSAM feeds the image
encoder directly), the box is scaled into the same square, one mask is decoded
(``multimask_output=False``), and its low-resolution logits go through a sigmoid, a bilinear
resize to the frame and a threshold at 0.5.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

WEIGHTS_HELP = (
    "MedSAM needs its weights: download medsam_vit_b.pth (the MedSAM release, "
    "https://github.com/bowang-lab/MedSAM, 'Model checkpoints') and pass --medsam "
    "PATH/medsam_vit_b.pth, or pass a transformers SamModel folder (config.json + weights)"
)


class MedSamError(ValueError):
    """MedSAM weights cannot be loaded (the message says why and what to pass)."""


# segment-anything key pattern -> transformers key; applied in order, first match wins.
_RENAMES = [
    (r"image_encoder\.patch_embed\.proj\.", "vision_encoder.patch_embed.projection."),
    (r"image_encoder\.pos_embed$", "vision_encoder.pos_embed"),
    (r"image_encoder\.blocks\.(\d+)\.norm(\d)\.", r"vision_encoder.layers.\1.layer_norm\2."),
    (r"image_encoder\.blocks\.(\d+)\.", r"vision_encoder.layers.\1."),
    (r"image_encoder\.neck\.0\.", "vision_encoder.neck.conv1."),
    (r"image_encoder\.neck\.1\.", "vision_encoder.neck.layer_norm1."),
    (r"image_encoder\.neck\.2\.", "vision_encoder.neck.conv2."),
    (r"image_encoder\.neck\.3\.", "vision_encoder.neck.layer_norm2."),
    (r"prompt_encoder\.point_embeddings\.(\d)\.", r"prompt_encoder.point_embed.\1."),
    (r"prompt_encoder\.mask_downscaling\.0\.", "prompt_encoder.mask_embed.conv1."),
    (r"prompt_encoder\.mask_downscaling\.1\.", "prompt_encoder.mask_embed.layer_norm1."),
    (r"prompt_encoder\.mask_downscaling\.3\.", "prompt_encoder.mask_embed.conv2."),
    (r"prompt_encoder\.mask_downscaling\.4\.", "prompt_encoder.mask_embed.layer_norm2."),
    (r"prompt_encoder\.mask_downscaling\.6\.", "prompt_encoder.mask_embed.conv3."),
    (r"prompt_encoder\.(not_a_point_embed|no_mask_embed)\.", r"prompt_encoder.\1."),
    (
        r"mask_decoder\.transformer\.layers\.(\d+)\.norm(\d)\.",
        r"mask_decoder.transformer.layers.\1.layer_norm\2.",
    ),
    (r"mask_decoder\.transformer\.norm_final_attn\.", "mask_decoder.transformer.layer_norm_final_attn."),
    (r"mask_decoder\.transformer\.", "mask_decoder.transformer."),
    (r"mask_decoder\.output_upscaling\.0\.", "mask_decoder.upscale_conv1."),
    (r"mask_decoder\.output_upscaling\.1\.", "mask_decoder.upscale_layer_norm."),
    (r"mask_decoder\.output_upscaling\.3\.", "mask_decoder.upscale_conv2."),
    (r"mask_decoder\.(iou_token|mask_tokens)\.", r"mask_decoder.\1."),
]
# segment-anything's MLP heads number their linear layers 0..n-1; transformers calls the first
# proj_in, the last proj_out and the ones between layers.0..n-3.
_MLP = re.compile(
    r"(mask_decoder\.(?:output_hypernetworks_mlps\.\d+|iou_prediction_head))\.layers\.(\d+)\.(.*)"
)
_PE = "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"


def official_to_transformers(state: dict) -> dict:
    """A segment-anything SAM state dict with transformers' ``SamModel`` key names.

    Raises MedSamError listing the keys that are not SAM's.
    """
    depth: dict[str, int] = {}
    for key in state:
        m = _MLP.match(key)
        if m:
            depth[m.group(1)] = max(depth.get(m.group(1), 0), int(m.group(2)) + 1)
    out, unknown = {}, []
    for key, value in state.items():
        if key == _PE:  # one random Fourier matrix, used by the image and the prompt encoders
            out["shared_image_embedding.positional_embedding"] = value
            out["prompt_encoder.shared_embedding.positional_embedding"] = value
            continue
        m = _MLP.match(key)
        if m:
            head, i, rest = m.group(1), int(m.group(2)), m.group(3)
            name = "proj_in" if i == 0 else "proj_out" if i == depth[head] - 1 else f"layers.{i - 1}"
            out[f"{head}.{name}.{rest}"] = value
            continue
        for pattern, repl in _RENAMES:
            if re.match(pattern, key):
                out[re.sub(pattern, repl, key, count=1)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        shown = ", ".join(unknown[:8]) + (f", ... ({len(unknown)} in all)" if len(unknown) > 8 else "")
        raise MedSamError(f"not a SAM / MedSAM state dict: unexpected keys {shown}; {WEIGHTS_HELP}")
    return out


def config_from_official(state: dict):
    """The ``SamConfig`` of a segment-anything state dict, read from its tensors' shapes.

    Everything but the mask decoder's attention heads shows in a shape; those are SAM's 8.
    """
    from transformers import SamConfig

    try:
        patch = state["image_encoder.patch_embed.proj.weight"]
        hidden, patch_size = int(patch.shape[0]), int(patch.shape[-1])
        grid = int(state["image_encoder.pos_embed"].shape[1])
        blocks = sorted({int(k.split(".")[2]) for k in state if k.startswith("image_encoder.blocks.")})
        head_dim = int(state["image_encoder.blocks.0.attn.rel_pos_h"].shape[1])
        spans = [int(state[f"image_encoder.blocks.{i}.attn.rel_pos_h"].shape[0]) for i in blocks]
        global_layers = [i for i, s in zip(blocks, spans) if s == 2 * grid - 1]
        local = [s for s in spans if s != 2 * grid - 1]
        window = (local[0] + 1) // 2 if local else 14
        out_channels = int(state["image_encoder.neck.0.weight"].shape[0])
        decoder_layers = {
            int(k.split(".")[3]) for k in state if k.startswith("mask_decoder.transformer.layers.")
        }
        iou_layers = {
            int(k.split(".")[3]) for k in state if k.startswith("mask_decoder.iou_prediction_head.layers.")
        }
        vision = dict(
            hidden_size=hidden,
            num_hidden_layers=len(blocks),
            num_attention_heads=hidden // head_dim,
            image_size=grid * patch_size,
            patch_size=patch_size,
            global_attn_indexes=global_layers,
            window_size=window,
            output_channels=out_channels,
            mlp_dim=int(state["image_encoder.blocks.0.mlp.lin1.weight"].shape[0]),
            num_pos_feats=int(state[_PE].shape[1]),
        )
        prompt = dict(
            hidden_size=out_channels,
            image_size=grid * patch_size,
            patch_size=patch_size,
            mask_input_channels=int(state["prompt_encoder.mask_downscaling.3.weight"].shape[0]),
        )
        decoder = dict(
            hidden_size=out_channels,
            num_hidden_layers=len(decoder_layers),
            mlp_dim=int(state["mask_decoder.transformer.layers.0.mlp.lin1.weight"].shape[0]),
            num_multimask_outputs=int(state["mask_decoder.mask_tokens.weight"].shape[0]) - 1,
            iou_head_depth=len(iou_layers),
            iou_head_hidden_dim=int(state["mask_decoder.iou_prediction_head.layers.0.weight"].shape[0]),
        )
    except (KeyError, IndexError) as err:
        raise MedSamError(f"not a SAM / MedSAM state dict (no {err}); {WEIGHTS_HELP}") from None
    return SamConfig(vision_config=vision, prompt_encoder_config=prompt, mask_decoder_config=decoder)


def load_medsam(path: str | Path, device: str = "cpu"):
    """transformers ``SamModel`` (eval mode) from a transformers folder or an official ``.pth``."""
    import torch
    from transformers import SamModel

    path = Path(path)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise MedSamError(
                f"{path} is a folder without config.json, not a transformers SamModel folder; {WEIGHTS_HELP}"
            )
        try:
            model = SamModel.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as err:
            raise MedSamError(f"cannot load a SamModel from {path}: {err}") from None
    elif path.is_file():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001  torch raises many types for a bad file
            raise MedSamError(
                f"{path} is not a PyTorch checkpoint ({type(err).__name__}: {err}); {WEIGHTS_HELP}"
            ) from None
        if isinstance(state, dict) and isinstance(state.get("model"), dict):
            state = state["model"]
        if not isinstance(state, dict):
            raise MedSamError(f"{path} holds no state dict; {WEIGHTS_HELP}")
        model = SamModel(config_from_official(state))
        try:
            model.load_state_dict(official_to_transformers(state), strict=True)
        except RuntimeError as err:
            raise MedSamError(f"{path} does not fit SAM's architecture: {err}") from None
    else:
        raise MedSamError(f"MedSAM weights {path} do not exist; {WEIGHTS_HELP}")
    return model.to(device).eval()


def preprocess(frame: np.ndarray, size: int) -> np.ndarray:
    """MedSAM's input: RGB ``uint8 [H, W, 3]`` -> ``float32 [3, size, size]`` in [0, 1]."""
    from PIL import Image

    img = np.asarray(Image.fromarray(frame).resize((size, size), Image.BICUBIC)).astype(np.float32)
    span = max(float(img.max() - img.min()), 1e-8)
    return ((img - img.min()) / span).transpose(2, 0, 1)


class MedSamSegmenter:
    """:class:`samurai.baselines.FrameSegmenter` on a transformers ``SamModel`` (MedSAM)."""

    name = "medsam"

    def __init__(self, model):
        self.model = model
        self.size = int(model.config.vision_config.image_size)
        self.device = next(model.parameters()).device

    def encode(self, frames: Sequence[np.ndarray]) -> None:
        import torch

        self.shapes = [f.shape[:2] for f in frames]
        batch = torch.from_numpy(np.stack([preprocess(f, self.size) for f in frames])).to(self.device)
        with torch.inference_mode():
            self.embeddings = self.model.get_image_embeddings(batch)

    def segment(self, index: int, boxes: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        h, w = self.shapes[index]
        scaled = np.asarray(boxes, np.float32) / np.array([w, h, w, h], np.float32) * self.size
        with torch.inference_mode():
            out = self.model(
                image_embeddings=self.embeddings[index : index + 1],
                input_boxes=torch.from_numpy(scaled)[None].to(self.device),
                multimask_output=False,
            )
            prob = torch.sigmoid(out.pred_masks[0, :, 0].float())  # [K, s, s]
            prob = F.interpolate(prob[:, None], size=(h, w), mode="bilinear", align_corners=False)
        return (prob[:, 0] > 0.5).cpu().numpy()
