"""What a run's manifest records so that it can be reproduced: file hashes, the model and input
files of a run (``run_info``), its prompts (``prompt_info``). Package versions are added by the
manifest's writer, :class:`samurai.output.OutputDir`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(path: str | os.PathLike | None):
    """SHA-256 of a file, ``{relative path: sha256}`` of a folder's files, None for None."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        return {str(p.relative_to(path)): file_sha256(p) for p in sorted(path.rglob("*")) if p.is_file()}
    return file_sha256(path)


def run_info(
    predictor, *, command: str, model: str, checkpoint=None, adapter=None, noise=None, seed=None, argv=None
) -> dict:
    """What a run's manifest records so that it can be reproduced: the command line, the model
    and every input file's SHA-256 (checkpoint, adapter files, noise calibration)."""
    from samurai.predictors import is_untrained

    cfg = predictor.samurai_config
    return {
        "command": command,
        "argv": argv,
        "model": model,
        "image_size": int(predictor.image_size),
        "checkpoint": checkpoint,
        "checkpoint_sha256": fingerprint(checkpoint),
        "random_weights": is_untrained(model, checkpoint),
        "seed": seed,
        "adapter": adapter,
        "adapter_sha256": fingerprint(adapter),
        "noise": noise,
        "noise_sha256": fingerprint(noise),
        "motion_model": cfg.motion_model,
        "device": str(predictor.device),
        # --batch-objects, --compile (and its compile_s), --dtype: only when given, so that
        # a default run's manifest is as before.
        **getattr(predictor, "run_options", {}),
    }


def prompt_info(boxes=(), mask=None) -> dict:
    """The first-frame prompts of ``track`` as given: boxes, or the mask file and its SHA-256."""
    from samurai.prompts import parse_box

    if boxes:
        return {"frame": 0, "boxes": [list(parse_box(b)) for b in boxes]}
    if not isinstance(mask, (str, os.PathLike)):
        return {"frame": 0, "mask": "(label array)"}
    return {"frame": 0, "mask": str(mask), "mask_sha256": file_sha256(mask)}


def run_info_from_args(args, predictor) -> dict:
    """:func:`run_info` with a command's options (``--model``, ``--checkpoint``, ``--adapter``,
    ``--noise``, ``--seed`` and the command line)."""
    return run_info(
        predictor,
        command=args.command,
        argv=getattr(args, "argv", None),
        model=args.model,
        checkpoint=args.checkpoint,
        adapter=args.adapter,
        noise=args.noise,
        seed=args.seed,
    )
