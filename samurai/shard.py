"""Dataset-scale runs of ``eval`` and ``track``: cases sharded over torchrun's ranks, resumable.

One process (no torchrun) is a world of one rank and goes through the same steps:

1. every rank checks its share of the cases (``check_cases``) and all ranks get every problem
   and every case's frame count;
2. rank 0 opens the work folder ``OUT.cases/`` (:class:`CaseStore`): ``settings.json`` holds the
   fingerprint of everything that changes a case's result; an earlier run's folder with other
   settings is refused unless ``--force`` (which discards its cases);
3. the cases not finished yet are balanced over the ranks by frame count (``balance``), each rank
   works through its shard and writes each finished case at once, atomically (``<case>.json``,
   arrays in ``<case>.npz``, files such as eval's mask exports in the folder ``<case>.files/``),
   printing a progress line after each (:class:`Progress`);
4. all ranks meet at a barrier; rank 0 reads every case back in the dataset's order and the
   command writes its usual output through ``OutputDir`` (``main_output``, which holds the lock of
   ``--out`` for the whole run); the work folder is removed only once that output is in place.

A rank killed at any moment loses only the case it was working on: a rerun with the same
settings skips the finished ones. Cases that failed are recorded, and tried again by a rerun.
See docs/evaluation.md, "Dataset-scale runs".
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import re
import shutil
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from samurai.errors import UserError

SETTINGS = "settings.json"
WORK_SUFFIX = ".cases"
# A stored case's files, and the folder they are written into while the case is worked on.
FILES_SUFFIX = ".files"
PARTIAL_SUFFIX = ".partial"
# Ranks meet at a barrier once their shards are done; balanced shards end close together, but a
# rank may wait for a slower one for a long time (failed cases, resumed runs, uneven videos).
RANK_TIMEOUT = datetime.timedelta(hours=48)


def work_folder(out: str | Path) -> Path:
    """The per-case work folder of output folder ``out``: ``OUT.cases`` next to it."""
    out = Path(out)
    return out.with_name(out.name + WORK_SUFFIX)


# ----------------------------------------------------------------------------- ranks


def agree(info, fn: Callable):
    """``fn()`` on this rank; a UserError on any rank is raised on every rank (none hangs)."""
    from samurai.distributed import all_gather_objects

    result, error = None, None
    try:
        result = fn()
    except UserError as err:
        error = str(err)
    errors = [e for e in all_gather_objects(error, info) if e is not None]
    if errors:
        raise UserError(error or errors[0])
    return result


@contextlib.contextmanager
def main_lock(info, out: str | Path):
    """Rank 0 holds the lock of output folder ``out`` (:func:`samurai.locks.output_lock`) for
    the ``with`` block; a second run on the same ``--out`` is refused on every rank, naming the
    process that holds it."""
    from samurai.locks import OutputBusyError, output_lock

    with contextlib.ExitStack() as held:

        def take():
            if info.is_main:
                try:
                    held.enter_context(output_lock(out))
                except OutputBusyError as err:
                    raise UserError(str(err)) from None
                except OSError:  # --out cannot be made: the checks that follow say why
                    pass

        agree(info, take)
        yield


@contextlib.contextmanager
def main_output(info, out: str | Path, force: bool):
    """Rank 0's ``OutputDir`` (None on the other ranks); a refusal stops every rank.

    Rank 0 holds the lock of ``out`` (:func:`main_lock`) from before any check until the output
    is in place and the work folder ``OUT.cases/`` is removed, so that a second run on the same
    ``--out`` never shares them.
    """
    from samurai.output import OutputDir

    with main_lock(info, out):
        folder = agree(info, lambda: OutputDir(out, force=force, lock=False) if info.is_main else None)
        if folder is None:
            yield None
            return
        with folder:
            yield folder
        CaseStore(work_folder(out)).remove()  # the output is in place: its cases are done


def refuse_shared_names(cases: Sequence, what: str, fix: str) -> None:
    """Refuse, before any work, cases whose results would share one name (``case_id``: one
    overwrites the other), naming both of each pair by their ``path`` (or ``folder``)."""
    first, clashes = {}, []
    for case in cases:
        where = getattr(case, "path", None) or case.folder
        if case.case_id in first:
            clashes.append(f"{first[case.case_id]} and {where} (both {case.case_id!r})")
        else:
            first[case.case_id] = where
    if clashes:
        raise UserError(
            f"{len(clashes)} pair(s) of inputs have the same name, and so one {what}: "
            f"{'; '.join(clashes[:10])}; {fix}"
        )


def balance(frames: Sequence[int], world_size: int) -> list[list[int]]:
    """Indices of ``frames`` per rank, balanced by frame count; the same on every rank.

    Greedy longest first: each case (longest first, ties by index) goes to the rank with the
    fewest frames so far (ties by rank). Each shard is in the dataset's order.
    """
    loads = [0] * world_size
    shards: list[list[int]] = [[] for _ in range(world_size)]
    for i in sorted(range(len(frames)), key=lambda i: (-frames[i], i)):
        rank = min(range(world_size), key=lambda r: (loads[r], r))
        shards[rank].append(i)
        loads[rank] += frames[i]
    return [sorted(s) for s in shards]


def check_cases(cases: Sequence, info) -> tuple[list[str], list[int]]:
    """(problems, frame counts) of every case, each rank reading a share of them.

    A case offers ``case_id``, ``problems() -> list[str]`` (reading its files) and, once
    checked, ``n_frames``.
    """
    from samurai.distributed import all_gather_objects

    mine = []
    for i in range(info.rank, len(cases), info.world_size):
        found = cases[i].problems()
        mine.append((i, found, 0 if found else int(cases[i].n_frames)))
    problems, frames = {}, [0] * len(cases)
    for part in all_gather_objects(mine, info):
        for i, found, n in part:
            problems[i] = found
            frames[i] = n
    return [f"{cases[i].case_id}: {msg}" for i in sorted(problems) for msg in problems[i]], frames


def problems_error(problems: Sequence[str], where, fix: str) -> UserError:
    """The exit-2 error listing ``check_cases``'s problems (the first 50) in ``where``."""
    shown = "\n  ".join(problems[:50])
    more = f"\n  ... ({len(problems)} in all)" if len(problems) > 50 else ""
    return UserError(
        f"{len(problems)} problem(s) in {where}; {fix}, then run again (nothing was "
        f"tracked):\n  {shown}{more}"
    )


