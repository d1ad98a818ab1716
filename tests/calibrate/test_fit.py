"""fit_noise: recovers known noise scales, helps on cardiac-like tracks, compiles once, checks input."""

import numpy as np
import pytest

from samurai_core import calibrate
from samurai_core.calibrate import FREE_FIELDS, fit_noise, pad_tracks, score_noise
from samurai_core.simulate import simulate_cardiac_tracks, simulate_motion_tracks
from samurai_core.types import NoiseParams

TRUE = NoiseParams(
    std_position=0.02,
    std_size=0.01,
    std_velocity=0.004,
    std_size_velocity=0.002,
    std_measurement=0.03,
    std_aspect=0.01,
    std_aspect_velocity=0.001,
    std_aspect_measurement=0.02,
)


def test_fit_recovers_the_noise_that_generated_the_tracks():
    boxes, valid = simulate_motion_tracks("xyah", TRUE, 64, 80, seed=2)
    assert valid.mean() > 0.95
    fitted, hist = fit_noise(boxes, valid, "xyah")  # starts from the defaults, 2x to 50x off
    assert hist.free == NoiseParams._fields and hist.converged
    # The optimiser reached the maximum: the fit explains the data better than the truth does.
    assert hist.nll_after <= score_noise("xyah", TRUE, boxes, valid).nll_per_frame
    ratio = {f: getattr(fitted, f) / getattr(TRUE, f) for f in hist.free}
    # 64 tracks x 79 frames. Per-frame noise (position, size, measurement, aspect) lands within
    # 15 % of the truth. The rate noises are weakly identified on tracks this short: their
    # maximum-likelihood estimate is biased low (the initial rate is unknown, as a variance
    # estimated around an unknown mean), and within 40 % here.
    loose = ("std_size", "std_velocity", "std_size_velocity")
    for name, r in ratio.items():
        assert abs(np.log(r)) < np.log(1.4 if name in loose else 1.15), ratio


def test_calibration_improves_held_out_prediction_on_cardiac_tracks():
    # Different lengths in one batch, absent frames; held-out tracks from another seed.
    boxes, valid = simulate_cardiac_tracks(24, 100, seed=0, missing_rate=0.05)
    lengths = np.random.default_rng(0).integers(40, 101, 24)
    fit_boxes, fit_valid = pad_tracks(
        [b[:n] for b, n in zip(boxes, lengths)], [v[:n] for v, n in zip(valid, lengths)]
    )
    _, step, _ = calibrate._fit_functions("xyah", (True,) * 8, calibrate.DEFAULT_LEARNING_RATE)
    compiled = step._cache_size()
    fitted, hist = fit_noise(fit_boxes, fit_valid, "xyah")
    test_boxes, test_valid = simulate_cardiac_tracks(16, 100, seed=1)
    before = score_noise("xyah", NoiseParams(), test_boxes, test_valid)
    after = score_noise("xyah", fitted, test_boxes, test_valid)
    print(
        f"held-out: NLL/frame {before.nll_per_frame:.3f} -> {after.nll_per_frame:.3f}, "
        f"IoU {before.prediction_iou:.4f} -> {after.prediction_iou:.4f}"
    )
    assert after.nll_per_frame < before.nll_per_frame - 1.0
    assert after.prediction_iou > before.prediction_iou + 0.005
    # One compile for the whole fit, and none for a second fit of the same shape.
    assert step._cache_size() == compiled + 1
    fit_noise(fit_boxes[::-1].copy(), fit_valid[::-1].copy(), "xyah", init=fitted, steps=3)
    assert step._cache_size() == compiled + 1


def test_fixed_fields_keep_their_init_values():
    boxes, valid = simulate_cardiac_tracks(4, 30, seed=2)
    init = NoiseParams(std_aspect=0.02)
    fitted, hist = fit_noise(boxes, valid, "xywh", init=init, steps=5)
    assert hist.free == FREE_FIELDS["xywh"]
    for name in ("std_aspect", "std_aspect_velocity", "std_aspect_measurement"):
        assert getattr(fitted, name) == pytest.approx(getattr(init, name), rel=1e-6)
    assert fitted.std_measurement != pytest.approx(init.std_measurement, rel=1e-3)
    assert all(type(v) is float for v in fitted)  # hashable: fits in a SamuraiConfig
    assert hist.steps == 5 and len(hist.nll) == 5 and not hist.converged


def test_stops_early_when_the_loss_stops_changing():
    boxes, valid = simulate_cardiac_tracks(4, 30, seed=2)
    _, hist = fit_noise(boxes, valid, "xywh", steps=50, rtol=1.0)
    assert hist.converged and hist.steps == 11  # the first step has no change to compare


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"boxes": np.zeros((3, 4))}, r"boxes has shape \(3, 4\); expected \[N, T, 4\]"),
        ({"valid": np.ones((2, 5), bool)}, r"valid has shape \(2, 5\); expected \(2, 6\)"),
        ({"valid": np.ones((2, 6))}, "valid has dtype float64; expected bool"),
        ({"valid": np.eye(2, 6, dtype=bool)}, "no track has two present boxes"),
        ({"motion_model": "xywz"}, "motion_model='xywz' is not known"),
        ({"init": NoiseParams(std_measurement=0.0)}, "init.std_measurement=0.0 must be a finite positive"),
        ({"free": ("std_foo",)}, r"free fields \['std_foo'\] are not NoiseParams fields"),
        ({"learning_rate": -1.0}, "learning_rate=-1.0 must be"),
    ],
)
def test_bad_input_is_rejected_with_a_clear_message(kwargs, match):
    args = {"boxes": np.tile([10.0, 10.0, 30.0, 40.0], (2, 6, 1)), "valid": np.ones((2, 6), bool)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        fit_noise(**args)


def test_pad_tracks_rejects_bad_tracks():
    with pytest.raises(ValueError, match=r"track 1 has shape \(5,\); each track must be \[T, 4\]"):
        pad_tracks([np.zeros((3, 4)), np.zeros(5)])
    with pytest.raises(ValueError, match="got 2 tracks but 1 valid masks"):
        pad_tracks([np.zeros((3, 4))] * 2, [np.ones(3, bool)])
    with pytest.raises(ValueError, match="track 0 has 3 frames, more than length=2"):
        pad_tracks([np.zeros((3, 4))], length=2)
