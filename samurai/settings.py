"""The settings of a run that a rerun must share to reuse its finished work, and how two sets
of settings are compared: the finished cases of ``samurai eval`` (``samurai.shard``), the video
folders of ``samurai track`` over many videos (``samurai.track_many``) and a training run's
checkpoint (``samurai.train``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Fields of a run's manifest (``samurai.provenance.run_info``) that do not change a result: how
# the command was typed, where it runs, and the paths of the input files (their SHA-256, also
# recorded, is compared instead, so a moved checkpoint still resumes).
NOT_SETTINGS = ("command", "argv", "device", "checkpoint", "adapter", "noise", "compile_s")

# Training options that may change between a run and its resumption without changing its
# result (``samurai.train.TrainConfig`` fields).
RESUMABLE_TRAINING_CHANGES = frozenset({"out_dir", "device", "progress", "checkpoint_every", "data"})


def result_settings(info: Mapping) -> dict:
    """``info`` (a run's manifest fields) without the :data:`NOT_SETTINGS`."""
    return {k: v for k, v in info.items() if k not in NOT_SETTINGS}


def changed_settings(
    earlier: Mapping, now: Mapping, ignore: Iterable[str] = (), presence: bool = False
) -> dict:
    """``{name: (earlier value, value now)}`` for every setting that differs (one missing on
    either side counts as None), in name order; names in ``ignore`` are not compared. With
    ``presence``, a setting recorded on one side only differs even when its value is None (a
    finished result made before that setting existed is not known to share it).

    >>> changed_settings({"lr": 1e-4, "device": "cpu"}, {"lr": 1e-3, "device": "cuda"}, ["device"])
    {'lr': (0.0001, 0.001)}
    """
    skip = set(ignore)
    return {
        k: (earlier.get(k), now.get(k))
        for k in sorted(set(earlier) | set(now))
        if k not in skip and (earlier.get(k) != now.get(k) or (presence and (k in earlier) != (k in now)))
    }


def describe_changes(changes: Mapping) -> str:
    """``changed_settings``'s result as one line: ``name (was A, now B); ...``."""
    return "; ".join(
        f"{k} (was {was!r}, now {now!r})" if was != now else f"{k} (recorded by one run only, as {now!r})"
        for k, (was, now) in changes.items()
    )
