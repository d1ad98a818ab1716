"""Bad DICOM input to `samurai track`, one table row per mistake a scanner export can hold.

Every row must end with exit status 2, a message that names the file, the problem and the fix,
no traceback, and the working folder byte-for-byte as it was: no partial output, and the
earlier result (``earlier/``, a finished `track` run on a good cine) untouched. The files are
written with the test writers of samurai.dicom.synthetic, each broken in one way.
"""

import json

import pytest
from user_errors import assert_user_error, run_cli, tree_digest

pytest.importorskip("pydicom")
pytestmark = pytest.mark.slow

BOX = "20,12,44,40"
H, W = 64, 64


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from PIL import Image

    from samurai.dicom.synthetic import (
        _base_dataset,
        doppler_region,
        echo_frames,
        tissue_region,
        write_ultrasound,
    )

    root = tmp_path_factory.mktemp("dicom_world")
    frames = echo_frames(3, (H, W))
    good = write_ultrasound(root / "good.dcm", frames, encoding="jpeg", photometric="YBR_FULL_422")
    pdf = _base_dataset("1.2.840.10008.5.1.4.1.1.104.1", None)  # encapsulated PDF: no pixels
    pdf.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    pdf.save_as(root / "doc.dcm", enforce_file_format=True)
    write_ultrasound(root / "still.dcm", frames[:1])
    odd = write_ultrasound(root / "odd_syntax.dcm", frames)
    odd.write_bytes(odd.read_bytes().replace(b"1.2.840.10008.1.2.1\x00", b"1.2.840.10008.1.2.9\x00", 1))
    write_ultrasound(
        root / "dual.dcm",
        frames,
        regions=[tissue_region(W // 2, H, (0.03, 0.03)), tissue_region(W // 2, H, (0.05, 0.05))],
    )
    write_ultrasound(root / "doppler.dcm", frames, regions=[doppler_region(W, H)])
    cut = write_ultrasound(root / "cut.dcm", frames)
    cut.write_bytes(cut.read_bytes()[:-40])
    head = write_ultrasound(root / "cut_header.dcm", frames)
    head.write_bytes(head.read_bytes()[:300])
    write_ultrasound(root / "five.dcm", frames, number_of_frames=5)
    (root / "pngs").mkdir()
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(root / "pngs" / f"{t:05d}.png")
    write_ultrasound(root / "pngs" / "IM0001", frames)
    # A study export with nothing to track, and one with a cine that cannot be tracked.
    (root / "no_cines").mkdir()
    write_ultrasound(root / "no_cines" / "IM0001", frames[:1])
    write_ultrasound(root / "mixed" / "IM0001", frames)
    write_ultrasound(root / "mixed" / "IM0002", frames, regions=[doppler_region(W, H)])
    (root / "boxes.csv").write_text(f"video,obj_id,x1,y1,x2,y2\nIM0001,1,{BOX}\nIM0002,1,{BOX}\n")
    (root / "cwd").mkdir()
    earlier = run_cli(
        [
            "track",
            good,
            "--box",
            BOX,
            "--names",
            "lv",
            "--random-weights",
            "--image-size",
            "256",
            "--no-video",
            "--out",
            root / "earlier",
        ]
    )
    assert earlier.code == 0, earlier.stderr
    assert (root / "earlier" / "seg.dcm").is_file() and (root / "earlier" / "masks.nii.gz").is_file()
    return root


ONE = ["--box", BOX, "--random-weights", "--image-size", "256", "--no-video", "--out", "{root}/o"]

# (id, command line, words the message must contain: the file, the problem and the fix)
CASES = [
    (
        "dicom-no-pixel-data",
        ["track", "{root}/doc.dcm", *ONE],
        ["doc.dcm", "no pixel data", "Encapsulated PDF", "pass the ultrasound cine"],
    ),
    (
        "dicom-single-frame",
        ["track", "{root}/still.dcm", *ONE],
        ["still.dcm", "single image", "export the clip as a multi-frame"],
    ),
    (
        "dicom-unknown-transfer-syntax",
        ["track", "{root}/odd_syntax.dcm", *ONE],
        ["odd_syntax.dcm", "transfer syntax 1.2.840.10008.1.2.9", "dcmdjpeg"],
    ),
    (
        "dicom-several-tissue-regions",
        ["track", "{root}/dual.dcm", *ONE],
        ["dual.dcm", "several 2D tissue regions", "--spacing"],
    ),
    (
        "dicom-doppler-only",
        ["track", "{root}/doppler.dcm", *ONE],
        ["doppler.dcm", "only spectral (Doppler) regions", "B-mode"],
    ),
    ("dicom-truncated", ["track", "{root}/cut.dcm", *ONE], ["cut.dcm", "again"]),
    ("dicom-truncated-in-its-header", ["track", "{root}/cut_header.dcm", *ONE], ["cut_header.dcm", "again"]),
    (
        "dicom-frame-count-differs",
        ["track", "{root}/five.dcm", *ONE],
        ["five.dcm", "says it holds 5 frames", "export it again"],
    ),
    (
        "dicom-in-a-folder-of-pngs",
        ["track", "{root}/pngs", *ONE],
        ["pngs", "holds DICOM file", "IM0001", "pass it on its own"],
    ),
    (
        "dicom-bad-spacing-flag",
        ["track", "{root}/good.dcm", "--spacing", "0.03,0", *ONE],
        ["--spacing", "not a pixel spacing", "positive number of cm per pixel"],
    ),
    (
        "dicom-names-for-other-objects",
        ["track", "{root}/good.dcm", "--names", "lv,la", *ONE],
        ["2 name(s) for 1 object", "name each prompted object once"],
    ),
    (
        "dicom-study-without-cines",
        ["track", "{root}/no_cines", "--boxes", "{root}/boxes.csv", "--random-weights", "--out", "{root}/o"],
        ["no DICOM cine", "no_cines", "pass the folder of the study's ultrasound cine exports"],
    ),
    (
        "dicom-study-with-a-doppler-cine",
        ["track", "{root}/mixed", "--boxes", "{root}/boxes.csv", "--random-weights", "--out", "{root}/o"],
        ["1 problem(s)", "IM0002", "only spectral (Doppler) regions", "nothing was tracked"],
    ),
]


@pytest.mark.parametrize("argv, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_user_error(argv, needles, world, monkeypatch):
    monkeypatch.chdir(world / "cwd")
    before = tree_digest(world)
    result = run_cli([a.format(root=world) for a in argv])
    assert_user_error(result, *needles, workdir=world)
    assert tree_digest(world) == before  # nothing written, nothing removed: earlier/ intact
    assert json.loads((world / "earlier" / "manifest.json").read_text())["complete"] is True
