"""CardiacUDA: the index and folder layouts written by the synthetic writer read back into the
phantom's own masks (contours filled), with the A4C label table and clear errors."""

import numpy as np
import pytest

pytest.importorskip("nibabel")

from samurai.data import DatasetError, detect_kind, open_dataset
from samurai.data.cardiacuda import load_cardiacuda
from samurai.data.synthetic import write_cardiacuda


@pytest.fixture(scope="module")
def uda(tmp_path_factory):
    return write_cardiacuda(
        tmp_path_factory.mktemp("uda"), n_videos=3, n_frames=5, size=48, labelled=[0, 2, 4]
    )


def test_index_layout_reads_back_the_phantom(uda):
    root = uda["root"]
    assert detect_kind(root) == "cardiacuda"
    ds = open_dataset(root)
    assert len(ds) == 3 and ds.splits == ["train", "val", "test"]
    for case in ds:
        truth = uda["cases"][case.case_id]
        assert case.labels == {1: "LV", 2: "LA", 3: "RA", 4: "RV"}
        assert np.array_equal(case.frames, truth["frames"])
        # Case 0's LV was written as its outline: filled, it is the phantom's LV again.
        assert np.array_equal(case.masks, truth["masks"])
        assert case.labelled.tolist() == [True, False, True, False, True]
    assert [c.case_id for c in open_dataset(root, split="val")] == ["patient001"]


def test_folder_of_pairs_without_index(uda, tmp_path):
    import shutil

    shutil.copytree(uda["root"] / "SiteG", tmp_path / "SiteG")
    ds = load_cardiacuda(tmp_path)
    assert len(ds) == 3
    with pytest.raises(DatasetError, match="does not say which cases are 'train'.*derive_splits=True"):
        load_cardiacuda(tmp_path, split="train")
    assert len(load_cardiacuda(tmp_path, split="train", derive_splits=True)) == 2
    (tmp_path / "SiteG" / "patient000" / "patient000_4_label.nii.gz").unlink()
    with pytest.raises(DatasetError, match="patient000_4_image.nii.gz has no label file"):
        load_cardiacuda(tmp_path)


def test_unknown_view_names_the_views(uda):
    with pytest.raises(DatasetError, match=r"no view '2' \(views: \['4'\]\).*apical four-chamber"):
        load_cardiacuda(uda["root"], view="2")
