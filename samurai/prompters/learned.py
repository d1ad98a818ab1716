"""The ``learned`` prompter: class prompt tokens in SAM 2's mask decoder, trained with the LoRA
adapters (``samurai train --prompts learned``), and prompt-free chamber tracking on top of it.

:func:`track_chambers` is the loop SAMURAI lacks for echo: on the first frame each class prompt
yields its chamber's mask and object score; present chambers become tracked objects (id = the
class's position in the list, from 1). A chamber not found is looked for again every
``recheck_every`` frames. A track is lost when, for ``lost_frames`` frames in a row, its object
score is at most ``lost_threshold`` or (SAMURAI on) its Kalman track has been reset and not
re-acquired (``stable_frames == 0`` in the core's state); its class prompt is then asked again on
the next frame and, when it finds the chamber, re-seeds the track there.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from samurai.prompters.base import PrompterError, PromptResult


def _probability(logit: float) -> float:
    return float(0.5 * (1.0 + np.tanh(0.5 * logit)))  # the sigmoid, without overflow


def _box(mask: np.ndarray) -> np.ndarray | None:
    from samurai_core.boxes import mask_to_box

    return mask_to_box(mask) if mask.any() else None


class LearnedPrompter:
    """A :class:`~samurai.prompters.Prompter` over a SAM 2 predictor carrying class prompts.

    >>> prompter = make_prompter("learned", predictor=predictor)  # doctest: +SKIP
    >>> prompter.find(frame, ["lv", "la"])["lv"].present  # doctest: +SKIP
    True
    """

    name = "learned"

    def __init__(self, predictor, threshold: float = 0.0) -> None:
        if getattr(predictor, "class_prompts", None) is None:
            raise PrompterError(
                "the learned prompter needs a predictor with class prompts: load an adapter "
                "trained with `samurai train --prompts learned` (--adapter DIR)"
            )
        self.predictor = predictor
        self.threshold = float(threshold)  # object-score logit above which a class is present

    @property
    def classes(self) -> tuple[str, ...]:
        return self.predictor.class_prompts.class_names

    def find(self, frame: np.ndarray, classes: Sequence[str]) -> dict[str, PromptResult]:
        state = self.predictor.init_state(np.asarray(frame)[None])
        return self.find_in_state(state, 0, classes)

    def find_in_state(self, state, frame_idx: int, classes: Sequence[str]) -> dict[str, PromptResult]:
        """:meth:`find` on a frame of a video the predictor already holds (no re-encoding)."""
        logits, scores = self.predictor.find_classes(state, frame_idx, list(classes))
        masks = (logits[:, 0] > 0).cpu().numpy()
        results = {}
        for name, mask, score in zip(classes, masks, scores.tolist()):
            present = score > self.threshold and bool(mask.any())
            results[name] = PromptResult(
                name,
                present,
                _probability(score),
                mask if present else None,
                _box(mask) if present else None,
            )
        return results


def build_learned_prompter(predictor=None, threshold: float = 0.0) -> LearnedPrompter:
    """Registry factory: ``make_prompter("learned", predictor=..., threshold=0.0)``."""
    if predictor is None:
        raise PrompterError("the learned prompter needs predictor= (a SAM 2 predictor with an adapter)")
    return LearnedPrompter(predictor, threshold)


@dataclass(frozen=True)
class ChamberEvent:
    """A prompt-free tracking event: ``kind`` is "seed" (first found), "lost" or "reseed";
    ``score`` the chamber's presence probability (sigmoid of its object score) on that frame."""

    frame: int
    name: str
    kind: str
    score: float


def is_bad_frame(scores: dict | None, lost_threshold: float) -> bool:
    """Whether a tracked frame counts towards losing the track: the object score is at most
    ``lost_threshold``, or the SAMURAI track is not (re-)started on it (``stable_frames == 0``)."""
    if scores is None:  # a conditioning (prompted) frame
        return False
    if scores["object_score"] <= lost_threshold:
        return True
    return scores.get("stable_frames", 1) == 0


def track_chambers(
    predictor,
    source,
    classes: Sequence[str],
    lost_frames: int = 3,
    lost_threshold: float = 0.0,
    present_threshold: float = 0.0,
    recheck_every: int = 4,
    events: list | None = None,
    samurai: bool | None = None,
) -> Iterator[tuple[int, dict[int, np.ndarray], dict[int, dict]]]:
    """Track the named chambers through ``source`` with no box, all in one pass.

    Yields ``(frame_idx, {obj_id: bool [H, W]}, {obj_id: frame_scores entry})`` for every frame,
    as ``samurai.tracking.sam2_track`` does; ``obj_id`` is the class's position in
    ``classes`` plus one. ``events`` (a list) receives :class:`ChamberEvent` records.
    ``samurai`` switches SAMURAI on or off for this video (None: as the predictor is set).
    """
    if lost_frames < 1 or recheck_every < 1:
        raise PrompterError("lost_frames and recheck_every must be >= 1")
    prompter = LearnedPrompter(predictor, present_threshold)
    prompter.predictor.class_prompts.index(classes)  # unknown names fail before any work
    events = [] if events is None else events
    if samurai is not None:
        predictor.configure_samurai(enabled=samurai, config=predictor.samurai_config)
    ids = {name: k + 1 for k, name in enumerate(classes)}
    state = predictor.init_state(source)
    frames = state["frame_source"]  # streamed: tracked until its frames end (FrameSource.available)
    tracked: set[str] = set()
    bad = dict.fromkeys(classes, 0)
    start, last_search = 0, None
    while frames.available(start):
        lost = [c for c in classes if c in tracked and bad[c] >= lost_frames]
        missing = [c for c in classes if c not in tracked]
        ask = lost + (missing if last_search is None or start - last_search >= recheck_every else [])
        if ask:
            if missing and set(missing) <= set(ask):
                last_search = start
            found = prompter.find_in_state(state, start, ask)
            for name in ask:
                hit = found[name]
                if hit.present:
                    predictor.add_new_class_prompt(state, start, ids[name], name)
                    events.append(
                        ChamberEvent(start, name, "reseed" if name in tracked else "seed", hit.score)
                    )
                    tracked.add(name)
                    bad[name] = 0
                elif name in tracked:
                    bad[name] = 0  # not found again: keep following memory, ask after k more
        if not tracked:
            yield start, {}, {}
            start += 1
            continue
        for t, obj_ids, logits in predictor.propagate_in_video(state, start_frame_idx=start):
            masks = (logits[:, 0] > 0.0).cpu().numpy()
            scores = predictor.frame_scores(state, t)
            yield t, {oid: masks[i] for i, oid in enumerate(obj_ids)}, scores
            start = t + 1
            newly_lost = False
            for name in [c for c in classes if c in tracked]:
                if is_bad_frame(scores.get(ids[name]), lost_threshold):
                    bad[name] += 1
                    if bad[name] == lost_frames:
                        logit = float(scores[ids[name]]["object_score"])
                        events.append(ChamberEvent(t, name, "lost", _probability(logit)))
                        newly_lost = True
                else:
                    bad[name] = 0
            due = len(tracked) < len(classes) and start - last_search >= recheck_every
            if (newly_lost or due) and frames.available(start):
                break
