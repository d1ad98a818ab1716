"""The training clip forward for transformers' SAM-family video models (``samurai_hf``).

The same clip semantics as the sam2 forward (``samurai.train.loop.clip_forward``): a box prompt
on frame 0, the library's own tracking rule (argmax candidate, the last ``num_maskmem - 1``
frames in memory) on the frames after it, all candidates with their predicted IoUs and object
scores into SAM 2's losses. It runs the model through its own session and the backend's
candidate/finish steps, so the masks are the library tracker's (tested against it).
"""

from __future__ import annotations

import torch


def model_images(model, images: torch.Tensor) -> torch.Tensor:
    """Clip images (SAM 2's ImageNet normalisation) as ``model``'s processor normalises them:
    unchanged for SAM 2 and EdgeTAM, mean = std = 0.5 for SAM 3."""
    if model.config.model_type != "sam3_tracker_video":
        return images
    from transformers.image_utils import IMAGENET_STANDARD_MEAN, IMAGENET_STANDARD_STD

    from samurai.train.clips import _MEAN, _STD

    def column(values):
        return torch.tensor(values, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)

    rgb = images * column(_STD) + column(_MEAN)
    return (rgb - column(IMAGENET_STANDARD_MEAN)) / column(IMAGENET_STANDARD_STD)


def hf_clip_forward(model, clip, weights, need_loss: bool = True):
    """``clip_forward`` for a ``samurai_hf`` model: ``(loss, terms, masks [T, N, S, S])``."""
    from samurai.train.losses import frame_losses

    device = model.device
    images = model_images(model, clip.images.to(device))
    num_frames, size = images.shape[0], images.shape[-1]
    if size != model.image_size:
        raise ValueError(
            f"the clip is {size} px but the model takes {model.image_size} px; set image_size "
            f"to {model.image_size} for this model"
        )
    session = model._session_class(
        video=images,
        video_height=size,
        video_width=size,
        inference_device=device,
        inference_state_device=device,
        video_storage_device=device,
        dtype=images.dtype,
    )
    obj_indices = [session.obj_id_to_idx(int(o)) for o in clip.object_ids]
    boxes = clip.boxes.to(device)
    labels = torch.tensor([[[2, 3]]], dtype=torch.int32, device=device)  # box corners
    total = None
    terms_sum: dict[str, float] = {}
    chosen_masks = []
    for t in range(num_frames):
        cands, outs, highs = [], [], []
        for k, obj_idx in enumerate(obj_indices):
            prompt = None
            if t == 0:
                prompt = {"point_coords": boxes[k].view(1, 1, 2, 2), "point_labels": labels}
            cand = model._candidates(session, obj_idx, t, False, False, point_inputs=prompt)
            idx = torch.argmax(cand.ious, dim=-1)
            out, high = model._finish(session, cand, idx, None, run_mem_encoder=True, from_points=t == 0)
            session.store_output(obj_idx, t, output_value=out, is_conditioning_frame=t == 0)
            cands.append(cand)
            outs.append(out)
            highs.append(high)
        if model._batched_memory:
            model._batch_encode_memories(
                inference_session=session,
                frame_idx=t,
                objects_needing_memory_encoding=obj_indices,
                high_res_masks_for_memory=[o["high_res_masks"] for o in outs],
                object_score_logits_for_memory=[c.object_score_logits for c in cands],
                is_mask_from_pts_per_obj=[t == 0] * len(obj_indices),
            )
        chosen_masks.append(torch.cat(highs)[:, 0].detach().float())
        if need_loss and bool(clip.labelled[t]):
            terms = frame_losses(
                torch.cat([c.high_res for c in cands]).float(),  # [objects, M, S, S]
                torch.cat([c.ious for c in cands]).float(),  # [objects, M]
                torch.cat([c.object_score_logits.reshape(1, 1) for c in cands]).float(),
                clip.targets[t].to(device),
                weights,
            )
            total = terms["total"] if total is None else total + terms["total"]
            for k, v in terms.items():
                terms_sum[k] = terms_sum.get(k, 0.0) + float(v.detach())
    return total, terms_sum, torch.stack(chosen_masks)
