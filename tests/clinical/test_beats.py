"""ED/ES per beat and heart rate on synthetic volume curves whose beats are known."""

import numpy as np
import pytest

from samurai.clinical.beats import find_beats


def volume_curve(n_frames, period, es_offset, start=0.0):
    """A beat every ``period`` frames: volume 120 mL at ED (t = k·period), falling to 50 mL at ES
    (``es_offset`` frames later, a cosine), refilling until the next ED."""
    t = np.arange(n_frames) + start
    u = np.mod(t, period)
    sys = u < es_offset
    fall = 0.5 - 0.5 * np.cos(np.pi * u / es_offset)
    rise = 0.5 + 0.5 * np.cos(np.pi * (u - es_offset) / (period - es_offset))
    return 120.0 - 70.0 * np.where(sys, fall, rise)


def test_two_beats_with_known_heart_rate():
    # Period 20 frames at 40 ms per frame = 0.8 s = 75 bpm; clip starts 5 frames before ED.
    curve = volume_curve(48, 20, 7, start=15)
    found = find_beats(curve, frame_time_s=0.040)
    assert not found.whole_clip
    # ED at t = 20, 40 (frames 5, 25); ES 7 frames later (frames 12, 32).
    assert [(b.ed, b.es) for b in found.beats] == [(5, 12), (25, 32)]
    assert found.heart_rate_bpm == pytest.approx(75.0)


def test_a_beat_whose_ed_is_the_first_frame_is_dropped_when_others_are_whole():
    curve = volume_curve(44, 20, 6)
    found = find_beats(curve, frame_time_s=0.05)
    assert [(b.ed, b.es) for b in found.beats] == [(20, 26)]  # frame-0 ED dropped: other beats exist
    assert found.heart_rate_bpm == pytest.approx(60.0)


def test_clip_shorter_than_a_beat_uses_the_clip_and_says_so():
    curve = volume_curve(9, 20, 7, start=-1)  # ends during early filling: no minimum inside
    found = find_beats(curve, frame_time_s=0.04)
    assert found.whole_clip and found.heart_rate_bpm is None
    assert "shorter than one beat" in found.note
    assert found.beats[0].ed == int(np.argmax(curve)) and found.beats[0].es == int(np.argmin(curve))


def test_dropout_frames_and_small_wobble_are_not_beats():
    curve = volume_curve(48, 20, 7, start=15)
    curve[14:16] = np.nan  # ventricle not segmented on two frames
    curve = curve + 1.5 * np.sin(np.arange(48) * 2.7)  # speckle-level wobble
    found = find_beats(curve, frame_time_s=0.04)
    assert [b.es for b in found.beats] == pytest.approx([12, 32], abs=1)
    assert found.heart_rate_bpm == pytest.approx(75.0, rel=0.1)


def test_no_frame_time_gives_no_heart_rate():
    assert find_beats(volume_curve(48, 20, 7, start=15)).heart_rate_bpm is None


def test_all_frames_empty_is_an_error():
    with pytest.raises(ValueError, match="no frame"):
        find_beats(np.full(10, np.nan))
