"""The study read-out on beating synthetic views whose chamber sizes are known in closed form:
half spheroids with a flat valve plane, two beats, rotated views."""

import numpy as np
import pytest
from shapes import contraction, heart_masks, semi_axes, truncated_spheroid_volume

from samurai.clinical.measurements import View, read_out
from samurai.clinical.ranges import body_surface_area

PERIOD, FRAMES, START = 16, 36, 12.0  # ED at frames 4, 20; ES at 12, 28
A2C_WIDTH = 0.85  # the two-chamber view's widths relative to the four-chamber view's
A2C_LENGTH = 0.94  # the two-chamber view is slightly foreshortened


def half_volume(chamber, p, c_factor):
    a, b = semi_axes(chamber, p)
    return truncated_spheroid_volume(a, b, c_factor * b, 0.0)


@pytest.fixture(scope="module")
def study():
    p = contraction(FRAMES, PERIOD, START)
    a4c = heart_masks(p, theta=-1.2)
    a2c = heart_masks(p, theta=-2.0, chambers=("lv", "la"), across_factor=A2C_WIDTH, long_factor=A2C_LENGTH)
    return a4c, a2c


def test_biplane_lv_volumes_and_ef_match_the_spheroid(study):
    a4c, a2c = study
    r = read_out([View("A4C", a4c, None, 0.04), View("A2C", a2c, None, 0.04)])
    edv, esv = half_volume("lv", 0.0, A2C_WIDTH), half_volume("lv", 1.0, A2C_WIDTH)
    assert [(b.ed, b.es) for b in r.views["A4C"].beats.beats] == [(4, 12), (20, 28)]
    assert r.get("lv_edv").value == pytest.approx(edv, rel=0.015)
    assert r.get("lv_esv").value == pytest.approx(esv, rel=0.015)
    assert r.get("lv_ef").value == pytest.approx(100 * (edv - esv) / edv, abs=1.0)
    assert r.get("lv_sv").value == pytest.approx(edv - esv, rel=0.03)
    assert len(r.get("lv_edv").per_beat) == 2
    assert r.get("heart_rate:A4C").value == pytest.approx(60 / (PERIOD * 0.04))
    # Single-plane values from the four-chamber view alone: a spheroid of revolution.
    a, b = semi_axes("lv", 0.0)
    assert r.get("lv_edv:A4C:discs").value == pytest.approx(2 / 3 * np.pi * a * b * b, rel=0.015)
    assert r.get("lv_edv:A4C:al").value == pytest.approx(2 / 3 * np.pi * a * b * b, rel=0.015)
    assert r.get("lv_length:A4C").value == pytest.approx(a, rel=0.02)
    assert r.units["volume"] == "px³" and r.get("lv_edv").flag == "not graded"


