"""The options of a training run: ``TrainConfig``, read and checked in one place.

``config_from_dict`` is the loader of every training config (``TrainConfig`` for SAM 2,
``samurai.train.florence.FlorenceTrainConfig`` for Florence-2) from every source (YAML/JSON
file, command-line flags, ``--set KEY=VALUE``, the Python API): ``coerce_options`` coerces each
value to its field's type or rejects it with the option's name, the expected type and an
example, and ``validate`` (with ``check_shared_options`` for the options both configs have)
rejects out-of-range values, all before any folder is made or model built. Imports nothing
heavy, so the command line can show the defaults in ``samurai train --help``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from samurai.dataset_kinds import KINDS  # the layouts samurai.data reads: one list

PROMPT_KINDS = ("box", "learned")


class LossWeights(NamedTuple):
    """Weights of the four terms (SAM 2.1's training config)."""

    focal: float = 20.0
    dice: float = 1.0
    iou: float = 1.0
    obj: float = 1.0


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved beside every adapter)."""

    data: str = ""  # dataset folder
    kind: str | None = None  # camus2023 | camus2019 | echonet | generic; None: detect
    train_split: str | None = "train"
    val_split: str | None = "val"  # None: no validation (the last adapter is the best)
    val_data: str | None = None  # validation folder (default: data); val_split applies inside it
    out_dir: str = "runs/train"
    model: str = "tiny"  # SAM 2 size or config path
    checkpoint: str | None = None  # base SAM 2 / MedSAM2 weights ({"model": ...})
    image_size: int = 256
    device: str = "auto"  # auto: cuda if available (cuda:LOCAL_RANK under torchrun)
    lora_r: int = 8
    lora_alpha: float = 8.0
    lora_targets: list[str] | None = None  # None: the 40 default modules
    clip_len: int = 8
    max_objects: int | None = None  # objects per clip (None: all labels on frame 0)
    epochs: int = 10
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup_steps: int = 10  # linear warm-up, then cosine decay to 0 over the run
    grad_clip: float = 0.1  # max gradient norm (SAM 2's training value)
    accum_steps: int = 1  # clips per optimizer step (per process)
    box_jitter: float = 0.1  # prompt noise, fraction of the box side
    prompts: str = "box"  # first-frame prompt: "box" (from the mask) or "learned" (class tokens)
    prompt_tokens: int = 2  # tokens per class with prompts="learned"
    classes: list[str] | None = None  # learned-prompt classes; None: the training data's labels
    train_modules: list[str] | None = None  # modules trained in full besides LoRA (phantom-only)
    loss_weights: dict = field(default_factory=lambda: LossWeights()._asdict())
    amp: bool = True  # bf16 autocast on CUDA (ignored on CPU)
    seed: int = 0
    checkpoint_every: int = 50  # optimizer steps between checkpoints (also at each epoch end)
    max_train_cases: int | None = None  # use only the first N training cases
    max_val_cases: int | None = None
    progress: bool = True  # tqdm bar with the loss

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build from a dict (unknown keys named), then ``validate``."""
        return config_from_dict(cls, values, "training option(s)")

    def validate(self) -> TrainConfig:
        """Coerce each option to its field's type (numbers written as strings, as PyYAML reads
        ``1e-4``, are accepted) and return self, or raise ValueError naming the bad option, the
        expected type or range, and an example."""
        coerce_options(self)
        if not self.data:
            raise ValueError("no dataset: set `data` in the config or pass --data DIR")
        if self.checkpoint is not None and not Path(self.checkpoint).is_file():
            raise ValueError(
                f"checkpoint={self.checkpoint!r} does not exist; pass the path of a SAM 2 .pt file "
                "(official format), or leave it out for random weights (testing only)"
            )
        if self.clip_len < 2:
            raise ValueError(f"clip_len={self.clip_len}: clips need >= 2 frames to train memory")
        if self.prompts not in PROMPT_KINDS:
            raise ValueError(f"prompts={self.prompts!r}; use one of {PROMPT_KINDS}")
        check_shared_options(self)
        if self.prompt_tokens < 1:
            raise ValueError(f"prompt_tokens={self.prompt_tokens} must be >= 1")
        if self.max_objects is not None and self.max_objects < 1:
            raise ValueError(f"max_objects={self.max_objects} must be >= 1, or null for all")
        if not 0.0 <= self.box_jitter <= 1.0:
            raise ValueError(
                f"box_jitter={self.box_jitter} must lie in [0, 1]: the prompt box's noise as a "
                "fraction of its side (0.1 is the default, 0 for none)"
            )
        if not self.model.startswith("hf:"):  # a transformers model says its own size (train.model)
            _check_image_size(self.image_size)
        extra = sorted(set(self.loss_weights) - set(LossWeights._fields))
        if extra:
            raise ValueError(f"unknown loss weight(s) {extra}; use {LossWeights._fields}")
        negative = {k: v for k, v in self.loss_weights.items() if v < 0}
        if negative:
            raise ValueError(f"loss weights {negative} must be >= 0")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def config_from_dict(cls, values: dict, what: str):
    """``cls(**values).validate()`` for a training-config dataclass, naming unknown keys first."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {what} {unknown}; valid: {sorted(known)}")
    return cls(**values).validate()


def coerce_options(config):
    """Set each field of a training-config dataclass to its value coerced to the field's type
    (``_coerce``), or raise ValueError naming the option, the type and an example."""
    for f in dataclasses.fields(config):
        setattr(config, f.name, _coerce(f.name, f.type, getattr(config, f.name), type(config)))
    return config


def check_shared_options(config) -> None:
    """The rules of the options every training config has (SAM 2's and Florence-2's)."""
    if config.kind is not None and config.kind not in KINDS:
        raise ValueError(f"kind={config.kind!r} is not a dataset layout; use one of {KINDS} or omit it")
    if config.val_data is not None and not Path(config.val_data).is_dir():
        raise ValueError(
            f"val_data={config.val_data!r} is not a folder; pass a dataset folder of held-out "
            "cases, or leave it out to validate on --data's val_split"
        )
    for name in ("epochs", "accum_steps", "lora_r", "checkpoint_every"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name}={getattr(config, name)} must be >= 1")
    for name in ("max_train_cases", "max_val_cases"):
        if getattr(config, name) is not None and getattr(config, name) < 1:
            raise ValueError(f"{name}={getattr(config, name)} must be >= 1, or null for all")
    for name in ("warmup_steps", "seed"):
        if getattr(config, name) < 0:
            raise ValueError(f"{name}={getattr(config, name)} must be >= 0")
    for name in ("lr", "grad_clip", "lora_alpha"):
        if not getattr(config, name) > 0:
            raise ValueError(f"{name}={getattr(config, name)} must be > 0")
    if config.weight_decay < 0:
        raise ValueError(f"weight_decay={config.weight_decay} must be >= 0")


def training_datasets(config):
    """``(train_ds, train_idx, val_ds, val_idx)`` of a run: the training split (its first
    ``max_train_cases``; ValueError when empty) and ``validation_dataset`` (its first
    ``max_val_cases``; None and [] without validation)."""
    from samurai.data import open_dataset

    train_ds = open_dataset(config.data, config.kind, config.train_split)
    train_idx = list(range(len(train_ds)))[: config.max_train_cases]
    if not train_idx:
        raise ValueError(f"no training case in {config.data} (split={config.train_split!r})")
    val_ds = validation_dataset(config)
    val_idx = list(range(len(val_ds)))[: config.max_val_cases] if val_ds is not None else []
    return train_ds, train_idx, val_ds, val_idx


def validation_dataset(config):
    """The dataset a run validates on: ``val_data`` (every case with ``val_split`` None, else
    that split of it), else ``data``'s ``val_split``; None for no validation."""
    from samurai.data import open_dataset

    if config.val_data is not None:
        return open_dataset(config.val_data, config.kind, config.val_split)
    return open_dataset(config.data, config.kind, config.val_split) if config.val_split else None


