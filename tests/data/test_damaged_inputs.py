"""Inputs that used to be read silently wrong: frames deeper than 8 bits, damaged ground truth.

Every reader of frames brings 16-bit (and 12-bit-in-16) greys to 8 bits by one linear stretch
of the video's grey range onto 0..255; the expectation here is written out by hand from the
pixel values, not taken from the code. Damaged ground truth is refused (or its case skipped
with the reason as data), never scored as if fine.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

# Three 16-bit frames of a 12-bit detector (values up to 4095, stored in 16 bits): the video's
# range is 100..4000, so 100 -> 0, 4000 -> 255 and v -> round((v - 100) * 255 / 3900).
GREYS = [
    np.array([[100, 4000], [2050, 1000]]),
    np.array([[3000, 100], [100, 4000]]),
    np.array([[1400, 1400], [2700, 3360]]),
]
EXPECTED = [np.array([[0, 255], [128, 59]]), np.array([[190, 0], [0, 255]]), np.array([[85, 85], [170, 213]])]


def _sixteen_bit_frames(folder, suffix):
    folder.mkdir(parents=True)
    for t, grey in enumerate(GREYS):
        image = np.kron(grey, np.ones((8, 8), int)).astype(np.uint16)  # 16x16, 8x8 blocks
        Image.fromarray(image).save(folder / f"{t:05d}{suffix}")
    return folder


def _blocks(frame: np.ndarray) -> np.ndarray:
    return frame[::8, ::8]


def test_the_expectation_is_the_stretch_of_the_video_range():
    """The table above is what its comment says (a check of the hand arithmetic)."""
    for grey, expected in zip(GREYS, EXPECTED):
        assert np.array_equal(np.floor((grey - 100) * 255 / 3900 + 0.5).astype(int), expected)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_folder_frames_stretch_sixteen_bit_greys(tmp_path, suffix):
    from samurai_common.frames import open_frames

    source = open_frames(_sixteen_bit_frames(tmp_path / "frames", suffix))
    for t, expected in enumerate(EXPECTED):
        frame = source[t]
        assert frame.dtype == np.uint8 and frame.shape == (16, 16, 3)
        for c in range(3):
            assert np.array_equal(_blocks(frame[..., c]), expected), (t, c)


def test_eight_bit_folders_are_read_as_before(tmp_path):
    from samurai_common.frames import open_frames

    (tmp_path / "f").mkdir()
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "f" / "0.png")
    assert np.array_equal(open_frames(tmp_path / "f")[0], rgb)


def test_generic_dataset_stretches_sixteen_bit_frames(tmp_path):
    from samurai.data import open_dataset

    case = tmp_path / "generic" / "case0"
    _sixteen_bit_frames(case / "frames", ".png")
    (case / "masks").mkdir()
    Image.fromarray(np.kron(np.array([[1, 0], [0, 0]], np.uint8), np.ones((8, 8), np.uint8))).save(
        case / "masks" / "00000.png"
    )
    frames = open_dataset(tmp_path / "generic", kind="generic")[0].frames
    assert frames.dtype == np.uint8
    for t, expected in enumerate(EXPECTED):
        assert np.array_equal(_blocks(frames[t]), expected), t


def test_camus_sequence_of_sixteen_bits_uses_the_same_stretch(tmp_path):
    import SimpleITK as sitk

    from samurai.data import open_dataset
    from samurai.data.synthetic import write_camus2023

    root = write_camus2023(tmp_path / "camus", n_patients=1, n_frames=3, size=(16, 16))["root"]
    seq = np.stack([np.kron(g, np.ones((8, 8), int)) for g in GREYS]).astype(np.uint16)
    sitk.WriteImage(
        sitk.GetImageFromArray(seq),
        str(root / "database_nifti" / "patient0001" / "patient0001_2CH_half_sequence.nii.gz"),
    )
    ds = open_dataset(root, kind="camus2023")
    frames = ds[ds.index("patient0001_2CH")].frames
    for t, expected in enumerate(EXPECTED):
        assert np.array_equal(_blocks(frames[t]), expected), t


def test_nan_frames_are_refused_naming_the_file(tmp_path):
    from samurai_common.frames import FrameError, open_frames

    (tmp_path / "f").mkdir()
    Image.fromarray(np.full((4, 4), np.nan, np.float32)).save(tmp_path / "f" / "00000.tif")
    with pytest.raises(FrameError, match=r"00000\.tif.*NaN or inf"):
        open_frames(tmp_path / "f")


# ----------------------------------------------------------------------------- ground truth


def test_truncated_nifti_ground_truth_is_refused(tmp_path):
    from samurai.data import DatasetError, open_dataset
    from samurai.data.synthetic import write_camus2023

    root = write_camus2023(tmp_path / "camus", n_patients=1, n_frames=3)["root"]
    gt = root / "database_nifti" / "patient0001" / "patient0001_4CH_half_sequence_gt.nii.gz"
    data = gt.read_bytes()
    gt.write_bytes(data[: len(data) // 2])  # a download cut short: ITK reads the rest as zeros
    ds = open_dataset(root, kind="camus2023")
    ds[ds.index("patient0001_2CH")]  # the intact view still loads
    with pytest.raises(DatasetError, match=r"patient0001_4CH_half_sequence_gt\.nii\.gz.*truncated"):
        ds[ds.index("patient0001_4CH")]


def _echonet_with(tmp_path, change):
    from samurai.data.synthetic import write_echonet

    written = write_echonet(tmp_path / "echonet", n_videos=2, n_frames=8, size=(32, 32))
    path = written["root"] / "VolumeTracings.csv"
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    change(rows)
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return written


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_echonet_tracing_that_is_not_a_number_skips_its_case_with_the_reason(tmp_path, value):
    from samurai.data import DatasetWarning, open_dataset

    def damage(rows):
        rows[3][1] = value  # X1 of the first video's third tracing row (file row 4)

    written = _echonet_with(tmp_path, damage)
    first, second = written["cases"]
    with pytest.warns(DatasetWarning, match=first):
        ds = open_dataset(written["root"], kind="echonet")
    assert ds.case_ids == [second]
    assert len(ds.skipped) == 1
    case, reason = ds.skipped[0]
    assert case == first and "row 4" in reason and value in reason


def test_echonet_tracing_far_outside_the_frame_is_refused(tmp_path):
    from samurai.data import DatasetError, open_dataset

    def damage(rows):
        rows[3][2] = "1e6"  # Y1 a million pixels down a 32x32 frame

    written = _echonet_with(tmp_path, damage)
    ds = open_dataset(written["root"], kind="echonet")
    first = next(iter(written["cases"]))
    with pytest.raises(DatasetError, match=r"outside its 32x32 frame.*y .*1e\+06"):
        ds[ds.index(first)]
    ds[1 - ds.index(first)]  # the other video is fine


def test_echonet_tracing_on_the_border_is_accepted(tmp_path):
    """Points a little outside the frame (a tracer clicking on the border) are not damage."""
    from samurai.data import open_dataset

    def nudge(rows):
        rows[3][1] = "-1.5"

    written = _echonet_with(tmp_path, nudge)
    ds = open_dataset(written["root"], kind="echonet")
    assert ds[0].labelled.sum() == 2


def test_generic_labels_json_with_one_name_for_two_ids_is_refused(tmp_path):
    from samurai.data import DatasetError, open_dataset
    from samurai.data.synthetic import write_generic

    root = write_generic(tmp_path / "g", n_videos=1, n_frames=2)["root"]
    (root / "labels.json").write_text(json.dumps({"1": "LV", "2": "MYO", "3": "lv "}))
    ds = open_dataset(root, kind="generic")
    with pytest.raises(
        DatasetError, match=r"labels\.json gives one name to several labels.*'LV' for ids 1, 3"
    ):
        ds[0]


# ----------------------------------------------------------------------------- synthetic layouts


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["echonet", "--frames", "4"], "--frames 4 is too few; use at least 5"),
        (["generic", "--cases", "0"], "--cases 0: write at least 1 case"),
        (["camus2023", "--frames", "0"], "--frames 0 is too few; use at least 1"),
    ],
)
def test_synthetic_counts_are_checked_before_anything_is_written(argv, needle, tmp_path, capsys):
    from samurai.data.synthetic import main

    root = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_:
        main([argv[0], str(root), *argv[1:]])
    assert exit_.value.code == 2 and needle in capsys.readouterr().err
    assert not root.exists()


def test_synthetic_echonet_with_the_fewest_frames_loads(tmp_path):
    from samurai.data import open_dataset
    from samurai.data.synthetic import write_echonet

    write_echonet(tmp_path / "e", n_videos=1, n_frames=5, size=(32, 32))
    case = open_dataset(tmp_path / "e", kind="echonet")[0]
    assert (case.meta["ed_index"], case.meta["es_index"]) == (1, 2)


def test_camus2019_without_a_split_skips_the_unlabelled_testing_cases(tmp_path):
    """The release's testing/ patients have no ground truth: left out of split=None (as data,
    with the reason), still loadable with split='test'."""
    from samurai.data import DatasetWarning, load_camus2019
    from samurai.data.synthetic import write_camus2019

    root = write_camus2019(tmp_path / "c19", n_patients=1, n_testing=1, n_frames=3)["root"]
    with pytest.warns(DatasetWarning, match=r"patient0002_.CH: unlabelled"):
        ds = load_camus2019(root)
    assert ds.case_ids == ["patient0001_2CH", "patient0001_4CH"]
    assert [case for case, _ in ds.skipped] == ["patient0002_2CH", "patient0002_4CH"]
    assert all("testing/" in reason for _, reason in ds.skipped)
    test = load_camus2019(root, split="test")
    assert test.case_ids == ["patient0002_2CH", "patient0002_4CH"] and not test[0].labelled.any()


def test_every_synthetic_layout_writes_with_its_fewest_frames(tmp_path):
    """Each layout the writer offers has a least frame count (a layout added without one was a
    KeyError before anything was written), and that many frames can be written."""
    from samurai.data.synthetic import MIN_FRAMES, WRITERS, main

    assert set(MIN_FRAMES) == set(WRITERS)
    for kind in sorted(WRITERS):
        root = tmp_path / kind
        assert main([kind, str(root), "--cases", "1", "--frames", str(MIN_FRAMES[kind])]) in (None, 0)
        assert any(root.iterdir()), kind
