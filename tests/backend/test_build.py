"""Building models: names, image size, strict checkpoints with errors that name the fix."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sam2")

from fixtures_sam2 import IMAGE_SIZE  # noqa: E402

from samurai_sam2 import (  # noqa: E402
    MODEL_CONFIGS,
    available_configs,
    build_sam2_model,
    build_samurai_video_predictor,
    load_checkpoint,
    model_size,
    resolve_config,
)


def test_short_names_resolve_to_shipped_configs():
    shipped = set(available_configs())
    assert len(shipped) == 8  # SAM 2 and 2.1, hiera t/s/b+/l
    for name, config in MODEL_CONFIGS.items():
        assert resolve_config(name) == config and config in shipped
    assert resolve_config("configs/sam2.1/sam2.1_hiera_l.yaml").endswith("_l.yaml")
    assert resolve_config("sam2/sam2_hiera_s.yaml") == "configs/sam2/sam2_hiera_s.yaml"
    sizes = {n: model_size(n) for n in ("tiny", "small", "base_plus", "large", "sam2-large", "medsam2")}
    assert sizes == {
        "tiny": "tiny",
        "small": "small",
        "base_plus": "base_plus",
        "large": "large",
        "sam2-large": "large",
        "medsam2": "tiny",
    }


def test_wrong_config_name_lists_valid_ones():
    with pytest.raises(
        ValueError, match=r"unknown SAM 2 model or config 'hiera_tiny'.*tiny, small.*sam2\.1_hiera_t\.yaml"
    ):
        resolve_config("hiera_tiny")


def test_image_size_must_be_a_multiple_of_32():
    with pytest.raises(ValueError, match="multiple of 32.*e.g. 256"):
        build_sam2_model("tiny", image_size=270)


@pytest.fixture(scope="module")
def tiny_model(sam2_tiny_checkpoint):
    return build_sam2_model("tiny", sam2_tiny_checkpoint, image_size=IMAGE_SIZE)


def test_checkpoint_loads_exactly(tiny_model, sam2_tiny_checkpoint):
    saved = torch.load(sam2_tiny_checkpoint, weights_only=True)["model"]
    got = tiny_model.state_dict()
    assert tiny_model.image_size == IMAGE_SIZE and not tiny_model.training
    assert set(got) == set(saved)
    assert all(torch.equal(got[k], saved[k]) for k in saved)


def test_official_format_round_trip(tiny_model, tmp_path):
    path = tmp_path / "resaved.pt"
    torch.save({"model": tiny_model.state_dict()}, path)
    torch.manual_seed(123)  # a different random init, overwritten by the checkpoint
    again = build_sam2_model("tiny", path, image_size=IMAGE_SIZE)
    a, b = tiny_model.state_dict(), again.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    image = torch.randn(1, 3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        out_a, out_b = tiny_model.forward_image(image), again.forward_image(image)
    for fa, fb in zip(out_a["backbone_fpn"], out_b["backbone_fpn"]):
        assert torch.equal(fa, fb)


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*ckpt_path=None for random weights"):
        build_sam2_model("tiny", tmp_path / "sam2.1_hiera_tiny.pt", image_size=IMAGE_SIZE)


def test_file_that_is_not_a_checkpoint(tiny_model, tmp_path):
    path = tmp_path / "weights.pt"
    path.write_text("these are not weights")
    with pytest.raises(ValueError, match="not a readable PyTorch checkpoint.*damaged or not a .pt file"):
        load_checkpoint(tiny_model, path)
    torch.save({"epoch": 3}, path)
    with pytest.raises(ValueError, match=r"holds no SAM 2 weights \(found \['epoch'\]\)"):
        load_checkpoint(tiny_model, path)


def test_missing_and_unexpected_keys_are_listed(tiny_model, sam2_tiny_checkpoint, tmp_path):
    sd = dict(torch.load(sam2_tiny_checkpoint, weights_only=True)["model"])
    sd.pop("no_obj_ptr")
    sd["adapter.lora_A.weight"] = torch.zeros(2, 2)
    path = tmp_path / "mismatch.pt"
    torch.save({"model": sd}, path)
    with pytest.raises(
        ValueError,
        match=r"missing keys: no_obj_ptr; unexpected keys: adapter\.lora_A\.weight.*build the model from the config",
    ):
        load_checkpoint(tiny_model, path)


def test_shape_mismatch_is_named(tiny_model, sam2_tiny_checkpoint, tmp_path):
    sd = dict(torch.load(sam2_tiny_checkpoint, weights_only=True)["model"])
    sd["no_obj_ptr"] = torch.zeros(1, 7)
    path = tmp_path / "shape.pt"
    torch.save({"model": sd}, path)
    with pytest.raises(
        ValueError, match=r"no_obj_ptr \(1, 7\) vs model \(1, 256\).*model size and image_size"
    ):
        load_checkpoint(tiny_model, path)


def test_sam2_checkpoint_into_sam21_model_fails_clearly(tmp_path):
    torch.manual_seed(0)
    old = build_sam2_model("sam2-tiny", image_size=IMAGE_SIZE)
    path = tmp_path / "sam2_hiera_tiny.pt"
    torch.save({"model": old.state_dict()}, path)
    with pytest.raises(
        ValueError, match=r"missing keys: no_obj_embed_spatial, obj_ptr_tpos_proj\.bias.*sam2-tiny"
    ):
        build_sam2_model("tiny", path, image_size=IMAGE_SIZE)


def test_predictor_builder_selects_our_class_and_preset(sam2_tiny_checkpoint):
    import samurai_core as sc
    from samurai_sam2 import SamuraiVideoPredictor
    from samurai_sam2.predictor import MissingExtensionWarning, _hole_filling_available

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pred = build_samurai_video_predictor(
            "tiny", sam2_tiny_checkpoint, device="cpu", image_size=IMAGE_SIZE
        )
    assert isinstance(pred, SamuraiVideoPredictor) and pred.samurai
    assert pred.samurai_config == sc.preset("tiny")
    # SAM 2's inference post-processing is kept; without sam2's compiled extension sam2 skips
    # hole filling (with a long warning per video): the backend says so once, in one line.
    said = [w for w in caught if issubclass(w.category, MissingExtensionWarning)]
    if _hole_filling_available():
        assert pred.fill_hole_area == 8 and not said
    else:
        assert pred.fill_hole_area == 0 and len(said) == 1
        assert "\n" not in str(said[0].message) and "sam2._C" in str(said[0].message)
    custom = sc.preset("large", stable_frames_threshold=3)
    off = build_samurai_video_predictor(
        "configs/sam2.1/sam2.1_hiera_t.yaml",
        sam2_tiny_checkpoint,
        device="cpu",
        samurai=False,
        samurai_config=custom,
        hydra_overrides_extra=[f"++model.image_size={IMAGE_SIZE}"],
    )
    assert not off.samurai and off.samurai_config == custom and off.image_size == IMAGE_SIZE
    with pytest.raises(TypeError, match="must be a samurai_core.SamuraiConfig"):
        off.configure_samurai(True, {"stable_frames_threshold": 3})


class _Opaque:
    """A Python object pickled into a checkpoint: what a weights-only load must refuse."""


def test_a_pickle_with_code_is_not_an_official_checkpoint_and_no_unsafe_advice(tiny_model, tmp_path):
    path = tmp_path / "pickled.pt"
    torch.save({"model": _Opaque()}, path)
    with pytest.raises(ValueError) as info:
        load_checkpoint(tiny_model, path)
    message = str(info.value)
    assert "not an official SAM 2 checkpoint" in message and "never load an untrusted pickle" in message
    assert "_Opaque" in message  # what the file holds, from torch's refusal
    assert "will likely succeed" not in message  # torch's advice to drop weights_only is not relayed


def test_non_finite_weights_are_refused_by_name(tiny_model, sam2_tiny_checkpoint, tmp_path):
    sd = dict(torch.load(sam2_tiny_checkpoint, weights_only=True)["model"])
    sd["no_obj_ptr"] = torch.full_like(sd["no_obj_ptr"], float("nan"))
    key = next(k for k in sd if k.startswith("sam_mask_decoder") and sd[k].is_floating_point())
    sd[key] = sd[key].clone()
    sd[key].view(-1)[0] = float("inf")
    path = tmp_path / "nan.pt"
    torch.save({"model": sd}, path)
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    with pytest.raises(ValueError, match=r"NaN or infinite weights in 2 tensor\(s\)") as info:
        load_checkpoint(tiny_model, path)
    assert "no_obj_ptr" in str(info.value) and key in str(info.value)
    assert all(torch.equal(before[k], v) for k, v in tiny_model.state_dict().items())  # untouched


@pytest.mark.parametrize(
    "size, ok", [(256, True), (288, True), (32, True), (80, False), (272, False), (0, False)]
)
def test_one_image_size_rule(size, ok):
    from samurai_sam2.build import check_image_size

    if ok:
        assert check_image_size(size) == size
    else:
        with pytest.raises(ValueError, match="multiple of 32|positive int"):
            check_image_size(size)


def test_medsam2_runs_at_512_unless_told_otherwise():
    from samurai_sam2.build import default_image_size

    assert default_image_size("medsam2") == 512 and default_image_size("tiny") is None
    model = build_sam2_model("medsam2")
    assert model.image_size == 512
    assert model.sam_prompt_encoder.image_embedding_size == (32, 32)  # 512 / stride 16
    assert build_sam2_model("medsam2", image_size=256).image_size == 256


@pytest.mark.parametrize(
    "suffix, size, weight",
    [("t", "tiny", 0.25), ("s", "small", 0.25), ("b+", "base_plus", 0.25), ("l", "large", 0.15)],
)
def test_official_samurai_config_names_are_aliases(suffix, size, weight):
    from samurai_sam2.build import model_size, resolve_config

    name = f"configs/samurai/sam2.1_hiera_{suffix}.yaml"
    assert resolve_config(name) == f"configs/sam2.1/sam2.1_hiera_{suffix}.yaml"
    assert model_size(name) == size
    import samurai_core as sc

    assert sc.preset(size).kf_score_weight == weight


def test_one_device_rule():
    from samurai_common.devices import resolve_device

    visible = torch.cuda.is_available()
    assert resolve_device(None) == resolve_device("auto") == torch.device("cuda:0" if visible else "cpu")
    assert resolve_device("cpu") == resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ValueError, match="'banana' is not a torch device; pass cpu, cuda"):
        resolve_device("banana")
    beyond = f"cuda:{torch.cuda.device_count() if visible else 0}"
    with pytest.raises(ValueError, match="only .* CUDA device|no CUDA device is visible.*--device cpu"):
        resolve_device(beyond if visible else "cuda")
    if not visible:  # the builders refuse it before building anything
        with pytest.raises(ValueError, match="no CUDA device is visible"):
            build_samurai_video_predictor("tiny", device="cuda", image_size=IMAGE_SIZE)


# ----------------------------------------------------------------------------- sam2 guard


def _fake_sam2_version(monkeypatch, version):
    from importlib import metadata

    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: version if name == "sam2" else real(name))


def test_unsupported_sam2_version_is_refused_at_construction(monkeypatch):
    from samurai_sam2.compat import SUPPORTED_SAM2_VERSION, UnsupportedSam2Error

    _fake_sam2_version(monkeypatch, "1.2.0")
    with pytest.raises(
        UnsupportedSam2Error,
        match=rf"sam2 1\.2\.0 is installed; .*supports sam2 "
        rf"{SUPPORTED_SAM2_VERSION} only.*pip install",
    ):
        build_samurai_video_predictor("tiny", image_size=IMAGE_SIZE, device="cpu")


def test_missing_sam2_internals_are_named(monkeypatch, sam2_tiny_checkpoint):
    from sam2.modeling.sam2_base import SAM2Base

    from samurai_sam2.compat import (
        SAM2_MODEL_ATTRIBUTES,
        SAM2_PRIVATE_METHODS,
        UnsupportedSam2Error,
        check_sam2,
    )

    pred = build_samurai_video_predictor("tiny", sam2_tiny_checkpoint, device="cpu", image_size=IMAGE_SIZE)
    check_sam2(pred)  # the installed sam2 has everything listed
    assert all(hasattr(pred, n) for n in SAM2_PRIVATE_METHODS + SAM2_MODEL_ATTRIBUTES)
    del pred.maskmem_tpos_enc  # a model attribute another release might rename
    with pytest.raises(UnsupportedSam2Error, match=r"lacks .*\(maskmem_tpos_enc\).*sam2==1\.1\.0"):
        check_sam2(pred)
    monkeypatch.delattr(SAM2Base, "_encode_new_memory")
    with pytest.raises(UnsupportedSam2Error, match=r"lacks .*\(_encode_new_memory\)"):
        build_samurai_video_predictor("tiny", image_size=IMAGE_SIZE, device="cpu")


def test_config_disagreeing_with_the_model_memory_is_refused(sam2_tiny_checkpoint):
    import samurai_core as sc

    pred = build_samurai_video_predictor("tiny", sam2_tiny_checkpoint, device="cpu", image_size=IMAGE_SIZE)
    before = pred.samurai_config
    assert before == pred.samurai_preset("tiny") == sc.preset("tiny")  # the model's 7 / 16
    for field, value in (("num_maskmem", 5), ("max_obj_ptrs_in_encoder", 8)):
        with pytest.raises(ValueError, match=rf"{field}={value} \(the model has \d+\).*samurai_preset"):
            pred.configure_samurai(True, sc.preset("tiny", **{field: value}))
        assert pred.samurai_config == before  # nothing was changed, nothing silently rewritten
