"""eval's LV read-out (ef.csv): area-length and biplane-disc volumes on analytic ellipses /
ellipsoids, through the one geometry of the read-out (``samurai.clinical.geometry``).

The masks are built with ``(row, col)`` mm spacings, as the datasets give them; the geometry
takes ``(sx, sy)`` = ``(col, row)``."""

import numpy as np
import pytest

from samurai.clinical import geometry as geo
from samurai.clinical.measurements import measure_frames
from samurai.eval.ef import EF_COLUMNS, add_biplane, area_length_ef, extreme_frames, lv_masks_ef


def xy(spacing):
    return (spacing[1], spacing[0])


def measure(mask, spacing=(1.0, 1.0)):
    return geo.measure(mask, xy(spacing))


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
    s = measure(mask, spacing)
    assert s.area == pytest.approx(np.pi * a * b, rel=0.01)
    assert s.axis.length == pytest.approx(2 * a, rel=0.02)
    # V = 8 A^2 / (3 pi L) with A = pi a b, L = 2a gives 4/3 pi a b^2 exactly.
    assert geo.volume_area_length(s.area, s.axis.length) == pytest.approx(4 / 3 * np.pi * a * b * b, rel=0.03)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.4, 0.6)])
def test_biplane_disks_is_the_ellipsoid_volume(spacing):
    a, b, c = 45.0, 18.0, 12.0  # long axis, 4CH and 2CH semi-axes (mm)
    four = ellipse((320, 320), (80, 80), (a, b), spacing)
    two = ellipse((320, 320), (80, 80), (a, c), spacing, angle=0.3)
    v = geo.volume_biplane_discs(measure(four, spacing), measure(two, spacing))
    assert v == pytest.approx(4 / 3 * np.pi * a * b * c, rel=0.02)


def test_disk_diameters_follow_the_ellipse_profile():
    a, b = 50.0, 20.0
    mask = ellipse((240, 240), (60, 60), (a, b), (0.5, 0.5))
    s = measure(mask, (0.5, 0.5))
    d, length = geo.disc_diameters(s.contour, s.axis), s.axis.length
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
    assert geo.ejection_fraction(120.0, 48.0) == pytest.approx(60.0)
    with pytest.raises(ValueError, match="positive"):
        geo.ejection_fraction(0.0, 1.0)

    class Area:  # extreme_frames reads only the outline's area
        def __init__(self, area):
            self.area = area

    assert extreme_frames([Area(3.0), Area(5.0), Area(1.0), Area(4.0)]) == (1, 2)


def test_view_readout_on_a_contracting_ellipse():
    spacing = (0.5, 0.5)
    semis = [(40, 16), (37, 14), (34, 12), (36, 13)]
    masks = np.stack([ellipse((200, 200), (50, 50), s, spacing) for s in semis])
    ed, es, ef = lv_masks_ef(masks, spacing)
    assert (ed, es) == (0, 2)
    v = [4 / 3 * np.pi * a * b * b for a, b in semis]
    assert ef == pytest.approx(100 * (v[0] - v[2]) / v[0], abs=1.5)
    areas = [s.area for s in measure_frames(masks, xy(spacing))]
    np.testing.assert_allclose(areas, [np.pi * a * b for a, b in semis], rtol=0.02)


def test_biplane_ef_uses_each_views_frames():
    spacing = (0.5, 0.5)
    four = np.stack([ellipse((200, 200), (50, 50), s, spacing) for s in [(40, 16), (34, 12)]])
    two = np.stack([ellipse((200, 200), (50, 50), s, spacing) for s in [(34, 9), (40, 12)]])  # ES first
    outlines = {
        (f"p1_{v}", "samurai"): measure_frames(m, xy(spacing)) for v, m in (("4CH", four), ("2CH", two))
    }
    assert extreme_frames(outlines[("p1_2CH", "samurai")]) == (1, 0)
    rows = [
        dict.fromkeys(EF_COLUMNS, float("nan")) | {"case": case, "method": method, "ed_frame": 0}
        for case, method in outlines
    ]
    add_biplane(rows, outlines)
    edv = 4 / 3 * np.pi * 40 * 16 * 12
    esv = 4 / 3 * np.pi * 34 * 12 * 9
    for row in rows:
        assert row["ef_biplane"] == pytest.approx(100 * (edv - esv) / edv, abs=1.5)


def test_empty_masks_have_no_read_out():
    with pytest.raises(geo.ChamberAbsent, match="empty"):
        geo.measure(np.zeros((5, 5), bool))
    assert lv_masks_ef(np.zeros((3, 5, 5), bool)) is None
    assert area_length_ef([None, None]) is None


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
    v = geo.volume_biplane_discs(measure(four), measure(two))
    assert v == pytest.approx(4 / 3 * np.pi * b * c * long_a, rel=0.03)
    assert abs(v - 4 / 3 * np.pi * b * c * short_a) > 0.2 * v
