"""Decoding speed and memory of ultrasound DICOM: samurai's streamed reader against pydicom's
``Dataset.pixel_array`` on the same JPEG-baseline 800 x 600 YBR_FULL_422 cine, on one core.

The file is written by ``samurai.dicom.synthetic`` (Pillow, quality 92, 4:2:2). Figures are the
median of ``--repeats`` passes over every frame, in frames per second; memory is the peak of
Python's allocations (tracemalloc) while streaming every frame, for a short and a 4x longer
cine: flat means streaming.

    python benchmarks/bench_dicom.py                  # 60 frames, 5 repeats, pinned to CPU 0
    python -m pytest benchmarks/bench_dicom.py -o python_files='bench_*.py' --benchmark-disable  # smoke
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np


def write_cine(path: Path, n_frames: int, size=(600, 800)) -> Path:
    from samurai.dicom.synthetic import echo_frames, write_ultrasound

    # A few distinct frames repeated: writing 100s of 800x600 phantoms would dominate the run.
    base = echo_frames(4, size)
    frames = np.stack([base[t % 4] for t in range(n_frames)])
    return write_ultrasound(path, frames, encoding="jpeg", photometric="YBR_FULL_422")


def stream_fps(path: Path) -> float:
    from samurai_common.dicom import open_dicom

    frames = open_dicom(path)
    start = time.perf_counter()
    for t in range(len(frames)):
        frames[t]
    return len(frames) / (time.perf_counter() - start)


def pillow_alone_fps(path: Path) -> float:
    """Pillow on the raw JPEG fragments, already in memory: the decoder's own speed, an upper
    bound for any reader on this machine (nothing read from the file, no bookkeeping)."""
    import io

    from PIL import Image
    from pydicom import dcmread
    from pydicom.encaps import generate_frames

    ds = dcmread(path)
    raw = list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    start = time.perf_counter()
    for data in raw:
        with Image.open(io.BytesIO(data)) as img:
            np.asarray(img.convert("RGB"))
    return len(raw) / (time.perf_counter() - start)


def pixel_array_fps(path: Path) -> float:
    from pydicom import dcmread

    start = time.perf_counter()
    arr = dcmread(path).pixel_array
    return arr.shape[0] / (time.perf_counter() - start)


def stream_peak_mb(path: Path) -> float:
    from samurai_common.dicom import open_dicom

    tracemalloc.start()
    frames = open_dicom(path)
    for t in range(len(frames)):
        frames[t]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def run(n_frames: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        short = write_cine(Path(tmp) / "short.dcm", n_frames)
        long = write_cine(Path(tmp) / "long.dcm", 4 * n_frames)
        ours = [stream_fps(short) for _ in range(repeats)]
        theirs = [pixel_array_fps(short) for _ in range(repeats)]
        bound = [pillow_alone_fps(short) for _ in range(repeats)]
        return {
            "samurai_fps": statistics.median(ours),
            "pixel_array_fps": statistics.median(theirs),
            "pillow_alone_fps": statistics.median(bound),
            "peak_mb_short": stream_peak_mb(short),
            "peak_mb_long": stream_peak_mb(long),
            "frames": n_frames,
        }


def test_bench_dicom_smoke():
    result = run(n_frames=4, repeats=1)
    assert result["samurai_fps"] > 0 and result["pixel_array_fps"] > 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=0, help="the one core to run on")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    r = run(args.frames, args.repeats)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"pinned to CPU {args.cpu}; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"JPEG baseline 800x600 YBR_FULL_422, {r['frames']} frames, median of {args.repeats}:")
    print(f"  samurai (streamed, frame by frame): {r['samurai_fps']:.0f} frames/s")
    print(f"  pydicom Dataset.pixel_array:        {r['pixel_array_fps']:.0f} frames/s")
    print(f"  Pillow alone on the raw fragments:  {r['pillow_alone_fps']:.0f} frames/s (upper bound)")
    print(
        f"  peak Python memory streaming {r['frames']} / {4 * r['frames']} frames: "
        f"{r['peak_mb_short']:.1f} / {r['peak_mb_long']:.1f} MiB"
    )


if __name__ == "__main__":
    main()
