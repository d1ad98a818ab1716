"""LoRA adapters: the 40 default targets, save/load round trip, merge, and clear errors."""

from __future__ import annotations

import copy
import json

import pytest

torch = pytest.importorskip("torch")

from samurai.train.loop import clip_forward  # noqa: E402
from samurai.train.lora import (  # noqa: E402
    DEFAULT_TARGETS,
    AdapterError,
    apply_lora,
    load_adapter,
    lora_state_dict,
    merge_adapter,
    save_adapter,
    trainable_parameters,
)
from samurai.train.model import build_model  # noqa: E402

pytestmark = pytest.mark.slow


def _outputs(model, clip):
    model.eval()
    with torch.no_grad():
        return clip_forward(model, clip, need_loss=False)[2]


@pytest.fixture(scope="module")
def adapted(tiny_model, tmp_path_factory):
    """A model with LoRA whose B matrices are random (so the adapter changes the output)."""
    model = copy.deepcopy(tiny_model)
    base = {k: v.clone() for k, v in model.state_dict().items()}
    peft_model = apply_lora(model)
    gen = torch.Generator().manual_seed(0)
    for name, param in model.named_parameters():
        if "lora_B" in name:
            param.data.copy_(torch.randn(param.shape, generator=gen) * 0.05)
    directory = tmp_path_factory.mktemp("adapter") / "adapter"
    save_adapter(peft_model, directory, {"lora_r": 8, "note": "test"})
    return model, peft_model, base, directory


def test_default_targets_are_the_40_attention_projections(adapted, tiny_model):
    model, _, base, _ = adapted
    assert len(DEFAULT_TARGETS) == 40 and len(set(DEFAULT_TARGETS)) == 40
    # Each target is a Linear of the plain model: A is r×in, B is out×r.
    expected = sum(8 * sum(base[f"{t}.weight"].shape) for t in DEFAULT_TARGETS)
    trainable, total = trainable_parameters(model)
    assert trainable == expected
    assert total == sum(p.numel() for p in tiny_model.parameters()) + expected
    assert all("lora_" in n for n, p in model.named_parameters() if p.requires_grad)


def test_adapter_round_trip_gives_identical_outputs(adapted, tiny_model, val_clip):
    model, _, _, directory = adapted
    assert {p.name for p in directory.iterdir()} >= {
        "adapter_model.safetensors",
        "adapter_config.json",
        "train_config.json",
    }
    assert json.loads((directory / "train_config.json").read_text())["note"] == "test"
    fresh = copy.deepcopy(tiny_model)
    plain = _outputs(fresh, val_clip)
    returned = load_adapter(fresh, directory)
    assert returned is fresh
    loaded = _outputs(fresh, val_clip)
    assert torch.equal(loaded, _outputs(model, val_clip))
    assert not torch.equal(loaded, plain)  # the adapter is active
    with pytest.raises(AdapterError, match="already carries"):
        load_adapter(fresh, directory)


def test_merged_checkpoint_loads_without_peft(adapted, sam2_tiny_checkpoint, val_clip, tmp_path):
    model, peft_model, base, _ = adapted
    path = tmp_path / "merged.pt"
    state = merge_adapter(peft_model, path)
    assert set(state) == set(base)
    assert torch.equal(
        state["image_encoder.trunk.patch_embed.proj.weight"],
        base["image_encoder.trunk.patch_embed.proj.weight"],
    )
    assert torch.load(path, weights_only=True)["model"].keys() == state.keys()
    merged = build_model("tiny", path, image_size=256)
    torch.testing.assert_close(_outputs(merged, val_clip), _outputs(model, val_clip), atol=1e-3, rtol=1e-4)
    assert any("lora_" in n for n, _ in model.named_parameters())  # the input was not modified


def _track(predictor, frames, box):
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, box=box)
    return torch.cat([m for _, _, m in predictor.propagate_in_video(state)])


def test_load_into_the_samurai_video_predictor(adapted, sam2_tiny_checkpoint):
    """`samurai track --adapter` path: the backend predictor runs with the adapter in place."""
    import numpy as np

    from samurai.data.synthetic import phantom_sequence
    from samurai_sam2 import build_samurai_video_predictor

    _, _, _, directory = adapted
    frames, masks = phantom_sequence(3, (64, 64), np.random.default_rng(0))
    rgb = np.repeat(frames[..., None], 3, axis=-1)
    rows, cols = np.nonzero(masks[0] == 1)
    box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=np.float32)
    predictor = build_samurai_video_predictor("tiny", sam2_tiny_checkpoint, device="cpu", image_size=256)
    plain = _track(predictor, rgb, box)
    assert load_adapter(predictor, directory) is predictor
    assert {n.rsplit(".lora_", 1)[0] for n in lora_state_dict(predictor)} == set(DEFAULT_TARGETS)
    adapted_masks = _track(predictor, rgb, box)
    assert adapted_masks.shape == plain.shape == (3, 1, 64, 64)
    assert not torch.equal(adapted_masks, plain)


def test_adapter_that_does_not_fit_is_refused(adapted, tmp_path):
    from safetensors.torch import load_file, save_file

    _, _, _, directory = adapted
    fresh = build_model("tiny", image_size=256)
    with pytest.raises(AdapterError, match="not a saved adapter"):
        load_adapter(fresh, tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "adapter_config.json").write_text((directory / "adapter_config.json").read_text())
    state = load_file(str(directory / "adapter_model.safetensors"))
    key = next(k for k in state if "lora_A" in k)
    state[key] = torch.zeros(8, state[key].shape[1] + 1)
    save_file(state, str(bad / "adapter_model.safetensors"))
    with pytest.raises(AdapterError, match="shape .* different model size"):
        load_adapter(fresh, bad)
    with pytest.raises(AdapterError, match="not in this model"):
        apply_lora(fresh, ["sam_mask_decoder.nope.q_proj"])
