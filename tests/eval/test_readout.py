"""eval's clinical read-out on a synthetic CAMUS 2023 set: the tracker is replaced by masks of
known geometry (half spheroids from tests/clinical/shapes.py, a different width in each view),
so the read-out's volumes and EF, the biplane pairing and the agreement with the dataset's own
values are checked against closed forms and a NumPy re-statement of the statistics."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clinical"))
from shapes import contraction, heart_masks, semi_axes, truncated_spheroid_volume  # noqa: E402

import samurai.eval.echo as echo  # noqa: E402
from samurai.data.synthetic import write_camus2023  # noqa: E402

MM = 0.3  # isotropic pixel, mm
N_FRAMES = 4
# Per patient: (overall scale of the heart, A2C width factor, the dataset's EF offset).
PATIENTS = {"patient0001": (1.0, 0.8, 2.0), "patient0002": (0.9, 0.7, -3.0), "patient0003": (1.1, 0.9, 1.0)}
P = np.linspace(0.0, 1.0, N_FRAMES)  # a half sequence: ED -> ES


def _views(patient):
    scale, c_factor, _ = PATIENTS[patient]
    four = heart_masks(P, 0.3, chambers=("lv", "la"), long_factor=scale, across_factor=scale)
    two = heart_masks(P, -0.5, chambers=("lv", "la"), long_factor=scale, across_factor=scale * c_factor)
    return {"4CH": four, "2CH": two}


def _closed_form(patient, c_factor=None):
    """(EDV, ESV) in mL of the LV half spheroid: a view's own (c = b) or biplane (c = b·factor)."""
    scale, factor, _ = PATIENTS[patient]
    factor = 1.0 if c_factor is None else factor
    cm3 = (MM / 10) ** 3
    out = []
    for p in (0.0, 1.0):
        a, b = semi_axes("lv", p, scale, scale)
        out.append(truncated_spheroid_volume(a, b, b * factor, 0.0) * cm3)
    return out


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("camus")
    written = write_camus2023(
        root, n_patients=len(PATIENTS), n_frames=N_FRAMES, size=(200, 200), spacing=(MM, MM)
    )
    # The dataset's own values: the closed-form biplane volumes, EF with a known offset
    # (the 2023 release's Info_*.cfg keys).
    refs = {}
    for patient, (_, _, offset) in PATIENTS.items():
        edv, esv = _closed_form(patient, c_factor=True)
        refs[patient] = (100 * (edv - esv) / edv + offset, edv * 1.05, esv)
        for view in ("2CH", "4CH"):
            cfg = root / "database_nifti" / patient / f"Info_{view}.cfg"
            kept = [ln for ln in cfg.read_text().splitlines() if not ln.startswith("EF:")]
            cfg.write_text(
                "\n".join(kept + [f"LVedv: {edv * 1.05}", f"LVesv: {esv}", f"LVef: {refs[patient][0]}"])
                + "\n"
            )
    truth = {
        c["frames"].tobytes(): _views(case_id.rsplit("_", 1)[0])[case_id.rsplit("_", 1)[1]]
        for case_id, c in written["cases"].items()
    }

    def track(predictor, samurai, frames, prompts, start):  # the masks of known geometry
        views = truth[frames.tobytes()]
        names = {1: "lv", 3: "la"}
        return np.stack(
            [views[names[k]] if k in names else np.zeros_like(views["lv"]) for k in sorted(prompts)], axis=1
        )

    mp = pytest.MonkeyPatch()
    mp.setattr(echo, "track_case", track)
    cases = echo.open_echo_cases(str(root))
    records = []
    for case in cases:
        record, arrays = echo.echo_case_record(case, {"samurai": (None, True)}, "box")
        assert not record["failed"], record
        records.append(({**json.loads(json.dumps(record)), "case_id": case.case_id}, arrays))
    mp.undo()
    out = tmp_path_factory.mktemp("eval")
    text, failed = echo.write_echo_report(
        records, ["samurai"], out, False, {"ended_early": {}, "empty_objects": []}
    )
    assert failed == []
    return out, text, refs


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_single_view_and_biplane_volumes_are_the_closed_forms(evaluated):
    out, _, _ = evaluated
    rows = {(r["case"], r["view"]): r for r in _rows(out / "readout.csv") if r["method"] == "samurai"}
    assert len(rows) == 3 * len(PATIENTS)  # two views and one biplane row per patient
    for patient in PATIENTS:
        for view, key in (("4CH", "A4C"), ("2CH", "A2C")):
            r = rows[(f"{patient}_{view}", key)]
            assert r["lv_method"] == f"single-plane discs ({key})" and r["volume_unit"] == "mL"
            edv, esv = _closed_form(patient) if view == "4CH" else _closed_form_2ch(patient)
            assert float(r["lv_edv"]) == pytest.approx(edv, rel=0.02)
            assert float(r["lv_esv"]) == pytest.approx(esv, rel=0.02)
            assert float(r["lv_ef"]) == pytest.approx(100 * (edv - esv) / edv, abs=1.0)
        r = rows[(patient, "A4C+A2C")]
        edv, esv = _closed_form(patient, c_factor=True)
        assert r["lv_method"] == "biplane discs (A4C + A2C)"
        assert float(r["lv_edv"]) == pytest.approx(edv, rel=0.02)
        assert float(r["lv_esv"]) == pytest.approx(esv, rel=0.02)
        assert float(r["lv_sv"]) == pytest.approx(edv - esv, rel=0.04)
        assert float(r["la_volume"]) > 0 and r["rv_fac"] == "" and r["ra_area"] == ""
        assert float(r["ref_edv"]) == pytest.approx(edv * 1.05, rel=1e-5)


