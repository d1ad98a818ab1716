"""Prompt-free chamber tracking: seeding, re-querying absent chambers, re-seeding lost tracks,
and ``samurai track --chambers`` / ``samurai eval --prompt learned`` (random-init SAM 2.1 tiny
at 256 px; object scores are forced through the object-score head's bias where a test needs a
chamber found or not found)."""

import json

import numpy as np
import pytest
from PIL import Image

from samurai.cli import main
from samurai.formats import read_mask_png

pytestmark = pytest.mark.slow

N = 6
CLASSES = ["lv", "la", "rv", "ra"]


@pytest.fixture(scope="module")
def clip():
    from samurai_phantom import make_phantom

    return make_phantom(n_frames=N, size=64, dropout=None)


@pytest.fixture(scope="module")
def rgb(clip):
    return np.repeat(clip.frames[..., None], 3, axis=3)


@pytest.fixture(scope="module")
def learned_adapter(sam2_tiny_checkpoint, tmp_path_factory):
    """An adapter folder as `samurai train --prompts learned` writes it (untrained weights)."""
    import torch

    from samurai.train.lora import apply_lora, save_adapter
    from samurai.train.model import build_model
    from samurai_sam2 import ClassPrompts

    model = build_model("tiny", sam2_tiny_checkpoint, image_size=256)
    peft_model = apply_lora(model)
    prompts = ClassPrompts.for_model(model, CLASSES, generator=torch.Generator().manual_seed(0))
    folder = tmp_path_factory.mktemp("adapter") / "adapter"
    save_adapter(peft_model, folder, {"prompts": "learned"}, prompts)
    return folder


def _predictor(ckpt, adapter, object_bias=None):

    from samurai.train.lora import load_adapter
    from samurai_sam2 import build_samurai_video_predictor

    predictor = build_samurai_video_predictor("tiny", ckpt, device="cpu", image_size=256)
    load_adapter(predictor, adapter)
    if object_bias is not None:
        _set_object_bias(predictor, object_bias)
    return predictor


def _set_object_bias(predictor, value):
    import torch

    head = predictor.sam_mask_decoder.pred_obj_score_head
    last = head.layers[-1] if hasattr(head, "layers") else head
    with torch.no_grad():
        last.bias.fill_(value)


def test_lost_tracks_are_requeried_and_reseeded(sam2_tiny_checkpoint, learned_adapter, rgb):
    """Every chamber found (object score forced high); every tracked frame counted as bad
    (lost_threshold above any score): each track is lost after k frames and re-seeded on the
    next frame from its class prompt, with its SAMURAI motion track restarted."""
    from samurai.prompters.learned import track_chambers

    predictor = _predictor(sam2_tiny_checkpoint, learned_adapter, object_bias=30.0)
    events = []
    out = list(track_chambers(predictor, rgb, ["lv", "la"], lost_frames=2, lost_threshold=1e9, events=events))
    assert [t for t, _, _ in out] == list(range(N))
    got = [(e.frame, e.name, e.kind) for e in events]
    assert got == [
        (0, "lv", "seed"),
        (0, "la", "seed"),
        (2, "lv", "lost"),
        (2, "la", "lost"),
        (3, "lv", "reseed"),
        (3, "la", "reseed"),
        (5, "lv", "lost"),
        (5, "la", "lost"),
    ]
    # Seed and re-seed frames are conditioning frames (no scores), their masks the class
    # prompts' own masks on that frame.
    reference = predictor.init_state(rgb)
    for t in (0, 3):
        assert out[t][2] == {}
        logits, scores = predictor.find_classes(reference, t, ["lv", "la"])
        assert bool((scores > 0).all())
        for k in (1, 2):
            np.testing.assert_array_equal(out[t][1][k], (logits[k - 1, 0] > 0).numpy())
    stable = {t: {k: s["stable_frames"] for k, s in out[t][2].items()} for t in (1, 2, 4, 5)}
    assert stable == {1: {1: 1, 2: 1}, 2: {1: 2, 2: 2}, 4: {1: 1, 2: 1}, 5: {1: 2, 2: 2}}


