"""LoRA adapters on SAM 2 through peft: attach, save, load into a model or predictor, merge.

Default targets are the 40 attention projections of the write-up: the two-way transformer of
the mask decoder (layers 0-1: self, token→image and image→token attention) and the first two
memory-attention layers (self and cross attention), each ``{q,k,v,out}_proj``; in
transformers' SAM 2 / EdgeTAM / SAM 3 tracker models the same layers under their names
(``TRANSFORMERS_TARGETS``).
"""

from __future__ import annotations

import copy
import io
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

from samurai.output import atomic_write_bytes, process_umask

_PROJ = ("q_proj", "k_proj", "v_proj", "out_proj")
DEFAULT_TARGETS: tuple[str, ...] = tuple(
    [
        f"sam_mask_decoder.transformer.layers.{i}.{attn}.{p}"
        for i in (0, 1)
        for attn in ("self_attn", "cross_attn_token_to_image", "cross_attn_image_to_token")
        for p in _PROJ
    ]
    + [
        f"memory_attention.layers.{i}.{attn}.{p}"
        for i in (0, 1)
        for attn in ("self_attn", "cross_attn_image")
        for p in _PROJ
    ]
)
TRAIN_CONFIG_NAME = "train_config.json"
# Base-model weights trained in full beside LoRA (``train_modules``, a phantom-only setting).
TRAINED_MODULES_NAME = "trained_modules.safetensors"

# The same 40 layers in transformers' SAM-family video models (Sam2VideoModel, EdgeTamVideoModel,
# Sam3TrackerVideoModel: the same module tree there): sam2's name with these renames.
TRANSFORMERS_RENAMES: tuple[tuple[str, str], ...] = (
    ("sam_mask_decoder.", "mask_decoder."),
    (".out_proj", ".o_proj"),
)


def transformers_name(sam2_name: str) -> str:
    """The transformers module name of a sam2 module name (``TRANSFORMERS_RENAMES``)."""
    for old, new in TRANSFORMERS_RENAMES:
        sam2_name = sam2_name.replace(old, new)
    return sam2_name


TRANSFORMERS_TARGETS: tuple[str, ...] = tuple(transformers_name(t) for t in DEFAULT_TARGETS)


def default_targets(model: torch.nn.Module) -> tuple[str, ...]:
    """``DEFAULT_TARGETS`` for a sam2 model, ``TRANSFORMERS_TARGETS`` for a transformers one."""
    if hasattr(_unwrap(model), "sam_mask_decoder"):
        return DEFAULT_TARGETS
    return TRANSFORMERS_TARGETS


class AdapterError(ValueError):
    """An adapter does not fit the model it is loaded into (the message says why and what to do)."""


def _unwrap(model_or_predictor: torch.nn.Module) -> torch.nn.Module:
    from peft import PeftModel

    if isinstance(model_or_predictor, PeftModel):
        return model_or_predictor.base_model.model
    return model_or_predictor


def _check_targets(model: torch.nn.Module, targets) -> None:
    modules = dict(model.named_modules())
    missing = [t for t in targets if t not in modules]
    if missing:
        raise AdapterError(
            f"{len(missing)} LoRA target module(s) are not in this model, e.g. {missing[:3]}; "
            "the adapter was made for another SAM 2 architecture: use the model it was trained on"
        )
    not_linear = [t for t in targets if not isinstance(modules[t], torch.nn.Linear)]
    if not_linear:
        raise AdapterError(f"LoRA targets must be nn.Linear layers; these are not: {not_linear[:3]}")


def apply_lora(model: torch.nn.Module, targets=None, r: int = 8, alpha: float = 8.0):
    """Freeze ``model`` and attach LoRA adapters (no dropout, no bias) to exactly ``targets``
    (default: the 40 layers of the write-up under the model's names, ``default_targets``).

    Returns the ``peft.PeftModel``; ``model`` itself is modified in place (its target layers
    become LoRA layers), so code holding ``model`` runs with the adapters. The number of
    trainable parameters is ``trainable_parameters(model)``.

    >>> peft_model = apply_lora(build_model("tiny"))  # doctest: +SKIP
    """
    from peft import LoraConfig, get_peft_model

    targets = list(default_targets(model) if targets is None else targets)
    _check_targets(model, targets)
    # A full-match regex keeps the saved config exact (peft shortens name lists to suffixes).
    pattern = "|".join(re.escape(t) for t in targets)
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=0.0, bias="none", target_modules=pattern)
    with warnings.catch_warnings():
        # peft 0.21 reads transformers models' deprecated ``is_gradient_checkpointing`` (a
        # FutureWarning from transformers 5.x); the read is peft's, the model's state unchanged.
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        peft_model = get_peft_model(model, config)
    matched = sorted(_lora_layers(model))
    if matched != sorted(targets):
        raise AdapterError(f"LoRA matched {len(matched)} modules, expected {len(targets)}")
    return peft_model


