"""The phantom's position and size parameters (used to vary the four-chamber training videos)."""

import numpy as np

from samurai_phantom import make_phantom


def _centroid(mask):
    rows, cols = np.nonzero(mask)
    return np.array([cols.mean(), rows.mean()])


def test_shift_moves_every_chamber_and_scale_grows_them():
    size = 128
    base = make_phantom(n_frames=1, size=size, dropout=None)
    moved = make_phantom(n_frames=1, size=size, dropout=None, shift=(0.05, -0.03))
    big = make_phantom(n_frames=1, size=size, dropout=None, scale=1.1)
    for k in base.labels:
        delta = _centroid(moved.masks[0] == k) - _centroid(base.masks[0] == k)
        np.testing.assert_allclose(delta, [0.05 * size, -0.03 * size], atol=1.0)
        # Area of an ellipse scales with the square of its radii.
        ratio = (big.masks[0] == k).sum() / (base.masks[0] == k).sum()
        assert abs(ratio - 1.21) < 0.08, (k, ratio)


def test_defaults_are_unchanged():
    a = make_phantom(n_frames=2, size=64)
    b = make_phantom(n_frames=2, size=64, shift=(0.0, 0.0), scale=1.0)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.masks, b.masks)
