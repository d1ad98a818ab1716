"""LoRA adapters on transformers' SAM-family video models: the 40 layers of the write-up under
transformers' names, attached, saved and loaded back with the same helpers as for sam2."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("transformers")

from fixtures_hf import FAMILY_NAMES, tiny_hf_model  # noqa: E402
from fixtures_sam2 import SYNTHETIC_BOXES, make_synthetic_frames  # noqa: E402

from samurai.train.lora import (  # noqa: E402
    DEFAULT_TARGETS,
    TRANSFORMERS_TARGETS,
    apply_lora,
    load_adapter,
    save_adapter,
    transformers_name,
)
from samurai_hf import build_samurai_hf_model, load_processor  # noqa: E402

pytestmark = pytest.mark.slow


def test_the_mapping_names_the_same_layers():
    assert len(TRANSFORMERS_TARGETS) == len(set(TRANSFORMERS_TARGETS)) == 40
    assert transformers_name("sam_mask_decoder.transformer.layers.1.cross_attn_image_to_token.out_proj") == (
        "mask_decoder.transformer.layers.1.cross_attn_image_to_token.o_proj"
    )
    assert transformers_name("memory_attention.layers.0.cross_attn_image.q_proj") == (
        "memory_attention.layers.0.cross_attn_image.q_proj"
    )
    assert [t.rsplit(".", 1)[0] for t in TRANSFORMERS_TARGETS] == [
        transformers_name(t.rsplit(".", 1)[0]) for t in DEFAULT_TARGETS
    ]


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_lora_attaches_to_the_40_layers_of_each_family(family):
    model = tiny_hf_model(family)
    apply_lora(model)
    lora = sorted({n.rsplit(".lora_", 1)[0] for n, p in model.named_parameters() if p.requires_grad})
    assert lora == sorted(TRANSFORMERS_TARGETS)
    assert all(not p.requires_grad for n, p in model.named_parameters() if "lora_" not in n)


def _masks(model, processor):
    frames = make_synthetic_frames(num_frames=4)
    session = processor.init_video_session(video=frames, inference_device="cpu")
    processor.add_inputs_to_inference_session(
        session, frame_idx=0, obj_ids=1, input_boxes=[[SYNTHETIC_BOXES[1]]]
    )
    with torch.inference_mode():
        model(inference_session=session, frame_idx=0)
        return [out.pred_masks.clone() for out in model.propagate_in_video_iterator(session)]


def test_adapter_round_trip_through_a_saved_folder(hf_tiny_folders, tmp_path):
    folder = hf_tiny_folders["edgetam_video"]
    processor = load_processor(folder)
    plain = _masks(build_samurai_hf_model(folder, samurai=None), processor)

    model = build_samurai_hf_model(folder, samurai=None)
    peft_model = apply_lora(model)
    # peft starts B at zero: the adapter changes nothing until trained.
    assert all(torch.equal(a, b) for a, b in zip(plain, _masks(model, processor)))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(0.5 * torch.randn(param.shape, generator=generator))
    adapted = _masks(model, processor)
    assert not all(torch.equal(a, b) for a, b in zip(plain, adapted))
    save_adapter(peft_model, tmp_path / "adapter")

    fresh = load_adapter(build_samurai_hf_model(folder, samurai=None), tmp_path / "adapter")
    assert all(torch.equal(a, b) for a, b in zip(adapted, _masks(fresh, processor)))