def _lora_layers(model: torch.nn.Module) -> list[str]:
    from peft.tuners.lora import LoraLayer

    return [n for n, m in model.named_modules() if isinstance(m, LoraLayer)]


def trainable_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def lora_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The adapter weights only (names as in ``model.named_parameters()``), detached copies."""
    return {n: p.detach().clone() for n, p in _unwrap(model).named_parameters() if "lora_" in n}


def _atomic_dir(target: Path, write) -> None:
    """Write a directory under a temporary name then swap it in, so a crash never leaves a
    half-written adapter at ``target``."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    # mkdtemp makes the folder private (0700); give it the modes of every other output.
    os.chmod(tmp, 0o777 & ~process_umask())
    try:
        write(tmp)
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
            os.replace(target, old / "x")
            os.replace(tmp, target)
            shutil.rmtree(old)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def set_trainable_modules(model: torch.nn.Module, prefixes) -> dict[str, torch.nn.Parameter]:
    """Make every parameter under the module names ``prefixes`` trainable (besides LoRA);
    returns them by name. Raises AdapterError naming a prefix that matches no module."""
    named = dict(_unwrap(model).named_parameters())
    chosen = {}
    for prefix in prefixes or ():
        hits = {n: p for n, p in named.items() if n.startswith(prefix + ".") and "lora_" not in n}
        if not hits:
            raise AdapterError(
                f"train_modules: {prefix!r} names no module of this model (e.g. 'sam_mask_decoder')"
            )
        chosen.update(hits)
    for p in chosen.values():
        p.requires_grad_(True)
    return chosen


