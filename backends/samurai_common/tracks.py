"""Per-video SAMURAI bookkeeping of a torch backend around ``samurai_core``.

A backend keeps one :class:`VideoTracks` per video (in its inference state or session, never
on the model). It maps the backend's object ids to the core's track slots (doubling the
capacity as objects arrive, so the jitted step compiles log2(N) times), restarts an object's
motion track when a new pass starts (another start frame or direction), and runs ONE core step
per frame for every object decided on that frame.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class StepRecord:
    """One object's SAMURAI decision on one frame.

    Holds references to the frame's step output (on the host) and inputs, shared by all objects
    of the frame; :meth:`as_dict` reads this object's row on demand.
    """

    __slots__ = ("out", "slot", "boxes", "aff", "obj", "memory_frames")

    def __init__(self, out, slot, boxes, aff, obj, memory_frames):
        self.out, self.slot = out, slot
        self.boxes, self.aff, self.obj = boxes, aff, obj
        self.memory_frames = memory_frames

    def as_dict(self) -> dict:
        s, out = self.slot, self.out
        return {
            "boxes": self.boxes[s].copy(),  # candidate boxes, xyxy in model-input pixels
            "aff": self.aff[s].copy(),
            "obj": float(self.obj[s]),
            "kf_iou": out.kf_iou[s].copy(),
            "kf_score": float(out.kf_score[s]),
            "kf_score_valid": bool(out.kf_score_valid[s]),
            "stable_frames": int(out.stable_frames[s]),
            "kf_box": out.box[s].copy(),
            "memory_frames": list(self.memory_frames),  # memory for the next frame, newest first
        }


class VideoTracks:
    """The core's state for one video plus the object→slot map and each object's pass.

    Args:
      config: a validated ``samurai_core.SamuraiConfig``.
      jax_device: where the core runs (the CPU by default: its arrays are tiny).
    """

    def __init__(self, config, jax_device):
        import jax

        import samurai_core as sc

        self.config = config
        self.jax_device = jax_device
        # Candidates built on the host land on JAX's default device; move them only if needed.
        self._put = jax_device != jax.devices()[0]
        # One slot to start with: one object, the common case, gets the cheapest step.
        self.state = jax.device_put(sc.init(config, 1), jax_device)
        self.slot_of: dict[Any, int] = {}
        self.last_frame: dict[Any, int] = {}
        self.direction: dict[Any, int] = {}
        self.memory: dict[Any, list[int]] = {}  # obj_id -> memory frames (newest first)
        # obj_id -> the backend's per-object output store, to notice a reset of the video state
        self.handles: dict[Any, Any] = {}
        self._stepped_all = None  # see _all_stepped

    def _one_hot(self, slot: int) -> np.ndarray:
        mask = np.zeros(self.state.capacity, bool)
        mask[slot] = True
        return mask

    def restart(self, obj_id) -> None:
        """A new pass for ``obj_id``: its motion track and memory history start again."""
        import samurai_core as sc

        slot = self.slot_of.get(obj_id)
        if slot is not None:
            self.state = sc.add_tracks(self.config, self.state, self._one_hot(slot))
        self.memory.pop(obj_id, None)
        self.last_frame.pop(obj_id, None)

    def remove(self, obj_id) -> None:
        """Forget ``obj_id`` and free its slot."""
        import samurai_core as sc

        slot = self.slot_of.pop(obj_id, None)
        if slot is not None:
            self.state = sc.remove_tracks(self.config, self.state, self._one_hot(slot))
        for key in (self.last_frame, self.direction, self.memory, self.handles):
            key.pop(obj_id, None)

    def visit(self, obj_id, frame_idx: int, reverse: bool) -> None:
        """Note that ``obj_id`` passed ``frame_idx``; restart its track if the pass jumped."""
        direction = -1 if reverse else 1
        last = self.last_frame.get(obj_id)
        if last is not None and (last != frame_idx - direction or self.direction[obj_id] != direction):
            self.restart(obj_id)
        self.last_frame[obj_id] = frame_idx
        self.direction[obj_id] = direction

    def memory_frames(self, obj_id, frame_idx: int, reverse: bool) -> list[int]:
        """Visit ``frame_idx`` and return the memory frames (newest first) for it: the core's
        choice from the last step of this pass, else the previous frame alone (the official
        rule: it always enters)."""
        self.visit(obj_id, frame_idx, reverse)
        memory = self.memory.get(obj_id)
        if memory is None:
            return [frame_idx + (1 if reverse else -1)]
        return memory

    def slot(self, obj_id) -> int:
        """The core slot of ``obj_id``, starting a track (and doubling capacity) when new."""
        slot = self.slot_of.get(obj_id)
        if slot is not None:
            return slot
        import jax

        import samurai_core as sc

        capacity = self.state.capacity
        used = set(self.slot_of.values())
        free = [s for s in range(capacity) if s not in used]
        if not free:
            self.state = jax.device_put(sc.grow(self.config, self.state, 2 * capacity), self.jax_device)
            free = [capacity]
        slot = free[0]
        self.state = sc.add_tracks(self.config, self.state, self._one_hot(slot))
        self.slot_of[obj_id] = slot
        return slot

    def decide(self, obj_ids: list, frame_idx: int, boxes, aff, obj) -> tuple[np.ndarray, list[StepRecord]]:
        """One core step for ``obj_ids`` on ``frame_idx``.

        Args:
          obj_ids: the N objects decided on this frame.
          boxes: ``[N, M, 4]`` candidate boxes (xyxy); aff: ``[N, M]`` predicted IoUs;
            obj: ``[N]`` object score logits (NumPy, on the host; kept by the records: pass
            arrays that are not written afterwards, as ``candidates_to_host`` returns).

        Returns:
          ``chosen [N]`` candidate indices and one :class:`StepRecord` per object.
        """
        import jax

        import samurai_core as sc

        slots = [self.slot(o) for o in obj_ids]
        capacity = self.state.capacity
        if slots == list(range(capacity)):
            # Every slot, in slot order (the common case: all objects tracked on this frame):
            # the arrays are the core's inputs as they are (kept by the records, not copied).
            all_boxes = np.asarray(boxes, np.float32)
            all_aff = np.asarray(aff, np.float32)
            all_obj = np.asarray(obj, np.float32)
            stepped = self._all_stepped(capacity)
        else:
            M = boxes.shape[1]
            all_boxes = np.zeros((capacity, M, 4), np.float32)
            all_aff = np.zeros((capacity, M), np.float32)
            all_obj = np.zeros((capacity,), np.float32)
            stepped = np.zeros((capacity,), bool)
            all_boxes[slots], all_aff[slots], all_obj[slots] = boxes, aff, obj
            stepped[slots] = True
        cand = sc.Candidates(all_boxes, all_aff, all_obj, np.asarray(frame_idx, np.int32), stepped)
        if self._put:
            cand = jax.device_put(cand, self.jax_device)
        self.state, out = sc.step(self.config, self.state, cand)
        out = out.to_host()
        # One host list for all slots: reading rows of the NumPy view per object costs more.
        memory_rows = out.memory_frames.tolist()
        records = []
        for obj_id, slot in zip(obj_ids, slots):
            memory = [f for f in memory_rows[slot] if f >= 0]
            self.memory[obj_id] = memory
            records.append(StepRecord(out, slot, all_boxes, all_aff, all_obj, memory))
        return out.chosen[slots].astype(np.int64), records

    def _all_stepped(self, capacity: int):
        """An all-True ``stepped`` row of ``capacity`` slots, on the core's device: made once
        per capacity, not sent to the device every frame."""
        if self._stepped_all is None or self._stepped_all.shape != (capacity,):
            import jax

            self._stepped_all = jax.device_put(np.ones(capacity, bool), self.jax_device)
        return self._stepped_all