def _closed_form_2ch(patient):
    """The A2C view alone: a half spheroid whose width is b·factor in both directions."""
    scale, factor, _ = PATIENTS[patient]
    cm3 = (MM / 10) ** 3
    out = []
    for p in (0.0, 1.0):
        a, b = semi_axes("lv", p, scale * factor, scale)
        out.append(truncated_spheroid_volume(a, b, b, 0.0) * cm3)
    return out


def test_ef_csv_is_the_area_length_and_biplane_ef_of_the_shapes(evaluated):
    out, _, refs = evaluated
    for r in _rows(out / "ef.csv"):
        patient, view = r["case"].rsplit("_", 1)
        assert (int(r["ed_frame"]), int(r["es_frame"])) == (0, N_FRAMES - 1)
        # Area-length is exact for a half spheroid of revolution (its own view's EF), up to the
        # pixel grid (the old read-out's tolerance too).
        edv, esv = _closed_form(patient) if view == "4CH" else _closed_form_2ch(patient)
        assert float(r["ef_area_length"]) == pytest.approx(100 * (edv - esv) / edv, abs=1.5)
        edv, esv = _closed_form(patient, c_factor=True)
        assert float(r["ef_biplane"]) == pytest.approx(100 * (edv - esv) / edv, abs=1.0)
        assert float(r["ef_label"]) == pytest.approx(refs[patient][0], abs=1e-4)


def test_agreement_is_restated_with_numpy(evaluated):
    out, text, refs = evaluated
    biplane = {
        r["case"]: r
        for r in _rows(out / "readout.csv")
        if r["view"] == "A4C+A2C" and r["method"] == "samurai"
    }
    stats = {
        a["key"]: a for a in json.loads((out / "summary.json").read_text())["readout_agreement"]["samurai"]
    }
    for key, col, k in (("lv_ef", "lv_ef", 0), ("lv_edv", "lv_edv", 1), ("lv_esv", "lv_esv", 2)):
        ours = np.array([float(biplane[p][col]) for p in PATIENTS])
        ref = np.array([refs[p][k] for p in PATIENTS])
        d = ours - ref
        tol = 1e-5 * np.abs(ref).max()  # readout.csv keeps 6 significant digits
        assert stats[key]["n"] == len(PATIENTS)
        assert stats[key]["mae"] == pytest.approx(np.mean(np.abs(d)), abs=tol)
        assert stats[key]["bias"] == pytest.approx(np.mean(d), abs=tol)
        sd = np.std(d, ddof=1)
        assert stats[key]["loa"] == pytest.approx([d.mean() - 1.96 * sd, d.mean() + 1.96 * sd], abs=5 * tol)
        x, y = ours - ours.mean(), ref - ref.mean()
        assert stats[key]["r"] == pytest.approx(
            np.sum(x * y) / np.sqrt(np.sum(x * x) * np.sum(y * y)), abs=1e-3
        )
        assert (out / f"bland_altman_samurai_{key}.png").stat().st_size > 1000
    # The known offsets: EF bias = −mean(offset), EDV bias = −5 % of the mean EDV.
    assert stats["lv_ef"]["bias"] == pytest.approx(-np.mean([o for *_, o in PATIENTS.values()]), abs=1.0)
    assert stats["lv_edv"]["bias"] == pytest.approx(
        -0.05 / 1.05 * np.mean([refs[p][1] for p in PATIENTS]), rel=0.4
    )
    assert "## Clinical read-out against the dataset's values" in text
    assert f"| lv_ef (%) | {len(PATIENTS)} |" in text


