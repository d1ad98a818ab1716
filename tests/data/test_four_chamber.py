"""The four-chamber phantom writer: generic layout, every frame labelled, varied videos."""

import numpy as np

from samurai.data import open_dataset
from samurai.data.synthetic import write_four_chamber


def test_four_chamber_videos_load_as_a_generic_dataset(tmp_path):
    written = write_four_chamber(tmp_path, n_videos=3, n_frames=8, size=64, seed=3)
    ds = open_dataset(tmp_path)
    assert ds.kind == "generic" and ds.case_ids == sorted(written["cases"])
    for case_id, truth in written["cases"].items():
        case = ds[ds.index(case_id)]
        assert case.labels == {1: "LV", 2: "LA", 3: "RV", 4: "RA"}
        assert case.labelled.all()
        np.testing.assert_array_equal(case.frames, truth["frames"])
        np.testing.assert_array_equal(case.masks, truth["masks"])
    params = [c["params"] for c in written["cases"].values()]
    assert len({p["seed"] for p in params}) == 3 and len({p["period"] for p in params}) == 3
    again = write_four_chamber(tmp_path / "again", n_videos=3, n_frames=8, size=64, seed=3)
    assert [c["params"] for c in again["cases"].values()] == params
