"""Box conversions and IoU against plain-Python oracles."""

import numpy as np
import pytest

import samurai_core as sc
import samurai_reference as ref


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
        [[0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 1, 0], [1, 0, 0, 1], [0, 0, np.nan, 1],
         [0, 0, np.inf, 1]],
        np.float32,
    )
    assert np.asarray(sc.box_valid(b)).tolist() == [True, False, False, False, False, False]