def test_seed_and_reseed_masks_are_where_the_class_prompts_point(sam2_tiny_checkpoint, learned_adapter, rgb):
    """An oracle outside the prompter: the mask decoder is made to answer each class prompt
    with a known rectangle (a hook recognises the class by its token rows in the sparse
    prompt), so the seed and re-seed masks must be exactly those rectangles at video
    resolution, with each chamber on its own object id; tracked frames keep the model's own
    answers (their sparse prompt holds no class token)."""
    import torch

    from samurai.prompters.learned import track_chambers

    predictor = _predictor(sam2_tiny_checkpoint, learned_adapter, object_bias=30.0)
    names = ["lv", "la"]
    tokens = predictor._class_prompts.tokens_for(names).detach()
    low = predictor.image_size // 4  # SAM 2's low-resolution mask side (64 at 256 px)
    side = rgb.shape[1]
    assert low == side  # so the expected rectangles need no resampling
    boxes = {0: (8, 10, 30, 28), 1: (36, 20, 56, 50)}  # class index -> (y0, x0, y1, x1), exclusive ends
    answered = []

    def known_rectangles(module, args, kwargs, output):
        low_multi, ious, out_tokens, obj_logits = output
        sparse = kwargs["sparse_prompt_embeddings"]
        if sparse.shape[1] != tokens.shape[1]:
            return output
        low_multi = low_multi.clone()
        for b in range(sparse.shape[0]):
            match = [c for c in range(len(names)) if torch.equal(sparse[b].float(), tokens[c].float())]
            if match:
                y0, x0, y1, x1 = boxes[match[0]]
                low_multi[b] = -10.0
                low_multi[b, :, y0:y1, x0:x1] = 10.0
                answered.append(match[0])
        return low_multi, ious, out_tokens, obj_logits

    handle = predictor.sam_mask_decoder.register_forward_hook(known_rectangles, with_kwargs=True)
    try:
        out = list(track_chambers(predictor, rgb, names, lost_frames=2, lost_threshold=1e9, events=[]))
    finally:
        handle.remove()
    assert sorted(set(answered)) == [0, 1]
    for t in (0, 3):  # the seed frame and the re-seed frame (see the test above)
        for obj_id, c in ((1, 0), (2, 1)):
            y0, x0, y1, x1 = boxes[c]
            expected = np.zeros((side, side), bool)
            expected[y0:y1, x0:x1] = True
            np.testing.assert_array_equal(out[t][1][obj_id], expected)


def test_absent_chamber_is_looked_for_again_and_starts_late(sam2_tiny_checkpoint, learned_adapter, rgb):
    from samurai.prompters.learned import track_chambers

    predictor = _predictor(sam2_tiny_checkpoint, learned_adapter, object_bias=-30.0)
    asked = []
    real = predictor.find_classes

    def spy(state, frame_idx, names):
        asked.append((frame_idx, list(names)))
        if frame_idx == 2:  # the chamber comes into view
            _set_object_bias(predictor, 30.0)
        return real(state, frame_idx, names)

    predictor.find_classes = spy
    events = []
    out = list(track_chambers(predictor, rgb, ["rv"], recheck_every=2, events=events))
    assert asked == [(0, ["rv"]), (2, ["rv"])]
    assert [(e.frame, e.kind) for e in events] == [(2, "seed")]
    assert [sorted(m) for _, m, _ in out] == [[], [], [1], [1], [1], [1]]


def test_a_lost_chamber_that_stays_absent_is_reported_and_asked_for_every_k_frames(
    sam2_tiny_checkpoint, learned_adapter, rgb
):
    """Found on frame 0, then gone for good: every tracked frame is bad (lost_threshold above
    any score) and every later search finds nothing. With k = 2 the track is lost on frames 2
    and 4 (k bad frames each time: 1-2, then 3-4 after the search on frame 3 found nothing),
    and the class is asked for on frames 0, 3 and 5 (hand-worked schedule)."""
    from samurai.prompters.learned import track_chambers

    predictor = _predictor(sam2_tiny_checkpoint, learned_adapter, object_bias=30.0)
    asked = []
    real = predictor.find_classes

    def spy(state, frame_idx, names):
        asked.append((frame_idx, list(names)))
        result = real(state, frame_idx, names)
        _set_object_bias(predictor, -30.0)  # after the first search the chamber is gone
        return result

    predictor.find_classes = spy
    events = []
    out = list(track_chambers(predictor, rgb, ["lv"], lost_frames=2, lost_threshold=1e9, events=events))
    assert [t for t, _, _ in out] == list(range(N))
    assert [(e.frame, e.name, e.kind) for e in events] == [
        (0, "lv", "seed"),
        (2, "lv", "lost"),
        (4, "lv", "lost"),
    ]
    assert asked == [(0, ["lv"]), (3, ["lv"]), (5, ["lv"])]


def test_unknown_class_fails_before_tracking(sam2_tiny_checkpoint, learned_adapter, rgb):
    from samurai.prompters import PrompterError, make_prompter
    from samurai.prompters.learned import track_chambers
    from samurai_sam2 import ClassPromptError

    predictor = _predictor(sam2_tiny_checkpoint, learned_adapter)
    with pytest.raises(ClassPromptError, match="myo"):
        next(track_chambers(predictor, rgb, ["lv", "myo"]))
    prompter = make_prompter("learned", predictor=predictor)
    found = prompter.find(rgb[0], ["lv", "ra"])
    assert list(found) == ["lv", "ra"] and all(0.0 <= r.score <= 1.0 for r in found.values())
    with pytest.raises(PrompterError, match="predictor"):
        make_prompter("learned")


def _frames(rgb, folder):
    folder.mkdir()
    for t, f in enumerate(rgb):
        Image.fromarray(f).save(folder / f"{t:05d}.png")
    return folder


