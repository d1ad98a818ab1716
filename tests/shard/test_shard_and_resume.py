"""`samurai eval` over 2 gloo processes on CPU: torchrun's output equals one process's; a rank
killed mid-run loses only its case in flight, and the rerun resumes from the finished cases."""

import csv
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "backends")]))


# ----------------------------------------------------------------------------- balance


def test_balance_is_a_partition_within_the_greedy_bound_of_the_optimum():
    """Every case on exactly one rank, each shard in dataset order, and the largest load within
    Graham's longest-first bound (4/3 - 1/(3m)) of the optimum found by brute force."""
    import numpy as np

    from samurai.shard import balance

    rng = np.random.default_rng(0)
    for _ in range(40):
        n, m = int(rng.integers(1, 8)), int(rng.integers(2, 4))
        frames = [int(f) for f in rng.integers(1, 200, n)]
        shards = balance(frames, m)
        assert sorted(itertools.chain(*shards)) == list(range(n))
        assert all(s == sorted(s) for s in shards)
        assert balance(frames, m) == shards
        best = min(
            max(sum(f for f, r in zip(frames, a) if r == k) for k in range(m))
            for a in itertools.product(range(m), repeat=n)
        )
        largest = max(sum(frames[i] for i in s) for s in shards)
        assert largest <= (4 / 3 - 1 / (3 * m)) * best + 1e-9, (frames, m, shards)


# ----------------------------------------------------------------------------- work folder, progress


def test_case_store_keeps_finished_cases_refuses_other_settings_and_foreign_folders(tmp_path, capsys):
    import numpy as np

    from samurai.errors import UserError as CLIError
    from samurai.shard import CaseStore

    store = CaseStore(tmp_path / "run.cases")
    assert store.open({"model": "tiny", "image_size": 256}, force=False) == 0
    store.write(
        "p1/2CH",
        {"failed": False, "rows": [{"dice": 0.1 + 0.2, "hd95": float("nan")}]},
        {"ed/samurai": np.eye(3, dtype=bool)},
    )
    store.write("p1_2CH", {"failed": True})  # same safe name, another case: its own files
    assert store.finished() == {"p1/2CH"}  # a failed case is tried again
    record, arrays = store.read("p1/2CH")
    assert record["rows"][0]["dice"] == 0.1 + 0.2 and np.isnan(record["rows"][0]["hd95"])
    assert np.array_equal(arrays["ed/samurai"], np.eye(3, dtype=bool))

    assert CaseStore(store.folder).open({"model": "tiny", "image_size": 256}, force=False) == 1
    with pytest.raises(CLIError, match=r"image_size \(was 256, now 512\).*--force"):
        CaseStore(store.folder).open({"model": "tiny", "image_size": 512}, force=False)
    assert CaseStore(store.folder).open({"model": "tiny", "image_size": 512}, force=True) == 0
    assert "discarded 2 case(s)" in capsys.readouterr().err  # the failed one too

    (store.folder / "notes.txt").write_text("mine")
    store.remove()  # a file samurai did not write is kept, and so is its folder
    assert sorted(p.name for p in store.folder.iterdir()) == ["notes.txt"]
    with pytest.raises(CLIError, match="samurai did not write it"):
        CaseStore(store.folder).open({}, force=True)


def test_a_case_keeps_the_files_of_its_finished_attempt_only(tmp_path):
    """Files written while a case is worked on (eval's mask exports) are kept with its record:
    an attempt killed before its record leaves none that count, a failed attempt none, and
    discarding or removing the work folder takes them with the records."""
    from samurai.shard import CaseStore

    store = CaseStore(tmp_path / "run.cases")
    store.open({"model": "tiny"}, force=False)

    def attempt(case_id, text, failed=None):
        folder = store.staging(case_id)
        assert list(folder.iterdir()) == []  # what a killed attempt left is gone
        (folder / "vanilla").mkdir()
        (folder / "vanilla" / "masks.nii.gz").write_text(text)
        if failed is not None:  # None: killed before its record
            store.write(case_id, {"failed": failed})

    attempt("a", "killed")
    assert store.files("a") is None and store.finished() == set()
    attempt("a", "failed", failed=True)
    assert store.files("a") is None
    attempt("a", "done", failed=False)
    attempt("b", "killed")
    assert store.finished() == {"a"}
    assert (store.files("a") / "vanilla" / "masks.nii.gz").read_text() == "done"
    assert store.files("b") is None
    attempt("b", "done too", failed=False)
    assert (store.files("b") / "vanilla" / "masks.nii.gz").read_text() == "done too"
    assert store.files("a") != store.files("b")

    attempt("c", "killed")
    assert CaseStore(store.folder).open({"model": "small"}, force=True) == 0
    assert sorted(p.name for p in store.folder.iterdir()) == ["settings.json"]
    attempt("a", "done", failed=False)
    attempt("c", "killed")
    store.remove()
    assert not store.folder.exists()


