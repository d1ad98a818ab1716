"""LaSOT-style data: a first box that overhangs the frame is prompted with its part inside the
frame (hand-computed corners), one wholly outside is an up-front problem, and two sequences
with one folder name (in two categories) are refused before any work, naming both."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from samurai.errors import UserError
from samurai.eval.lasot import lasot_sequences, prompt_box


@pytest.mark.parametrize(
    "xywh, corners",
    [
        ((-5, 10, 20, 8), (0, 10, 14, 17)),  # left edge: x = -5..14 -> 0..14
        ((60, 40, 10, 10), (60, 40, 63, 47)),  # right and bottom: x 60..69 -> 63, y 40..49 -> 47
        ((2, 3, 4, 5), (2, 3, 5, 7)),  # inside: unchanged, no note
    ],
)
def test_the_prompt_is_the_part_of_the_box_inside_the_frame(xywh, corners):
    box, note = prompt_box(xywh, 64, 48)
    np.testing.assert_array_equal(box, corners)
    assert (note is None) == (corners == (xywh[0], xywh[1], xywh[0] + xywh[2] - 1, xywh[1] + xywh[3] - 1))
    if note:
        assert "overhangs the 64x48 frame" in note


@pytest.mark.parametrize("xywh", [(70, 0, 5, 5), (-20, 5, 10, 10), (5, 48, 3, 3)])
def test_a_box_wholly_outside_is_no_prompt(xywh):
    assert prompt_box(xywh, 64, 48) == (None, None)


def _sequence(folder, first_line):
    (folder / "img").mkdir(parents=True)
    for t in range(2):
        Image.fromarray(np.full((48, 64, 3), 40 * t, np.uint8)).save(folder / "img" / f"{t + 1:08d}.jpg")
    (folder / "groundtruth.txt").write_text(f"{first_line}\n1,2,10,10\n")


def test_a_first_box_wholly_outside_is_a_problem_up_front(tmp_path):
    _sequence(tmp_path / "s", "70,0,5,5")
    (seq,) = lasot_sequences(tmp_path)
    assert any("wholly outside the 64x48 frame" in p for p in seq.problems())
    _sequence(tmp_path / "t", "-5,10,20,8")
    assert lasot_sequences(tmp_path)[1].problems() == []


def test_one_sequence_name_in_two_categories_is_refused_naming_both(tmp_path):
    _sequence(tmp_path / "cat" / "cat-1", "1,2,10,10")
    _sequence(tmp_path / "dog" / "cat-1", "1,2,10,10")
    _sequence(tmp_path / "dog" / "dog-1", "1,2,10,10")
    with pytest.raises(UserError, match=r"cat/cat-1 and .*dog/cat-1 \(both 'cat-1'\)"):
        lasot_sequences(tmp_path)
