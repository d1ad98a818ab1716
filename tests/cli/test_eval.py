"""`samurai eval` end to end on the synthetic dataset layouts (random-init SAM 2.1 tiny, 256 px)."""

import csv
import json

import numpy as np
import pytest
from PIL import Image

from samurai.cli import main

pytestmark = pytest.mark.slow


def _eval(*args, ckpt):
    return main(["eval", *map(str, args), "--checkpoint", str(ckpt), "--image-size", "256"])


def _rows(path):
    return list(csv.DictReader(path.read_text().splitlines()))


def test_eval_camus2023_per_structure_and_biplane_ef(sam2_tiny_checkpoint, tmp_path, capsys):
    from samurai.data.synthetic import write_camus2023

    write_camus2023(tmp_path / "camus", n_patients=1, n_frames=3)
    out = tmp_path / "eval"
    assert _eval(tmp_path / "camus", "--out", out, ckpt=sam2_tiny_checkpoint) == 0
    assert "samurai eval" in capsys.readouterr().out
    rows = _rows(out / "per_case.csv")
    # 1 patient x 2 views, 2 methods, 3 structures (LV, MYO, LA).
    assert len(rows) == 12
    assert {r["method"] for r in rows} == {"vanilla", "samurai"}
    assert {r["structure"] for r in rows} == {"LV", "MYO", "LA"}
    assert all(r["hd95_unit"] == "mm" and r["frames"] == "2" for r in rows)

    # Independent re-computation of one row: the backend's masks scored with the metrics.
    from samurai.data import open_dataset
    from samurai.eval.metrics import dice, hd95
    from samurai_core import mask_to_box
    from samurai_sam2 import build_samurai_video_predictor

    case = open_dataset(tmp_path / "camus")[0]
    predictor = build_samurai_video_predictor(
        "tiny", sam2_tiny_checkpoint, device="cpu", image_size=256, samurai=False
    )
    state = predictor.init_state(np.repeat(case.frames[..., None], 3, axis=3))
    for k in (1, 2, 3):
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=k, box=mask_to_box(case.masks[0] == k))
    lv = {t: (logits[0, 0] > 0).numpy() for t, _, logits in predictor.propagate_in_video(state)}
    row = next(
        r for r in rows if r["case"] == case.case_id and r["method"] == "vanilla" and r["structure"] == "LV"
    )
    expected = np.mean([dice(lv[t], case.masks[t] == 1) for t in (1, 2)])
    assert float(row["dice"]) == pytest.approx(expected, abs=1e-5)
    hd = [hd95(lv[t], case.masks[t] == 1, case.spacing) for t in (1, 2)]
    if np.isfinite(hd).any():
        assert float(row["hd95"]) == pytest.approx(np.nanmean(hd), rel=1e-5)

    ef = _rows(out / "ef.csv")
    assert len(ef) == 4  # 2 views x 2 methods
    for r in ef:
        assert float(r["ef_label"]) == 55.0
        if r["ef_biplane"]:
            assert float(r["ef_error"]) == pytest.approx(float(r["ef_biplane"]) - 55.0, abs=1e-3)
    summary = (out / "summary.md").read_text()
    assert "| method" in summary and "ef_mae" in summary
    assert (out / "dice_per_structure.png").stat().st_size > 0
    assert json.loads((out / "manifest.json").read_text())["methods"] == ["vanilla", "samurai"]


def test_eval_echonet_reports_ef_error(sam2_tiny_checkpoint, tmp_path):
    from samurai.data.synthetic import write_echonet

    write_echonet(tmp_path / "echonet", n_videos=1, n_frames=5, size=(64, 64))
    out = tmp_path / "eval"
    assert _eval(tmp_path / "echonet", "--out", out, "--prompt", "mask", ckpt=sam2_tiny_checkpoint) == 0
    rows = _rows(out / "per_case.csv")
    assert len(rows) == 2 and {r["structure"] for r in rows} == {"LV"}
    assert all(r["hd95_unit"] == "px" for r in rows)  # EchoNet has no pixel spacing
    ef = _rows(out / "ef.csv")
    label = float(_rows(tmp_path / "echonet" / "FileList.csv")[0]["EF"])
    for r in ef:
        assert float(r["ef_label"]) == pytest.approx(label)
        if r["ef_area_length"]:
            assert float(r["ef_error"]) == pytest.approx(float(r["ef_area_length"]) - label, abs=1e-3)


