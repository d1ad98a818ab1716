"""Learned class prompts: a few prompt tokens per structure class (``lv``, ``la``, ...), fed to
SAM 2's mask decoder in place of a box's tokens, so that a class name alone prompts a frame.

The tokens have SAM 2's prompt-embedding width (256) and enter the decoder on the sparse prompt
path; the dense prompt is SAM 2's no-mask embedding, as for a box. They are trained with the
LoRA adapters (``samurai train --prompts learned``) and saved beside them as
``class_prompts.safetensors`` with the class names.

Relies on sam2 1.1.0 internals (checked by the backend's tests): ``SAM2Base.sam_prompt_encoder``
(``no_mask_embed``, ``get_dense_pe``, ``_embed_boxes``, ``image_embedding_size``),
``sam_mask_decoder``'s call signature, and the attributes ``_forward_sam_heads`` reads
(``pred_obj_scores``, ``soft_no_obj_ptr``, ``fixed_no_obj_ptr``, ``no_obj_ptr``,
``obj_ptr_proj``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from sam2.modeling.sam2_base import NO_OBJ_SCORE

CLASS_PROMPTS_NAME = "class_prompts.safetensors"


class ClassPromptError(ValueError):
    """Class prompts cannot be used as asked (the message says why and what to do)."""


def normalise_class_name(name: str) -> str:
    """Class names compare case-insensitively: ``"LV"`` and ``"lv"`` are one class."""
    return str(name).strip().lower()


class ClassPrompts(torch.nn.Module):
    """``tokens [num_classes, n_tokens, embed_dim]``, one row per class in ``class_names``.

    >>> prompts = ClassPrompts.for_model(model, ["lv", "la", "rv", "ra"])  # doctest: +SKIP
    >>> prompts.tokens_for(["la"]).shape  # doctest: +SKIP
    torch.Size([1, 2, 256])
    """

    def __init__(self, class_names: Sequence[str], n_tokens: int = 2, embed_dim: int = 256) -> None:
        super().__init__()
        names = [normalise_class_name(c) for c in class_names]
        if not names or any(not n for n in names) or len(set(names)) != len(names):
            raise ClassPromptError(
                f"class names must be non-empty and distinct (case-insensitively); got {list(class_names)}"
            )
        if n_tokens < 1:
            raise ClassPromptError(f"n_tokens={n_tokens} must be >= 1")
        self.class_names: tuple[str, ...] = tuple(names)
        self.tokens = torch.nn.Parameter(torch.zeros(len(names), n_tokens, embed_dim))

    @property
    def n_tokens(self) -> int:
        return self.tokens.shape[1]

    @classmethod
    def for_model(
        cls,
        model,
        class_names: Sequence[str],
        n_tokens: int = 2,
        generator: torch.Generator | None = None,
        noise: float = 1.0,
    ) -> ClassPrompts:
        """Prompts sized for ``model``, each class starting as the model's embedding of a box
        around the whole image (its tokens cycled to ``n_tokens``) plus Gaussian ``noise``.

        The noise is what sets the classes apart: started nearly equal (noise 0.02), the
        classes get nearly equal masks and gradients, and on the four-chamber phantom they
        stayed together through a whole training run; the default is the scale of the
        embedding's entries."""
        encoder = model.sam_prompt_encoder
        prompts = cls(class_names, n_tokens, encoder.embed_dim)
        size = float(model.image_size)
        with torch.no_grad():
            box = torch.tensor([[0.0, 0.0, size - 1.0, size - 1.0]], device=model.device)
            corners = encoder._embed_boxes(box)[0].float().cpu()  # [2, C]
            base = corners[torch.arange(n_tokens) % corners.shape[0]]
            jitter = torch.randn(prompts.tokens.shape, generator=generator) * noise
            prompts.tokens.copy_(base[None] + jitter)
        return prompts.to(model.device)

    def index(self, names: Sequence[str]) -> list[int]:
        """Row of each class name; ClassPromptError naming the unknown ones and the known."""
        wanted = [normalise_class_name(n) for n in names]
        unknown = [n for n in wanted if n not in self.class_names]
        if unknown:
            raise ClassPromptError(
                f"no learned prompt for class(es) {unknown}; these prompts know "
                f"{list(self.class_names)} (train with those labels, or ask for known classes)"
            )
        return [self.class_names.index(n) for n in wanted]

    def tokens_for(self, names: Sequence[str]) -> torch.Tensor:
        """``[len(names), n_tokens, C]`` tokens of the named classes."""
        return self.tokens[self.index(names)]

    def save(self, path) -> Path:
        """Write ``tokens`` (safetensors) with the class names in its metadata, atomically."""
        from safetensors.torch import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        os.close(fd)
        try:
            save_file(
                {"tokens": self.tokens.detach().cpu().contiguous()},
                tmp,
                metadata={"class_names": json.dumps(list(self.class_names)), "n_tokens": str(self.n_tokens)},
            )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @classmethod
    def load(cls, path, device: str | torch.device = "cpu") -> ClassPrompts:
        """Read what :meth:`save` wrote (a file, or a folder holding ``class_prompts.safetensors``)."""
        from safetensors import safe_open

        path = Path(path)
        if path.is_dir():
            path = path / CLASS_PROMPTS_NAME
        if not path.is_file():
            raise ClassPromptError(
                f"{path} does not exist; class prompts are written by "
                "`samurai train --prompts learned` beside the adapter"
            )
        fix = "re-save it, or copy the adapter folder written by `samurai train` again"
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
                if "tokens" not in f.keys():
                    raise ClassPromptError(
                        f"{path} holds no 'tokens' tensor (it holds {sorted(f.keys())}); {fix}"
                    )
                tokens = f.get_tensor("tokens")
        except ClassPromptError:
            raise
        except Exception as err:  # safetensors raises its own error types for damaged files
            raise ClassPromptError(
                f"{path} is damaged or not a safetensors file ({type(err).__name__}: "
                f"{str(err).strip().splitlines()[0] if str(err).strip() else 'no detail'}); {fix}"
            ) from None
        if "class_names" not in meta:
            raise ClassPromptError(f"{path} has no class names in its metadata ('class_names'); {fix}")
        try:
            names = json.loads(meta["class_names"])
        except ValueError:
            names = None
        if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
            raise ClassPromptError(
                f"{path}: its metadata 'class_names' is not a list of class names "
                f"({meta['class_names'][:80]!r}); {fix}"
            )
        if tokens.ndim != 3 or tokens.shape[0] != len(names) or tokens.shape[1] < 1:
            raise ClassPromptError(
                f"{path}: tokens {tuple(tokens.shape)} do not match {len(names)} class names "
                f"{names} (expected [{len(names)}, n_tokens, width]); {fix}"
            )
        if "n_tokens" in meta and meta["n_tokens"] != str(tokens.shape[1]):
            raise ClassPromptError(
                f"{path}: its metadata says n_tokens={meta['n_tokens']!r} but the tokens have "
                f"{tokens.shape[1]}; {fix}"
            )
        if not tokens.is_floating_point() or not torch.isfinite(tokens).all():
            bad = [
                names[i]
                for i in range(len(names))
                if not (tokens.is_floating_point() and torch.isfinite(tokens[i]).all())
            ]
            raise ClassPromptError(
                f"{path}: the tokens of class(es) {bad} are NaN, infinite or not floating point "
                "(a training run that diverged); use an earlier adapter or train again"
            )
        try:
            prompts = cls(names, tokens.shape[1], tokens.shape[2])
        except ClassPromptError as err:
            raise ClassPromptError(f"{path}: {err}; {fix}") from None
        with torch.no_grad():
            prompts.tokens.copy_(tokens)
        return prompts.to(device)


