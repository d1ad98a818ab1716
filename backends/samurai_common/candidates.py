"""The candidates of a tracking frame and what is made of the chosen one, for both backends.

On a tracking frame a SAM-family tracker's mask decoder proposes ``M`` candidate masks per
object with their predicted IoUs and an object score; SAM 2 and transformers keep the argmax
and drop the rest. Both backends keep them as :class:`Candidates`, hand all objects' to ONE
core step (:func:`decide`), then form the chosen candidate's masks and token
(:func:`select_candidate`) and its object pointer (:func:`object_pointer`) exactly as the
libraries do after their argmax. :func:`frame_scores` is the one reading of what a tracked
frame kept (see ``docs/backend.md``, "Scores").

Layout: a leading object axis ``B`` (1 in the per-object loop), then the candidate axis ``M``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from samurai_common.boxes import candidates_to_host, index_tensors


@dataclasses.dataclass
class Candidates:
    """``B`` objects' outputs on one tracking frame, before a candidate is chosen."""

    low_res: torch.Tensor  # [B, M, h, w] mask logits
    high_res: torch.Tensor  # [B, M, S, S] mask logits at the model's input size
    ious: torch.Tensor  # [B, M] predicted IoUs
    tokens: torch.Tensor  # [B, M or 1, C] decoder output tokens (object pointers before projection)
    object_score_logits: torch.Tensor  # [B, 1]
    multimask: bool  # M candidates (tracking frames); False: one mask
    features: Any = None  # the backend's image features of the frame, for its memory encoder


def split_objects(cand: Candidates) -> list[Candidates]:
    """The ``B`` objects of ``cand`` as ``B`` candidates of one object each (views; the
    frame's features shared)."""
    fields = ("low_res", "high_res", "ious", "tokens", "object_score_logits")
    parts = zip(*(getattr(cand, name).split(1) for name in fields))
    return [Candidates(*rows, multimask=cand.multimask, features=cand.features) for rows in parts]


def select_candidate(cand: Candidates, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The chosen candidates' ``(low_res [B, 1, h, w], high_res [B, 1, S, S], token [B, C])``.

    ``idx`` ``[B]`` (int64) is each object's chosen candidate; as the libraries index after
    their argmax (a single-token decoder shares its token between candidates).
    """
    if not cand.multimask:
        return cand.low_res, cand.high_res, cand.tokens[:, 0]
    batch = torch.arange(cand.low_res.size(0), device=cand.low_res.device)
    low = cand.low_res[batch, idx].unsqueeze(1)
    high = cand.high_res[batch, idx].unsqueeze(1)
    token = cand.tokens[batch, idx] if cand.tokens.size(1) > 1 else cand.tokens[:, 0]
    return low, high, token


def object_pointer(
    pointer: torch.Tensor,
    object_score_logits: torch.Tensor,
    no_object_pointer: torch.Tensor,
    *,
    soft: bool = False,
    scale: bool = True,
    weight_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """A projected object pointer blended towards the learned "no object" pointer.

    ``w = σ(score)`` (``soft``) or ``[score > 0]``; ``pointer ← w·pointer`` (``scale``, SAM 2's
    ``fixed_no_obj_ptr``), then ``pointer + (1 − w)·no_object_pointer``. ``weight_dtype`` is
    the dtype ``w`` is made in (None: the pointer's, as transformers does; SAM 2 uses float32),
    so that under autocast each backend rounds as its library does.
    """
    if soft:
        weight = object_score_logits.sigmoid()
    else:
        weight = (object_score_logits > 0).to(pointer.dtype if weight_dtype is None else weight_dtype)
    if scale:
        pointer = weight * pointer
    return pointer + (1 - weight) * no_object_pointer


def decide(tracks, obj_ids: Sequence, frame_idx: int, cands: Sequence[Candidates]):
    """One core step for the objects ``obj_ids`` whose candidates are ``cands``.

    ``cands`` hold the objects in order (one per object, or batches of several). Boxes are
    computed on the device and copied to the host with the scores in one transfer
    (``candidates_to_host``). Returns ``(chosen, records)``: per object its chosen index as a
    ``[1]`` int64 tensor on the candidates' device, and its ``samurai_common.tracks.StepRecord``.
    """
    boxes, aff, obj = candidates_to_host(
        _per_object(c.high_res for c in cands),
        _per_object(c.ious for c in cands),
        _per_object(c.object_score_logits for c in cands),
    )
    chosen, records = tracks.decide(list(obj_ids), frame_idx, boxes, aff, obj)
    return index_tensors(chosen, cands[0].ious.device, (1,)), records


def _per_object(tensors: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    # One tensor per object (views of a batch), the form candidates_to_host takes.
    out: list[torch.Tensor] = []
    for t in tensors:
        out.extend(t.unbind(0) if t.size(0) > 1 else (t,))
    return out


def frame_scores(outputs: Iterable[tuple[Any, dict | None]]) -> dict[Any, dict]:
    """Per-object scores of a tracked frame, from ``(obj_id, the frame's output or None)``.

    Every object with a tracking (non-conditioning) output on the frame has an entry, SAMURAI
    on or off:
    ``"object_score"`` (its logit); ``"ious"`` (``[M]`` predicted IoUs) and ``"chosen"`` (the
    index used) where the backend kept the candidates (always in the SAM 2 backend; in the
    transformers backend when SAMURAI ran, since the library's own tracker drops them); and
    SAMURAI's decision where it decided the frame (``StepRecord.as_dict``: ``"boxes"``,
    ``"aff"``, ``"obj"``, ``"kf_iou"``, ``"kf_score"``, ``"kf_score_valid"``,
    ``"stable_frames"``, ``"kf_box"``, ``"memory_frames"``).
    """
    scores = {}
    for obj_id, out in outputs:
        if out is None:
            continue
        entry = {"object_score": float(out["object_score_logits"].float().reshape(-1)[0])}
        if "ious" in out:
            entry["ious"] = out["ious"].float().reshape(-1).cpu().numpy()
            entry["chosen"] = int(out["chosen"].reshape(-1)[0])
        if "samurai" in out:
            entry.update(out["samurai"].as_dict())
        scores[obj_id] = entry
    return scores
