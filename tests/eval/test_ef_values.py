"""The EF that `samurai eval` reports, checked against the volume of known shapes: LV masks that
are ellipses (ED larger than ES) give prolate-ellipsoid volumes ``4/3 pi a b^2`` (area-length)
and ``4/3 pi a b c`` (biplane disks), so the EF is known by hand, not from the code."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

# The rows of ef.csv as the eval command makes them: from each frame's LV outline (eval keeps
# the outlines, not the masks).
from samurai.clinical.measurements import measure_frames
from samurai.eval.ef import add_biplane, ef_row


def ellipse(shape, centre, semi, angle=0.0):
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    y, x = rows - centre[0], cols - centre[1]
    c, s = np.cos(angle), np.sin(angle)
    return ((c * y + s * x) / semi[0]) ** 2 + ((-s * y + c * x) / semi[1]) ** 2 <= 1.0


def _case(case_id, ef_label):
    return SimpleNamespace(case_id=case_id, meta={"view": case_id[-3:], "ef": ef_label}, spacing=None)


def test_area_length_ef_is_that_of_the_ellipsoids():
    # Frames: mid, ED (a=40, b=16), ES (a=34, b=11), mid; EDV/ESV = 40*16^2 / 34*11^2.
    shapes = [(37, 13), (40, 16), (34, 11), (36, 12)]
    lv = np.stack([ellipse((128, 128), (64, 64), s) for s in shapes])
    expected = 100 * (1 - (34 * 11**2) / (40 * 16**2))  # 59.8 %
    row = ef_row(_case("p1_4CH", 50.0), "samurai", measure_frames(lv, None))
    assert (row["ed_frame"], row["es_frame"]) == (1, 2)
    assert row["ef_area_length"] == pytest.approx(expected, abs=1.5)
    assert row["ef_error"] == pytest.approx(row["ef_area_length"] - 50.0)


def test_biplane_ef_is_that_of_the_ellipsoids():
    """2CH and 4CH of one ventricle: long axis 40 -> 34, 4CH semi-axis 16 -> 11, 2CH 13 -> 9:
    EF = 1 - (34*11*9) / (40*16*13)."""
    shape, centre = (128, 128), (64, 64)
    ed2, es2 = ellipse(shape, centre, (40, 13), 0.3), ellipse(shape, centre, (34, 9), 0.3)
    ed4, es4 = ellipse(shape, centre, (40, 16)), ellipse(shape, centre, (34, 11))
    expected = 100 * (1 - (34 * 11 * 9) / (40 * 16 * 13))  # 59.5 %
    store = {
        ("p1_2CH", "samurai"): measure_frames(np.stack([ed2, es2]), None),
        ("p1_4CH", "samurai"): measure_frames(np.stack([ed4, es4]), None),
    }
    rows = [ef_row(_case(case, 55.0), method, outlines) for (case, method), outlines in store.items()]
    add_biplane(rows, store)
    for row in rows:
        assert row["ef_biplane"] == pytest.approx(expected, abs=1.5)
        assert row["ef_error"] == pytest.approx(row["ef_biplane"] - 55.0)
