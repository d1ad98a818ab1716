"""`--noise FILE` / `--motion-model` of track, eval and demo: the fitted Kalman noise reaches the tracker."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from samurai.cli import CLIError, main
from samurai.formats import load_calibration, save_calibration
from samurai_core.calibrate import Calibration, config_with_noise
from samurai_core.config import MOTION_MODELS, preset
from samurai_core.types import NoiseParams

# Far from the defaults in every field, so a run with the file cannot pass for a default run.
FITTED = NoiseParams(*(0.5 * (i + 1) for i in range(len(NoiseParams._fields))))


@pytest.fixture
def noise_file(tmp_path):
    return save_calibration(tmp_path / "noise.json", Calibration("xywh", FITTED, {"data": "test"}))


def test_motion_model_choices_match_the_core():
    from samurai.commands.arguments import MOTION_MODELS as CLI_MODELS

    assert CLI_MODELS == MOTION_MODELS


def test_samurai_config_takes_noise_and_motion_model_from_the_file(noise_file):
    from samurai.predictors import samurai_config

    cfg = samurai_config("small", noise_file)
    assert cfg.motion_model == "xywh" and cfg.noise == FITTED
    # Everything else is the preset's.
    assert cfg == preset("small")._replace(motion_model="xywh", noise=FITTED)
    assert samurai_config("small", noise_file, "xywh") == cfg
    assert samurai_config("tiny") == preset("tiny")
    only_model = samurai_config("tiny", None, "xyxy")
    assert only_model.motion_model == "xyxy" and only_model.noise == NoiseParams()
    with pytest.raises(
        CLIError,
        match="fitted for motion model 'xywh' but --motion-model is 'xyah'.*"
        "samurai calibrate --motion-model xyah",
    ):
        samurai_config("tiny", noise_file, "xyah")


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        ("{not json", "re-run `samurai calibrate`"),
        (json.dumps({"format": "something else"}), "not a samurai noise calibration"),
    ],
)
@pytest.mark.parametrize("command", ["track", "eval", "demo"])
def test_bad_noise_file_exits_2_naming_the_fix(command, content, message, tmp_path, capsys):
    noise = tmp_path / "noise.json"
    if content is not None:
        noise.write_text(content)
    if command == "track":
        Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "00000.png")
        # --random-weights: no checkpoint needed, and the noise file is read before any model.
        args = ["track", str(tmp_path), "--box", "1,1,20,20", "--random-weights"]
    elif command == "eval":
        from samurai.data.synthetic import write_generic

        write_generic(tmp_path / "data", n_videos=1, n_frames=3)
        args = ["eval", str(tmp_path / "data"), "--random-weights"]
    else:
        args = ["demo", "--frames", "3", "--size", "64"]
    rc = main(args + ["--noise", str(noise), "--out", str(tmp_path / "out")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith(f"samurai {command}: error:") and message in err
    assert not (tmp_path / "out").exists()


def test_noise_file_reaches_the_sam2_tracker(noise_file, sam2_tiny_checkpoint, tmp_path, monkeypatch):
    """The config of the video state (what the core steps with) carries the file's weights."""
    from samurai_phantom import make_phantom
    from samurai_sam2.predictor import SamuraiVideoPredictor

    seen = []
    real = SamuraiVideoPredictor._new_samurai_state

    def recording(self, *args):
        state = real(self, *args)
        seen.append(state["tracks"].config)
        return state

    monkeypatch.setattr(SamuraiVideoPredictor, "_new_samurai_state", recording)
    ph = make_phantom(n_frames=3, size=64, dropout=None)
    for t, f in enumerate(ph.frames):
        Image.fromarray(f).convert("RGB").save(tmp_path / f"{t:05d}.png")
    out = tmp_path / "run"
    rc = main(
        [
            "track",
            str(tmp_path),
            "--box",
            "6,8,30,44",
            "--checkpoint",
            str(sam2_tiny_checkpoint),
            "--image-size",
            "256",
            "--noise",
            str(noise_file),
            "--out",
            str(out),
            "--no-video",
        ]
    )
    assert rc == 0
    assert len(seen) == 1
    assert seen[0].noise == FITTED and seen[0].motion_model == "xywh"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["noise"] == str(noise_file) and manifest["motion_model"] == "xywh"


