"""The one rule for a backend's ``SamuraiConfig``: its memory sizes are the model's.

``num_maskmem`` (memory slots: 1 conditioning + ``num_maskmem - 1`` frames the core selects)
and ``max_obj_ptrs_in_encoder`` (how far back object pointers reach) describe the tracker's
memory bank, which SAMURAI fills; they are not SAMURAI choices. Every backend refuses a config
whose values differ from its model's (never silently rewriting them) and offers
``samurai_preset(size)``, the preset with the model's values.
"""

from __future__ import annotations

from collections.abc import Mapping

# The SamuraiConfig fields that describe the model's memory bank.
MODEL_MEMORY_FIELDS = ("num_maskmem", "max_obj_ptrs_in_encoder")


def model_preset(memory: Mapping[str, int], size: str = "tiny", **overrides):
    """``samurai_core.preset(size, **overrides)`` with the model's ``memory`` sizes
    (``{field: value}`` for ``MODEL_MEMORY_FIELDS``; overriding those gives a config that
    ``check_model_config`` refuses)."""
    import samurai_core as sc

    return sc.preset(size, **{**dict(memory), **overrides})


def check_model_config(config, memory: Mapping[str, int], model_name: str, owner: str):
    """``config`` validated, if its memory sizes are the model's.

    Args:
      config: the ``samurai_core.SamuraiConfig`` to use with the model.
      memory: the model's ``{field: value}`` for ``MODEL_MEMORY_FIELDS``.
      model_name: the model, as error messages name it (e.g. "SAM 2").
      owner: the object offering ``samurai_preset`` (e.g. "predictor"), for the fix.

    Raises:
      TypeError: ``config`` is not a ``SamuraiConfig``.
      ValueError: a memory size differs from the model's (the message names each and the fix),
        or the config is invalid.
    """
    import samurai_core as sc

    fix = f"{owner}.samurai_preset(size, **fields)"
    if not isinstance(config, sc.SamuraiConfig):
        raise TypeError(
            f"the SAMURAI config must be a samurai_core.SamuraiConfig (e.g. {owner}.samurai_preset("
            f"'tiny', stable_frames_threshold=10)); got {type(config).__name__}"
        )
    differ = [
        f"{name}={getattr(config, name)} (the model has {memory[name]})"
        for name in MODEL_MEMORY_FIELDS
        if getattr(config, name) != memory[name]
    ]
    if differ:
        values = ", ".join(f"{name}={memory[name]}" for name in MODEL_MEMORY_FIELDS)
        raise ValueError(
            f"SAMURAI config {', '.join(differ)} does not match the {model_name} model, whose memory "
            f"bank SAMURAI fills; use the model's values: {fix} (the preset with the model's "
            f"memory sizes) or config._replace({values})"
        )
    return config.validate()


__all__ = ["MODEL_MEMORY_FIELDS", "check_model_config", "model_preset"]
