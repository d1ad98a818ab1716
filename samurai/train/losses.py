"""SAM 2's training losses for one frame: focal (×20) and dice (×1) on the lowest-loss
candidate mask, L1 between predicted and actual IoU (×1, every candidate) and BCE on the
object score (×1). Mask losses count only for objects present in the ground truth.

Shapes: ``N`` objects, ``M`` candidate masks, ``H×W`` the model's input resolution.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from samurai.train.config import LossWeights


def focal_loss(
    logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Sigmoid focal loss averaged over pixels: ``[N, M, H, W] -> [N, M]``.

    ``FL = α_t (1 - p_t)^γ BCE(logit, target)`` with ``p_t`` the probability of the true class.
    """
    prob = logits.sigmoid()
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = prob * target + (1 - prob) * (1 - target)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return (alpha_t * (1 - p_t) ** gamma * bce).flatten(2).mean(-1)


def dice_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Soft dice loss with +1 smoothing: ``[N, M, H, W] -> [N, M]``."""
    prob = logits.sigmoid().flatten(2)
    target = target.flatten(2)
    return 1 - (2 * (prob * target).sum(-1) + 1) / (prob.sum(-1) + target.sum(-1) + 1)


def actual_iou(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """IoU of the binarised candidates (logit > 0) with the target: ``[N, M]``."""
    pred = logits.flatten(2) > 0
    gt = target.flatten(2) > 0
    inter = (pred & gt).sum(-1).float()
    union = (pred | gt).sum(-1).float()
    return inter / union.clamp(min=1.0)


def frame_losses(
    multimask_logits: torch.Tensor,
    pred_ious: torch.Tensor,
    obj_logits: torch.Tensor,
    target: torch.Tensor,
    weights: LossWeights = LossWeights(),
) -> dict[str, torch.Tensor]:
    """The four loss terms and their weighted sum ``"total"`` for one frame.

    Args:
        multimask_logits: ``[N, M, H, W]`` candidate mask logits.
        pred_ious: ``[N, M]`` predicted IoUs.
        obj_logits: ``[N, 1]`` object-score logits.
        target: ``[N, H, W]`` binary ground truth per object.

    Each term is summed over objects and divided by ``N`` (SAM 2's normalisation).
    """
    n = multimask_logits.shape[0]
    target = target.to(multimask_logits.dtype)
    target_m = target[:, None].expand_as(multimask_logits)
    focal = focal_loss(multimask_logits, target_m)
    dice = dice_loss(multimask_logits, target_m)
    iou = (pred_ious - actual_iou(multimask_logits, target_m)).abs()
    present = target.flatten(1).any(-1).to(multimask_logits.dtype)
    best = torch.argmin(focal * weights.focal + dice * weights.dice, dim=-1)
    rows = torch.arange(n, device=multimask_logits.device)
    terms = {
        "focal": (focal[rows, best] * present).sum() / n,
        "dice": (dice[rows, best] * present).sum() / n,
        "iou": (iou.mean(-1) * present).sum() / n,
        "obj": F.binary_cross_entropy_with_logits(obj_logits[:, 0], present, reduction="sum") / n,
    }
    terms["total"] = (
        weights.focal * terms["focal"]
        + weights.dice * terms["dice"]
        + weights.iou * terms["iou"]
        + weights.obj * terms["obj"]
    )
    return terms