def _phantom_decisions(path, method):
    rows = [
        r
        for r in csv.DictReader(path.read_text().splitlines())
        if r["method"] == f"phantom-segmenter/{method}"
    ]
    motion = np.array([float(r["motion_iou"] or "nan") for r in rows]).reshape(-1, 4)
    chosen = np.array([int(r["chosen"]) for r in rows]).reshape(-1, 4)
    return motion, chosen


def test_demo_with_noise_file_tracks_with_the_fitted_filter(noise_file, tmp_path, monkeypatch):
    """End to end: the demo's per-frame motion IoUs are those of the phantom tracker run with the
    calibrated config (an independent run), and not those of the default filter."""
    import samurai_phantom as phantom

    configs = []
    real = phantom.track

    def recording(frames, prompts, cfg=None, motion=True, memory=True, **kw):
        configs.append((cfg, motion, memory))
        return real(frames, prompts, cfg, motion, memory, **kw)

    monkeypatch.setattr(phantom, "track", recording)
    out = tmp_path / "demo"
    n = 32
    assert (
        main(
            [
                "demo",
                "--frames",
                str(n),
                "--size",
                "64",
                "--scale",
                "1",
                "--noise",
                str(noise_file),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    expected_cfg = config_with_noise(
        preset("tiny")._replace(motion_model="xywh"), load_calibration(noise_file)
    )
    assert configs == [
        (expected_cfg, False, False),
        (expected_cfg, True, False),
        (expected_cfg, False, True),
        (expected_cfg, True, True),
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["noise"] == str(noise_file) and manifest["motion_model"] == "xywh"

    motion, chosen = _phantom_decisions(out / "per_frame.csv", "samurai")
    ph = phantom.make_phantom(n_frames=n, size=64, dropout=None, rv_dropout=None)  # a short clip: no events
    prompts = {k: ph.masks[0] == k for k in sorted(ph.labels)}
    fitted = real(ph.frames, prompts, expected_cfg)
    default = real(ph.frames, prompts, preset("tiny"))
    used = np.isfinite(fitted.kf_iou)
    assert used[-1].all()  # motion scoring is on by the end of the clip
    np.testing.assert_allclose(motion[used], fitted.kf_iou[used], rtol=1e-5)  # the CSV keeps 6 digits
    np.testing.assert_array_equal(chosen[1:], fitted.chosen[1:])
    both = used & np.isfinite(default.kf_iou)
    assert np.abs(fitted.kf_iou[both] - default.kf_iou[both]).max() > 0.01


def test_noise_on_a_model_with_other_memory_sizes(noise_file, monkeypatch):
    """``--noise`` on a SAM 2 model whose memory sizes are not the preset's (a custom config):
    the file's noise and motion model on the model's own sizes, as the default config does."""
    pytest.importorskip("sam2")
    import samurai_sam2
    from samurai.predictors import build_predictor

    memory = {"num_maskmem": 5, "max_obj_ptrs_in_encoder": 8}
    real = samurai_sam2.build_samurai_video_predictor

    def custom(*args, **kwargs):  # what a user's own config file with these sizes builds
        return real(*args, hydra_overrides_extra=[f"++model.{k}={v}" for k, v in memory.items()], **kwargs)

    monkeypatch.setattr(samurai_sam2, "build_samurai_video_predictor", custom)
    predictor = build_predictor("tiny", None, "cpu", 64, True, None, True, noise=noise_file)
    cal = load_calibration(noise_file)
    expected = config_with_noise(preset("tiny", **memory)._replace(motion_model=cal.motion_model), cal)
    assert predictor.samurai_config == expected
    assert predictor.samurai_config.num_maskmem == 5 and predictor.samurai
