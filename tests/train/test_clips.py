"""Clip sampling and clip tensors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from samurai.data import EchoCase  # noqa: E402
from samurai.data.synthetic import phantom_sequence  # noqa: E402
from samurai.train.clips import choose_frames, make_clip  # noqa: E402
from samurai_core import mask_to_box  # noqa: E402


def test_dense_clips_are_consecutive_windows():
    rng = np.random.default_rng(0)
    for _ in range(20):
        frames = choose_frames(np.ones(10, bool), 4, rng)
        assert len(frames) == 4 and frames == list(range(frames[0], frames[0] + 4))
    assert choose_frames(np.ones(3, bool), 8, rng) == [0, 1, 2]


def test_sparse_clips_reach_the_next_labelled_frame():
    labelled = np.zeros(30, bool)
    labelled[[4, 21]] = True  # EchoNet: ED and ES only
    frames = choose_frames(labelled, 8, np.random.default_rng(0))
    assert frames[0] == 4 and frames[-1] == 21 and len(frames) == 8
    assert frames == sorted(set(frames))


def test_unusable_cases_give_none():
    rng = np.random.default_rng(0)
    assert choose_frames(np.zeros(5, bool), 4, rng) is None
    last_only = np.zeros(5, bool)
    last_only[-1] = True
    assert choose_frames(last_only, 4, rng) is None


def test_make_clip_targets_and_boxes():
    frames, masks = phantom_sequence(4, (64, 56), np.random.default_rng(0))
    case = EchoCase("c", frames, masks, np.ones(4, bool), {1: "LV", 2: "MYO", 3: "LA"})
    clip = make_clip(case, [1, 2, 3], 128)
    assert clip.images.shape == (3, 3, 128, 128) and clip.targets.shape == (3, 3, 128, 128)
    assert clip.object_ids == [1, 2, 3]
    for j, obj in enumerate(clip.object_ids):
        box = mask_to_box(masks[1] == obj) * np.array([128 / 56, 128 / 64] * 2)
        np.testing.assert_allclose(clip.boxes[j].numpy(), box, rtol=1e-6)
        # The resized target covers the same fraction of the image as the original mask.
        frac = (masks[1] == obj).mean()
        assert abs(float(clip.targets[0, j].mean()) - frac) < 0.02
    jittered = make_clip(case, [1, 2], 128, jitter=0.1, generator=torch.Generator().manual_seed(0))
    delta = (jittered.boxes - clip.boxes).abs()
    assert (delta > 0).any() and (delta <= 20 * 128 / 1024 + 1e-6).all()
    assert make_clip(case, [1, 2], 128, max_objects=1).object_ids == [1]


def test_validation_clip_starts_on_the_first_labelled_frame():
    from samurai.train.clips import frames_from

    assert frames_from(0, np.ones(6, bool), 3) == [0, 1, 2]
    labelled = np.zeros(12, bool)
    labelled[[1, 9]] = True
    assert frames_from(1, labelled, 5) == [1, 3, 5, 7, 9]
    assert frames_from(9, labelled, 5) == [9, 10, 11]
