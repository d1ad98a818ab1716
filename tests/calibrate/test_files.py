"""Calibration files: round trip, atomic write, clear errors on malformed files, config plumbing.

The core gives and checks the content (``calibration_to_dict`` / ``calibration_from_dict``);
the app's ``samurai.io`` reads and writes the file."""

import json
import os

import pytest

from samurai.formats import load_calibration, save_calibration
from samurai_core.calibrate import Calibration, calibration_from_dict, config_with_noise
from samurai_core.config import SamuraiConfig, preset
from samurai_core.types import NoiseParams

FITTED = NoiseParams(0.002, 0.016, 1.6e-5, 0.0038, 0.0073, 0.0092, 8.6e-7, 0.017)


def _write(tmp_path, **overrides):
    data = {
        "format": "samurai-noise",
        "version": 1,
        "motion_model": "xyah",
        "noise": FITTED._asdict(),
        "provenance": {},
    }
    data.update(overrides)
    path = tmp_path / "noise.json"
    path.write_text(json.dumps(data))
    return path


def test_round_trip_keeps_values_and_provenance(tmp_path):
    path = tmp_path / "sub" / "noise.json"
    provenance = {"data": ["tracks/"], "n_sequences": 12, "nll_before": 6.0, "nll_after": 0.4}
    save_calibration(path, Calibration("xywh", FITTED, provenance))
    cal = load_calibration(path)
    assert cal.motion_model == "xywh"
    assert cal.noise == FITTED  # floats survive JSON exactly
    assert {k: cal.provenance[k] for k in provenance} == provenance
    assert "created" in cal.provenance
    assert [p.name for p in path.parent.iterdir()] == ["noise.json"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would create it


def test_save_replaces_an_existing_file(tmp_path):
    path = tmp_path / "noise.json"
    path.write_text("old")
    save_calibration(path, Calibration("xyah", FITTED, {}))
    assert load_calibration(path).noise == FITTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise.json"]


def test_failed_save_leaves_the_old_file(tmp_path):
    path = tmp_path / "noise.json"
    save_calibration(path, Calibration("xyah", FITTED, {}))
    with pytest.raises(ValueError):  # NaN is not JSON: refused before anything is replaced
        save_calibration(path, Calibration("xyah", FITTED, {"nll_after": float("nan")}))
    assert load_calibration(path).noise == FITTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise.json"]


def test_fitted_noise_plugs_into_the_tracker_config(tmp_path):
    path = save_calibration(tmp_path / "noise.json", Calibration("xyah", FITTED, {}))
    for source in (load_calibration(path), FITTED):
        cfg = config_with_noise(preset("tiny"), source)
        assert cfg.noise == FITTED and cfg.kf_score_weight == 0.25
        hash(cfg)  # still a static jit argument
    assert preset("tiny")._replace(noise=FITTED) == config_with_noise(preset("tiny"), FITTED)
    with pytest.raises(TypeError, match="samurai.io.load_calibration"):
        config_with_noise(preset("tiny"), path)  # the core reads no files


def test_motion_model_mismatch_is_refused(tmp_path):
    cal = load_calibration(save_calibration(tmp_path / "noise.json", Calibration("xywh", FITTED, {})))
    with pytest.raises(ValueError, match="fitted for motion_model='xywh' but the config uses 'xyah'"):
        config_with_noise(SamuraiConfig(), cal)
    assert config_with_noise(SamuraiConfig(motion_model="xywh"), cal).noise == FITTED


@pytest.mark.parametrize(
    "content, match",
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "is not a samurai noise calibration"),
        (json.dumps({"format": "other"}), "is not a samurai noise calibration"),
    ],
)
def test_malformed_text_is_refused(tmp_path, content, match):
    path = tmp_path / "noise.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=match) as err:
        load_calibration(path)
    assert str(path) in str(err.value) and "samurai calibrate" in str(err.value)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"version": 2}, "format version 2; this samurai reads version 1"),
        ({"motion_model": "xyzw"}, "motion_model='xyzw' is not one of"),
        ({"noise": [1, 2]}, '"noise" must be an object'),
        ({"noise": {"std_position": 0.1}}, "is missing .*std_size"),
        ({"noise": dict(FITTED._asdict(), std_extra=1.0)}, r"has unknown \['std_extra'\]"),
        ({"noise": dict(FITTED._asdict(), std_size=-0.1)}, "noise.std_size=-0.1 must be a finite positive"),
        ({"noise": dict(FITTED._asdict(), std_size="0.1")}, "noise.std_size='0.1' must be"),
        ({"noise": dict(FITTED._asdict(), std_size=True)}, "noise.std_size=True must be"),
        ({"provenance": "x"}, '"provenance" must be an object'),
    ],
)
def test_malformed_content_is_refused(tmp_path, overrides, match):
    path = _write(tmp_path, **overrides)
    with pytest.raises(ValueError, match=match) as err:
        load_calibration(path)
    assert str(path) in str(err.value)
    with pytest.raises(ValueError, match=match):  # the same check on the content alone
        calibration_from_dict(json.loads(path.read_text()), "noise.json")


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist; re-run `samurai calibrate`"):
        load_calibration(tmp_path / "absent.json")
    path = tmp_path / "noise.json"
    path.write_bytes(b"\x89PNG\xff\xfe")
    with pytest.raises(ValueError, match="is not a text"):
        load_calibration(path)
