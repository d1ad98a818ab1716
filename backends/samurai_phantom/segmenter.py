"""A weight-free candidate segmenter: SAM 2's role in the demo, in NumPy.

Given a frame and each track's memory, it proposes ``M`` candidate masks per track with a
predicted quality, as SAM 2's mask decoder proposes three masks with predicted IoUs.
Candidates are dark connected regions (blood pools) found at several thresholds near the
memory. The quality score never sees ground truth:

    quality = contrast · fill · (1 − w + w · overlap)

- contrast: how much darker the region is than a ring around it (smoothed image),
- fill: area over the area of the ellipse inscribed in its bounding box (blood pools are round),
- overlap: the region's mean of the track's memory map, the per-pixel fraction of its memory
  frames (the conditioning frame and the frames the tracker put in memory) whose mask covers
  the pixel; w = ``memory_weight``. This is the stand-in for SAM 2's memory attention, which
  conditions the current frame on the masks of the memory frames: a memory that holds wrong
  masks drags the next frames towards them.

Like SAM 2's predicted IoU, the score is blind to identity: a dark, round neighbour can outscore
a faded target (the failure SAMURAI's motion score is for), and what entered memory decides
where the track looks next (the failure its memory selection is for).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from samurai_core.boxes import mask_to_box
from samurai_phantom.phantom import box_blur


class Proposals(NamedTuple):
    """Candidates for one frame, for every track."""

    masks: np.ndarray  # bool [B, M, H, W]; all False for an empty slot
    boxes: np.ndarray  # float32 [B, M, 4] samurai_core.mask_to_box of each mask; zeros if empty
    aff: np.ndarray  # float32 [B, M] predicted quality in [0, 1]; 0 if empty
    obj: np.ndarray  # float32 [B] object score logit (> 0: present)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary dilation of a 2-D mask by a (2·radius+1)² square, by shifting."""
    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[1:, :] |= out[:-1, :]
        grown[:-1, :] |= out[1:, :]
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
        out = grown
    return out


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components of a 2-D bool mask.

    Returns ``(labels, n)``: int32 labels, 0 = background and 1..n the components (numbered
    in raster order of their first pixel). Vectorised min-label propagation with pointer
    jumping; no SciPy needed.
    """
    h, w = mask.shape
    big = h * w
    lab = np.where(mask, np.arange(big, dtype=np.int64).reshape(h, w), big)
    flat_mask = mask.ravel()
    while True:
        prev = lab
        m = lab.copy()
        m[1:, :] = np.minimum(m[1:, :], lab[:-1, :])
        m[:-1, :] = np.minimum(m[:-1, :], lab[1:, :])
        m[:, 1:] = np.minimum(m[:, 1:], lab[:, :-1])
        m[:, :-1] = np.minimum(m[:, :-1], lab[:, 1:])
        m = np.where(mask, m, big)
        # Pointer jumping: every label is the index of a pixel of the same component.
        flat = m.ravel()
        fg = np.flatnonzero(flat_mask)
        for _ in range(4):
            flat[fg] = flat[flat[fg]]
        lab = flat.reshape(h, w)
        if np.array_equal(lab, prev):
            break
    roots, inverse = np.unique(lab, return_inverse=True)
    out = inverse.reshape(h, w).astype(np.int32) + 1
    n = len(roots)
    if roots[-1] == big:  # background present: map it to 0
        out[lab == big] = 0
        n -= 1
    return out, n


class PhantomSegmenter:
    """Proposes ``num_candidates`` dark-region masks per track near each track's memory.

    Args:
        thresholds: darkness thresholds on the smoothed image (0-1 scale); each gives one
            segmentation, and its components are candidates.
        num_candidates: ``M``, candidates per track (3, as SAM 2).
        search_radius: the search zone is the union of the memory masks dilated by this
            fraction of the image size.
        min_area: smallest candidate, as a fraction of the image area.
        smooth_radius: radius of the mean filter that tames the speckle.
        memory_weight: ``w``, the share of the quality that depends on the overlap with the
            memory map.
    """

    def __init__(
        self,
        thresholds: tuple[float, ...] = (0.18, 0.26, 0.36),
        num_candidates: int = 3,
        search_radius: float = 0.09,
        min_area: float = 0.002,
        smooth_radius: int = 2,
        memory_weight: float = 0.65,
    ):
        self.thresholds = tuple(thresholds)
        self.num_candidates = num_candidates
        self.search_radius = search_radius
        self.min_area = min_area
        self.smooth_radius = smooth_radius
        self.memory_weight = memory_weight

    def regions(self, frame: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """All candidate regions of a frame and their appearance quality (contrast · fill)."""
        img = box_blur(frame.astype(np.float64) / 255.0, self.smooth_radius)
        # The black outside the imaging fan is not blood: find the fan from the frame itself.
        fan = box_blur(img, 4) > 0.02
        h, w = img.shape
        min_px = max(4, int(self.min_area * h * w))
        regions, quality = [], []
        for thr in self.thresholds:
            labels, n = label_components((img < thr) & fan)
            areas = np.bincount(labels.ravel(), minlength=n + 1)
            for k in np.flatnonzero(areas[1:] >= min_px) + 1:
                region = labels == k
                x1, y1, x2, y2 = mask_to_box(region).astype(int)
                ring = dilate(region, 3) & ~region
                contrast = img[ring].mean() - img[region].mean()
                fill = areas[k] / (np.pi / 4 * (x2 - x1 + 1) * (y2 - y1 + 1))
                regions.append(region)
                quality.append(np.clip(contrast / 0.5, 0.0, 1.0) * min(fill, 1.0))
        return regions, np.asarray(quality, np.float64)

    def propose(
        self,
        frame: np.ndarray,
        memory: np.ndarray,
        found: tuple[list[np.ndarray], np.ndarray] | None = None,
    ) -> Proposals:
        """Candidates for every track of ``frame`` (uint8 [H, W]).

        Args:
            frame: the frame.
            memory: float [B, H, W] in [0, 1], each track's memory map (see ``memory_map``);
                a bool mask is a memory of one frame.
            found: ``self.regions(frame)`` when the caller has it already (it depends on the
                frame only, so runs over the same clip can share it).
        """
        memory = np.asarray(memory, np.float64)
        b = memory.shape[0]
        h, w = frame.shape
        m = self.num_candidates
        masks = np.zeros((b, m, h, w), bool)
        boxes = np.zeros((b, m, 4), np.float32)
        aff = np.zeros((b, m), np.float32)
        regions, quality = found if found is not None else self.regions(frame)
        radius = max(1, int(round(self.search_radius * max(h, w))))
        w = self.memory_weight
        for i in range(b):
            if not memory[i].any():
                continue
            zone = dilate(memory[i] > 0, radius)
            scored = []
            for region, q in zip(regions, quality):
                if (region & zone).any():
                    overlap = memory[i][region].mean()
                    scored.append((q * (1.0 - w + w * overlap), region))
            scored.sort(key=lambda s: -s[0])
            j = 0
            for score, region in scored:
                # Nested thresholds give near-identical regions: keep distinct ones only.
                if any(_iou(region, masks[i, k]) > 0.9 for k in range(j)):
                    continue
                masks[i, j], boxes[i, j], aff[i, j] = region, mask_to_box(region), score
                j += 1
                if j == m:
                    break
        # Object logit: present when the best candidate looks like a blood pool at all.
        obj = (10.0 * (aff.max(axis=1) - 0.15)).astype(np.float32)
        return Proposals(masks, boxes, aff, obj)


def memory_map(masks: np.ndarray, frames: list[int]) -> np.ndarray:
    """Per pixel, the fraction of the memory ``frames`` whose mask (``masks``: bool [T, H, W])
    covers it: float [H, W] in [0, 1]."""
    return masks[frames].mean(axis=0)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0
