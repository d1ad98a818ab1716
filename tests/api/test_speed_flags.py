"""``--batch-objects``, ``--compile`` and ``--dtype`` (and their ``samurai.track`` arguments)
reach the SAM 2 predictor built by the one factory, ``samurai.predictors.build_predictor``, and
the manifest records them; a default run records none of them (its manifest is as before).
Refusals of bad combinations are rows of tests/cli/test_user_errors_track_eval.py."""

from __future__ import annotations

import json

import pytest

BOXES = [(14, 28, 46, 52), (70, 40, 110, 80)]


@pytest.fixture
def clip(tmp_path):
    from fixtures_sam2 import make_synthetic_frames
    from PIL import Image

    folder = tmp_path / "clip"
    folder.mkdir()
    for i, frame in enumerate(make_synthetic_frames(num_frames=3)):
        Image.fromarray(frame).save(folder / f"{i:05d}.png")
    return folder


def _count_batched_passes(monkeypatch, predictor) -> list:
    """A list that grows by one per batched frame pass of ``predictor``'s class (a spy)."""
    calls = []
    original = type(predictor)._track_objects_batched

    def spy(self, *args, **kwargs):
        calls.append(len(args[3]))  # the objects tracked together
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(predictor), "_track_objects_batched", spy)
    return calls


def test_cli_batch_objects_and_fp32_reach_the_predictor_and_the_manifest(clip, tmp_path, monkeypatch):
    import samurai.api
    from samurai.cli import main

    built = []
    real = samurai.api.Tracking.predictor.fget

    def keep(self):
        predictor = real(self)
        if not built:
            built.append(predictor)
            built.append(_count_batched_passes(monkeypatch, predictor))
        return predictor

    monkeypatch.setattr(samurai.api.Tracking, "predictor", property(keep))
    out = tmp_path / "batched"
    argv = [
        "track",
        str(clip),
        "--box",
        ",".join(map(str, BOXES[0])),
        "--box",
        ",".join(map(str, BOXES[1])),
        "--random-weights",
        "--image-size",
        "64",
        "--device",
        "cpu",
        "--no-video",
        "--batch-objects",
        "--dtype",
        "fp32",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    predictor, batched = built
    assert predictor.batch_objects and not predictor.bf16_on_cuda and not predictor.compiled
    assert batched == [2, 2]  # frames 1 and 2, both objects in one pass (frame 0 is the prompt)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["batch_objects"] is True and manifest["dtype"] == "fp32"
    assert "compile" not in manifest and "compile_s" not in manifest


def test_api_default_runs_objects_one_by_one_and_records_no_speed_options(clip, tmp_path, monkeypatch):
    import samurai

    result = samurai.track(clip, boxes=BOXES, random_weights=True, image_size=64, device="cpu")
    predictor = result.predictor
    batched = _count_batched_passes(monkeypatch, predictor)
    assert not predictor.batch_objects and predictor.bf16_on_cuda and not predictor.compiled
    result.save(tmp_path / "default", video_overlay=False)
    assert batched == []  # the per-object loop, the reference
    manifest = json.loads((tmp_path / "default" / "manifest.json").read_text())
    assert not {"batch_objects", "compile", "compile_s", "dtype"} & set(manifest)


@pytest.mark.slow
def test_compile_compiles_first_and_reports_the_time_apart(clip, tmp_path, capsys, monkeypatch):
    import torch

    import samurai

    # What is checked here is the flag's way through the API (the model compiled before the
    # first frame, the time reported apart, the manifest): torch.compile runs with its "eager"
    # backend (Dynamo captures the graphs, no code is generated), ~20 s instead of ~3 min of
    # inductor's C++ builds on a fresh 2-core machine. That the inductor-compiled model tracks
    # as the eager one does is tests/backend/test_compile.py's.
    module_compile = torch.nn.Module.compile
    backends = []  # what the API asked torch.compile for

    def compile_eagerly(self, *args, **kwargs):
        backends.append(kwargs.get("backend"))
        return module_compile(self, *args, **{**kwargs, "backend": "eager"})

    monkeypatch.setattr(torch.nn.Module, "compile", compile_eagerly)

    result = samurai.track(
        clip, boxes=BOXES[:1], random_weights=True, image_size=64, device="cpu", compile=True
    )
    predictor = result.predictor
    err = capsys.readouterr().err
    assert predictor.compiled and backends == ["inductor"] * len(predictor.COMPILED_MODULES)
    # nn.Module.compile wraps the module's forward in place: the modules that run are compiled.
    for name in predictor.COMPILED_MODULES:
        assert getattr(predictor, name)._compiled_call_impl is not None, name
    seconds = predictor.run_options["compile_s"]
    assert seconds > 0 and f"compiled the model in {seconds:.1f} s" in err
    result.save(tmp_path / "compiled", video_overlay=False)
    manifest = json.loads((tmp_path / "compiled" / "manifest.json").read_text())
    assert manifest["compile"] is True and manifest["compile_s"] == seconds
