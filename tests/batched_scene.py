"""The 30-frame, 4-object scene of the batched-objects parity tests (both backends): three
blobs that move or stay, and a fourth absent on frames ``LOST`` (the object that is lost and
found again), on a noisy background."""

import numpy as np

T = 30
LOST_OBJ, LOST = 2, range(10, 16)  # object 2 is absent on these frames, then found again


def scene_frames(height: int = 96, width: int = 128) -> list[np.ndarray]:
    """The scene's ``T`` RGB frames (uint8), the same on every call."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    frames = []
    for t in range(T):
        img = rng.integers(0, 40, size=(height, width), dtype=np.int32)
        blobs = [(24 + t, 24, 12, 10, 220), (64, 20 + t, 9, 9, 120), (100, 20, 8, 8, 250)]
        if t not in LOST:
            blobs.append((100 - t, 70, 10, 12, 160))
        for cx, cy, rx, ry, level in blobs:
            img[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1] = level
        frames.append(np.repeat(img.astype(np.uint8)[..., None], 3, axis=2))
    return frames