def test_progress_line_counts_the_shard_and_projects_the_eta_from_frames_left(monkeypatch, capsys):
    from samurai import shard
    from samurai.distributed import DistInfo

    clock = iter([100.0, 104.0, 110.0])
    monkeypatch.setattr(shard.time, "perf_counter", lambda: next(clock))
    progress = shard.Progress(DistInfo(1, 2, 1, False), [20, 40, 60])
    progress.start("a")
    progress.finish(20, failed=False)  # 20 frames in 4 s: 5 frames/s, 100 frames left: 20 s
    progress.finish(40, failed=True)  # 60 frames in 10 s: 6 frames/s, 60 left: 10 s
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "rank 1: [1/3] a",
        "rank 1: 1 done, 0 failed, 2 left | 5.0 frames/s | ETA 0:00:20",
        "rank 1: 1 done, 1 failed, 1 left | 6.0 frames/s | ETA 0:00:10",
    ]


# ----------------------------------------------------------------------------- eval on 2 ranks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _eval_args(data, out, ckpt, *extra):
    return ["eval", str(data), "--out", str(out), "--checkpoint", str(ckpt), "--image-size", "256", *extra]


def _start_ranks(args, cwd, world=2):
    """``world`` processes joined as torchrun joins its workers (env:// rendezvous)."""
    port = str(_free_port())
    procs = []
    for rank in range(world):
        env = dict(
            ENV,
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=port,
            WORLD_SIZE=str(world),
            RANK=str(rank),
            LOCAL_RANK=str(rank),
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "samurai", *args],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return procs


def _files(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def _assert_same_output(got: Path, reference: Path):
    assert not Path(f"{got}.cases").exists()  # the work folder goes once the output is in place
    a, b = _files(got), _files(reference)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], name
    rows = list(csv.DictReader((got / "per_case.csv").read_text().splitlines()))
    assert len(rows) == 24 and all(r["status"] == "ok" for r in rows)  # 4 cases x 2 methods x 3
    ma, mb = (json.loads((f / "manifest.json").read_text()) for f in (got, reference))
    assert ma["cases"] == mb["cases"] and ma["checkpoint_sha256"] == mb["checkpoint_sha256"]
    # Every case's masks once per method, whichever rank or run tracked it (the bytes above).
    exported = sorted(p.relative_to(got).as_posix() for p in (got / "masks").rglob("*.nii.gz"))
    assert exported == sorted(
        f"masks/{c}/{m}/masks.nii.gz" for c in ma["cases"] for m in ("samurai", "vanilla")
    )
    assert ma["exports"] == mb["exports"]


@pytest.fixture(scope="module")
def camus4(tmp_path_factory):
    from samurai.data.synthetic import write_camus2023

    root = tmp_path_factory.mktemp("shard") / "camus"
    write_camus2023(root, n_patients=2, n_frames=3)  # 4 cases: 2 patients x 2CH / 4CH
    return root


@pytest.fixture(scope="module")
def single_run(camus4, sam2_tiny_checkpoint):
    """The reference: one process, as without torchrun."""
    out = camus4.parent / "single"
    done = subprocess.run(
        [sys.executable, "-m", "samurai", *_eval_args(camus4, out, sam2_tiny_checkpoint)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.slow
@pytest.mark.ddp
def test_torchrun_two_gloo_ranks_write_what_one_process_writes(
    camus4, single_run, sam2_tiny_checkpoint, tmp_path
):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "samurai",
        *_eval_args(camus4, tmp_path / "two", sam2_tiny_checkpoint),
    ]
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    # Each rank tracked its own shard (2 cases of 3 frames each) and said so.
    for rank in (0, 1):
        assert f"rank {rank}: 2 done, 0 failed, 0 left" in done.stdout
    _assert_same_output(tmp_path / "two", single_run)
    manifest = json.loads((tmp_path / "two" / "manifest.json").read_text())
    assert manifest["ranks"] == 2


@pytest.mark.slow
@pytest.mark.ddp
def test_a_killed_rank_loses_only_its_case_in_flight_and_the_rerun_resumes(
    camus4, single_run, sam2_tiny_checkpoint, tmp_path, monkeypatch
):
    args = _eval_args(camus4, "run", sam2_tiny_checkpoint)
    work = tmp_path / "run.cases"
    procs = _start_ranks(args, tmp_path)
    deadline = time.monotonic() + 300
    while True:  # rank 1's first finished case
        records = [json.loads(p.read_text()) for p in work.glob("*.json") if p.name != "settings.json"]
        if any(r["rank"] == 1 for r in records):
            break
        assert procs[1].poll() is None, procs[1].communicate()
        assert time.monotonic() < deadline, "rank 1 finished no case"
        time.sleep(0.02)
    procs[1].send_signal(signal.SIGKILL)
    procs[1].communicate(timeout=60)
    try:  # rank 0 finds its peer gone at the latest at the final barrier
        procs[0].communicate(timeout=120)
    except subprocess.TimeoutExpired:
        procs[0].kill()
        procs[0].communicate()
    assert procs[0].returncode != 0
    assert not (tmp_path / "run").exists()  # no output that looks finished
    kept = {json.loads(p.read_text())["case_id"] for p in work.glob("*.json") if p.name != "settings.json"}
    assert 1 <= len(kept) <= 3

    # Other settings are refused before any tracking, naming what changed.
    from user_errors import run_cli

    monkeypatch.chdir(tmp_path)
    refused = run_cli([*args, "--prompt", "mask"])
    assert refused.code == 2 and "prompt (was 'box', now 'mask')" in refused.stderr
    assert "Traceback" not in refused.stderr and len(list(work.glob("*.json"))) == len(kept) + 1

    procs = _start_ranks(args, tmp_path)
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-3000:] for _, e in outs]
    assert f"resuming: {len(kept)} finished case(s)" in outs[0][0]
    tracked = "".join(o for o, _ in outs)
    for case_id in kept:  # finished cases are not tracked again
        assert f"] {case_id}\n" not in tracked
    _assert_same_output(tmp_path / "run", single_run)