def test_eval_lasot_style_boxes(sam2_tiny_checkpoint, tmp_path):
    from samurai_phantom import make_phantom

    ph = make_phantom(n_frames=3, size=64, dropout=None)
    seq = tmp_path / "lasot" / "lv-1"
    (seq / "img").mkdir(parents=True)
    lines = []
    for t in range(3):
        Image.fromarray(ph.frames[t]).convert("RGB").save(seq / "img" / f"{t + 1:08d}.jpg")
        r, c = np.nonzero(ph.masks[t] == 1)
        lines.append(f"{c.min()},{r.min()},{np.ptp(c) + 1},{np.ptp(r) + 1}")
    (seq / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "eval"
    assert _eval(tmp_path / "lasot", "--lasot", "--out", out, ckpt=sam2_tiny_checkpoint) == 0
    rows = _rows(out / "per_case.csv")
    assert [r["method"] for r in rows] == ["vanilla", "samurai"]
    for r in rows:
        assert r["frames"] == "2"  # the prompt frame is not scored
        for key in ("success_auc", "precision_20", "norm_precision", "norm_precision_auc"):
            assert 0.0 <= float(r[key]) <= 1.0
    # The written result boxes score exactly as reported (metrics re-computed from the file).
    from samurai.eval.metrics import box_metrics
    from samurai.formats import read_lasot_boxes

    gt = read_lasot_boxes(seq / "groundtruth.txt")
    pred = read_lasot_boxes(out / "boxes" / "lv-1_samurai.txt")
    pred[~(pred[:, 2:] > 0).all(axis=1)] = np.nan
    again = box_metrics(pred[1:], gt[1:])
    assert float(rows[1]["success_auc"]) == pytest.approx(again["success_auc"], abs=1e-5)
    assert (out / "success.png").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["eval", "{tmp}/none"], "does not exist"),
        (["eval", "{tmp}", "--max-cases", "0"], "--max-cases"),
        (["eval", "{tmp}"], "cannot recognise the dataset layout"),
        (["eval", "{tmp}", "--lasot"], "no groundtruth.txt"),
    ],
)
def test_eval_errors(args, message, tmp_path, capsys):
    rc = main([a.format(tmp=tmp_path) for a in args] + ["--out", str(tmp_path / "out")])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_eval_camus2019_ed_es_frames_and_biplane_ef(sam2_tiny_checkpoint, tmp_path):
    """CAMUS 2019: only ED (frame 0) and ES are labelled; ES is scored, EF from the tracked LV."""
    from samurai.data.synthetic import write_camus2019

    n = 4
    write_camus2019(tmp_path / "camus", n_patients=1, n_testing=0, n_frames=n)
    out = tmp_path / "eval"
    assert _eval(tmp_path / "camus", "--kind", "camus2019", "--out", out, ckpt=sam2_tiny_checkpoint) == 0
    rows = _rows(out / "per_case.csv")
    assert {(r["case"], r["method"], r["structure"]) for r in rows} == {
        (f"patient0001_{v}", m, s)
        for v in ("2CH", "4CH")
        for m in ("vanilla", "samurai")
        for s in ("LV", "MYO", "LA")
    }
    assert all(r["frames"] == "1" and r["hd95_unit"] == "mm" for r in rows)  # ES only: ED is the prompt
    ef = _rows(out / "ef.csv")
    assert len(ef) == 4
    for r in ef:
        assert float(r["ef_label"]) == 50.0  # LVef of Info_*.cfg
        assert r["ed_frame"] in {str(t) for t in range(-1, n)}
        if r["ef_biplane"]:
            assert float(r["ef_error"]) == pytest.approx(float(r["ef_biplane"]) - 50.0, abs=1e-3)
        elif r["ef_area_length"]:
            assert float(r["ef_error"]) == pytest.approx(float(r["ef_area_length"]) - 50.0, abs=1e-3)
    # Both views of the patient are there: biplane EF is filled wherever both views have ED/ES.
    by_method = {}
    for r in ef:
        by_method.setdefault(r["method"], []).append(r)
    for method, pair in by_method.items():
        if all(r["ed_frame"] != "-1" for r in pair):  # one biplane EF per patient, on both rows
            assert pair[0]["ef_biplane"] != "" and pair[0]["ef_biplane"] == pair[1]["ef_biplane"], method


def _noise_recorder(monkeypatch):
    from samurai_sam2.predictor import SamuraiVideoPredictor

    seen = []
    real = SamuraiVideoPredictor._new_samurai_state

    def recording(self, *args):
        state = real(self, *args)
        seen.append((state["enabled"], state["tracks"].config))
        return state

    monkeypatch.setattr(SamuraiVideoPredictor, "_new_samurai_state", recording)
    return seen


