"""eval's read-out of the dataset's own masks (method ``truth``): on CAMUS 2019-like cases whose
only labelled frames are ED and ES, EchoNet-like clips whose ES comes before ED, and cases whose
labels give no ED/ES pair. The masks are half spheroids of known size (tests/clinical/shapes.py),
so the truth's volumes, EF and LA volume are checked against closed forms, and the agreement
tables (truth against the dataset, each method against the truth) against a NumPy re-statement
of the statistics; the records go through the work folder's store (a resumed or sharded run reads
them back from there)."""

import csv
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clinical"))
from shapes import heart_masks, semi_axes, truncated_spheroid_volume  # noqa: E402

import samurai.eval.echo as echo  # noqa: E402
from samurai.data import EchoCase  # noqa: E402

MM = 0.3  # isotropic pixel, mm
CM3 = (MM / 10) ** 3
T, ED, ES = 8, 1, 6  # CAMUS 2019: a full sequence, ground truth on the Info file's ED and ES only
# Per patient: (overall scale, A2C width factor, the dataset's EF offset).
PATIENTS = {"patient0001": (1.0, 0.8, 2.0), "patient0002": (0.9, 0.7, -3.0), "patient0003": (1.1, 0.9, 1.0)}
THETA = {"4CH": 0.3, "2CH": -0.5}
# The tracker's LV is longer than the truth's by this fraction at end-systole (none at ED).
OVER = 0.1
TRACKED_P = np.clip((np.arange(T) - ED) / (ES - ED), 0.0, 1.0)  # ED -> ES, then held


def _heart(p: float, view: str, scale: float, factor: float, longer: float = 1.0) -> dict:
    across = scale * (factor if view == "2CH" else 1.0)
    out = heart_masks([p], THETA[view], chambers=("lv", "la"), long_factor=scale, across_factor=across)
    if longer != 1.0:
        out["lv"] = heart_masks(
            [p], THETA[view], chambers=("lv",), long_factor=scale * longer, across_factor=across
        )["lv"]
    return {k: v[0] for k, v in out.items()}


def _lv_volumes(scale: float, c_factor: float, longer=(1.0, 1.0)) -> tuple[float, float]:
    """(EDV, ESV) mL of the LV half spheroid: width b in the A4C, c = b·c_factor across it."""
    out = []
    for p, f in zip((0.0, 1.0), longer):
        a, b = semi_axes("lv", p, scale, scale * f)
        out.append(truncated_spheroid_volume(a, b, b * c_factor, 0.0) * CM3)
    return out[0], out[1]


def _ef(edv, esv):
    return 100 * (edv - esv) / edv


def _camus2019_case(patient: str, view: str, number: int) -> EchoCase:
    """A CAMUS 2019 case whose frames are all ``number`` (how the tracker's stand-in knows it)."""
    scale, factor, offset = PATIENTS[patient]
    masks = np.zeros((T, 200, 200), np.uint8)
    for frame, p in ((ED, 0.0), (ES, 1.0)):
        shapes = _heart(p, view, scale, factor)
        masks[frame][shapes["lv"]] = 1
        masks[frame][shapes["la"]] = 3
    labelled = np.zeros(T, bool)
    labelled[[ED, ES]] = True
    edv, esv = _lv_volumes(scale, factor)  # the biplane closed form: the dataset's "own" values
    meta = {
        "view": view,
        "fps": 25.0,
        "ef": _ef(edv, esv) + offset,
        "edv": edv * 1.05,
        "esv": esv,
        "ed_index": ED,
        "es_index": ES,
    }
    return EchoCase(
        f"{patient}_{view}",
        np.full((T, 200, 200), number, np.uint8),
        masks,
        labelled,
        {1: "LV", 2: "MYO", 3: "LA"},
        (MM, MM),
        meta,
    )


def _track_camus(cases: dict):
    """track_case's stand-in: the truth's hearts from ED to ES, the LV longer at ES by OVER."""

    def track(predictor, samurai, frames, prompts, start):
        patient, view = cases[int(frames[0, 0, 0])].case_id.rsplit("_", 1)
        scale, factor, _ = PATIENTS[patient]
        names = {1: "lv", 3: "la"}
        out = np.zeros((T, len(prompts), 200, 200), bool)
        for t in range(start, T):
            shapes = _heart(TRACKED_P[t], view, scale, factor, longer=1 + OVER * TRACKED_P[t])
            for i, k in enumerate(sorted(prompts)):
                out[t, i] = shapes[names[k]]
        return out

    return track