def save_adapter(
    peft_model,
    directory,
    train_config: dict | None = None,
    class_prompts=None,
    trained_modules: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Save the adapter with peft (``adapter_model.safetensors`` + ``adapter_config.json``) and
    the training config beside it (``train_config.json``), atomically; with ``class_prompts``
    also ``class_prompts.safetensors``, with ``trained_modules`` (name -> weight) also
    ``trained_modules.safetensors``."""
    from safetensors.torch import save_file

    def write(tmp: Path) -> None:
        peft_model.save_pretrained(str(tmp), safe_serialization=True)
        if train_config is not None:
            (tmp / TRAIN_CONFIG_NAME).write_text(json.dumps(train_config, indent=2, default=str))
        if class_prompts is not None:
            from samurai_sam2.class_prompts import CLASS_PROMPTS_NAME

            class_prompts.save(tmp / CLASS_PROMPTS_NAME)
        if trained_modules:
            weights = {n: t.detach().cpu().contiguous() for n, t in trained_modules.items()}
            save_file(weights, str(tmp / TRAINED_MODULES_NAME))

    _atomic_dir(Path(directory), write)
    return Path(directory)


def load_adapter(model_or_predictor: torch.nn.Module, directory) -> torch.nn.Module:
    """Load a saved adapter into a SAM 2 model or video predictor, in place, and return it.

    Works on anything that is a ``SAM2Base`` (the backend's predictors are). Raises
    :class:`AdapterError` when the adapter does not fit (missing modules, other shapes).

    >>> predictor = load_adapter(predictor, "runs/camus/best_adapter")  # doctest: +SKIP
    """
    from peft import LoraConfig, inject_adapter_in_model, set_peft_model_state_dict
    from safetensors.torch import load_file

    directory = Path(directory)
    weights = directory / "adapter_model.safetensors"
    if not (directory / "adapter_config.json").is_file() or not weights.is_file():
        raise AdapterError(
            f"{directory} is not a saved adapter (needs adapter_config.json and "
            "adapter_model.safetensors); pass the folder written by `samurai train`"
        )
    model = _unwrap(model_or_predictor)
    if any("lora_" in n for n, _ in model.named_parameters()):
        raise AdapterError("this model already carries a LoRA adapter; load into a fresh model")
    try:
        config = LoraConfig.from_pretrained(str(directory))
    except Exception as err:  # JSON errors, unknown keys (TypeError), bad values (ValueError)
        raise AdapterError(
            f"{directory / 'adapter_config.json'} is damaged or not a peft LoRA config "
            f"({type(err).__name__}: {_first_line(err)}); re-save the adapter or copy the folder "
            "written by `samurai train` again"
        ) from None
    if not (isinstance(config.r, int) and config.r > 0):
        raise AdapterError(
            f"{directory / 'adapter_config.json'}: r={config.r!r} is not a LoRA rank; re-save the adapter"
        )
    try:
        state = load_file(str(weights))
    except Exception as err:  # safetensors raises its own error types for damaged files
        raise AdapterError(
            f"{weights} is damaged or not a safetensors file ({type(err).__name__}: "
            f"{_first_line(err)}); re-save the adapter or copy the folder written by "
            "`samurai train` again"
        ) from None
    modules = dict(model.named_modules())
    layers = set()
    for key, tensor in state.items():
        name = key.removeprefix("base_model.model.")
        layer_name, _, kind = name.rpartition(".lora_")
        layer = modules.get(layer_name)
        if not isinstance(layer, torch.nn.Linear):
            raise AdapterError(
                f"adapter weight {key} belongs to no Linear layer of this model; the adapter was "
                "made for another SAM 2 architecture: use the model it was trained on"
            )
        layers.add(layer_name)
        expected = (config.r, layer.in_features) if kind.startswith("A") else (layer.out_features, config.r)
        if tuple(tensor.shape) != expected:
            raise AdapterError(
                f"adapter weight {key} has shape {tuple(tensor.shape)} but this model needs "
                f"{expected}; the adapter was trained on a different model size"
            )
    device = next(model.parameters()).device
    inject_adapter_in_model(config, model)
    if sorted(_lora_layers(model)) != sorted(layers):
        raise AdapterError(
            f"the adapter config targets {len(_lora_layers(model))} layers of this model but its "
            f"weights cover {len(layers)}; the adapter folder is inconsistent: re-save it"
        )
    result = set_peft_model_state_dict(model, {k: v.to(device) for k, v in state.items()})
    lora_missing = [k for k in result.missing_keys if "lora_" in k]
    if lora_missing or result.unexpected_keys:
        raise AdapterError(
            f"adapter does not match the model: missing {lora_missing[:3]}, unexpected "
            f"{result.unexpected_keys[:3]}"
        )
    if (directory / TRAINED_MODULES_NAME).is_file():
        _load_trained_modules(model, directory / TRAINED_MODULES_NAME)
    for name, param in model.named_parameters():
        if "lora_" in name:
            param.requires_grad_(False)
    model.to(device)
    from samurai_sam2.class_prompts import CLASS_PROMPTS_NAME, ClassPromptError, ClassPrompts

    if (directory / CLASS_PROMPTS_NAME).is_file() and hasattr(model_or_predictor, "set_class_prompts"):
        try:
            prompts = ClassPrompts.load(directory, device)
        except ClassPromptError as err:
            raise AdapterError(str(err)) from None
        model_or_predictor.set_class_prompts(prompts)
    return model_or_predictor


def _load_trained_modules(model: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import load_file

    named = dict(model.named_parameters())
    try:
        state = load_file(str(path))
    except Exception as err:  # safetensors raises its own error types for damaged files
        raise AdapterError(
            f"{path} is damaged or not a safetensors file ({type(err).__name__}: {_first_line(err)}); "
            "re-save the adapter or copy the folder written by `samurai train` again"
        ) from None
    unknown = [k for k in state if k not in named or named[k].shape != state[k].shape]
    if unknown:
        raise AdapterError(
            f"{path.name} holds weights this model lacks or shapes it does not have, e.g. "
            f"{unknown[:3]}; the adapter was trained on another SAM 2 architecture"
        )
    with torch.no_grad():
        for k, v in state.items():
            named[k].copy_(v.to(named[k].device, named[k].dtype))


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else ""


def merge_adapter(model_or_peft: torch.nn.Module, path=None) -> dict[str, torch.Tensor]:
    """A plain SAM 2 state dict with the adapter folded into the base weights (the input is not
    modified). With ``path``, also save it atomically as an official ``{"model": ...}`` checkpoint
    that ``build_sam2``/``samurai track --checkpoint`` load without peft."""
    from peft.tuners.lora import LoraLayer

    model = copy.deepcopy(_unwrap(model_or_peft))
    replacements = [(n, m) for n, m in model.named_modules() if isinstance(m, LoraLayer)]
    if not replacements:
        raise AdapterError("the model carries no LoRA adapter to merge")
    for name, layer in replacements:
        layer.merge()
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, layer.get_base_layer())
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        torch.save({"model": state}, buf)
        atomic_write_bytes(path, buf.getvalue())
    return state
