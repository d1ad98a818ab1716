"""The Python API (``samurai.track``, ``samurai.evaluate``): the documented example runs, and the
API writes what the command line writes (the commands call it)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOX = (14, 28, 46, 52)  # around the first ellipse of fixtures_sam2.make_synthetic_frames


def test_import_samurai_loads_neither_torch_nor_numpy():
    code = (
        "import sys, samurai; names = dir(samurai); "
        "print(sorted(m for m in ('torch', 'numpy', 'jax') if m in sys.modules), "
        "'track' in names and 'evaluate' in names)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["[]", "True"]


@pytest.fixture
def clip(tmp_path):
    from fixtures_sam2 import make_synthetic_frames
    from PIL import Image

    folder = tmp_path / "clip"
    folder.mkdir()
    for i, frame in enumerate(make_synthetic_frames(num_frames=4)):
        Image.fromarray(frame).save(folder / f"{i:05d}.png")
    return folder


def _cli_track(clip, ckpt, out):
    from samurai.cli import main

    argv = [
        "track",
        str(clip),
        "--box",
        ",".join(map(str, BOX)),
        "--checkpoint",
        str(ckpt),
        "--image-size",
        "256",
        "--out",
        str(out),
    ]
    assert main(argv) == 0


def _documented_example() -> str:
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split("## Track a chamber and plot its area", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_documented_example_tracks_a_chamber_and_plots_its_area(
    clip, sam2_tiny_checkpoint, tmp_path, monkeypatch
):
    pytest.importorskip("sam2")
    import matplotlib

    matplotlib.use("Agg")
    code = _documented_example()
    plot = tmp_path / "lv_area.png"
    substitutions = {  # the doc's placeholders -> a synthetic clip and a random-init model
        '"a4c.mp4"': repr(str(clip)),
        "boxes=[(40, 30, 90, 100)]": f"boxes=[{BOX}]",
        'checkpoint="sam2.1_hiera_tiny.pt"': f"checkpoint={str(sam2_tiny_checkpoint)!r}, image_size=256",
        '"lv_area.png"': repr(str(plot)),
    }
    for placeholder, value in substitutions.items():
        assert placeholder in code, placeholder
        code = code.replace(placeholder, value)
    assert len([line for line in code.splitlines() if line.strip()]) <= 6  # "about five lines"
    namespace: dict = {}
    exec(compile(code, "docs/api.md", "exec"), namespace)
    plt = namespace["plt"]
    plt.close("all")

    # The areas are the pixel counts of object 1 in the label masks that `samurai track` writes
    # (read back with Pillow).
    import numpy as np
    from PIL import Image

    _cli_track(clip, sam2_tiny_checkpoint, tmp_path / "cli")
    masks = sorted((tmp_path / "cli" / "masks").glob("*.png"))
    want = []
    for p in masks:
        with Image.open(p) as image:
            want.append(int((np.asarray(image) == 1).sum()))
    assert [int(a) for a in namespace["lv_area"]] == want and len(want) == 4
    with Image.open(plot) as image:
        assert image.format == "PNG"


def _digests(folder: Path) -> dict:
    found = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.name == "manifest.json":  # the command line that wrote it differs
                manifest = json.loads(data)
                manifest.pop("argv")
                data = json.dumps(manifest, sort_keys=True).encode()
            found[p.relative_to(folder).as_posix()] = hashlib.sha256(data).hexdigest()
    return found


def test_save_writes_what_samurai_track_writes(clip, sam2_tiny_checkpoint, tmp_path):
    pytest.importorskip("sam2")
    import samurai
    from samurai_core.boxes import mask_to_box

    _cli_track(clip, sam2_tiny_checkpoint, tmp_path / "cli")
    result = samurai.track(clip, boxes=[BOX], checkpoint=str(sam2_tiny_checkpoint), image_size=256)
    saved = result.save(tmp_path / "api")
    assert saved.frames == 4 and sorted(saved.found) == [1]
    assert _digests(tmp_path / "api") == _digests(tmp_path / "cli")
    frames = list(result)
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert frames[0].scores == {} and "chosen" in frames[1].scores[1]  # SAMURAI's decision
    for f in frames:
        np_box = mask_to_box(f.masks[1])
        assert tuple(float(v) for v in f.boxes[1]) == tuple(float(v) for v in np_box)


def test_a_plain_video_is_in_pixels_unless_a_spacing_is_given(clip, sam2_tiny_checkpoint, tmp_path):
    """The source block of a frame folder: pixels and no frame time by default; the --spacing
    value (cm per pixel) in the manifest and in masks.nii.gz's header (read with nibabel)."""
    pytest.importorskip("sam2")
    import nibabel as nib

    import samurai

    for spacing, want, zooms in ((None, None, (1.0, 1.0)), ("0.05x0.04", [0.05, 0.04], (0.5, 0.4))):
        out = tmp_path / f"run_{bool(spacing)}"
        result = samurai.track(
            clip, boxes=[BOX], checkpoint=str(sam2_tiny_checkpoint), image_size=256, spacing=spacing
        )
        assert result.save(out, video_overlay=False).exports == ("masks.nii.gz",)
        source = json.loads((out / "manifest.json").read_text())["source"]
        assert source["kind"] == "video" and source["spacing_cm"] == want
        assert source["study_hash"] is None and source["frame_time_ms"] is None
        assert source["units"]["area"] == ("cm²" if spacing else "px²")
        assert source["spacing_source"] == ("--spacing" if spacing else "unknown (values in pixels)")
        image = nib.load(str(out / "masks.nii.gz"))
        assert image.shape == (128, 96, 1, 4) and image.header.get_zooms()[:2] == pytest.approx(zooms)
    with pytest.raises(samurai.UserError, match="--spacing"):
        samurai.track(clip, boxes=[BOX], spacing="0.03,-1")
    with pytest.raises(samurai.UserError, match="2 name.s. for 1 object"):
        samurai.track(clip, boxes=[BOX], names="lv,la")


def test_bad_prompts_are_refused_before_any_model_loads(clip):
    import samurai

    with pytest.raises(samurai.UserError, match="outside the 128x96 frame"):
        samurai.track(clip, boxes=[(0, 0, 500, 20)])
    with pytest.raises(samurai.UserError, match="not both and not neither"):
        samurai.track(clip)
    with pytest.raises(samurai.UserError, match="cannot read"):
        samurai.track(clip / "absent.mp4", boxes=[BOX])


def test_evaluate_writes_what_samurai_eval_writes(tmp_path, monkeypatch):
    pytest.importorskip("sam2")
    import samurai
    from samurai.cli import main
    from samurai.data.synthetic import write_camus2023

    monkeypatch.chdir(tmp_path)
    write_camus2023(Path("camus"), n_patients=1, n_frames=3)
    model = ["--random-weights", "--image-size", "256", "--max-cases", "1"]
    assert main(["eval", "camus", "--out", "cli", *model]) == 0
    run = samurai.evaluate("camus", out="api", random_weights=True, image_size=256, max_cases=1)
    assert run.status == 0 and run.failed == [] and run.out_dir == Path("api")
    assert run.summary == Path("api/summary.md").read_text()
    assert _digests(Path("api")) == _digests(Path("cli"))
    with pytest.raises(samurai.UserError, match="unexpected keyword"):
        samurai.evaluate("camus", out="x", no_such_option=1)
