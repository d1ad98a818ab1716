"""``samurai calibrate`` end to end on LaSOT-style files and an echo dataset; user errors."""

import json

import numpy as np
import pytest

from samurai.calibration_tracks import mask_boxes
from samurai.cli import build_parser, main
from samurai.formats import load_calibration
from samurai_core.calibrate import DEFAULT_LEARNING_RATE, DEFAULT_STEPS, config_with_noise
from samurai_core.config import preset
from samurai_core.simulate import simulate_cardiac_tracks


def _write_lasot(root, n=10, length=60):
    """One folder per sequence with groundtruth.txt (x,y,w,h), in several of the usual spellings."""
    boxes, _ = simulate_cardiac_tracks(n, length, seed=4)
    for i, seq in enumerate(boxes):
        xywh = np.concatenate([seq[:, :2], seq[:, 2:] - seq[:, :2]], axis=1)
        lines = [",".join(f"{v:.3f}" for v in row) for row in xywh]
        if i % 3 == 1:
            lines = ["\t".join(f"{v:.3f}" for v in row) for row in xywh]
        if i % 3 == 2:
            lines[10] = "NaN,NaN,NaN,NaN"  # absent
            lines[11] = "0,0,0,0"  # absent
            lines[12] = "12 , 30 , -4 , 20"  # negative width: absent
        folder = root / f"seq-{i:02d}"
        folder.mkdir(parents=True)
        (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
        (folder / "full_occlusion.txt").write_text("0," * (length - 1) + "0\n")  # not a box file
    return boxes


def test_calibrate_lasot_tree_end_to_end(tmp_path, capsys):
    _write_lasot(tmp_path / "tracks")
    out = tmp_path / "cal" / "noise.json"
    rc = main(["calibrate", str(tmp_path / "tracks"), "-o", str(out), "--holdout", "0.3", "--steps", "40"])
    assert rc == 0
    stdout = capsys.readouterr().out
    assert "10 tracks: 7 fit, 3 held out" in stdout and "one-step prediction IoU" in stdout

    cal = load_calibration(out)
    assert cal.motion_model == "xyah"
    assert cal.provenance["n_sequences"] == 7 and cal.provenance["holdout"]["n_sequences"] == 3
    assert config_with_noise(preset("tiny"), cal).noise == cal.noise

    report = json.loads((tmp_path / "cal" / "noise.report.json").read_text())
    fit, held = set(report["fit"]["sequences"]), set(report["eval"]["sequences"])
    assert not fit & held and len(fit | held) == 10
    assert report["evaluated_on"] == "held-out"
    # 3 held-out tracks of 60 frames, one of them (seq-02 / 05 / 08) possibly with 3 absent ones.
    assert 3 * 59 - 3 <= report["eval"]["frames"] <= 3 * 59
    assert report["fit"]["nll_after"] < report["fit"]["nll_before"]
    default, calibrated = report["eval"]["default"], report["eval"]["calibrated"]
    assert calibrated["nll_per_frame"] < default["nll_per_frame"]
    assert calibrated["prediction_iou"] > default["prediction_iou"]
    assert f"{calibrated['prediction_iou']:10.4f}" in stdout

    # The same seed gives the same split; files can also be named one by one.
    files = sorted(str(p) for p in (tmp_path / "tracks").rglob("groundtruth.txt"))
    rc = main(["calibrate", *files, "-o", str(tmp_path / "b.json"), "--holdout", "0.3", "--steps", "1"])
    assert rc == 0
    assert json.loads((tmp_path / "b.report.json").read_text())["eval"]["sequences"] == sorted(held)


def test_calibrate_echo_dataset_masks(tmp_path, capsys):
    from samurai.data import open_dataset
    from samurai.data.synthetic import write_camus2023

    write_camus2023(tmp_path / "camus", n_patients=3, n_frames=6)
    out = tmp_path / "noise.json"
    rc = main(
        [
            "calibrate",
            "--dataset",
            str(tmp_path / "camus"),
            "--label",
            "1",
            "--holdout",
            "0",
            "--steps",
            "5",
            "--motion-model",
            "xywh",
            "-o",
            str(out),
        ]
    )
    assert rc == 0, capsys.readouterr().err
    n_cases = len(open_dataset(tmp_path / "camus"))
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert len(report["fit"]["sequences"]) == n_cases
    assert report["evaluated_on"].startswith("fit")
    assert load_calibration(out).motion_model == "xywh"


def test_mask_boxes_match_a_loop():
    """The project's box of a mask (inclusive pixel-index corners), NaN where absent."""
    rng = np.random.default_rng(0)
    masks = (rng.uniform(size=(6, 20, 30)) > 0.97).astype(np.uint8) * rng.integers(1, 3, (6, 20, 30))
    masks[2] = 0  # label absent
    labelled = np.array([True, True, True, False, True, True])
    boxes, present = mask_boxes(masks.astype(np.uint8), labelled, 1)
    for t in range(6):
        ys, xs = np.nonzero(masks[t] == 1)
        assert present[t] == (labelled[t] and len(ys) > 0)
        if present[t]:
            assert boxes[t].tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]
        else:
            assert np.isnan(boxes[t]).all()


@pytest.mark.parametrize(
    "content, match",
    [
        ("1,2,3\n", "groundtruth.txt:1: expected 4 numbers x,y,w,h"),
        ("1,2,3,4\n5,6,7,eight\n", "groundtruth.txt:2: expected 4 numbers x,y,w,h, got '5,6,7,eight'"),
        ("\n\n", "groundtruth.txt is empty"),
        ("1,2,3,4\n", "no track has 2 or more present boxes"),
    ],
)
def test_bad_box_files_are_reported(tmp_path, capsys, content, match):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "groundtruth.txt").write_text(content)
    assert main(["calibrate", str(tmp_path), "--holdout", "0", "-o", str(tmp_path / "n.json")]) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "n.json").exists()


@pytest.mark.parametrize(
    "args, match",
    [
        ([], "give box files / folders of groundtruth.txt, or --dataset FOLDER"),
        (["{tmp}/absent"], "absent does not exist"),
        (["{tmp}/empty"], "no groundtruth.txt under"),
        (["{tmp}/one", "--holdout", "0.2"], "1 usable track(s) cannot be split with --holdout 0.2"),
        (["{tmp}/one", "--holdout", "1.5"], "--holdout 1.5 must lie in [0, 1)"),
        (["{tmp}/one", "--steps", "0"], "--steps 0 must be >= 1"),
        (["--dataset", "{tmp}/empty"], "cannot recognise the dataset layout"),
    ],
)
def test_user_errors(tmp_path, capsys, args, match):
    (tmp_path / "empty").mkdir()
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "groundtruth.txt").write_text("1,2,3,4\n2,3,3,4\n")
    args = [a.format(tmp=tmp_path) for a in args]
    assert main(["calibrate", *args, "-o", str(tmp_path / "n.json")]) == 2
    assert match in capsys.readouterr().err


def test_command_defaults_are_the_library_defaults():
    args = build_parser().parse_args(["calibrate"])
    assert (args.steps, args.lr, args.motion_model) == (DEFAULT_STEPS, DEFAULT_LEARNING_RATE, "xyah")
