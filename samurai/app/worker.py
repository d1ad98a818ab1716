"""The one thread that runs the model, fed by a queue.

Every request that needs the model (SAM 2, or a transformers tracker through
``samurai_hf.HFVideoPredictor``, which takes the same calls) becomes a :class:`Job`; jobs run one at a time in submission
order. A second propagation of a video whose propagation is queued or running is refused with a
message. The worker keeps the model's state of the videos it worked on last (SAM 2's
``inference_state`` with every frame's output kept), so a correction at frame ``t`` re-runs the
model from ``t`` on only. When that state is gone (server restart, undo, evicted), it is rebuilt
by replaying the session's operation log, propagating each pass only as far as later operations
need (the results on disk are not touched by a replay).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from collections import OrderedDict

import numpy as np

from samurai.app.sessions import Session, SessionError
from samurai.errors import UserError

PROMPT_OPS = ("box", "click", "class")
LIVE_STATES = 2  # videos whose model state is kept between jobs
FINISHED_JOBS_KEPT = 100  # finished jobs still reported (a session's latest is what the page asks for)


class Job:
    """One unit of model work and its progress, as the page sees it."""

    _ids = itertools.count(1)

    def __init__(self, kind: str, session: Session, args: dict):
        self.id = next(self._ids)
        self.kind, self.session, self.args = kind, session, args
        self.state = "queued"
        self.done = 0
        self.total = 0
        self.message = ""
        self.result = None
        self.finished = threading.Event()

    def view(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "session": self.session.id,
            "state": self.state,
            "done": self.done,
            "total": self.total,
            "message": self.message,
        }


class Stopped(Exception):
    """The server is stopping: the job ends between two frames."""


class ModelWorker:
    """Runs jobs in one thread. ``build`` makes the predictor (called in that thread, once);
    ``describe(predictor)`` gives the model's provenance (``samurai.provenance.run_info``),
    recorded in a session at each propagation for its exports' manifests."""

    def __init__(self, build, describe=None):
        self._build = build
        self._describe = describe
        self.predictor = None
        self.jobs: dict[int, Job] = {}
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._live: OrderedDict[str, dict] = OrderedDict()
        self._thread = threading.Thread(target=self._loop, name="samurai-model", daemon=True)

    # -------------------------------------------------------------- control
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current frame; queued jobs are dropped (their sessions say so)."""
        self._stop.set()
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def submit(self, kind: str, session: Session, **args) -> Job:
        with self._lock:
            if self._stop.is_set():
                raise SessionError("the server is stopping; start it again")
            if kind == "propagate":
                for job in self.jobs.values():
                    if (
                        job.session is session
                        and job.kind == "propagate"
                        and job.state in ("queued", "running")
                    ):
                        raise SessionError(
                            f"a propagation of this video is already {job.state} "
                            f"({job.done}/{job.total} frames); wait for it to finish"
                        )
            job = Job(kind, session, args)
            self.jobs[job.id] = job
            finished = [i for i, j in self.jobs.items() if j.finished.is_set()]
            for i in finished[: max(0, len(finished) - FINISHED_JOBS_KEPT)]:
                del self.jobs[i]
            ahead = sum(j.state in ("queued", "running") for j in self.jobs.values()) - 1
            job.message = f"queued behind {ahead} job(s)" if ahead else "starting"
            if kind == "propagate":
                session.set_status(state="queued", job=job.id, message=job.message)
        self._queue.put(job)
        return job

    def run(self, kind: str, session: Session, timeout: float = 600.0, **args):
        """Submit and wait: the job's result, or its error as a SessionError."""
        job = self.submit(kind, session, **args)
        if not job.finished.wait(timeout):
            raise SessionError(f"the model is busy; the {kind} is queued (job {job.id})")
        if job.state != "done":
            raise SessionError(job.message)
        return job.result

    def latest(self, session: Session) -> Job | None:
        jobs = [j for j in self.jobs.values() if j.session is session]
        return jobs[-1] if jobs else None

    # -------------------------------------------------------------- the thread
    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None or self._stop.is_set():
                if job is not None:
                    self._end(job, "cancelled", "the server stopped before this job ran")
                if self._stop.is_set():
                    self._drain()
                    return
                continue
            job.state = "running"
            job.message = "running"
            try:
                if self.predictor is None:
                    job.message = "loading the model"
                    self.predictor = self._build()
                    # Keep every frame's output (re-propagation from t reads t's memory), and
                    # make a corrected frame a conditioning frame, so its clicked mask is kept
                    # and enters memory (SAM 2's default re-tracks the frame, dropping the clicks).
                    self.predictor.release_old_frames = False
                    self.predictor.add_all_frames_to_correct_as_cond = True
                job.result = getattr(self, f"_do_{job.kind}")(job)
                self._end(job, "done", job.message if job.kind != "propagate" else "done")
            except Stopped:
                self._end(
                    job,
                    "interrupted",
                    f"stopped at frame {job.done} of {job.total}; "
                    "the finished frames are kept; propagate again to finish",
                )
            except (UserError, ValueError) as err:
                self._live.pop(job.session.id, None)
                self._end(job, "error", str(err))
            except Exception as err:  # a model failure must reach the page, not kill the worker
                traceback.print_exc()
                self._live.pop(job.session.id, None)
                self._end(job, "error", f"{type(err).__name__}: {err}")

    def _drain(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self._end(job, "cancelled", "the server stopped before this job ran")

    def _end(self, job: Job, state: str, message: str) -> None:
        job.state, job.message = state, message
        if job.kind == "propagate" or state != "done":
            status = "idle" if state == "done" else state
            job.session.set_status(state=status, job=job.id, message=message)
        job.finished.set()

    # -------------------------------------------------------------- model state
    def _state(self, session: Session, upto: int | None):
        """The model's state of ``session`` with every logged op applied (replayed if needed);
        ``upto``: the frame the next op works on (a replay propagates only as far as needed)."""
        live = self._live.get(session.id)
        ops = session.state["ops"]
        if live is not None and live["applied"] == len(ops):
            self._live.move_to_end(session.id)
            return live["state"]
        p = self.predictor
        state = p.init_state(str(session.folder / "frames"))
        for i, op in enumerate(ops):
            if op["kind"] in PROMPT_OPS:
                self._prompt(state, op)
                continue
            later = [o.get("frame", o.get("from")) for o in ops[i + 1 :]] + ([] if upto is None else [upto])
            end = min(later) if later else session.num_frames - 1
            if end >= op["from"]:
                for _ in p.propagate_in_video(
                    state, start_frame_idx=op["from"], max_frame_num_to_track=end - op["from"]
                ):
                    self._check_stop()
        self._live[session.id] = {"state": state, "applied": len(ops)}
        while len(self._live) > LIVE_STATES:
            self._live.popitem(last=False)
        return state

    def _applied(self, session: Session) -> None:
        self._live[session.id]["applied"] = len(session.state["ops"])

    def _prompt(self, state, op: dict):
        p = self.predictor
        if op["kind"] == "box":
            return p.add_new_points_or_box(
                state, frame_idx=op["frame"], obj_id=op["obj"], box=np.asarray(op["box"], np.float32)
            )
        if op["kind"] == "click":
            return p.add_new_points_or_box(
                state,
                frame_idx=op["frame"],
                obj_id=op["obj"],
                clear_old_points=False,
                points=np.asarray([op["point"]], np.float32),
                labels=np.asarray([op["label"]], np.int32),
            )
        if not hasattr(p, "add_new_class_prompt"):  # a session started with a SAM 2 model
            raise SessionError(
                f"structure {op['obj']} of this session was found by a SAM 2 model's learned "
                "class prompts, which this transformers model lacks; start the app with that "
                "model and adapter to correct it"
            )
        out = p.add_new_class_prompt(state, op["frame"], op["obj"], op["name"])
        return out[:3]

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise Stopped

    # -------------------------------------------------------------- jobs
    def _do_prompt(self, job: Job) -> dict:
        """A box, click or class prompt on one frame: that frame's new masks, written at once."""
        s, op = job.session, job.args["op"]
        state = self._state(s, op["frame"])
        ops = s.state["ops"]
        last = ops[-1] if ops else None
        if last is None or last["kind"] == "propagate" or last["frame"] != op["frame"]:
            s.snapshot(op["frame"], len(ops))  # a new correction round: undo comes back here
        frame_idx, obj_ids, logits = self._prompt(state, op)
        s.append_op(op)
        self._applied(s)
        masks = (logits[:, 0] > 0.0).cpu().numpy()
        s.write_frame(
            frame_idx,
            {int(o): masks[i] for i, o in enumerate(obj_ids)},
            {str(o): {"prompt": True} for o in obj_ids},
        )
        job.message = f"frame {frame_idx}: {op['kind']} on object {op['obj']}"
        return {"frame": frame_idx}

    def _do_find(self, job: Job) -> dict:
        """The learned class prompts of the adapter: find ``names`` on a frame, prompt those present."""
        s, frame, names = job.session, job.args["frame"], job.args["names"]
        p = self.predictor
        if not hasattr(p, "find_classes"):
            raise SessionError(
                "this transformers model (--model hf:DIR) has no learned class prompts (they "
                "come with a SAM 2 model's --adapter trained by `samurai train --prompts "
                "learned`): draw a box per structure"
            )
        if getattr(p, "class_prompts", None) is None:
            raise SessionError(
                "this model has no learned class prompts: start the app with --adapter "
                "DIR trained by `samurai train --prompts learned`, or draw a box per structure"
            )
        unknown = [n for n in names if n not in p.class_prompts.class_names]
        if unknown:
            raise SessionError(
                f"the adapter does not know {unknown}; it knows {list(p.class_prompts.class_names)}"
            )
        state = self._state(s, frame)
        _, scores = p.find_classes(state, frame, names)
        found = [n for n, sc in zip(names, scores.tolist()) if sc > 0.0]
        if not found:
            raise SessionError(f"none of {names} found on frame {frame}; draw a box per structure")
        for name in found:
            job.args = {"op": {"kind": "class", "frame": frame, "obj": s.add_object(name), "name": name}}
            self._do_prompt(job)
        job.message = f"found {', '.join(found)}" + (
            f"; not found: {', '.join(n for n in names if n not in found)}" if len(found) < len(names) else ""
        )
        return {"found": found}

    def _do_undo(self, job: Job) -> dict:
        """Put back the results before the last correction round; the model state is replayed
        from the shortened log by the next job."""
        self._live.pop(job.session.id, None)
        entry = job.session.undo()
        job.message = f"undone: frames {entry['from']}.. are as before"
        return entry

    def _do_propagate(self, job: Job) -> dict:
        """Track every object from frame ``start`` to the end, writing each frame as it comes."""
        s, start = job.session, job.args["start"]
        state = self._state(s, start)
        s.append_op({"kind": "propagate", "from": start})
        if self._describe is not None:
            with s.lock:
                s.state["provenance"] = self._describe(self.predictor)
        job.total = s.num_frames - start
        s.set_status(state="running", job=job.id, message="propagating")
        p = self.predictor
        t0 = time.perf_counter()
        for t, obj_ids, logits in p.propagate_in_video(state, start_frame_idx=start):
            masks = (logits[:, 0] > 0.0).cpu().numpy()
            scores = p.frame_scores(state, t)
            s.write_frame(
                t,
                {int(o): masks[i] for i, o in enumerate(obj_ids)},
                {str(o): decision(scores.get(o)) for o in obj_ids},
            )
            job.done = t - start + 1
            self._check_stop()
        self._applied(s)
        job.result = {"frames": job.done, "seconds": time.perf_counter() - t0}
        return job.result


def decision(s: dict | None) -> dict:
    """SAMURAI's decision on one frame for one object, as JSON: the chosen candidate, every
    candidate's predicted IoU, the object score, the motion IoU (None while the motion track is
    warming up), the stable-frame count and the memory frames for the next frame (of these,
    only the object score where the backend kept no candidates)."""
    if s is None:  # a prompted (conditioning) frame: SAM 2 makes one mask, no choice
        return {"prompt": True}
    if "ious" not in s:  # transformers' own tracker (SAMURAI off) keeps no candidate scores
        return {"object_score": float(s["object_score"])}
    ious = [float(v) for v in np.asarray(s["ious"]).reshape(-1)]
    chosen = int(s["chosen"])
    out = {
        "chosen": chosen,
        "ious": ious,
        "predicted_iou": ious[chosen],
        "object_score": float(s["object_score"]),
    }
    if "kf_score" in s:
        out["motion_iou"] = float(s["kf_score"]) if s.get("kf_score_valid") else None
        out["stable_frames"] = int(s["stable_frames"])
        out["memory_frames"] = [int(f) for f in np.asarray(s["memory_frames"]).reshape(-1) if f >= 0]
    return out
