"""Segmentation and box metrics against hand-computed cases and independent implementations."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist, directed_hausdorff

from samurai.eval import metrics as m


def _square(shape, r0, c0, r1, c1):
    out = np.zeros(shape, bool)
    out[r0:r1, c0:c1] = True
    return out


def test_dice_and_iou_hand_computed():
    a = _square((10, 10), 0, 0, 4, 4)  # 16 px
    b = _square((10, 10), 2, 2, 6, 6)  # 16 px, overlap 2x2 = 4
    assert m.dice(a, b) == pytest.approx(2 * 4 / 32)
    assert m.iou(a, b) == pytest.approx(4 / 28)
    assert m.dice(a, a) == 1.0 and m.iou(a, a) == 1.0
    assert m.dice(a, ~a) == 0.0
    empty = np.zeros((10, 10), bool)
    assert m.dice(empty, empty) == 1.0 and m.iou(empty, empty) == 1.0
    assert m.dice(a, empty) == 0.0


def test_shape_mismatch_is_named():
    with pytest.raises(ValueError, match="shape"):
        m.dice(np.zeros((3, 3)), np.zeros((3, 4)))


def _surface_points(mask, spacing):
    from scipy import ndimage

    edge = mask & ~ndimage.binary_erosion(mask, ndimage.generate_binary_structure(2, 1))
    return np.argwhere(edge) * np.asarray(spacing, float)


@pytest.mark.parametrize("spacing", [None, (0.5, 0.3)])
@pytest.mark.parametrize("seed", range(4))
def test_hd95_matches_brute_force_over_surface_points(seed, spacing):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:60, 0:70]
    a = ((yy - 30) / rng.uniform(8, 20)) ** 2 + ((xx - 30) / rng.uniform(8, 20)) ** 2 <= 1
    b = ((yy - 28 - rng.integers(-5, 5)) / rng.uniform(8, 20)) ** 2 + (
        (xx - 35) / rng.uniform(8, 20)
    ) ** 2 <= 1
    sp = (1.0, 1.0) if spacing is None else spacing
    pa, pb = _surface_points(a, sp), _surface_points(b, sp)
    d = cdist(pa, pb)
    pooled = np.concatenate([d.min(axis=1), d.min(axis=0)])
    assert m.hd95(a, b, spacing) == pytest.approx(np.percentile(pooled, 95), rel=1e-9)
    # The 100th percentile is the Hausdorff distance (SciPy's, on the same surface points).
    hd = max(directed_hausdorff(pa, pb)[0], directed_hausdorff(pb, pa)[0])
    assert pooled.max() == pytest.approx(hd)


def test_hd95_of_shifted_square_is_the_shift():
    a = _square((40, 40), 10, 10, 20, 20)
    b = _square((40, 40), 10, 13, 20, 23)  # 3 px to the right
    assert m.hd95(a, b) == pytest.approx(3.0)
    assert m.hd95(a, b, spacing=(1.0, 0.5)) == pytest.approx(1.5)


def test_hd95_empty_cases():
    a = _square((8, 8), 1, 1, 3, 3)
    empty = np.zeros((8, 8), bool)
    assert m.hd95(empty, empty) == 0.0
    assert np.isnan(m.hd95(a, empty))


def test_box_iou_xywh_hand_computed():
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 5, 5], [0, 0, 0, 0]], float)
    gt = np.array([[5, 5, 10, 10], [0, 0, 10, 10], [0, 0, 5, 5], [0, 0, 4, 4]], float)
    np.testing.assert_allclose(m.box_iou_xywh(pred, gt), [25 / 175, 1.0, 0.0, 0.0])


def test_box_metrics_hand_computed():
    gt = np.array([[10, 10, 20, 20]] * 5, float)
    pred = np.array(
        [
            [10, 10, 20, 20],  # IoU 1, centre error 0
            [20, 10, 20, 20],  # IoU 200/600 = 1/3, error 10 px, normalised 0.5
            [13, 14, 20, 20],  # IoU 17*16/(800-272) = 272/528, error 5 px, normalised 0.25
            [np.nan] * 4,  # absent prediction: IoU 0, infinite error
            [60, 60, 20, 20],  # no overlap, error 70.7 px
        ]
    )
    ious = np.array([1.0, 1 / 3, 272 / 528, 0.0, 0.0])
    np.testing.assert_allclose(m.box_iou_xywh(pred, gt), ious)
    thresholds = np.linspace(0, 1, 21)
    expected_auc = np.mean([(ious > t).mean() for t in thresholds])
    out = m.box_metrics(pred, gt)
    assert out["success_auc"] == pytest.approx(expected_auc)
    assert out["precision_20"] == pytest.approx(3 / 5)
    assert out["norm_precision"] == pytest.approx(1 / 5)  # only the exact one is <= 0.2
    norm = np.array([0.0, 0.5, 0.25, np.inf, np.hypot(2.5, 2.5)])
    expected_np_auc = np.mean([(norm <= t).mean() for t in np.linspace(0, 0.5, 51)])
    assert out["norm_precision_auc"] == pytest.approx(expected_np_auc)
    assert out["frames"] == 5


def test_box_metrics_skip_frames_without_ground_truth():
    gt = np.array([[0, 0, 10, 10], [0, 0, 0, 0], [np.nan] * 4], float)
    pred = np.array([[0, 0, 10, 10], [50, 50, 5, 5], [50, 50, 5, 5]], float)
    out = m.box_metrics(pred, gt)
    assert out["frames"] == 1 and out["success_auc"] == pytest.approx(20 / 21)
    with pytest.raises(ValueError, match="no frame has a ground-truth box"):
        m.box_metrics(pred[1:], gt[1:])


def test_masks_to_xywh():
    masks = np.zeros((2, 10, 10), bool)
    masks[0, 2:5, 3:9] = True
    out = m.masks_to_xywh(masks)
    np.testing.assert_array_equal(out[0], [3, 2, 6, 3])
    np.testing.assert_array_equal(out[1], [0, 0, 0, 0])  # absent, as in LaSOT result files