def _checkpoint_that_finds_everything(ckpt, folder):
    """The random-init checkpoint with its object-score head's bias at +30: every class prompt
    finds its chamber on frame 0 and no track is ever lost, so the outcome is known up front."""
    import torch

    state = dict(torch.load(ckpt, weights_only=True)["model"])
    key = "sam_mask_decoder.pred_obj_score_head.layers.2.bias"  # the head's output layer (an MLP of 3)
    state[key] = torch.full_like(state[key], 30.0)
    path = folder / "finds_everything.pt"
    torch.save({"model": state}, path)
    return path


def test_track_chambers_cli(sam2_tiny_checkpoint, learned_adapter, rgb, tmp_path):
    video = _frames(rgb, tmp_path / "frames")
    out = tmp_path / "run"
    ckpt = _checkpoint_that_finds_everything(sam2_tiny_checkpoint, tmp_path)
    rc = main(
        [
            "track",
            str(video),
            "--chambers",
            "lv,la,rv,ra",
            "--adapter",
            str(learned_adapter),
            "--checkpoint",
            str(ckpt),
            "--image-size",
            "256",
            "--out",
            str(out),
            "--no-video",
        ]
    )
    assert rc == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["objects"] == [1, 2, 3, 4] and manifest["prompter"] == "learned"
    assert manifest["names"] == {"1": "lv", "2": "la", "3": "rv", "4": "ra"}
    # Every chamber seeded on frame 0, none lost: the events are known, not just well-formed.
    assert [(e["frame"], e["obj_id"], e["name"], e["event"]) for e in manifest["events"]] == [
        (0, 1, "lv", "seed"),
        (0, 2, "la", "seed"),
        (0, 3, "rv", "seed"),
        (0, 4, "ra", "seed"),
    ]
    masks = np.stack([read_mask_png(out / "masks" / f"{t:05d}.png") for t in range(N)])
    assert set(np.unique(masks)) <= {0, 1, 2, 3, 4}
    assert all(masks[t].any() for t in range(N))  # something segmented on every frame


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--box", "1,1,20,20"], "drop --box"),
        ([], "needs --adapter"),
        (["--adapter", "ADAPTER", "--lost-frames", "0"], "--lost-frames"),
        (["--adapter", "ADAPTER", "--chambers", "lv,myo"], "unknown to adapter"),
        (["--adapter", "PLAIN"], "no class prompts"),
    ],
)
def test_track_chambers_cli_errors(
    extra, message, sam2_tiny_checkpoint, learned_adapter, rgb, tmp_path, capsys
):
    from samurai.train.lora import apply_lora, save_adapter
    from samurai.train.model import build_model

    plain = tmp_path / "plain"
    if "PLAIN" in extra:
        save_adapter(apply_lora(build_model("tiny", sam2_tiny_checkpoint, image_size=256)), plain)
    extra = [str(learned_adapter) if a == "ADAPTER" else str(plain) if a == "PLAIN" else a for a in extra]
    chambers = [] if "--chambers" in extra else ["--chambers", "lv,la"]
    video = _frames(rgb[:2], tmp_path / "frames")
    rc = main(
        [
            "track",
            str(video),
            *chambers,
            *extra,
            "--checkpoint",
            str(sam2_tiny_checkpoint),
            "--image-size",
            "256",
            "--out",
            str(tmp_path / "run"),
            "--no-video",
        ]
    )
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_eval_prompt_learned(sam2_tiny_checkpoint, learned_adapter, clip, tmp_path):
    import csv

    from samurai.data.synthetic import _save_png

    root = tmp_path / "data" / "case0"
    (root / "frames").mkdir(parents=True)
    (root / "masks").mkdir()
    for t in range(3):
        _save_png(clip.frames[t], root / "frames" / f"{t:05d}.png")
        _save_png(clip.masks[t], root / "masks" / f"{t:05d}.png")
    (root / "labels.json").write_text(json.dumps({"1": "LV", "2": "LA", "3": "RV", "4": "RA"}))
    out = tmp_path / "eval"
    rc = main(
        [
            "eval",
            str(tmp_path / "data"),
            "--prompt",
            "learned",
            "--adapter",
            str(learned_adapter),
            "--checkpoint",
            str(sam2_tiny_checkpoint),
            "--image-size",
            "256",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    rows = list(csv.DictReader((out / "per_case.csv").read_text().splitlines()))
    assert [(r["method"], r["structure"]) for r in rows] == [
        (m, s) for m in ("vanilla+learned", "samurai+learned") for s in ("LV", "LA", "RV", "RA")
    ]
    assert all(0.0 <= float(r["dice"]) <= 1.0 and r["frames"] == "2" for r in rows)
    assert (
        main(
            [
                "eval",
                str(tmp_path / "data"),
                "--prompt",
                "learned",
                "--random-weights",
                "--out",
                str(tmp_path / "e2"),
            ]
        )
        == 2
    )
