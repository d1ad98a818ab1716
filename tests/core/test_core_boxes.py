"""Box conversions and IoU against plain-Python oracles."""

import numpy as np
import pytest
import samurai_reference as ref

import samurai_core as sc


def random_boxes(rng, n):
    xy = rng.uniform(-50, 200, (n, 2))
    wh = rng.uniform(0.5, 120, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float32)


@pytest.mark.parametrize(
    "fwd, back",
    [
        (sc.xyxy_to_xywh, sc.xywh_to_xyxy),
        (sc.xyxy_to_cxcywh, sc.cxcywh_to_xyxy),
        (sc.xyxy_to_xyah, sc.xyah_to_xyxy),
    ],
)
def test_conversions_round_trip(fwd, back):
    rng = np.random.default_rng(0)
    b = random_boxes(rng, 500).reshape(5, 100, 4)  # any leading batch shape
    np.testing.assert_allclose(np.asarray(back(fwd(b))), b, rtol=1e-5, atol=1e-3)


def test_conversions_match_definitions():
    b = np.array([[10.0, 20.0, 50.0, 100.0]], np.float32)
    np.testing.assert_allclose(np.asarray(sc.xyxy_to_xywh(b)), [[10, 20, 40, 80]])
    np.testing.assert_allclose(np.asarray(sc.xyxy_to_cxcywh(b)), [[30, 60, 40, 80]])
    np.testing.assert_allclose(np.asarray(sc.xyxy_to_xyah(b)), [[30, 60, 0.5, 80]])
    for model in sc.MOTION_MODELS:
        np.testing.assert_allclose(np.asarray(sc.measure(model, b[0])), ref.to_z(model, b[0]))


def test_iou_matches_loop_oracle_including_bad_boxes():
    rng = np.random.default_rng(1)
    n = 400
    a = random_boxes(rng, n)
    b = a + rng.normal(0, 20, (n, 4)).astype(np.float32)  # overlapping, some inverted
    a[::17] = 0.0  # empty
    a[5::23, 0] = np.nan
    b[3::29, 2] = np.inf
    b[7::31, 3] = -np.inf
    a[11::37] = a[11::37][:, [2, 3, 0, 1]]  # negative width and height
    b[13::41, 2] = b[13::41, 0]  # zero width
    got = np.asarray(sc.box_iou(a, b))
    expected = np.array([ref.iou(a[i].astype(float), b[i].astype(float)) for i in range(n)])
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert (expected == 0).sum() > 40 and (expected > 0.3).sum() > 40  # both regimes present


def test_pairwise_iou_matches_loop_oracle():
    rng = np.random.default_rng(2)
    a, b = random_boxes(rng, 13), random_boxes(rng, 7)
    b[2] = np.nan
    got = np.asarray(sc.pairwise_iou(a, b))
    expected = np.array([[ref.iou(x, y) for y in b.astype(float)] for x in a.astype(float)])
    assert got.shape == (13, 7)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_iou_identical_and_disjoint():
    b = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]], np.float32)
    np.testing.assert_allclose(np.asarray(sc.pairwise_iou(b, b)), np.eye(2))


def test_box_valid():
    b = np.array(
        [[0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 1], [0, 0, np.nan, 1], [0, 0, np.inf, 1]],
        np.float32,
    )
    assert np.asarray(sc.box_valid(b)).tolist() == [True, False, False, False, False, False]


# ----------------------------------------------------------------------------- mask boxes


def _argwhere_box(mask) -> list[float]:
    """Plain-loop oracle of the project's box convention (inclusive pixel-index corners)."""
    ys = [y for y in range(mask.shape[0]) for x in range(mask.shape[1]) if mask[y, x]]
    xs = [x for y in range(mask.shape[0]) for x in range(mask.shape[1]) if mask[y, x]]
    return [min(xs), min(ys), max(xs), max(ys)] if xs else [0.0, 0.0, 0.0, 0.0]


def test_mask_to_box_matches_loop_oracle_over_random_masks():
    rng = np.random.default_rng(3)
    masks = []
    for i in range(60):
        h, w = (int(v) for v in rng.integers(1, 20, 2))
        kind = i % 4
        if kind == 0:
            m = np.zeros((h, w), bool)  # empty
        elif kind == 1:
            m = np.zeros((h, w), bool)
            m[rng.integers(h), rng.integers(w)] = True  # one pixel
        elif kind == 2:
            m = np.ones((h, w), bool)  # full
        else:
            m = rng.random((h, w)) > 0.8
        masks.append(m)
        got = sc.mask_to_box(m)
        assert got.dtype == np.float32 and got.shape == (4,)
        np.testing.assert_array_equal(got, _argwhere_box(m))
    # Batched over leading axes, and logits (> 0) as masks.
    stack = np.stack([np.zeros((5, 7), bool), np.ones((5, 7), bool), rng.random((5, 7)) > 0.7])
    batched = sc.mask_to_box(np.stack([stack, ~stack]))
    assert batched.shape == (2, 3, 4)
    for a in range(2):
        for b in range(3):
            np.testing.assert_array_equal(batched[a, b], _argwhere_box([stack, ~stack][a][b]))
    logits = np.where(stack, 2.5, -3.0).astype(np.float32)
    np.testing.assert_array_equal(sc.mask_to_box(logits), sc.mask_to_box(stack))


def test_mask_to_box_one_pixel_and_bad_shape():
    m = np.zeros((6, 9), bool)
    m[4, 7] = True
    np.testing.assert_array_equal(sc.mask_to_box(m), [7, 4, 7, 4])
    with pytest.raises(ValueError, match=r"\[..., H, W\]"):
        sc.mask_to_box(np.zeros(5, bool))


def test_lasot_conversions_count_pixels_and_mark_absence():
    m = np.zeros((10, 12), bool)
    m[2:5, 3:9] = True  # rows 2..4, columns 3..8: 6 wide, 3 high
    box = sc.mask_to_box(m)
    np.testing.assert_array_equal(sc.xyxy_to_lasot(box), [3, 2, 6, 3])
    np.testing.assert_array_equal(sc.lasot_to_xyxy(sc.xyxy_to_lasot(box)), box)
    # One pixel: a 1x1 box; absent (zero, non-finite, inverted) boxes: 0,0,0,0 and back.
    np.testing.assert_array_equal(sc.xyxy_to_lasot([[4, 5, 4, 5]]), [[4, 5, 1, 1]])
    bad = np.array([[0, 0, 0, 0], [np.nan, 1, 2, 3], [5, 5, 3, 8]], np.float64)
    np.testing.assert_array_equal(sc.xyxy_to_lasot(bad), np.zeros((3, 4)))
    rows = np.array([[3, 2, 6, 3], [0, 0, 0, 0], [1, 1, np.nan, 2], [1, 1, -2, 2]])
    np.testing.assert_array_equal(sc.lasot_present(rows), [True, False, False, False])
    np.testing.assert_array_equal(sc.lasot_to_xyxy(rows), [[3, 2, 8, 4]] + [[0, 0, 0, 0]] * 3)