def defaults() -> dict:
    """Each option's default value (what ``samurai train --help`` shows)."""
    return TrainConfig().to_dict()


def _check_image_size(image_size: int) -> None:
    # The one rule of the backend (SAM 2's encoder stride), imported when checked: it loads torch.
    from samurai_sam2.build import check_image_size

    check_image_size(image_size)


_EXAMPLES = {"int": "8", "float": "1e-4", "bool": "true", "str": '"tiny"'}


def _coerce(name: str, annotation: str, value, cls=TrainConfig):
    """``value`` as the type ``annotation`` (the field's of ``cls``, e.g. "int | None") says,
    or ValueError."""
    kind, _, none = annotation.partition(" | ")
    if value is None:
        if none == "None":
            return None
        raise ValueError(
            f"{name} needs a value (null is not allowed); e.g. {name}={_example(cls, name, kind)}"
        )
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name}={value!r} must be true or false")
    if kind == "int":
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(
                f"{name}={value!r} must be a whole number (an int), e.g. {name}={_example(cls, name, kind)}"
            )
        return value
    if kind == "float":
        if isinstance(value, str):
            try:
                value = float(value.strip())
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(
                f"{name}={value!r} must be a finite number (a float), e.g. {name}={_example(cls, name, kind)}"
            )
        return float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"{name}={value!r} must be a string, e.g. {name}={_example(cls, name, kind)}")
        return value
    if kind == "list[str]":
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ValueError(
                f"{name}={value!r} must be a list of {_LIST_OF.get(name, 'names')}, "
                f"e.g. {name}={_example(cls, name, kind)}"
            )
        return value
    if kind == "dict":  # loss_weights, the only mapping option
        example = ", ".join(f'"{k}": {v:g}' for k, v in LossWeights()._asdict().items())
        if not isinstance(value, dict):
            raise ValueError(f"{name}={value!r} must be a mapping of term: weight, e.g. {{{example}}}")
        return {k: _coerce(f"{name}.{k}", "float", v) for k, v in value.items()}
    raise TypeError(f"TrainConfig.{name}: no coercion for annotation {annotation!r}")


# What the list options hold, and an example where the default is None.
_LIST_OF = {
    "lora_targets": "module names",
    "train_modules": "module names",
    "classes": "class names",
    "tasks": "tasks",
}
_LIST_EXAMPLES = {
    "lora_targets": '["memory_attention.layers.0.self_attn.q_proj"]',
    "train_modules": '["sam_mask_decoder"]',
    "classes": '["lv", "la"]',
}


def _example(cls, name: str, kind: str) -> str:
    import json

    default = _default(cls, name)
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float):
        return f"{default:g}"
    if isinstance(default, list):
        return json.dumps(default)
    if kind == "list[str]":
        return _LIST_EXAMPLES.get(name, '["a", "b"]')
    return _EXAMPLES[kind] if default in (None, "") else str(default)


def _default(cls, name: str):
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default is not dataclasses.MISSING:
                return f.default
            return f.default_factory() if f.default_factory is not dataclasses.MISSING else None
    return None
