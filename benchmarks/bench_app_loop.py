"""The loop closes: annotate phantoms through the app's API, save them as training data, train
learned chamber prompts on them, and track held-out phantoms with no box.

A simulated annotator uses the app's HTTP routes (FastAPI's test client: the routes the page
calls). On each training phantom (``samurai.data.synthetic.write_four_chamber``) it boxes the four
chambers on frame 0 from the truth, propagates, then ``rounds`` times takes the frame and chamber
with the lowest Dice among frames not corrected yet, clicks once at the deepest point of that
chamber's largest error region (positive where the mask misses the chamber, negative where it
spills over) and propagates from that frame. Then "save as training data". Learned prompts are
trained on the saved cases and, as the reference, on the truth masks of the same videos (same
settings as ``bench_chambers.py``: random-init hiera-tiny, the phantom-only trained modules), and
both track held-out phantoms box-free (``track_chambers``). Reported: the annotations' Dice
against the truth, the clicks spent, and each model's held-out Dice per chamber.

No pretrained SAM 2 weights can be had here. With ``annotator="trained"`` (the default) the
annotator's model stands in for one: the random-init base trained with box prompts on other
phantoms (same settings); with ``annotator="random"`` it is the random-init base itself, whose
masks no few clicks can fix (the pytest case: the mechanics only).

    python benchmarks/bench_app_loop.py --out runs/app_loop

The defaults are the run of docs/benchmarks.md sized to finish within 15 minutes on the shared
2-core CPU (10 min there); ``result.json`` holds the figures, the time of each stage and the
load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_chambers import CLASSES, PHANTOM_ONLY_MODULES, _predictor, _score, _train  # noqa: E402

from samurai.eval.metrics import dice  # noqa: E402

DEFAULTS = dict(
    n_train=6,
    n_val=1,
    n_test=2,
    n_frames=8,
    size=128,
    image_size=128,
    epochs=25,
    lr=5e-4,
    clip_len=2,
    rounds=2,
    annotator="trained",
)


def _error_click(pred: np.ndarray, truth: np.ndarray):
    """The deepest point of the largest error region: ``(x, y, positive)``, or None."""
    from scipy import ndimage

    missed, extra = truth & ~pred, pred & ~truth
    best = None
    for region, positive in ((missed, True), (extra, False)):
        labels, n = ndimage.label(region)
        if n == 0:
            continue
        sizes = ndimage.sum(region, labels, range(1, n + 1))
        largest = labels == (int(np.argmax(sizes)) + 1)
        depth = ndimage.distance_transform_edt(largest)
        if best is None or sizes.max() > best[0]:
            y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
            best = (sizes.max(), float(x), float(y), positive)
    return None if best is None else best[1:]


def annotate(client, video: str, truth: np.ndarray, rounds: int) -> dict:
    """One video through the API as described above; returns the clicks and final Dice."""
    from samurai_core.boxes import mask_to_box

    sid = client.post("/api/open", json={"root": 0, "path": video}).json()["id"]
    for k, name in enumerate(CLASSES, 1):
        box = [float(v) for v in mask_to_box(truth[0] == k)]
        r = client.post(f"/api/sessions/{sid}/box", json={"frame": 0, "name": name, "box": box})
        assert r.status_code == 200, r.text
    _propagate(client, sid, None)
    corrected, clicks = {0}, 0
    for _ in range(rounds):
        labels = _labels(client, sid, len(truth))
        worst = min(
            (
                (dice(labels[t] == k, truth[t] == k), t, k)
                for t in range(len(truth))
                if t not in corrected
                for k in range(1, len(CLASSES) + 1)
            ),
            default=None,
        )
        if worst is None or worst[0] >= 0.95:
            break
        _, t, k = worst
        click = _error_click(labels[t] == k, truth[t] == k)
        if click is None:
            break
        x, y, positive = click
        r = client.post(
            f"/api/sessions/{sid}/click", json={"frame": t, "obj": k, "x": x, "y": y, "positive": positive}
        )
        assert r.status_code == 200, r.text
        clicks += 1
        corrected.add(t)
        _propagate(client, sid, t)
    labels = _labels(client, sid, len(truth))
    per_chamber = {
        name: float(np.mean([dice(labels[t] == k, truth[t] == k) for t in range(len(truth))]))
        for k, name in enumerate(CLASSES, 1)
    }
    path = client.post(f"/api/sessions/{sid}/export", json={"kind": "training"}).json()["path"]
    return {"session": sid, "clicks": clicks, "dice": per_chamber, "case": path}


def _labels(client, sid, n):
    s = client.get(f"/api/sessions/{sid}").json()
    shape = (s["height"], s["width"])
    return [
        np.frombuffer(client.get(f"/api/sessions/{sid}/labels/{t}").content, np.uint8).reshape(shape)
        for t in range(n)
    ]


def _propagate(client, sid, start):
    r = client.post(f"/api/sessions/{sid}/propagate", json={} if start is None else {"start": start})
    assert r.status_code == 200, r.text
    while True:
        job = client.get(f"/api/sessions/{sid}").json()["job"]
        if job["state"] not in ("queued", "running"):
            assert job["state"] == "done", job
            return
        time.sleep(0.05)


def run(
    out_dir,
    n_train,
    n_val,
    n_test,
    n_frames,
    size,
    image_size,
    epochs,
    lr,
    clip_len,
    rounds,
    annotator: str = "trained",
    seed: int = 0,
) -> dict:
    import torch
    from fastapi.testclient import TestClient

    from samurai.app.roots import Roots
    from samurai.app.server import create_app
    from samurai.app.sessions import SessionStore
    from samurai.app.worker import ModelWorker
    from samurai.data.synthetic import write_four_chamber
    from samurai.prompters.learned import track_chambers
    from samurai.train.model import build_model
    from samurai_sam2 import build_samurai_video_predictor

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = dict(
        n_train=n_train,
        n_val=n_val,
        n_test=n_test,
        n_frames=n_frames,
        size=size,
        image_size=image_size,
        epochs=epochs,
        lr=lr,
        train_modules=PHANTOM_ONLY_MODULES,  # bench_chambers' settings
        clip_len=clip_len,
        rounds=rounds,
        annotator=annotator,
        seed=seed,
    )
    train_cases = write_four_chamber(out_dir / "truth", n_train, n_frames, size, seed=seed + 1)["cases"]
    write_four_chamber(out_dir / "val", n_val, n_frames, size, seed=seed + 3)
    test = write_four_chamber(out_dir / "test", n_test, n_frames, size, seed=seed + 2)["cases"]
    torch.manual_seed(seed)
    base = out_dir / "base_random_init.pt"
    torch.save({"model": build_model("tiny", None, "cpu", image_size).state_dict()}, base)

    seconds = {}
    load = {"start": os.getloadavg()}  # the box is shared: say how busy it was
    t0 = time.perf_counter()
    if annotator == "trained":
        write_four_chamber(out_dir / "annotator_data", n_train, n_frames, size, seed=seed + 4)
        model = _predictor(
            base,
            _train(out_dir / "annotator_data", out_dir / "val", base, out_dir / "annotator", "box", params)[
                0
            ],
            image_size,
        )
    else:
        model = build_samurai_video_predictor("tiny", str(base), device="cpu", image_size=image_size)
    seconds["annotator training"] = time.perf_counter() - t0
    app = create_app(
        Roots([out_dir / "truth"]),
        SessionStore(out_dir / "sessions"),
        ModelWorker(lambda: model),
        training_root=out_dir / "annotated",
    )
    t0 = time.perf_counter()
    with TestClient(app, base_url="http://127.0.0.1") as client:
        annotations = {
            case: annotate(client, f"{case}/frames", data["masks"], rounds)
            for case, data in train_cases.items()
        }
    seconds["annotation"] = time.perf_counter() - t0

    adapters = {}
    for label, data, name in (
        ("annotated in the app", "annotated", "on_app"),
        ("truth masks", "truth", "on_truth"),
    ):
        t0 = time.perf_counter()
        adapters[label] = _train(out_dir / data, out_dir / "val", base, out_dir / name, "learned", params)[0]
        seconds[f"training on {label}"] = time.perf_counter() - t0
    table = {}
    t0 = time.perf_counter()
    for label, adapter in adapters.items():
        predictor = _predictor(base, adapter, image_size)
        scores, found = [], []
        for case in test.values():
            rgb = np.repeat(case["frames"][..., None], 3, axis=3)
            masks = {t: m for t, m, _ in track_chambers(predictor, rgb, CLASSES, samurai=True)}
            scores.append(_score(masks, case["masks"]))
            found.append(sum(bool(m.any()) for m in masks[0].values()))
        table[label] = {c: float(np.mean([s[c] for s in scores])) for c in CLASSES}
        table[label]["mean"] = float(np.mean([table[label][c] for c in CLASSES]))
        # chambers the class prompts found on frame 0, of the 4 per held-out video
        table[label]["found"] = found
    seconds["held-out tracking"] = time.perf_counter() - t0
    load["end"] = os.getloadavg()
    ann = {c: float(np.mean([a["dice"][c] for a in annotations.values()])) for c in CLASSES}
    ann["mean"] = float(np.mean(list(ann.values())))
    result = {
        "params": params,
        "annotation_dice": ann,
        "clicks": {k: a["clicks"] for k, a in annotations.items()},
        "seconds": seconds,
        "load_average": load,
        "held_out_dice": table,
    }
    (out_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def markdown(result: dict) -> str:
    rows = [
        "| | " + " | ".join(CLASSES) + " | mean | chambers found on frame 0 |",
        "|---" * (len(CLASSES) + 3) + "|",
    ]
    a = result["annotation_dice"]
    rows.append(
        "| annotations vs truth (training videos) | "
        + " | ".join(f"{a[c]:.3f}" for c in CLASSES)
        + f" | {a['mean']:.3f} | |"
    )
    for label, row in result["held_out_dice"].items():
        rows.append(
            f"| held out, box-free, trained on {label} | "
            + " | ".join(f"{row[c]:.3f}" for c in CLASSES)
            + f" | {row['mean']:.3f} | {', '.join(f'{n}/4' for n in row['found'])} |"
        )
    return "\n".join(rows)


@pytest.mark.slow
def test_app_loop(benchmark, tmp_path):
    """A small loop (2 training videos of 6 frames, 1 epoch): the app's saved cases train learned
    prompts that then track held-out phantoms; figures in ``extra_info``."""
    pytest.importorskip("fastapi")
    pytest.importorskip("torch")
    small = {
        **DEFAULTS,
        "n_train": 2,
        "n_val": 1,
        "n_test": 1,
        "n_frames": 6,
        "epochs": 1,
        "rounds": 1,
        "annotator": "random",
    }
    result = benchmark.pedantic(run, args=(tmp_path,), kwargs=small, rounds=1, iterations=1)
    benchmark.extra_info.update(
        annotation_dice=result["annotation_dice"], held_out_dice=result["held_out_dice"]
    )
    assert len(list((tmp_path / "annotated").iterdir())) == 2  # one saved case per annotated video
    assert set(result["held_out_dice"]) == {"annotated in the app", "truth masks"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/app_loop")
    for key, value in DEFAULTS.items():
        if key != "annotator":
            parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--annotator", choices=("trained", "random"), default=DEFAULTS["annotator"])
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(int(os.environ.get("SAMURAI_BENCH_THREADS", "1")))
    params = {k: getattr(args, k) for k in DEFAULTS}
    result = run(args.out, **params)
    print(markdown(result))
    print(json.dumps({k: result[k] for k in ("clicks", "seconds", "load_average")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
