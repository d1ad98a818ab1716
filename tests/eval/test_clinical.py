"""LV read-out: area-length and biplane-disks volumes on analytic ellipses / ellipsoids."""

import numpy as np
import pytest

from samurai.eval import clinical


def ellipse(shape, centre_mm, semi_mm, spacing=(1.0, 1.0), angle=0.0):
    """Rasterised ellipse; ``semi_mm`` = (long semi-axis along rows when angle=0, short)."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    y = rows * spacing[0] - centre_mm[0]
    x = cols * spacing[1] - centre_mm[1]
    c, s = np.cos(angle), np.sin(angle)
    u, v = c * y + s * x, -s * y + c * x
    return (u / semi_mm[0]) ** 2 + (v / semi_mm[1]) ** 2 <= 1.0


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.5, 0.3)])
@pytest.mark.parametrize("angle", [0.0, 0.4])
def test_area_length_is_the_prolate_ellipsoid_volume(spacing, angle):
    a, b = 40.0, 15.0  # semi-axes in mm
    mask = ellipse((300, 300), (75, 45), (a, b), spacing, angle)
    assert clinical.area(mask, spacing) == pytest.approx(np.pi * a * b, rel=0.01)
    assert clinical.long_axis_length(mask, spacing) == pytest.approx(2 * a, rel=0.02)
    # V = 8 A^2 / (3 pi L) with A = pi a b, L = 2a gives 4/3 pi a b^2 exactly.
    assert clinical.volume_area_length(mask, spacing) == pytest.approx(4 / 3 * np.pi * a * b * b, rel=0.03)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.4, 0.6)])
def test_biplane_disks_is_the_ellipsoid_volume(spacing):
    a, b, c = 45.0, 18.0, 12.0  # long axis, 4CH and 2CH semi-axes (mm)
    four = ellipse((320, 320), (80, 80), (a, b), spacing)
    two = ellipse((320, 320), (80, 80), (a, c), spacing, angle=0.3)
    v = clinical.volume_biplane_disks(two, four, spacing, spacing)
    assert v == pytest.approx(4 / 3 * np.pi * a * b * c, rel=0.02)


def test_disk_diameters_follow_the_ellipse_profile():
    a, b = 50.0, 20.0
    mask = ellipse((240, 240), (60, 60), (a, b), (0.5, 0.5))
    d, length = clinical.disk_diameters(mask, (0.5, 0.5))
    assert length == pytest.approx(2 * a, rel=0.01)
    # Mean width of slab i of an ellipse: integral of 2b sqrt(1 - u^2/a^2) over the slab.
    edges = np.linspace(-a, a, 21)
    u = np.linspace(-a, a, 20001)
    width = 2 * b * np.sqrt(np.clip(1 - (u / a) ** 2, 0, None))
    expected = [width[(u >= lo) & (u < hi)].mean() for lo, hi in zip(edges[:-1], edges[1:])]
    # Inner slabs within one pixel (0.5 mm); the two tip slabs lose up to ~2 pixels of width to
    # rasterisation.
    np.testing.assert_allclose(d[1:-1], expected[1:-1], atol=0.5)
    np.testing.assert_allclose(d[[0, -1]], np.array(expected)[[0, -1]], atol=1.1)


def test_ejection_fraction_and_ed_es():
    assert clinical.ejection_fraction(120.0, 48.0) == pytest.approx(60.0)
    with pytest.raises(ValueError, match="positive"):
        clinical.ejection_fraction(0.0, 1.0)
    assert clinical.ed_es_frames(np.array([3.0, 5.0, 1.0, 4.0])) == (1, 2)


def test_view_readout_on_a_contracting_ellipse():
    spacing = (0.5, 0.5)
    semis = [(40, 16), (37, 14), (34, 12), (36, 13)]
    masks = np.stack([ellipse((200, 200), (50, 50), s, spacing) for s in semis])
    r = clinical.view_readout(masks, spacing)
    assert (r.ed_index, r.es_index) == (0, 2)
    v = [4 / 3 * np.pi * a * b * b for a, b in semis]
    assert r.ef == pytest.approx(100 * (v[0] - v[2]) / v[0], abs=1.5)
    np.testing.assert_allclose(r.areas, [np.pi * a * b for a, b in semis], rtol=0.02)


def test_biplane_ef_uses_each_views_frames():
    spacing = (0.5, 0.5)
    four = np.stack([ellipse((200, 200), (50, 50), s, spacing) for s in [(40, 16), (34, 12)]])
    two = np.stack([ellipse((200, 200), (50, 50), s, spacing) for s in [(34, 9), (40, 12)]])  # ES first
    r4 = clinical.view_readout(four, spacing)
    r2 = clinical.view_readout(two, spacing)
    assert (r2.ed_index, r2.es_index) == (1, 0)
    edv = 4 / 3 * np.pi * 40 * 16 * 12
    esv = 4 / 3 * np.pi * 34 * 12 * 9
    ef = clinical.biplane_ef(two[r2.ed_index], two[r2.es_index], four[r4.ed_index], four[r4.es_index],
                             spacing, spacing)
    assert ef == pytest.approx(100 * (edv - esv) / edv, abs=1.5)


def test_tiny_or_empty_masks_raise_with_a_reason():
    with pytest.raises(ValueError, match="too small"):
        clinical.long_axis_length(np.zeros((5, 5), bool))
    with pytest.raises(ValueError, match="no frame"):
        clinical.view_readout(np.zeros((3, 5, 5), bool))


@pytest.mark.parametrize("longer", ["2ch", "4ch"])
def test_biplane_disks_take_the_longer_of_the_two_long_axes(longer):
    """Foreshortened views: the 2CH and 4CH long axes differ (40 and 28 mm semi-axes). Each view
    is cut into its own 20 disks, so the disk diameters trace each ellipse's profile and
    sum(a_i b_i) / n -> 4 b c * 2/3; the guideline's L is the longer axis, 2 * 40 mm, giving
    pi/4 * 4 b c * 2/3 * 80 = 4/3 pi b c * 40 (with the shorter axis: 28, 30 % less)."""
    long_a, short_a, b, c = 40.0, 28.0, 16.0, 11.0
    a2, a4 = (long_a, short_a) if longer == "2ch" else (short_a, long_a)
    two = ellipse((240, 240), (70, 70), (a2, c), angle=0.2)
    four = ellipse((240, 240), (70, 70), (a4, b))
    v = clinical.volume_biplane_disks(two, four)
    assert v == pytest.approx(4 / 3 * np.pi * b * c * long_a, rel=0.03)
    assert abs(v - 4 / 3 * np.pi * b * c * short_a) > 0.2 * v
