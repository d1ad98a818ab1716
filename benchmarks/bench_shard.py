"""Throughput of ``samurai eval`` on 1 process vs 2 torchrun ranks (gloo, one torch thread each).

A synthetic dataset in the generic layout (``CASES`` videos of ``FRAMES`` frames, 64 x 56 px),
random-init SAM 2.1 hiera-tiny at 256 px, vanilla + SAMURAI per case. The figure is cases per
second of the tracking phase, read from each rank's last progress line (frames / frames per
second = the seconds its shard took, from its first case to its last): start-up (imports, model
build, checking the files) is left out, as it is amortised over a real dataset's thousands of
cases. With 2 ranks the run takes as long as its slower rank.

    python -m pytest benchmarks/bench_shard.py -p no:cacheprovider --benchmark-only -o python_files='bench_*.py' -s

The speed-up depends on the two cores being free: note the load average (``uptime``) with it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytestmark = [pytest.mark.slow, pytest.mark.ddp]

REPO = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "backends")]))
CASES = int(os.environ.get("SAMURAI_BENCH_CASES", "8"))
FRAMES = 4
LINE = re.compile(r"^(?:rank (\d+): )?(\d+) done, (\d+) failed, 0 left \| ([\d.]+) frames/s", re.M)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    import torch
    from fixtures_sam2 import TINY_CONFIG
    from sam2.build_sam import build_sam2

    from samurai.data.synthetic import write_generic

    root = tmp_path_factory.mktemp("bench_shard")
    write_generic(root / "data", n_videos=CASES, n_frames=FRAMES)
    torch.manual_seed(0)
    model = build_sam2(
        TINY_CONFIG, None, device="cpu", mode="eval", hydra_overrides_extra=["++model.image_size=256"]
    )
    torch.save({"model": model.state_dict()}, root / "tiny.pt")
    return root


def _run(root: Path, world: int, out: str) -> float:
    """Cases per second of the tracking phase of one ``samurai eval`` run on ``world`` ranks."""
    args = [
        "-m",
        "samurai",
        "eval",
        str(root / "data"),
        "--checkpoint",
        str(root / "tiny.pt"),
        "--image-size",
        "256",
        "--out",
        str(root / out),
    ]
    if world > 1:
        args = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(world), *args]
    done = subprocess.run(
        [sys.executable, *args], env=ENV, capture_output=True, text=True, timeout=3600, cwd=root
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = LINE.findall(done.stdout)
    assert len(ranks) == world, done.stdout
    cases = sum(int(ok) + int(bad) for _, ok, bad, _ in ranks)
    seconds = max((int(ok) + int(bad)) * FRAMES / float(fps) for _, ok, bad, fps in ranks)
    assert cases == CASES
    return cases / seconds


def test_two_ranks_vs_one_process_cases_per_second(setup, benchmark):
    load_before = os.getloadavg()
    one = _run(setup, 1, "one")
    two = benchmark.pedantic(_run, args=(setup, 2, "two"), rounds=1, iterations=1)
    load_after = os.getloadavg()
    benchmark.extra_info.update(
        cases=CASES,
        frames=FRAMES,
        one_process_cases_per_s=round(one, 4),
        two_ranks_cases_per_s=round(two, 4),
        speedup=round(two / one, 2),
        load_before=load_before,
        load_after=load_after,
        cpus=os.cpu_count(),
    )
    print(
        f"\n1 process: {one:.3f} cases/s; 2 ranks: {two:.3f} cases/s; speed-up {two / one:.2f}x "
        f"(load average {load_before[0]:.1f} before, {load_after[0]:.1f} after)"
    )