def class_prompt_heads(model, backbone_features, high_res_features, tokens, multimask_output=False):
    """SAM 2's prompt-encoder + mask-decoder heads with ``tokens [B, n, C]`` as the sparse
    prompt and the no-mask embedding as the dense one.

    Returns what ``SAM2Base._forward_sam_heads`` returns, in its order: ``low_res_multimasks,
    high_res_multimasks, ious, low_res_masks, high_res_masks, obj_ptr, object_score_logits``
    (the argmax-IoU candidate when ``multimask_output``), computed the same way after the
    prompt encoder.
    """
    B = backbone_features.size(0)
    encoder = model.sam_prompt_encoder
    if tokens.shape[0] != B or tokens.shape[-1] != encoder.embed_dim:
        raise ClassPromptError(
            f"tokens {tuple(tokens.shape)} do not fit {B} object(s) of prompt width {encoder.embed_dim}"
        )
    h, w = encoder.image_embedding_size
    dense = encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(B, -1, h, w)
    low_multi, ious, out_tokens, obj_logits = model.sam_mask_decoder(
        image_embeddings=backbone_features,
        image_pe=encoder.get_dense_pe(),
        sparse_prompt_embeddings=tokens.to(backbone_features.dtype),
        dense_prompt_embeddings=dense,
        multimask_output=multimask_output,
        repeat_image=False,
        high_res_features=high_res_features,
    )
    if model.pred_obj_scores:
        low_multi = torch.where(obj_logits[:, :, None, None] > 0, low_multi, NO_OBJ_SCORE)
    low_multi = low_multi.float()
    high_multi = F.interpolate(
        low_multi, size=(model.image_size, model.image_size), mode="bilinear", align_corners=False
    )
    token = out_tokens[:, 0]
    if multimask_output:
        best = torch.argmax(ious, dim=-1)
        rows = torch.arange(B, device=backbone_features.device)
        low, high = low_multi[rows, best].unsqueeze(1), high_multi[rows, best].unsqueeze(1)
        if out_tokens.size(1) > 1:
            token = out_tokens[rows, best]
    else:
        low, high = low_multi, high_multi
    obj_ptr = model.obj_ptr_proj(token)
    if model.pred_obj_scores:
        weight = obj_logits.sigmoid() if model.soft_no_obj_ptr else (obj_logits > 0).float()
        if model.fixed_no_obj_ptr:
            obj_ptr = weight * obj_ptr
        obj_ptr = obj_ptr + (1 - weight) * model.no_obj_ptr
    return low_multi, high_multi, ious, low, high, obj_ptr, obj_logits


def first_frame_features(model, current_vision_feats, current_vision_pos_embeds, feat_sizes):
    """A frame's features as SAM 2 forms them for an initial conditioning frame (no memory):
    ``(pix_feat [B, C, H, W], high_res_features)``."""
    if len(current_vision_feats) > 1:
        high_res = [
            x.permute(1, 2, 0).view(x.size(1), x.size(2), *s)
            for x, s in zip(current_vision_feats[:-1], feat_sizes[:-1])
        ]
    else:
        high_res = None
    pix_feat = model._prepare_memory_conditioned_features(
        frame_idx=0,
        is_init_cond_frame=True,
        current_vision_feats=current_vision_feats[-1:],
        current_vision_pos_embeds=current_vision_pos_embeds[-1:],
        feat_sizes=feat_sizes[-1:],
        output_dict={},
        num_frames=1,
        track_in_reverse=False,
    )
    return pix_feat, high_res
