"""Training learned class prompts (``samurai train --prompts learned``): the class list of a
dataset, clips that ask for every class, and the class-prompted first frame of a clip.

On a training clip every class of the prompt table is an object. Frame 0 is prompted by each
class's tokens (no box); later frames are tracked through memory as with box prompts. A class
whose structure is not on frame 0 (no RV in a two-chamber view) has an all-zero target there,
so SAM 2's losses train its object score towards "absent" and give it no mask loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from samurai.train.clips import Clip, make_clip

# Label ids that never occur in a label map: the object of a class a case does not label.
_UNLABELLED = -1


def dataset_class_names(dataset, limit: int | None = None) -> list[str]:
    """The class names of a dataset, lower-case, ordered by label id (first seen).

    CAMUS and EchoNet name their labels in the loader (LV, MYO, LA / LV); the generic layout
    names them per case, so the first ``limit`` cases (all when None) are read.
    """
    from samurai_sam2.class_prompts import normalise_class_name

    names: dict[int, str] = {}
    for i in range(len(dataset) if limit is None else min(limit, len(dataset))):
        for label, name in sorted(dataset[i].labels.items()):
            names.setdefault(label, normalise_class_name(name))
        if dataset.kind != "generic":
            break  # one case shows the loader's fixed label names
    ordered = [names[k] for k in sorted(names)]
    return list(dict.fromkeys(ordered))


def check_val_classes(
    val_ds,
    val_idx: Sequence[int],
    known: Sequence[str],
    *,
    role: str = "validation data",
    fix: str = "validate on data with those labels, or add the classes to --classes",
) -> None:
    """Refuse validation cases that label classes the prompts do not know: they would be left
    out of the validation Dice without a word (the run would validate on the overlap only).
    ``eval --prompt learned`` uses the same rule for the cases it scores (``role``, ``fix``:
    how the message names the data and the remedy)."""
    from samurai_sam2.class_prompts import normalise_class_name

    unknown: dict[str, str] = {}  # class -> first case labelling it
    for i in val_idx:
        case = val_ds[i]
        for name in case.labels.values():
            unknown.setdefault(normalise_class_name(name), case.case_id)
        if val_ds.kind != "generic":
            break  # the other loaders name the same labels in every case
    known = [normalise_class_name(c) for c in known]
    missing = {c: where for c, where in unknown.items() if c not in known}
    if missing:
        listed = ", ".join(f"{c!r} (case {where})" for c, where in missing.items())
        raise ValueError(
            f"the {role} {val_ds.root} labels class(es) {listed} that the learned prompts "
            f"do not know; they know {list(known)} (the training set's classes, or --classes): {fix}"
        )


def class_clip(
    case, frames: list[int], image_size: int, class_names: Sequence[str], **clip_options
) -> Clip | None:
    """A clip whose objects are the classes ``class_names`` (in that order), present or not.

    Classes with a mask on frame 0 come from :func:`~samurai.train.clips.make_clip` (their
    targets on every frame); the others get all-zero targets and a zero box. Returns None when
    no class is on frame 0 (nothing to track).
    """
    from samurai_sam2.class_prompts import normalise_class_name

    ids_by_name = {normalise_class_name(n): i for i, n in case.labels.items()}
    first = case.masks[frames[0]]
    wanted = [ids_by_name.get(normalise_class_name(c), _UNLABELLED) for c in class_names]
    present = [i for i in wanted if i != _UNLABELLED and (first == i).any()]
    if not present:
        return None
    clip = make_clip(case, frames, image_size, object_ids=present, **clip_options)
    if clip is None:
        return None
    rows = {obj: k for k, obj in enumerate(clip.object_ids)}
    t, _, s, _ = clip.targets.shape
    targets = torch.zeros(t, len(wanted), s, s, dtype=clip.targets.dtype)
    boxes = torch.zeros(len(wanted), 4, dtype=clip.boxes.dtype)
    for k, obj in enumerate(wanted):
        if obj in rows:
            targets[:, k] = clip.targets[:, rows[obj]]
            boxes[k] = clip.boxes[rows[obj]]
    return clip._replace(
        targets=targets, boxes=boxes, object_ids=wanted, class_index=list(range(len(wanted)))
    )


def class_prompted_first_frame(model, class_prompts, clip: Clip, feats, pos, sizes):
    """Frame 0 of ``clip`` prompted by its classes' tokens: ``(current, sam_outputs)`` as
    ``SAM2Base._track_step`` returns them (without the high-res features and pix_feat)."""
    from samurai_sam2.class_prompts import class_prompt_heads, first_frame_features

    pix_feat, high_res = first_frame_features(model, feats, pos, sizes)
    tokens = class_prompts.tokens[torch.as_tensor(clip.class_index, device=pix_feat.device)]
    sam_outputs = class_prompt_heads(model, pix_feat, high_res, tokens)
    return {"point_inputs": None, "mask_inputs": None}, sam_outputs
