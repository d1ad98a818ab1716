"""The closed loop's mechanics end to end, at CI size (a 6-frame clip, a random-init SAM 2 tiny
at 128 px, one training step): annotate through the app's API with a correction, save as
training data, train learned prompts on what was saved, and track box-free with the trained
adapter. Oracles outside the code under test: the case's PNGs read by PIL, the adapter's class
prompts read from its safetensors file, and a forward hook on the mask decoder that sees the
prompt tokens tracking actually used. Whether the learned prompts find chambers is a question
of training budget: ``benchmarks/bench_app_loop.py``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from app_helpers import FRAMES, IMAGE_SIZE
from PIL import Image
from test_app_api import CLICK, boxed, masks_on_disk, wait

pytestmark = pytest.mark.slow


def test_annotate_save_train_track(make_app, tmp_path):
    import torch
    from safetensors import safe_open

    from samurai.data.generic import load_generic
    from samurai.train.config import TrainConfig
    from samurai.train.loop import train
    from samurai.train.lora import load_adapter
    from samurai.train.model import build_model
    from samurai_sam2 import build_samurai_video_predictor

    # annotate: boxes, propagate, one corrective click, re-propagate, save
    client = make_app()
    sid = boxed(client)
    assert client.post(f"/api/sessions/{sid}/click", json=CLICK).status_code == 200
    client.post(f"/api/sessions/{sid}/propagate", json={})
    assert wait(client, sid)["state"] == "done"
    annotated = masks_on_disk(client.store, sid)
    r = client.post(f"/api/sessions/{sid}/export", json={"kind": "training"})
    assert r.status_code == 200, r.text
    case = Path(r.json()["path"])
    training = case.parent

    # the generic loader reads the saved case as it was annotated
    (loaded,) = load_generic(training)
    for t in range(FRAMES):
        saved = np.asarray(Image.open(case / "masks" / f"{t:05d}.png"))
        assert np.array_equal(saved, annotated[t]) and np.array_equal(loaded.masks[t], annotated[t])

    # train learned prompts on it, from a saved random-init base the tracker loads too
    torch.manual_seed(0)
    base = tmp_path / "base.pt"
    torch.save({"model": build_model("tiny", None, "cpu", IMAGE_SIZE).state_dict()}, base)
    cfg = TrainConfig(
        data=str(training),
        kind="generic",
        train_split=None,
        val_split=None,
        out_dir=str(tmp_path / "run"),
        checkpoint=str(base),
        image_size=IMAGE_SIZE,
        device="cpu",
        clip_len=2,
        epochs=1,
        warmup_steps=1,
        prompts="learned",
        progress=False,
    )
    train(cfg, resume=False)
    adapter = tmp_path / "run" / "best_adapter"
    with safe_open(str(adapter / "class_prompts.safetensors"), "pt") as f:
        names = json.loads(f.metadata()["class_names"])
        tokens = f.get_tensor("tokens")
    assert names == ["lv", "la"]  # the classes are the saved case's labels.json

    # track box-free with the trained adapter: its class prompts are what the decoder is given
    trained = build_samurai_video_predictor("tiny", str(base), device="cpu", image_size=IMAGE_SIZE)
    load_adapter(trained, adapter)
    head = trained.sam_mask_decoder.pred_obj_score_head
    last = head.layers[-1] if hasattr(head, "layers") else head
    with torch.no_grad():  # an untrained model finds nothing: force every class found
        last.bias.fill_(30.0)
    seen = []

    def record(module, args, kwargs):
        seen.append(kwargs["sparse_prompt_embeddings"].detach().float().clone())

    hook = trained.sam_mask_decoder.register_forward_pre_hook(record, with_kwargs=True)
    try:
        other = make_app(build=lambda: trained, sessions=tmp_path / "tracking")
        sid = other.post("/api/open", json={"root": 0, "path": "clip"}).json()["id"]
        r = other.post(f"/api/sessions/{sid}/find", json={"names": ["lv", "la"]})
        assert r.status_code == 200, r.text
        assert r.json()["found"] == ["lv", "la"]
        other.post(f"/api/sessions/{sid}/propagate", json={})
        assert wait(other, sid)["state"] == "done"
    finally:
        hook.remove()
    assert other.get(f"/api/sessions/{sid}").json()["tracked"] == list(range(FRAMES))
    prompted = [s for s in seen if s.shape[1] == tokens.shape[1]]
    for c in range(len(names)):
        assert any(torch.allclose(s[b], tokens[c], atol=1e-5) for s in prompted for b in range(s.shape[0])), c