# ----------------------------------------------------------------------------- track, many videos


def test_a_folder_of_video_files_or_a_txt_list_means_many_videos(tmp_path):
    from samurai.track_many import is_many

    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.avi").touch()
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "00000.png").touch()
    (tmp_path / "list.txt").write_text("videos/a.avi\n")
    (tmp_path / "one.avi").touch()
    assert is_many(tmp_path / "videos") and is_many(tmp_path / "list.txt")
    assert not is_many(tmp_path / "frames") and not is_many(tmp_path / "one.avi")


@pytest.mark.slow
@pytest.mark.ddp
def test_track_many_videos_on_two_ranks_writes_what_one_video_runs_write_and_resumes(
    sam2_tiny_checkpoint, tmp_path
):
    from PIL import Image

    from samurai.cli import main
    from samurai_phantom import make_phantom

    lengths = {"v1": 3, "v2": 5, "v3": 4}
    lines, rows = [], ["video,obj_id,x1,y1,x2,y2"]
    for name, n in lengths.items():
        ph = make_phantom(n_frames=n, size=64, dropout=None)
        (tmp_path / name).mkdir()
        for t, f in enumerate(ph.frames):
            Image.fromarray(f).convert("RGB").save(tmp_path / name / f"{t:05d}.png")
        lines.append(name)
        rows.append(f"{name},1,6,8,30,44")
    (tmp_path / "videos.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "boxes.csv").write_text("\n".join(rows) + "\n")
    common = ["--checkpoint", str(sam2_tiny_checkpoint), "--image-size", "256", "--no-video"]
    args = ["track", "videos.txt", "--boxes", "boxes.csv", "--out", "many", *common]
    procs = _start_ranks(args, tmp_path)
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-3000:] for _, e in outs]
    # Balanced by frames: v2 (5) on rank 0, v3 (4) then v1 (3) on rank 1.
    assert "rank 0: 1 done, 0 failed, 0 left" in outs[0][0]
    assert "rank 1: 2 done, 0 failed, 0 left" in outs[1][0]

    for name in lengths:  # the reference: each video tracked on its own, as without torchrun
        assert (
            main(
                [
                    "track",
                    str(tmp_path / name),
                    "--box",
                    "6,8,30,44",
                    "--out",
                    str(tmp_path / f"one_{name}"),
                    *common,
                ]
            )
            == 0
        )
        a, b = _files(tmp_path / "many" / name), _files(tmp_path / f"one_{name}")
        assert sorted(a) == sorted(b) and len(a) == lengths[name] + 3  # masks, box file, scores, masks.nii.gz
        assert all(a[k] == b[k] for k in a), name

    again = subprocess.run(
        [sys.executable, "-m", "samurai", *args],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr
    assert "resuming: 3 video(s)" in again.stdout and "] v1\n" not in again.stdout
    changed = subprocess.run(
        [sys.executable, "-m", "samurai", *args, "--vanilla"],
        cwd=tmp_path,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert changed.returncode == 2 and "samurai (was True, now False)" in changed.stderr


@pytest.mark.slow
def test_one_process_interrupted_resumes_from_its_finished_cases(
    camus4, single_run, sam2_tiny_checkpoint, tmp_path, monkeypatch
):
    """Without torchrun: Ctrl-C during the third case keeps the first two; the rerun tracks the
    other two only and writes what an uninterrupted run writes."""
    from user_errors import run_cli

    from samurai.eval import echo

    monkeypatch.chdir(tmp_path)
    real, calls = echo.echo_case, []

    def interrupted_on_the_third(case, *a):
        calls.append(case.case_id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(case, *a)

    monkeypatch.setattr(echo, "echo_case", interrupted_on_the_third)
    first = run_cli(_eval_args(camus4, "run", sam2_tiny_checkpoint))
    assert first.code == 130 and not (tmp_path / "run").exists()
    monkeypatch.setattr(echo, "echo_case", real)
    again = run_cli(_eval_args(camus4, "run", sam2_tiny_checkpoint))
    assert again.code == 0, again.stderr
    assert "resuming: 2 finished case(s)" in again.stdout
    assert all(f"] {c}\n" not in again.stdout for c in calls[:2])
    assert f"[1/2] {calls[2]}\n" in again.stdout
    _assert_same_output(tmp_path / "run", single_run)
