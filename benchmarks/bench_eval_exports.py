"""What eval's mask exports add per case: the time and disk of ``masks.nii.gz`` for every method
of an EchoNet-sized case (112 x 112, 200 frames, LV), and of ``masks.nii.gz`` + ``seg.dcm`` for
a DICOM cine of the generic layout (LV and LA), written as ``samurai eval`` writes them
(``samurai.eval.mask_exports.CaseExports``, two methods). Phantom masks from
``samurai.data.synthetic``; median of ``--repeats`` cases.

    python benchmarks/bench_eval_exports.py            # pinned to CPU 0
    python -m pytest benchmarks/bench_eval_exports.py -o python_files='bench_*.py'  # smoke
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

METHODS = ("vanilla", "samurai")


def _case(n_frames: int, size, labels: dict, dicom: Path | None = None):
    """An echo case whose two methods' masks are the phantom's own structures."""
    from samurai.data._base import EchoCase
    from samurai.data.synthetic import phantom_sequence

    frames, truth = phantom_sequence(n_frames, size, np.random.default_rng(0))
    meta = {"fps": 50.0} if dicom is None else {"dicom": str(dicom)}
    if dicom is not None:
        from samurai.dicom.synthetic import write_ultrasound

        write_ultrasound(dicom, frames, spacing_cm=(0.03, 0.03), frame_time_ms=20.0)
    labelled = np.zeros(n_frames, bool)
    labelled[[0, n_frames - 1]] = True
    case = EchoCase("case", frames, np.where(labelled[:, None, None], truth, 0), labelled, labels, None, meta)
    ids = sorted(labels)
    masks = np.stack([truth == k for k in ids], axis=1)  # [T, K, H, W]
    return case, masks, ids


def time_case(case, masks, ids, folder: Path) -> tuple[float, int]:
    """Seconds to write one case's exports for every method, and their bytes on disk."""
    from samurai.eval.mask_exports import CaseExports

    start = time.perf_counter()
    exporter = CaseExports(folder, case, "bench")
    try:
        for method in METHODS:
            exporter(method, masks, ids)
    finally:
        exporter.close()
    seconds = time.perf_counter() - start
    return seconds, sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(n_frames: int, size, repeats: int) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, labels, dicom in (
            ("echonet", {1: "LV"}, None),
            ("dicom", {1: "LV", 3: "LA"}, tmp / "cine.dcm"),
        ):
            case, masks, ids = _case(n_frames, size, labels, dicom)
            runs = [time_case(case, masks, ids, tmp / f"{name}{i}") for i in range(repeats)]
            out[name] = {"seconds": statistics.median(s for s, _ in runs), "bytes": runs[0][1]}
    return out


def test_bench_eval_exports_smoke():
    result = run(n_frames=4, size=(32, 32), repeats=1)
    assert result["echonet"]["bytes"] > 0 and result["dicom"]["seconds"] > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--size", type=int, default=112, help="square frames of this many pixels")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=0, help="the one core to run on")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    r = run(args.frames, (args.size, args.size), args.repeats)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"pinned to CPU {args.cpu}; load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"one case, {args.frames} frames of {args.size}x{args.size}, {len(METHODS)} methods, median of {args.repeats}:"
    )
    for name, what in (("echonet", "masks.nii.gz (LV)"), ("dicom", "masks.nii.gz + seg.dcm (LV, LA)")):
        print(f"  {what}: {1000 * r[name]['seconds']:.0f} ms per case, {r[name]['bytes'] / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
