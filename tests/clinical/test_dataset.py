"""The eval read-out: per-case rows and agreement with a dataset's own values."""

import io

import numpy as np
import pytest
from shapes import contraction, heart_masks, semi_axes, truncated_spheroid_volume

from samurai.clinical.dataset import (
    agreement,
    bland_altman_png,
    case_readout,
    compare,
    reference_values,
    spacing_cm,
    summary_markdown,
)


def test_agreement_on_a_hand_computed_table():
    # differences: +2, -3, +1, 0 -> bias 0, MAE 1.5, SD sqrt(14/3)
    ours, ref = [52, 57, 41, 70], [50, 60, 40, 70]
    a = agreement("lv_ef", "%", ours, ref)
    assert (a.n, a.mae, a.bias) == (4, 1.5, 0.0)
    assert a.sd == pytest.approx(np.sqrt(14 / 3))
    assert a.loa == pytest.approx((-1.96 * np.sqrt(14 / 3), 1.96 * np.sqrt(14 / 3)))
    # Pearson r by hand: x - mean = (-3, 2, -14, 15), y - mean = (-5, 5, -15, 15)
    sxy, sxx, syy = 15 + 10 + 210 + 225, 9 + 4 + 196 + 225, 25 + 25 + 225 + 225
    assert a.r == pytest.approx(sxy / np.sqrt(sxx * syy))


def test_case_rows_compared_with_closed_form_references():
    # Three cases of different size; the "dataset" values are the spheroids' closed forms.
    rows, refs = [], []
    for k, scale in enumerate((0.9, 1.0, 1.1)):
        p = contraction(30, 16, 12.0)
        masks = {n: m for n, m in heart_masks(p, 0.3 + k, chambers=("lv",)).items()}
        rows.append(case_readout({"A4C": masks}, spacing=(0.03 * scale, 0.03 * scale), frame_time_s=0.04))
        a0, b0 = semi_axes("lv", 0.0)
        a1, b1 = semi_axes("lv", 1.0)
        edv = truncated_spheroid_volume(a0, b0, b0, 0.0) * (0.03 * scale) ** 3
        esv = truncated_spheroid_volume(a1, b1, b1, 0.0) * (0.03 * scale) ** 3
        refs.append({"lv_edv": edv, "lv_esv": esv, "lv_ef": 100 * (edv - esv) / edv})
    assert rows[0]["lv_edv_unit"] == "mL" and "single-plane discs (A4C)" == rows[0]["lv_method"]
    agreements, pairs, notes = compare(rows, refs)
    by = {a.key: a for a in agreements}
    assert by["lv_ef"].mae < 1.0 and by["lv_edv"].n == 3
    assert abs(by["lv_edv"].bias) < 0.015 * np.mean(pairs["lv_edv"][1])
    assert by["lv_edv"].r > 0.99 and notes == []
    text = summary_markdown(agreements)
    assert "| lv_ef (%) | 3 |" in text
    from PIL import Image

    im = Image.open(io.BytesIO(bland_altman_png(*pairs["lv_edv"], "LV EDV", "mL")))
    assert im.size[0] > 200


def test_volumes_without_spacing_are_left_out_of_the_comparison():
    masks = heart_masks(contraction(30, 16, 12.0), 0.3, chambers=("lv",))
    row = case_readout({"A4C": masks}, spacing=None)
    agreements, _, notes = compare([row], [{"lv_edv": 100.0, "lv_ef": 55.0}])
    assert [a.key for a in agreements] == ["lv_ef"]
    assert "pixel spacing is unknown" in notes[0]


def test_reference_values_from_meta_and_camus_cfg():
    assert reference_values({"ef": 61.0, "edv": 120.0, "esv": 47.0}) == {
        "lv_ef": 61.0,
        "lv_edv": 120.0,
        "lv_esv": 47.0,
    }
    assert reference_values({}, {"LVef": "55.2", "LVedv": "101", "LVesv": "45.3", "ED": "1"}) == {
        "lv_ef": 55.2,
        "lv_edv": 101.0,
        "lv_esv": 45.3,
    }
    assert spacing_cm((0.154, 0.308)) == pytest.approx((0.0308, 0.0154))