# ----------------------------------------------------------------------------- the work folder


def case_stem(case_id: str) -> str:
    """A file name for case ``case_id``: readable, and unique even when two ids differ only
    in the characters replaced here."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", case_id)[:80]
    return f"{safe}-{hashlib.sha1(case_id.encode()).hexdigest()[:10]}"


class CaseStore:
    """``OUT.cases/``: the settings of a run and one result per finished case.

    A case's result is a JSON record (rows, status) written last, after its arrays
    (``.npz``) and its files, all atomically: a record on disk means a complete case. Files
    (eval's ``masks.nii.gz`` / ``seg.dcm``) are written while the case is worked on into
    :meth:`staging` ``<case>.files.partial/``, which :meth:`write` renames to ``<case>.files/``
    before the record: a case killed half-way leaves only a partial folder, replaced when the
    case is done again, and no case has the files of another attempt.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _ours(self) -> bool:
        try:
            return json.loads((self.folder / SETTINGS).read_text()).get("tool") == "samurai"
        except (OSError, ValueError, AttributeError):
            return False

    def open(self, settings: dict, force: bool) -> int:
        """Create the folder or take up an earlier run's; returns how many cases it holds.

        Raises UserError when the folder is not this project's, or when its settings differ from
        ``settings`` and ``force`` is not given (the message names every difference).
        """
        from samurai.output import atomic_write_text
        from samurai.settings import changed_settings, describe_changes

        settings = json.loads(json.dumps(settings, default=str))
        if self.folder.is_symlink() or (self.folder.exists() and not self.folder.is_dir()):
            raise UserError(
                f"{self.folder} is a file or a link; samurai keeps the finished cases of "
                "a run there: move it away or choose another --out"
            )
        if self.folder.exists():
            if not self._ours():
                raise UserError(
                    f"{self.folder} exists but samurai did not write it (no samurai "
                    f"{SETTINGS}); samurai keeps the finished cases of a run there: move "
                    "it away or choose another --out"
                )
            earlier = json.loads((self.folder / SETTINGS).read_text()).get("settings", {})
            changed = changed_settings(earlier, settings, presence=True)
            if changed and not force:
                raise UserError(
                    f"{self.folder} holds {len(self.finished())} finished case(s) of an earlier run "
                    f"with other settings: {describe_changes(changed)}. Run again with the earlier "
                    "settings to resume it, or pass --force to discard those cases and start over"
                )
            if changed:
                n = self._discard()
                print(
                    f"--force: discarded {n} case(s) of an earlier run with other settings "
                    f"from {self.folder}",
                    file=sys.stderr,
                )
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.folder / SETTINGS, json.dumps({"tool": "samurai", "settings": settings}, indent=2) + "\n"
        )
        return len(self.finished())

    def _records(self):
        for path in sorted(self.folder.glob("*.json")):
            if path.name == SETTINGS:
                continue
            try:
                yield path, json.loads(path.read_text())
            except ValueError:  # cannot happen with atomic writes; a damaged file is redone
                continue

    def finished(self) -> set[str]:
        """Case ids whose result is stored and ok (failed cases are tried again)."""
        return {r["case_id"] for _, r in self._records() if not r.get("failed")}

    def _files_folder(self, stem: str, partial: bool = False) -> Path:
        return self.folder / f"{stem}{FILES_SUFFIX}{PARTIAL_SUFFIX if partial else ''}"

    def staging(self, case_id: str) -> Path:
        """An empty folder for the files of case ``case_id`` while it is worked on (what an
        interrupted attempt left there is removed); :meth:`write` keeps them with the record."""
        folder = self._files_folder(case_stem(case_id), partial=True)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        return folder

    def files(self, case_id: str) -> Path | None:
        """The folder of a stored case's files, None when it has none."""
        folder = self._files_folder(case_stem(case_id))
        return folder if folder.is_dir() else None

    def write(self, case_id: str, record: dict, arrays: dict | None = None) -> None:
        """Store a finished case: its arrays, the files of its :meth:`staging` folder (when it
        made one; a failed case's are dropped), then its record."""
        from samurai.output import atomic_write_bytes, atomic_write_text

        stem = case_stem(case_id)
        staged, files = self._files_folder(stem, partial=True), self._files_folder(stem)
        shutil.rmtree(files, ignore_errors=True)  # an earlier attempt's, never this record's
        if staged.is_dir() and not record.get("failed"):
            staged.rename(files)
        shutil.rmtree(staged, ignore_errors=True)
        if arrays:
            buf = io.BytesIO()
            np.savez_compressed(buf, **arrays)
            atomic_write_bytes(self.folder / f"{stem}.npz", buf.getvalue())
        record = {"case_id": case_id, **record, "host": socket.gethostname()}
        atomic_write_text(self.folder / f"{stem}.json", json.dumps(record, default=_plain) + "\n")

    def read(self, case_id: str) -> tuple[dict, dict]:
        """(record, arrays) of a stored case."""
        stem = case_stem(case_id)
        record = json.loads((self.folder / f"{stem}.json").read_text())
        arrays = {}
        if (self.folder / f"{stem}.npz").is_file():
            with np.load(self.folder / f"{stem}.npz") as z:
                arrays = {k: z[k] for k in z.files}
        return record, arrays

    def _discard(self) -> int:
        n = 0
        for path in self.folder.iterdir():
            if path.is_dir() and not path.is_symlink() and path.name.endswith((FILES_SUFFIX, PARTIAL_SUFFIX)):
                shutil.rmtree(path)
            elif path.suffix in (".json", ".npz", ".tmp") and path.is_file():
                n += path.suffix == ".json" and path.name != SETTINGS
                path.unlink()
        return n

    def remove(self) -> None:
        """Delete the folder once the run's output is in place (only this project's files)."""
        if not self._ours():
            return
        self._discard()
        try:
            self.folder.rmdir()
        except OSError:
            print(f"note: kept {self.folder}: it holds files samurai did not write", file=sys.stderr)