def test_other_chambers_and_gls(study):
    a4c, a2c = study
    r = read_out(
        [View("A4C", a4c, (0.03, 0.03), 0.04), View("A2C", a2c, (0.03, 0.03), 0.04)],
        sex="female",
        bsa_m2=body_surface_area(165, 60),
    )
    cm3 = 0.03**3
    # LA at LV end-systole (its largest): biplane discs of the half spheroid.
    assert r.get("la_volume").value == pytest.approx(half_volume("la", 1.0, A2C_WIDTH) * cm3, rel=0.02)
    assert r.get("lavi").value == pytest.approx(r.get("la_volume").value / np.sqrt(165 * 60 / 3600))
    a, b = semi_axes("la", 1.0)
    assert r.get("la_area").value == pytest.approx(np.pi * a * b / 2 * 0.03**2, rel=0.02)
    # RV areas at LV ED and ES, FAC from their known ratio.
    a0, b0 = semi_axes("rv", 0.0)
    a1, b1 = semi_axes("rv", 1.0)
    assert r.get("rv_eda").value == pytest.approx(np.pi * a0 * b0 / 2 * 0.03**2, rel=0.02)
    assert r.get("rv_fac").value == pytest.approx(100 * (1 - a1 * b1 / (a0 * b0)), abs=1.0)
    a, b = semi_axes("ra", 1.0)
    assert r.get("ra_area").value == pytest.approx(np.pi * a * b / 2 * 0.03**2, rel=0.02)

    # GLS: the LV endocardial length (half an ellipse's perimeter) from ED to ES, averaged
    # over the two views (whose widths and lengths differ).
    def half_perimeter(a, b):  # Ramanujan's approximation, error < 1e-4 at these ratios
        h = ((a - b) / (a + b)) ** 2
        return np.pi * (a + b) * (1 + 3 * h / (10 + np.sqrt(4 - 3 * h))) / 2

    def view_strain(across, long):
        ed = half_perimeter(*semi_axes("lv", 0.0, across, long))
        return 100 * (half_perimeter(*semi_axes("lv", 1.0, across, long)) / ed - 1)

    expect = (view_strain(1.0, 1.0) + view_strain(A2C_WIDTH, A2C_LENGTH)) / 2
    assert r.get("lv_gls").value == pytest.approx(expect, abs=1.0)
    assert r.get("lv_gls").flag == "not graded" and "contour" in r.get("lv_gls").label
    # Units and flags: mL, cm², graded for women only.
    assert r.get("lv_edv").unit == "mL" and r.get("ra_area").unit == "cm²"
    assert {rg["sex"] for rg in r.get("lv_ef").ranges} == {"female"}
    assert r.get("lv_ef").flag in ("normal", "low", "high")


def test_spacing_changes_values_by_the_right_powers(study):
    a4c, _ = study
    px = read_out([View("A4C", a4c, None, 0.04)])
    cm = read_out([View("A4C", a4c, (0.03, 0.03), 0.04)])
    for key, power in (
        ("lv_edv:A4C:discs", 3),
        ("lv_esv:A4C:al", 3),
        ("la_volume", 3),
        ("rv_eda", 2),
        ("ra_area", 2),
        ("lv_length:A4C", 1),
        ("lv_ef:A4C:discs", 0),
        ("rv_fac", 0),
        ("lv_gls", 0),
    ):
        assert cm.get(key).value == pytest.approx(px.get(key).value * 0.03**power, rel=1e-9), key
    assert px.get("lv_edv:A4C:discs").unit == "px³" and cm.get("lv_edv:A4C:discs").unit == "mL"
    assert px.get("rv_eda").flag == "not graded" and "spacing is unknown" in px.get("rv_eda").flag_note


def test_absent_chamber_is_missing_with_a_reason_and_the_rest_is_computed(study):
    a4c, _ = study
    masks = dict(a4c, rv=np.zeros_like(a4c["rv"]))
    r = read_out([View("A4C", masks, (0.03, 0.03), 0.04)])
    for key in ("rv_eda", "rv_esa", "rv_fac"):
        assert r.get(key).value is None
        assert "RV not segmented on any frame of the A4C view" in r.get(key).missing
    assert r.get("lv_edv:A4C:discs").value > 0 and r.get("ra_area").value > 0
    assert "body surface area unknown" in r.get("lavi").missing


def test_sex_not_given_grades_against_both_ranges():
    # An LVEF of 53 % is normal for men (52-72) and low for women (54-74).
    from samurai.clinical.ranges import flag

    f, ranges = flag("lv_ef", 53.0, "%", None)
    assert f.flag == "depends on sex" and {r.sex for r in ranges} == {"male", "female"}
    assert flag("lv_ef", 53.0, "%", "male")[0].flag == "normal"
    assert flag("lv_ef", 53.0, "%", "female")[0].flag == "low"
    assert flag("rv_fac", 30.0, "%", None)[0].flag == "low"
    assert flag("ra_area", 19.0, "cm²", "female")[0].flag == "high"


def test_clip_shorter_than_a_beat_is_said(study):
    a4c, _ = study
    short = {k: v[4:11] for k, v in a4c.items()}  # ED to just before ES
    r = read_out([View("A4C", short, None, 0.04)])
    assert r.views["A4C"].beats.whole_clip
    assert any("shorter than one beat" in n for n in r.notes)
    assert r.get("lv_ef:A4C:discs").value > 0
