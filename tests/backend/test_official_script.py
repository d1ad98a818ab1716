"""Code written for the official SAMURAI repository runs unchanged on this backend.

The official demo script builds its predictor from ``configs/samurai/sam2.1_hiera_*.yaml`` and
drives it as below (on CUDA with float16 autocast; here the CPU autocast, bfloat16). The only
change made to it: a 256 px random-init model instead of the released 1024 px checkpoint.
Reference: the same model built by its short name and run through the same calls.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from fixtures_sam2 import IMAGE_SIZE, SYNTHETIC_BOXES  # noqa: E402

import samurai_core as sc  # noqa: E402
from samurai_sam2 import build_samurai_video_predictor  # noqa: E402

pytestmark = pytest.mark.slow


def _official_demo_loop(predictor, video_path, bbox):
    """The official script's tracking loop, verbatim but for the device of the autocast."""
    masks_per_frame = {}
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        state = predictor.init_state(str(video_path), offload_video_to_cpu=True)
        _, _, masks = predictor.add_new_points_or_box(state, box=bbox, frame_idx=0, obj_id=0)
        for frame_idx, object_ids, masks in predictor.propagate_in_video(state):
            for obj_id, mask in zip(object_ids, masks):
                mask = mask[0].cpu().numpy()
                mask = mask > 0.0
                non_zero_indices = np.argwhere(mask)
                if len(non_zero_indices) == 0:
                    bbox = [0, 0, 0, 0]
                else:
                    y_min, x_min = non_zero_indices.min(axis=0).tolist()
                    y_max, x_max = non_zero_indices.max(axis=0).tolist()
                    bbox = [x_min, y_min, x_max - x_min, y_max - y_min]
                masks_per_frame[frame_idx] = (obj_id, mask, bbox)
    return masks_per_frame


def test_official_demo_script_runs_on_the_alias(sam2_tiny_checkpoint, synthetic_jpeg_video):
    box = tuple(int(v) for v in SYNTHETIC_BOXES[1])  # the script passes int corners (x1, y1, x2, y2)
    predictor = build_samurai_video_predictor(
        "configs/samurai/sam2.1_hiera_t.yaml",
        str(sam2_tiny_checkpoint),
        device="cpu",
        image_size=IMAGE_SIZE,
    )
    assert predictor.samurai and predictor.samurai_config == sc.preset("tiny").validate()
    got = _official_demo_loop(predictor, synthetic_jpeg_video, box)
    assert sorted(got) == list(range(8))
    assert all(
        obj_id == 0 and mask.shape == (96, 128) and mask.dtype == bool for obj_id, mask, _ in got.values()
    )

    reference = build_samurai_video_predictor(
        "tiny", str(sam2_tiny_checkpoint), device="cpu", image_size=IMAGE_SIZE
    )
    want = _official_demo_loop(reference, synthetic_jpeg_video, box)
    for t in range(8):
        assert np.array_equal(got[t][1], want[t][1]), t
        assert got[t][2] == want[t][2], t
