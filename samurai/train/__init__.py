"""LoRA fine-tuning of SAM 2 on echo clips (peft adapters on the mask decoder and memory
attention), with resumable checkpoints and DDP under torchrun.

>>> from samurai.train import TrainConfig, train
>>> result = train(TrainConfig(data="/tmp/camus", out_dir="runs/camus", epochs=1))  # doctest: +SKIP

Heavy dependencies (torch, sam2, peft) load on first use of each name.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "TrainConfig": "samurai.train.config",
    "train": "samurai.train.loop",
    "evaluate": "samurai.train.loop",
    "clip_forward": "samurai.train.loop",
    "DEFAULT_TARGETS": "samurai.train.lora",
    "TRANSFORMERS_TARGETS": "samurai.train.lora",
    "AdapterError": "samurai.train.lora",
    "apply_lora": "samurai.train.lora",
    "load_adapter": "samurai.train.lora",
    "save_adapter": "samurai.train.lora",
    "merge_adapter": "samurai.train.lora",
    "trainable_parameters": "samurai.train.lora",
    "build_model": "samurai.train.model",
    "LossWeights": "samurai.train.config",
    "frame_losses": "samurai.train.losses",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'samurai.train' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