class _Lazy:
    """What echo_case_record reads of a dataset's lazily loaded case."""

    def __init__(self, case, kind):
        self.case, self.case_id, self.ds = case, case.case_id, SimpleNamespace(kind=kind)

    def load(self):
        return self.case


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def camus(tmp_path_factory):
    """Three patients, both views, stored in and read back from the work folder's store (as a
    resumed or sharded run reads them), with their mask exports; returns (output folder,
    summary.md's text)."""
    from samurai.eval.mask_exports import place_mask_exports
    from samurai.shard import CaseStore

    cases = [
        _camus2019_case(p, v, 1 + len(PATIENTS) * i + j)
        for j, p in enumerate(PATIENTS)
        for i, v in enumerate(("2CH", "4CH"))
    ]
    store = CaseStore(tmp_path_factory.mktemp("work") / "out.cases")
    store.open({"test": "truth read-out"}, force=False)
    mp = pytest.MonkeyPatch()
    mp.setattr(echo, "track_case", _track_camus({int(c.frames[0, 0, 0]): c for c in cases}))
    for case in cases:
        record, arrays = echo.echo_case_record(
            _Lazy(case, "camus2019"), {"samurai": (None, True)}, "box", exports_to=store.staging(case.case_id)
        )
        assert not record["failed"], record
        store.write(case.case_id, record, arrays)
    mp.undo()
    records = [store.read(c.case_id) for c in cases]
    out = tmp_path_factory.mktemp("eval")
    exports = place_mask_exports(records, store, out, True)
    text, failed = echo.write_echo_report(
        records, ["samurai"], out, False, {"ended_early": {}, "empty_objects": []}, exports
    )
    assert failed == []
    return out, text


def test_truth_rows_are_the_closed_forms_of_the_labelled_ed_and_es(camus):
    out, _ = camus
    rows = {(r["case"], r["method"]): r for r in _rows(out / "readout.csv")}
    assert {m for _, m in rows} == {"samurai", "truth"}
    for patient, (scale, factor, _) in PATIENTS.items():
        for view, c_factor in (("4CH", 1.0), ("2CH", None)):
            r = rows[(f"{patient}_{view}", "truth")]
            assert r["lv_method"] == f"single-plane discs ({r['view']})" and r["volume_unit"] == "mL"
            if view == "4CH":
                edv, esv = _lv_volumes(scale, 1.0)
            else:  # the A2C alone: a half spheroid whose width is b·factor all round
                edv, esv = _lv_volumes_2ch(scale, factor)
            assert float(r["lv_edv"]) == pytest.approx(edv, rel=0.02)
            assert float(r["lv_esv"]) == pytest.approx(esv, rel=0.02)
            assert float(r["lv_ef"]) == pytest.approx(_ef(edv, esv), abs=1.0)
        r = rows[(patient, "truth")]
        edv, esv = _lv_volumes(scale, factor)
        assert r["view"] == "A4C+A2C" and r["lv_method"] == "biplane discs (A4C + A2C)"
        assert float(r["lv_edv"]) == pytest.approx(edv, rel=0.02)
        assert float(r["lv_esv"]) == pytest.approx(esv, rel=0.02)
        assert float(r["lv_sv"]) == pytest.approx(edv - esv, rel=0.04)
        # The LA at LV end-systole (the ES frame): the biplane half spheroid of its semi-axes.
        a, b = semi_axes("la", 1.0, scale, scale)
        assert float(r["la_volume"]) == pytest.approx(
            truncated_spheroid_volume(a, b, b * factor, 0.0) * CM3, rel=0.03
        )
        # Not labelled by the dataset: empty, not guessed.
        assert r["rv_fac"] == "" and r["ra_area"] == ""
        assert float(r["ref_ef"]) == pytest.approx(_ef(edv, esv) + PATIENTS[patient][2], abs=1e-4)


def _lv_volumes_2ch(scale, factor):
    out = []
    for p in (0.0, 1.0):
        a, b = semi_axes("lv", p, scale * factor, scale)
        out.append(truncated_spheroid_volume(a, b, b, 0.0) * CM3)
    return out[0], out[1]


def _restated(ours, ref):
    """mae, bias, sd, limits of agreement and Pearson r, written out with NumPy."""
    d = ours - ref
    sd = np.std(d, ddof=1)
    x, y = ours - ours.mean(), ref - ref.mean()
    r = np.sum(x * y) / np.sqrt(np.sum(x * x) * np.sum(y * y))
    return np.mean(np.abs(d)), np.mean(d), sd, [d.mean() - 1.96 * sd, d.mean() + 1.96 * sd], r


def _assert_restated(stats, ours, ref):
    mae, bias, sd, loa, r = _restated(ours, ref)
    tol = 1e-5 * np.abs(ref).max()  # readout.csv keeps 6 significant digits
    assert stats["n"] == len(ours)
    assert stats["mae"] == pytest.approx(mae, abs=tol)
    assert stats["bias"] == pytest.approx(bias, abs=tol)
    assert stats["sd"] == pytest.approx(sd, abs=5 * tol)
    assert stats["loa"] == pytest.approx(loa, abs=5 * tol)
    assert stats["r"] == pytest.approx(r, abs=1e-3)


