"""One rule in both torch backends: a SamuraiConfig's memory sizes (``num_maskmem``,
``max_obj_ptrs_in_encoder``) must be the model's; a config that differs is refused with a
message naming each field, the model's value and the fix, never silently rewritten
(``samurai_common.config``). The same cases run on a SAM 2 predictor and a transformers model,
both built with memory sizes other than the presets' (5 memory slots, 8 object pointers)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from fixtures_sam2 import IMAGE_SIZE  # noqa: E402

import samurai_core as sc  # noqa: E402

MEMORY = {"num_maskmem": 5, "max_obj_ptrs_in_encoder": 8}


class _Sam2:
    """The SAM 2 predictor behind the shared cases."""

    def __init__(self):
        pytest.importorskip("sam2")
        from samurai_sam2 import build_samurai_video_predictor

        self.owner = build_samurai_video_predictor(
            "tiny",
            None,
            device="cpu",
            image_size=IMAGE_SIZE,
            hydra_overrides_extra=[f"++model.{k}={v}" for k, v in MEMORY.items()],
        )

    def configure(self, config):
        self.owner.configure_samurai(True, config)

    @property
    def config(self):
        return self.owner.samurai_config


class _HF:
    """The transformers model behind the shared cases."""

    def __init__(self):
        pytest.importorskip("transformers")
        from fixtures_hf import tiny_hf_model

        from samurai_hf import build_samurai_hf_model

        library = tiny_hf_model(
            "sam2_video",
            num_maskmem=MEMORY["num_maskmem"],
            max_object_pointers_in_encoder=MEMORY["max_obj_ptrs_in_encoder"],
        )
        self.owner = build_samurai_hf_model(library, samurai="tiny")

    def configure(self, config):
        self.owner.configure_samurai(config)

    @property
    def config(self):
        return self.owner.samurai_config


@pytest.fixture(scope="module", params=["samurai_sam2", "samurai_hf"])
def backend(request):
    return (_Sam2 if request.param == "samurai_sam2" else _HF)()


def test_the_default_is_the_preset_with_the_model_memory(backend):
    assert backend.config == sc.preset("tiny", **MEMORY) == backend.owner.samurai_preset("tiny")
    tuned = backend.owner.samurai_preset("large", stable_frames_threshold=3)
    assert tuned == sc.preset("large", stable_frames_threshold=3, **MEMORY)
    backend.configure(tuned)
    assert backend.config == tuned


@pytest.mark.parametrize(
    "fields, named",
    [
        ({}, ["num_maskmem=7 (the model has 5)", "max_obj_ptrs_in_encoder=16 (the model has 8)"]),
        ({"num_maskmem": 5}, ["max_obj_ptrs_in_encoder=16 (the model has 8)"]),
        ({"max_obj_ptrs_in_encoder": 8}, ["num_maskmem=7 (the model has 5)"]),
        ({"num_maskmem": 3, "max_obj_ptrs_in_encoder": 8}, ["num_maskmem=3 (the model has 5)"]),
    ],
    ids=["plain-preset", "pointers", "memory-slots", "fewer-slots"],
)
def test_a_config_with_other_memory_sizes_is_refused(backend, fields, named):
    before = backend.config
    with pytest.raises(ValueError) as err:
        backend.configure(sc.preset("tiny", **fields))
    message = str(err.value)
    for part in named:
        assert part in message
    for name in set(MEMORY) - {p.split("=")[0] for p in named}:
        assert f"{name}={MEMORY[name]} (the model" not in message  # only the fields that differ
    assert (
        "samurai_preset(size" in message
        and "config._replace(num_maskmem=5, max_obj_ptrs_in_encoder=8)" in message
    )
    assert backend.config == before  # nothing changed, nothing rewritten


def test_a_config_that_is_not_a_samurai_config_is_refused(backend):
    with pytest.raises(
        TypeError, match=r"must be a samurai_core.SamuraiConfig .*samurai_preset\('tiny'.*got dict"
    ):
        backend.configure(dict(sc.preset("tiny", **MEMORY)._asdict()))


def test_hf_build_session_and_predictor_follow_the_rule(tmp_path):
    """Every way into the transformers backend applies the rule: the constructor, a session's
    own config, ``HFVideoPredictor`` and the CLI's ``--model hf:DIR`` (which takes the model's
    preset, --motion-model applied)."""
    pytest.importorskip("transformers")
    from fixtures_hf import tiny_hf_model
    from fixtures_sam2 import make_synthetic_frames

    from samurai.predictors import build_hf_predictor
    from samurai_hf import HFVideoPredictor, build_samurai_hf_model, default_processor

    library = tiny_hf_model(
        "sam2_video",
        num_maskmem=MEMORY["num_maskmem"],
        max_object_pointers_in_encoder=MEMORY["max_obj_ptrs_in_encoder"],
    )
    library_class = type(library)
    with pytest.raises(ValueError, match=r"num_maskmem=7 \(the model has 5\)"):
        build_samurai_hf_model(library, samurai=sc.preset("tiny"))
    assert type(library) is library_class  # a refused config leaves the given model as it was
    model = build_samurai_hf_model(library, samurai=None)
    processor = default_processor("sam2_video", model.config.image_size)
    with pytest.raises(ValueError, match=r"max_obj_ptrs_in_encoder=16 \(the model has 8\)"):
        HFVideoPredictor(model, processor, sc.preset("tiny"))

    session = processor.init_video_session(video=make_synthetic_frames(2), inference_device="cpu")
    session.samurai_config = sc.preset("tiny")  # a session's own setting is checked as well
    processor.add_inputs_to_inference_session(
        session, frame_idx=0, obj_ids=1, input_boxes=[[[8.0, 8.0, 40.0, 40.0]]]
    )
    with pytest.raises(ValueError, match=r"num_maskmem=7 \(the model has 5\).*model\.samurai_preset"):
        model(inference_session=session, frame_idx=0)

    library.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    predictor = build_hf_predictor(str(tmp_path), None, "cpu", None, True, None, False, motion_model="xywh")
    assert predictor.samurai_config == sc.preset("tiny", motion_model="xywh", **MEMORY)
    assert predictor.model.samurai_config == predictor.samurai_config