def test_eval_generic_with_adapter_and_noise(sam2_tiny_checkpoint, tmp_path, monkeypatch):
    """Generic layout, a LoRA adapter (non-zero B: it changes the model) and a noise file: the
    adapter column comes from the adapted model, and every SAMURAI run uses the fitted noise."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from samurai.data import open_dataset
    from samurai.data.synthetic import write_generic
    from samurai.eval.echo import track_case
    from samurai.eval.metrics import dice
    from samurai.formats import save_calibration
    from samurai.train.lora import apply_lora, load_adapter, save_adapter
    from samurai_core import mask_to_box
    from samurai_core.calibrate import Calibration
    from samurai_core.types import NoiseParams
    from samurai_sam2 import build_sam2_model, build_samurai_video_predictor

    write_generic(tmp_path / "data", n_videos=1, n_frames=3)
    peft_model = apply_lora(build_sam2_model("tiny", sam2_tiny_checkpoint, image_size=256))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:  # B = 0 (peft's init) would leave the model unchanged
                param.copy_(0.5 * torch.randn(param.shape, generator=gen))
    save_adapter(peft_model, tmp_path / "adapter")
    fitted = NoiseParams(*(0.3 * (i + 1) for i in range(8)))
    noise = save_calibration(tmp_path / "noise.json", Calibration("xyah", fitted, {}))

    seen = _noise_recorder(monkeypatch)
    out = tmp_path / "eval"
    assert (
        _eval(
            tmp_path / "data",
            "--kind",
            "generic",
            "--adapter",
            tmp_path / "adapter",
            "--noise",
            noise,
            "--out",
            out,
            ckpt=sam2_tiny_checkpoint,
        )
        == 0
    )
    # One video, three methods (vanilla / samurai share a model; the adapter has its own).
    assert [enabled for enabled, _ in seen] == [False, True, True]
    assert all(cfg.noise == fitted and cfg.motion_model == "xyah" for _, cfg in seen)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["methods"] == ["vanilla", "samurai", "samurai+adapter"]
    assert manifest["noise"] == str(noise)

    rows = {(r["method"], r["structure"]): r for r in _rows(out / "per_case.csv")}
    assert {m for m, _ in rows} == {"vanilla", "samurai", "samurai+adapter"}
    assert all(r["frames"] == "1" for r in rows.values())  # frames 0 and 2 labelled; 0 is the prompt
    summary = (out / "summary.md").read_text()
    assert "samurai+adapter" in summary

    # Independent run of the adapted model: it gives the adapter column, and differs from vanilla.
    case = open_dataset(tmp_path / "data")[0]
    prompts = {k: ("box", mask_to_box(case.masks[0] == k)) for k in (1, 2, 3)}
    monkeypatch.undo()
    adapted = build_samurai_video_predictor(
        "tiny", sam2_tiny_checkpoint, device="cpu", image_size=256, samurai_config=seen[-1][1]
    )
    load_adapter(adapted, tmp_path / "adapter")
    masks = track_case(adapted, True, case.frames, prompts, 0)
    for i, (k, name) in enumerate(((1, "LV"), (2, "MYO"), (3, "LA"))):
        expected = dice(masks[2, i], case.masks[2] == k)
        assert float(rows[("samurai+adapter", name)]["dice"]) == pytest.approx(expected, abs=1e-5)
    differs = [
        abs(float(rows[("samurai+adapter", s)]["dice"]) - float(rows[("samurai", s)]["dice"])) > 1e-4
        for s in ("LV", "MYO", "LA")
    ]
    assert any(differs)


def test_cases_the_dataset_skips_are_recorded_and_said_by_the_exit_status(
    sam2_tiny_checkpoint, tmp_path, capsys
):
    """CAMUS 2019 without --split: the unlabelled testing/ patient's two views are skipped, and
    the run says so in summary.md, summary.json, the manifest and its exit status (4)."""
    from samurai.data.synthetic import write_camus2019
    from samurai.eval.runner import EXIT_SOME_SKIPPED

    write_camus2019(tmp_path / "camus", n_patients=1, n_testing=1, n_frames=3)
    out = tmp_path / "eval"
    status = main(
        [
            "eval",
            str(tmp_path / "camus"),
            "--random-weights",
            "--model",
            "tiny",
            "--image-size",
            "256",
            "--methods",
            "samurai",
            "--out",
            str(out),
        ]
    )
    assert status == EXIT_SOME_SKIPPED == 4
    expected = {"patient0002_2CH", "patient0002_4CH"}  # write_camus2019: the testing/ patient
    summary = json.loads((out / "summary.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    for record in (summary, manifest):
        assert {s["case"] for s in record["skipped"]} == expected
        assert all("unlabelled" in s["reason"] for s in record["skipped"])
    assert all(case in (out / "summary.md").read_text() for case in expected)
    assert {r["case"] for r in _rows(out / "per_case.csv")} == {"patient0001_2CH", "patient0001_4CH"}
    assert "skipped 2 case(s)" in capsys.readouterr().err