def _plain(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    raise TypeError(f"cannot store {type(value).__name__} in a case record")


def open_store(info, out: str | Path, settings: dict, force: bool) -> CaseStore:
    """Rank 0 opens the work folder of ``out``; every rank checks that it sees it (one file
    system shared by every node is required)."""
    from samurai.distributed import barrier

    store = CaseStore(work_folder(out))
    reused = agree(info, lambda: store.open(settings, force) if info.is_main else None)
    barrier(info)

    def visible():
        if not store._ours():
            raise UserError(
                f"rank {info.rank} on {socket.gethostname()} does not see {store.folder}; "
                "--out must be on a file system that every node shares"
            )

    agree(info, visible)
    if info.is_main and reused:
        print(f"resuming: {reused} finished case(s) in {store.folder} are kept", flush=True)
    elif info.is_main:
        print(
            f"each finished case is kept in {store.folder} until the output is written: after "
            "a crash, the same command resumes from them",
            flush=True,
        )
    return store


# ----------------------------------------------------------------------------- the run


class Progress:
    """One line per finished case and rank: done / failed / left of its shard, frames per
    second, ETA (from the frames still to do)."""

    def __init__(self, info, frames: Sequence[int]):
        self.prefix = f"rank {info.rank}: " if info.world_size > 1 else ""
        self.total, self.left_frames = len(frames), int(sum(frames))
        self.done = self.failed = self.frames = 0
        self.t0 = time.perf_counter()

    def start(self, case_id: str) -> None:
        print(f"{self.prefix}[{self.done + self.failed + 1}/{self.total}] {case_id}", flush=True)

    def finish(self, frames: int, failed: bool) -> None:
        self.failed += failed
        self.done += not failed
        self.frames += frames
        self.left_frames -= frames
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        fps = self.frames / elapsed
        eta = self.left_frames / fps if fps > 0 else float("inf")
        left = self.total - self.done - self.failed
        eta_text = str(datetime.timedelta(seconds=round(eta))) if np.isfinite(eta) else "?"
        print(
            f"{self.prefix}{self.done} done, {self.failed} failed, {left} left | "
            f"{fps:.1f} frames/s | ETA {eta_text}",
            flush=True,
        )


def run_shard(cases: Sequence, frames: Sequence[int], finished: set, info, work: Callable) -> list[str]:
    """Work through this rank's shard of the cases not in ``finished`` (rank 0's set counts),
    then wait for every rank; returns the ids of the cases that failed, on every rank.

    ``work(case) -> bool`` does one case, stores its result and says whether it failed.
    """
    from samurai.distributed import all_gather_objects, barrier

    finished = all_gather_objects(finished if info.is_main else None, info)[0]
    todo = [i for i, c in enumerate(cases) if c.case_id not in finished]
    shard = [todo[j] for j in balance([frames[i] for i in todo], info.world_size)[info.rank]]
    progress = Progress(info, [frames[i] for i in shard])
    failed = []
    for i in shard:
        progress.start(cases[i].case_id)
        if work(cases[i]):
            failed.append(cases[i].case_id)
        progress.finish(frames[i], cases[i].case_id in failed)
    barrier(info)
    everyone = set().union(*all_gather_objects(failed, info))
    return [c.case_id for c in cases if c.case_id in everyone]


def run_cases(
    cases: Sequence, frames: Sequence[int], store: CaseStore, info, work: Callable
) -> list[tuple[dict, dict]] | None:
    """``run_shard`` with each result kept in ``store``; rank 0 returns every case's stored
    ``(record, arrays)`` in the dataset's order, the other ranks None.

    ``work(case) -> (record, arrays)``: the record is JSON-able and says ``"failed"``.
    """

    def one(case) -> bool:
        record, arrays = work(case)
        store.write(case.case_id, {**record, "rank": info.rank}, arrays)
        return bool(record.get("failed"))

    run_shard(cases, frames, store.finished() if info.is_main else set(), info, one)
    if not info.is_main:
        return None
    return [store.read(c.case_id) for c in cases]
