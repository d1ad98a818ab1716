"""End-diastole and end-systole per beat from a ventricle's volume (or area) curve.

End-systole (ES) of a beat is a clear minimum of the curve: a local minimum whose prominence is
at least :data:`MIN_PROMINENCE` of the curve's range (so speckle-level wobble is not a beat).
The beat's end-diastole (ED) is the largest value between the previous ES (or the clip's start)
and this ES. A beat whose ED is the clip's first frame is dropped when there are other beats
(the clip may have begun after ED). Heart rate = 60 / (median ES-to-ES interval in seconds).

A clip with no such minimum (shorter than one beat) gives one "beat" from the whole clip, the
largest and the smallest value, flagged ``whole_clip``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

MIN_PROMINENCE = 0.25


class Beat(NamedTuple):
    ed: int  # frame index of end-diastole
    es: int  # frame index of end-systole


class Beats(NamedTuple):
    beats: list[Beat]
    heart_rate_bpm: float | None  # None with fewer than two ES or no frame time
    whole_clip: bool  # True: no complete beat, ED/ES are the clip's largest / smallest value
    note: str


def _minima(v: np.ndarray, prominence: float) -> list[int]:
    """Interior local minima of ``v`` whose prominence (the lower of the highest values on each
    side before the curve drops below the minimum again) is at least ``prominence``."""
    out, n = [], len(v)
    for i in range(1, n - 1):
        if not (v[i] < v[i - 1] and v[i] <= v[i + 1]):
            continue
        left = i
        while left > 0 and v[left - 1] >= v[i]:
            left -= 1
        right = i
        while right < n - 1 and v[right + 1] >= v[i]:
            right += 1
        if min(v[left : i + 1].max(), v[i : right + 1].max()) - v[i] >= prominence:
            out.append(i)
    return out


def find_beats(curve, frame_time_s: float | None = None) -> Beats:
    """ED/ES frames of each beat in ``curve`` (float [T], NaN where the ventricle is absent)
    and the heart rate (``frame_time_s``: seconds between frames, or None)."""
    v = np.asarray(curve, np.float64)
    finite = np.isfinite(v)
    if not finite.any():
        raise ValueError("no frame has a measurable ventricle: ED and ES cannot be found")
    # Frames without a mask are bridged by their neighbours so that a dropout is not a beat.
    idx = np.arange(len(v))
    v = np.interp(idx, idx[finite], v[finite])
    span = float(v.max() - v.min())
    minima = _minima(v, MIN_PROMINENCE * span) if span > 0 else []
    beats = []
    for start, es in zip([0] + minima[:-1], minima):
        beats.append(Beat(start + int(np.argmax(v[start : es + 1])), es))
    if len(beats) > 1 and beats[0].ed == 0:
        beats = beats[1:]  # the clip may have begun after end-diastole; other beats are whole
    rate = None
    if frame_time_s and len(minima) >= 2:
        rate = 60.0 / (float(np.median(np.diff(minima))) * frame_time_s)
    if beats:
        note = f"{len(beats)} beat(s): ES at a clear minimum of the curve, ED the largest value before it"
        return Beats(beats, rate, False, note)
    note = (
        "the clip is shorter than one beat (no clear end-systolic minimum): ED and ES are "
        "the clip's largest and smallest values"
    )
    return Beats([Beat(int(np.argmax(v)), int(np.argmin(v)))], rate, True, note)