def test_truth_against_the_dataset_and_each_method_against_the_truth(camus):
    out, text = camus
    biplane = {(r["case"], r["method"]): r for r in _rows(out / "readout.csv") if r["view"] == "A4C+A2C"}
    summary = json.loads((out / "summary.json").read_text())
    to_dataset = {m: {a["key"]: a for a in v} for m, v in summary["readout_agreement"].items()}
    to_truth = {m: {a["key"]: a for a in v} for m, v in summary["readout_agreement_with_truth"].items()}
    assert sorted(to_dataset) == ["samurai", "truth"] and sorted(to_truth) == ["samurai"]
    for key, ref_col in (("lv_ef", "ref_ef"), ("lv_edv", "ref_edv"), ("lv_esv", "ref_esv")):
        truth = np.array([float(biplane[(p, "truth")][key]) for p in PATIENTS])
        ours = np.array([float(biplane[(p, "samurai")][key]) for p in PATIENTS])
        dataset = np.array([float(biplane[(p, "truth")][ref_col]) for p in PATIENTS])
        _assert_restated(to_dataset["truth"][key], truth, dataset)
        _assert_restated(to_truth["samurai"][key], ours, truth)
        assert (out / f"bland_altman_truth_{key}.png").stat().st_size > 1000
    # The known errors: the truth's geometry is within the pixel grid of the dataset's values
    # but for their offsets (EF) and the 5 % on EDV; the method adds OVER to ESV alone.
    assert to_dataset["truth"]["lv_ef"]["bias"] == pytest.approx(
        -np.mean([o for *_, o in PATIENTS.values()]), abs=1.0
    )
    assert to_dataset["truth"]["lv_esv"]["mae"] < 0.02 * np.mean(
        [_lv_volumes(s, f)[1] for s, f, _ in PATIENTS.values()]
    )
    esv_over = np.mean(
        [_lv_volumes(s, f, (1.0, 1 + OVER))[1] - _lv_volumes(s, f)[1] for s, f, _ in PATIENTS.values()]
    )
    assert to_truth["samurai"]["lv_esv"]["bias"] == pytest.approx(esv_over, rel=0.1)
    assert abs(to_truth["samurai"]["lv_edv"]["bias"]) < 0.02 * np.mean(
        [_lv_volumes(s, f)[0] for s, f, _ in PATIENTS.values()]
    )
    ef_drop = np.mean(
        [_ef(*_lv_volumes(s, f, (1.0, 1 + OVER))) - _ef(*_lv_volumes(s, f)) for s, f, _ in PATIENTS.values()]
    )
    assert to_truth["samurai"]["lv_ef"]["bias"] == pytest.approx(ef_drop, abs=1.0)
    assert "## Clinical read-out against the truth's read-out\n" in text
    assert "bias (ours − truth)" in text and "### truth\n\n| quantity | n |" in text


def test_summary_names_the_mask_exports_it_placed(camus):
    out, text = camus
    files = sorted(out.rglob("masks.nii.gz"))
    assert len(files) == 2 * len(PATIENTS)  # one per case and method; the truth is not exported
    assert f"Masks of every case and method: {len(files)} masks.nii.gz in masks/<case>/<method>/" in text
    assert text == (out / "summary.md").read_text()


def _lv_case(p_at: dict, n_frames: int, spacing=None, meta=None) -> EchoCase:
    """A one-view LV case (view A4C) labelled on the frames of ``p_at`` (frame -> contraction)."""
    masks = np.zeros((n_frames, 112, 112), np.uint8)
    labelled = np.zeros(n_frames, bool)
    for frame, p in p_at.items():
        masks[frame][heart_masks([p], 0.2, chambers=("lv",), size=112, long_factor=0.8)["lv"][0]] = 1
        labelled[frame] = True
    return EchoCase(
        "video", np.zeros_like(masks), masks, labelled, {1: "LV"}, spacing, {"view": "A4C", **(meta or {})}
    )


def _readout_rows(case, monkeypatch) -> dict:
    """Method -> read-out row of ``case``; the tracker's stand-in returns the truth's masks."""
    monkeypatch.setattr(echo, "track_case", lambda pr, s, frames, prompts, start: (case.masks == 1)[:, None])
    _, _, rows, outlines, _, _ = echo.echo_case(case, {"samurai": (None, True)}, "box")
    return {r["method"]: r for r in rows}


def _px_volumes(long_factor=0.8):
    (a0, b0), (a1, b1) = semi_axes("lv", 0.0, 1.0, long_factor), semi_axes("lv", 1.0, 1.0, long_factor)
    return truncated_spheroid_volume(a0, b0, b0, 0.0), truncated_spheroid_volume(a1, b1, b1, 0.0)


