"""The loaders return exactly what the synthetic writers put on disk, in display orientation."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from samurai.data import (
    DatasetError,
    DatasetWarning,
    detect_kind,
    load_camus2019,
    load_camus2023,
    load_echonet,
    open_dataset,
    rasterise_tracing,
    synthetic,
)


def _centroid_row(mask: np.ndarray) -> float:
    return float(np.nonzero(mask)[0].mean())


@pytest.fixture(scope="module")
def camus2023(tmp_path_factory):
    return synthetic.write_camus2023(tmp_path_factory.mktemp("camus2023"), n_patients=3, n_frames=5)


@pytest.fixture(scope="module")
def camus2019(tmp_path_factory):
    return synthetic.write_camus2019(tmp_path_factory.mktemp("camus2019"), n_patients=2, n_frames=6)


def test_camus2023_returns_written_arrays_and_meta(camus2023):
    ds = open_dataset(camus2023["root"])
    assert ds.kind == "camus2023"
    assert sorted(ds.case_ids) == sorted(camus2023["cases"])
    for case in ds:
        ref = camus2023["cases"][case.case_id]
        np.testing.assert_array_equal(case.frames, ref["frames"])
        np.testing.assert_array_equal(case.masks, ref["masks"])
        assert case.labelled.all()
        assert case.labels == {1: "LV", 2: "MYO", 3: "LA"}
        assert case.meta["split"] == ref["split"]
        assert (case.meta["ed_index"], case.meta["es_index"]) == (ref["ed_index"], ref["es_index"])
        np.testing.assert_allclose(case.spacing, ref["spacing"], rtol=1e-6)
        # Apical view in display orientation: the LV lies above the LA.
        assert _centroid_row(case.masks[0] == 1) < _centroid_row(case.masks[0] == 3)


def test_camus2023_reads_the_2023_info_keys(tmp_path):
    """The 2023 release's Info_*.cfg: LVedv, LVesv, LVef (no EF key) land in meta as edv, esv, ef;
    a file without them leaves them out, and the spacing argument reaches the files."""
    written = synthetic.write_camus2023(tmp_path, n_patients=1, n_frames=3, spacing=(0.3, 0.25))
    info = tmp_path / "database_nifti" / "patient0001" / "Info_4CH.cfg"
    kept = [ln for ln in info.read_text().splitlines() if not ln.startswith("EF:")]
    info.write_text("\n".join(kept + ["LVedv: 118.5", "LVesv: 52.25", "LVef: 55.9"]) + "\n")
    cases = {c.case_id: c for c in load_camus2023(tmp_path)}
    meta = cases["patient0001_4CH"].meta
    assert (meta["edv"], meta["esv"], meta["ef"]) == (118.5, 52.25, 55.9)
    assert "edv" not in cases["patient0001_2CH"].meta and "esv" not in cases["patient0001_2CH"].meta
    np.testing.assert_allclose(cases["patient0001_2CH"].spacing, (0.3, 0.25), rtol=1e-6)
    assert written["cases"]["patient0001_2CH"]["spacing"] == (0.3, 0.25)


def test_camus2023_patient_level_splits(camus2023):
    for split in ("train", "val", "test"):
        ds = load_camus2023(camus2023["root"], split=split)
        expected = {k for k, v in camus2023["cases"].items() if v["split"] == split}
        assert set(ds.case_ids) == expected and expected
        patients = {cid.split("_")[0] for cid in ds.case_ids}
        assert all(c.split("_")[0] in patients for c in expected)
    assert len(load_camus2023(camus2023["root"], views=("4CH",))) == 3


def test_nibabel_sees_the_transposed_axes(camus2023):
    """SimpleITK's [T,H,W] is nibabel's [W,H,T]: the other library confirms the axis order."""
    import nibabel as nib

    case_id = "patient0001_4CH"
    path = camus2023["root"] / "database_nifti" / "patient0001" / f"{case_id}_half_sequence_gt.nii.gz"
    data = np.asarray(nib.load(str(path)).dataobj)
    np.testing.assert_array_equal(data.transpose(2, 1, 0), camus2023["cases"][case_id]["masks"])


def test_file_written_with_nibabel_reads_in_display_orientation(tmp_path):
    """A sequence written by nibabel as [W,H,T] loads as [T,H,W] with the LV above the LA."""
    import nibabel as nib

    frames, masks = synthetic.phantom_sequence(4, (48, 40), np.random.default_rng(1))
    pdir = tmp_path / "database_nifti" / "patient0001"
    pdir.mkdir(parents=True)
    for name, array in (("half_sequence", frames), ("half_sequence_gt", masks)):
        image = nib.Nifti1Image(np.ascontiguousarray(array.transpose(2, 1, 0)), np.eye(4))
        nib.save(image, str(pdir / f"patient0001_4CH_{name}.nii.gz"))
    case = load_camus2023(tmp_path, views=("4CH",))[0]
    np.testing.assert_array_equal(case.frames, frames)
    np.testing.assert_array_equal(case.masks, masks)
    assert _centroid_row(case.masks[0] == 1) < _centroid_row(case.masks[0] == 3)


def test_camus2019_labels_only_ed_and_es(camus2019):
    ds = load_camus2019(camus2019["root"], split="train")
    assert len(ds) == 4
    for case in ds:
        ref = camus2019["cases"][case.case_id]
        np.testing.assert_array_equal(case.frames, ref["frames"])
        expected = np.zeros(len(ref["frames"]), dtype=bool)
        expected[[ref["ed_index"], ref["es_index"]]] = True
        np.testing.assert_array_equal(case.labelled, expected)
        np.testing.assert_array_equal(case.masks[expected], ref["masks"][expected])
        assert not case.masks[~expected].any()
        assert _centroid_row(case.masks[0] == 1) < _centroid_row(case.masks[0] == 3)
    test = load_camus2019(camus2019["root"], split="test")
    assert len(test) == 2 and not any(c.labelled.any() for c in test)


def test_camus2019_finds_ed_es_without_info_keys(camus2019, tmp_path):
    import shutil

    root = tmp_path / "c19"
    shutil.copytree(camus2019["root"], root)
    info = root / "training" / "patient0001" / "Info_2CH.cfg"
    info.write_text("NbFrame: 6\nLVef: 50\n")
    case = load_camus2019(root, split="train")[0]
    ref = camus2019["cases"]["patient0001_2CH"]
    assert (case.meta["ed_index"], case.meta["es_index"]) == (ref["ed_index"], ref["es_index"])


def test_missing_files_are_skipped_with_a_warning(camus2023, tmp_path):
    import shutil

    root = tmp_path / "c23"
    shutil.copytree(camus2023["root"], root)
    (root / "database_nifti" / "patient0002" / "patient0002_2CH_half_sequence_gt.nii.gz").unlink()
    with pytest.warns(DatasetWarning, match="patient0002_2CH.*half_sequence_gt"):
        ds = load_camus2023(root)
    assert len(ds) == 5 and [cid for cid, _ in ds.skipped] == ["patient0002_2CH"]


def test_corrupt_file_gives_a_clear_error(camus2023, tmp_path):
    import shutil

    root = tmp_path / "c23"
    shutil.copytree(camus2023["root"], root)
    (root / "database_nifti" / "patient0001" / "patient0001_2CH_half_sequence.nii.gz").write_bytes(b"junk")
    ds = load_camus2023(root)
    with pytest.raises(DatasetError, match="patient0001_2CH_half_sequence.nii.gz.*re-download"):
        ds[ds.index("patient0001_2CH")]


def test_unknown_layout_and_missing_root(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        open_dataset(tmp_path / "nope")
    with pytest.raises(DatasetError, match="cannot recognise"):
        detect_kind(tmp_path)
    with pytest.raises(DatasetError, match="unknown split"):
        open_dataset(tmp_path, kind="camus2023", split="dev")


@pytest.fixture(scope="module")
def echonet(tmp_path_factory):
    return synthetic.write_echonet(tmp_path_factory.mktemp("echonet"), n_videos=3, n_frames=12)


def test_echonet_masks_on_traced_frames(echonet):
    ds = load_echonet(echonet["root"])
    assert ds.kind == "echonet" and ds.splits == ["train", "val", "test"]
    for case in ds:
        ref = echonet["cases"][case.case_id]
        assert np.abs(case.frames.astype(int) - ref["frames"]).mean() < 8  # MJPG is lossy
        assert (case.meta["ed_index"], case.meta["es_index"]) == (ref["ed_index"], ref["es_index"])
        assert case.labelled.sum() == 2 and case.labels == {1: "LV"}
        for t in np.nonzero(case.labelled)[0]:
            truth = ref["masks"][t].astype(bool)
            got = case.masks[t].astype(bool)
            assert 2 * (got & truth).sum() / (got.sum() + truth.sum()) > 0.9
        assert case.masks[case.meta["ed_index"]].sum() > case.masks[case.meta["es_index"]].sum()


def test_rasterise_tracing_matches_an_independent_polygon_test():
    from matplotlib.path import Path as MplPath

    _, labels = synthetic.phantom((112, 112), 0.3, np.random.default_rng(2))
    rows = synthetic.lv_tracing(labels == 1)
    got = rasterise_tracing(rows, (112, 112)).astype(bool)
    outline = np.concatenate([rows[1:, :2], rows[1:, 2:][::-1]], axis=0)
    yy, xx = np.mgrid[0:112, 0:112]
    inside = MplPath(outline).contains_points(np.stack([xx.ravel(), yy.ravel()], 1), radius=-1e-9)
    inside = inside.reshape(112, 112)
    # The two rasterisers differ only on boundary pixels.
    assert (got ^ inside).sum() <= 0.1 * inside.sum()
    assert (got & inside).sum() / (got | inside).sum() > 0.9


def test_echonet_single_tracing_skipped_with_warning(echonet, tmp_path):
    import shutil

    root = tmp_path / "en"
    shutil.copytree(echonet["root"], root)
    victim = sorted(echonet["cases"])[0]
    path = root / "VolumeTracings.csv"
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    first_frame = next(r[5] for r in rows[1:] if r[0] == f"{victim}.avi")
    kept = [rows[0]] + [r for r in rows[1:] if not (r[0] == f"{victim}.avi" and r[5] != first_frame)]
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(kept)
    with pytest.warns(DatasetWarning, match=f"{victim}.*1 traced frame"):
        ds = load_echonet(root)
    assert victim not in ds.case_ids and len(ds) == 2 and len(ds.skipped) == 1


def test_echonet_bad_header_is_named(echonet, tmp_path):
    import shutil

    root = tmp_path / "en"
    shutil.copytree(echonet["root"], root)
    (root / "VolumeTracings.csv").write_text("FileName,X,Y\n")
    with pytest.raises(DatasetError, match="VolumeTracings.csv lacks column"):
        load_echonet(root)


def test_generic_layout(tmp_path):
    written = synthetic.write_generic(tmp_path, n_videos=2, n_frames=5)
    ds = open_dataset(tmp_path)
    assert ds.kind == "generic" and ds.case_ids == ["video00", "video01"]
    for case in ds:
        ref = written["cases"][case.case_id]
        np.testing.assert_array_equal(case.frames, ref["frames"])
        np.testing.assert_array_equal(case.masks, ref["masks"])
        np.testing.assert_array_equal(case.labelled, ref["labelled"])
        assert case.labels == {1: "LV", 2: "MYO", 3: "LA"}
    single = open_dataset(tmp_path / "video01")
    assert single.case_ids == ["video01"]
    assert json.loads((tmp_path / "labels.json").read_text())["1"] == "LV"


def test_synthetic_cli(tmp_path, capsys):
    assert synthetic.main(["camus2019", str(tmp_path / "c"), "--cases", "1", "--frames", "4"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert detect_kind(tmp_path / "c") == "camus2019"
