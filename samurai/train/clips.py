"""Turning an :class:`~samurai.data.EchoCase` into a training clip: frame choice, resizing to
the model's input size, per-object targets and the jittered box prompt."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from samurai_core.boxes import mask_to_box

# SAM 2's input normalisation (ImageNet statistics on [0, 1] RGB).
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class Clip(NamedTuple):
    """One training or validation clip (``T`` frames, ``N`` objects, ``S`` the input size)."""

    case_id: str
    images: torch.Tensor  # [T, 3, S, S] normalised
    targets: torch.Tensor  # [T, N, S, S] float {0, 1}
    labelled: torch.Tensor  # [T] bool: frames that carry ground truth
    object_ids: list[int]  # label value of each object
    boxes: torch.Tensor  # [N, 4] box prompt on frame 0 (samurai_core.mask_to_box), input pixels
    frame_indices: list[int]  # frames of the case the clip was cut from


def choose_frames(labelled: np.ndarray, clip_len: int, rng: np.random.Generator) -> list[int] | None:
    """Frames of one clip: the first is a labelled frame (it gets the prompt).

    Dense labels: ``clip_len`` consecutive frames. Sparse labels (e.g. EchoNet's ED and ES):
    when the window holds no other labelled frame, the clip instead runs evenly from the start
    to the next labelled frame, so that every clip supervises at least two frames.
    Returns None when the case has no labelled frame or fewer than 2 frames.
    """
    n = len(labelled)
    lab = np.nonzero(labelled)[0]
    if len(lab) == 0 or n < 2:
        return None
    clip_len = min(clip_len, n)
    if labelled.all():
        start = int(rng.integers(0, n - clip_len + 1))
        return list(range(start, start + clip_len))
    return frames_from(int(rng.choice(lab[:-1] if len(lab) > 1 else lab)), labelled, clip_len)


def frames_from(start: int, labelled: np.ndarray, clip_len: int) -> list[int] | None:
    """The clip starting on labelled frame ``start``: ``clip_len`` consecutive frames, or, when
    they hold no other labelled frame, frames evenly spaced up to the next labelled one."""
    n = len(labelled)
    lab = np.nonzero(labelled)[0]
    window = list(range(start, min(start + clip_len, n)))
    later = lab[lab > start]
    if len(later) and not labelled[window[1:]].any():
        end = int(later[0])
        return sorted({int(round(x)) for x in np.linspace(start, end, min(clip_len, end - start + 1))})
    return window if len(window) >= 2 else None


def make_clip(
    case,
    frames: list[int],
    image_size: int,
    object_ids: list[int] | None = None,
    jitter: float = 0.0,
    generator: torch.Generator | None = None,
    max_objects: int | None = None,
) -> Clip | None:
    """Cut ``frames`` from ``case`` and build the model inputs and targets.

    Objects are the labels present on the first frame (or ``object_ids``); the prompt is each
    object's box on that frame, with Gaussian noise of ``jitter``·side per coordinate (capped
    at 20/1024 of the image, as in SAM 2's training). Returns None when no object is present.
    """
    first = case.masks[frames[0]]
    present = [int(v) for v in np.unique(first) if v != 0]
    ids = [i for i in (object_ids if object_ids is not None else sorted(case.labels)) if i in present]
    if not object_ids and not case.labels:
        ids = present
    ids = ids[:max_objects] if max_objects else ids
    if not ids:
        return None
    h, w = first.shape
    frames_t = torch.from_numpy(case.frames[frames]).float().div_(255.0)[:, None]
    images = F.interpolate(frames_t, size=(image_size, image_size), mode="bilinear", align_corners=False)
    mean = torch.tensor(_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(_STD).view(1, 3, 1, 1)
    images = (images.expand(-1, 3, -1, -1) - mean) / std
    masks = torch.from_numpy(case.masks[frames].astype(np.int64))
    per_object = torch.stack([(masks == i) for i in ids], dim=1).float()
    targets = F.interpolate(per_object, size=(image_size, image_size), mode="nearest")
    scale = np.array([image_size / w, image_size / h, image_size / w, image_size / h], dtype=np.float32)
    boxes = torch.from_numpy(np.stack([mask_to_box(first == i) * scale for i in ids]))
    if jitter > 0:
        side = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], 1).repeat(1, 2)
        noise = torch.randn(boxes.shape, generator=generator) * jitter * side
        cap = 20.0 * image_size / 1024
        boxes = (boxes + noise.clamp(-cap, cap)).clamp(0, image_size)
    return Clip(
        case_id=case.case_id,
        images=images.contiguous(),
        targets=targets,
        labelled=torch.from_numpy(case.labelled[frames].copy()),
        object_ids=ids,
        boxes=boxes,
        frame_indices=list(frames),
    )