def test_echonet_truth_reads_its_two_traced_frames_with_es_before_ed(monkeypatch):
    """EchoNet-Dynamic traces ED and ES (the loader names the larger ED); here ES comes first
    and the frames between them are unlabelled: the truth's read-out is made of those two
    frames alone, in pixels (no spacing)."""
    case = _lv_case({2: 1.0, 7: 0.0}, 10, meta={"ed_index": 7, "es_index": 2, "ef": 50.0, "fps": 50.0})
    truth = _readout_rows(case, monkeypatch)["truth"]
    edv, esv = _px_volumes()
    assert (truth["volume_unit"], truth["lv_method"]) == ("px³", "single-plane discs (A4C)")
    assert truth["lv_edv"] == pytest.approx(edv, rel=0.02)
    assert truth["lv_esv"] == pytest.approx(esv, rel=0.02)
    assert truth["lv_ef"] == pytest.approx(_ef(edv, esv), abs=1.0)
    assert truth["ref_ef"] == 50.0


def test_every_labelled_frame_without_named_ed_es_is_read_as_the_methods_are(monkeypatch):
    """A generic dataset labelling every frame of a beat (no ED/ES named): the truth's ED and ES
    are found on its own volume curve, as a method's are."""
    p = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(12) / 12)  # ED at 0, ES at 6, ED again at 12
    case = _lv_case(dict(enumerate(p)), 12, spacing=(MM, MM))
    truth = _readout_rows(case, monkeypatch)["truth"]
    edv, esv = (v * CM3 for v in _px_volumes())
    assert truth["volume_unit"] == "mL"
    assert truth["lv_edv"] == pytest.approx(edv, rel=0.02)
    assert truth["lv_esv"] == pytest.approx(esv, rel=0.02)
    assert truth["lv_ef"] == pytest.approx(_ef(edv, esv), abs=1.0)


@pytest.mark.parametrize(
    "p_at, n_frames, meta",
    [
        ({0: 0.0, 3: 0.6, 5: 1.0}, 8, {}),  # sparse labels, no ED/ES named: no pair to trust
        ({0: 0.0}, 4, {}),  # one labelled frame
        ({1: 0.0}, 6, {"ed_index": 1, "es_index": 4}),  # ES named but not labelled
    ],
    ids=["sparse-unnamed", "one-frame", "es-unlabelled"],
)
def test_truth_quantities_stay_empty_where_the_labels_give_no_ed_es_pair(p_at, n_frames, meta, monkeypatch):
    from samurai.clinical.dataset import ROW_KEYS

    rows = _readout_rows(_lv_case(p_at, n_frames, spacing=(MM, MM), meta=meta), monkeypatch)
    assert all(rows["truth"][k] is None for k in ROW_KEYS), rows["truth"]
    assert rows["samurai"]["lv_edv"] is not None  # a method's read-out is its own masks'


def test_named_ed_es_with_the_lv_on_one_of_them_only_leaves_the_truth_empty(monkeypatch):
    """CAMUS 2019 whose ES label has no LV (an LA only): the LV is on one frame, so no EF."""
    from samurai.clinical.dataset import ROW_KEYS

    case = _lv_case({0: 0.0, 3: 1.0}, 5, spacing=(MM, MM), meta={"ed_index": 0, "es_index": 3})
    case.masks[3][case.masks[3] == 1] = 3
    case.labels[3] = "LA"
    rows = _readout_rows(case, monkeypatch)
    assert all(rows["truth"][k] is None for k in ROW_KEYS), rows["truth"]


def test_cases_stored_before_the_truth_read_out_are_reported_without_it(tmp_path, monkeypatch):
    """A resumed run may read cases an earlier version stored, with no truth row: the report
    has the methods' read-out and no comparison with a truth it does not have."""
    case = _lv_case({2: 1.0, 7: 0.0}, 10, meta={"ed_index": 7, "es_index": 2, "ef": 50.0})
    monkeypatch.setattr(echo, "track_case", lambda pr, s, frames, prompts, start: (case.masks == 1)[:, None])
    record, arrays = echo.echo_case_record(_Lazy(case, "echonet"), {"samurai": (None, True)}, "box")
    record["readout"] = [r for r in record["readout"] if r["method"] != "truth"]
    echo.write_echo_report(
        [({**record, "case_id": case.case_id}, arrays)],
        ["samurai"],
        tmp_path,
        False,
        {"ended_early": {}, "empty_objects": []},
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert list(summary["readout_agreement"]) == ["samurai"]
    assert "readout_agreement_with_truth" not in summary
    assert [r["method"] for r in _rows(tmp_path / "readout.csv")] == ["samurai"]
    assert "against the truth's" not in (tmp_path / "summary.md").read_text()