def test_echonet_two_beats_in_pixels_compares_ef_only(tmp_path, monkeypatch):
    """EchoNet-Dynamic: no pixel spacing (volumes in px³, left out of the comparison and said
    so), several beats in one clip (the read-out's EF is the closed form's in every beat), and
    the EF agreement against FileList.csv re-stated with NumPy."""
    from samurai.data.synthetic import write_echonet

    n_frames, period = 24, 10
    written = write_echonet(tmp_path / "echonet", n_videos=3, n_frames=n_frames)
    p = contraction(n_frames, period)  # ED at frames 0, 10, 20; ES at 5, 15
    lv = heart_masks(p, 0.2, chambers=("lv",), size=112, long_factor=0.8, across_factor=0.8)["lv"]

    def track(predictor, samurai, frames, prompts, start):
        return lv[:, None]

    monkeypatch.setattr(echo, "track_case", track)
    records = []
    for case in echo.open_echo_cases(str(written["root"])):
        record, arrays = echo.echo_case_record(case, {"samurai": (None, True)}, "box")
        records.append(({**json.loads(json.dumps(record)), "case_id": case.case_id}, arrays))
        assert arrays.keys() == {"area/samurai"}  # no view pair: no outlines kept
    (tmp_path / "out").mkdir()
    text, _ = echo.write_echo_report(
        records, ["samurai"], tmp_path / "out", False, {"ended_early": {}, "empty_objects": []}
    )
    (a0, b0), (a1, b1) = semi_axes("lv", 0.0, 0.8, 0.8), semi_axes("lv", 1.0, 0.8, 0.8)
    edv, esv = truncated_spheroid_volume(a0, b0, b0, 0.0), truncated_spheroid_volume(a1, b1, b1, 0.0)
    rows = [r for r in _rows(tmp_path / "out" / "readout.csv") if r["method"] == "samurai"]
    assert len(rows) == 3
    for r in rows:
        assert (r["view"], r["volume_unit"], r["lv_method"]) == ("A4C", "px³", "single-plane discs (A4C)")
        assert float(r["lv_edv"]) == pytest.approx(edv, rel=0.02)
        assert float(r["lv_esv"]) == pytest.approx(esv, rel=0.02)
        assert float(r["lv_ef"]) == pytest.approx(100 * (edv - esv) / edv, abs=1.0)
    stats = json.loads((tmp_path / "out" / "summary.json").read_text())["readout_agreement"]["samurai"]
    assert [s["key"] for s in stats] == ["lv_ef"]
    d = np.array([float(r["lv_ef"]) - float(r["ref_ef"]) for r in rows])
    with open(written["root"] / "FileList.csv") as f:
        assert sorted(float(r["ref_ef"]) for r in rows) == sorted(float(x["EF"]) for x in csv.DictReader(f))
    assert stats[0]["mae"] == pytest.approx(np.abs(d).mean(), abs=1e-3)
    assert stats[0]["bias"] == pytest.approx(d.mean(), abs=1e-3)
    assert "lv_edv: 3 case(s) left out, their pixel spacing is unknown" in text
    assert not (tmp_path / "out" / "bland_altman_samurai_lv_edv.png").exists()


def test_stored_outlines_of_methods_whose_names_hold_a_slash_stay_apart():
    """Baseline methods are named like ``sam2-image/oracle-box``: their stored outlines, and
    those of a method whose name is a prefix of theirs, come back under their own chambers."""
    import numpy as np

    from samurai.clinical import geometry as geo
    from samurai.eval.readout import pack_shapes, stored_views

    y, x = np.mgrid[:64, :64]
    disc = (y - 30) ** 2 + (x - 32) ** 2 <= 15**2
    shape = geo.measure(disc)
    arrays = {
        **pack_shapes("shape/sam2-image/oracle-box/lv", [shape, None]),
        **pack_shapes("shape/sam2-image/rv", [None, shape]),
    }
    boxed = stored_views(arrays, "sam2-image/oracle-box")
    plain = stored_views(arrays, "sam2-image")
    assert sorted(boxed) == ["lv"] and sorted(plain) == ["rv"]
    assert boxed["lv"][1] is None and plain["rv"][0] is None
    assert boxed["lv"][0].area == shape.area
