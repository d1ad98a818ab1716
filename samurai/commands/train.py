"""``samurai train``: LoRA fine-tuning of SAM 2 (or, with ``--model florence2``, of Florence-2 as a
chamber finder) on an echo dataset, from a YAML/JSON config file with command-line overrides.
Under ``torchrun --nproc_per_node N`` it trains with DDP."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from samurai.dataset_kinds import KINDS
from samurai.errors import UserError

# Flags that set a TrainConfig option: config key -> (type, help). Their defaults are
# TrainConfig's (shown in --help); a flag left out keeps the --config file's value.
_FLAGS = {
    "data": (str, "dataset folder (default: none; required, here or in --config)"),
    "kind": (str, f"dataset layout: {', '.join(KINDS)} (default: detected)"),
    "out_dir": (str, "output folder"),
    "model": (
        str,
        "SAM 2 size (tiny, small, base_plus, large, medsam2), a sam2 config name, or "
        "hf:DIR (a transformers SAM 2 / EdgeTAM / SAM 3 tracker folder); florence2: "
        "fine-tune Florence-2 to find chambers by name (docs/training.md)",
    ),
    "checkpoint": (
        str,
        "base weights in the official {'model': ...} format; with --model "
        "florence2 the Florence-2 folder (default: none, random init: testing only)",
    ),
    "image_size": (int, "model input size in pixels, a multiple of 32"),
    "device": (str, "auto, cpu, cuda, cuda:1 ... (auto: the GPU when one is visible)"),
    "epochs": (int, "passes over the training cases"),
    "lr": (float, "AdamW learning rate (peak, after the warm-up)"),
    "clip_len": (int, "frames per training clip (>= 2)"),
    "accum_steps": (int, "clips per optimizer step"),
    "lora_r": (int, "LoRA rank"),
    "lora_alpha": (float, "LoRA alpha (scale alpha / r)"),
    "seed": (int, "seed of the data order, frame choice, box jitter and LoRA init"),
    "max_objects": (int, "objects per clip (default: every label on the first frame)"),
    "max_train_cases": (int, "train on the first N cases only (default: all)"),
    "max_val_cases": (int, "validate on the first N cases only (default: all)"),
    "checkpoint_every": (int, "optimizer steps between checkpoints (also at each epoch end)"),
    "warmup_steps": (int, "linear learning-rate warm-up steps, then cosine decay"),
    "train_split": (str, "split to train on; 'none': every case, e.g. for the generic layout"),
    "val_split": (
        str,
        "split to validate on; 'none': no validation (or, with --val-data, every case of that folder)",
    ),
    "val_data": (
        str,
        "validation dataset folder, e.g. held-out cases of the generic layout (default: --data)",
    ),
    "prompts": (
        str,
        "first-frame prompt while training: box (from the mask) or learned (class "
        "prompt tokens trained with the adapter; see docs/chambers.md)",
    ),
    "prompt_tokens": (int, "tokens per class with --prompts learned"),
}


def add_parser(sub) -> None:
    from samurai.train.config import PROMPT_KINDS, defaults

    p = sub.add_parser(
        "train",
        help="fine-tune LoRA adapters on an echo dataset",
        description="Fine-tune LoRA adapters (mask decoder + memory attention) of SAM 2 on "
        "CAMUS, EchoNet-Dynamic, CardiacUDA (LV, LA, RV, RA) or the generic layout (per case a "
        "folder of frames, a video or an ultrasound DICOM, and masks). Options come from --config "
        "(YAML or JSON) and are overridden by the flags below; the defaults shown apply when "
        "neither sets an option. Outputs in --out: best_adapter/, adapter/, checkpoint.pt, "
        "history.json.",
    )
    p.add_argument("--config", type=Path, help="YAML or JSON file of training options (default: none)")
    default = defaults()
    for key, (kind, text) in _FLAGS.items():
        flag = "--out" if key == "out_dir" else "--" + key.replace("_", "-")
        if "(default:" not in text:
            text += f" (default: {_shown(default[key])})"
        choices = {"kind": KINDS, "prompts": PROMPT_KINDS}.get(key)
        p.add_argument(flag, dest=key, type=kind, help=text, choices=choices)
    p.add_argument(
        "--classes",
        help="comma-separated class names for --prompts learned "
        "(default: the dataset's label names, e.g. lv,myo,la)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other option, value parsed as JSON, repeatable, e.g. --set "
        "box_jitter=0.05 or --set amp=false (default: none)",
    )
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="ignore an existing checkpoint.pt in --out (default: resume from it)",
    )
    p.add_argument(
        "--stop-after-steps",
        type=int,
        help="checkpoint and stop after this many optimizer steps, resumable (default: run to the end)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown)")
    p.set_defaults(run=run)


def _shown(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:g}" if isinstance(value, float) else str(value)


def load_config_file(path: Path) -> dict:
    """Options from a YAML (.yaml/.yml) or JSON file."""
    if not path.is_file():
        raise UserError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text) or {}
        else:
            values = json.loads(text)
    except Exception as err:  # the parsers raise many types; all mean a malformed file
        raise UserError(f"cannot parse {path}: {err}") from err
    if not isinstance(values, dict):
        raise UserError(f"{path} must hold a mapping of option: value")
    return values


def resolve_config(args: argparse.Namespace):
    """The TrainConfig from the file, then the flags; relative paths in the file are taken
    relative to the current directory."""
    from samurai.train.config import TrainConfig
    from samurai.train.florence import FlorenceTrainConfig

    values = load_config_file(args.config) if args.config else {}
    for key in _FLAGS:
        value = getattr(args, key, None)
        if value is not None:
            values[key] = value
    if getattr(args, "classes", None):
        values["classes"] = [c.strip() for c in args.classes.split(",") if c.strip()]
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise UserError(f"--set {item!r}: expected KEY=VALUE")
        try:
            values[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[key.strip()] = raw
    for key in ("train_split", "val_split"):
        if isinstance(values.get(key), str) and values[key].lower() in ("none", ""):
            values[key] = None
    if args.no_progress:
        values["progress"] = False
    try:
        config_class = FlorenceTrainConfig if values.get("model") == "florence2" else TrainConfig
        return config_class.from_dict(values)
    except (TypeError, ValueError) as err:
        raise UserError(str(err)) from err


def run(args: argparse.Namespace) -> int:
    from samurai.data import DatasetError
    from samurai.locks import OutputBusyError
    from samurai.train.florence import FlorenceTrainConfig, train_florence
    from samurai.train.loop import train
    from samurai.train.lora import AdapterError

    cfg = resolve_config(args)
    run_training = train_florence if isinstance(cfg, FlorenceTrainConfig) else train
    try:
        result = run_training(cfg, resume=not args.no_resume, stop_after_steps=args.stop_after_steps)
    except (DatasetError, AdapterError, OutputBusyError, ValueError) as err:
        raise UserError(str(err)) from err
    out = Path(result["out_dir"])
    print(
        f"trainable parameters: {result['trainable_parameters']:,} of "
        f"{result['total_parameters']:,} ({100 * result['trainable_parameters'] / result['total_parameters']:.2f}%)"
    )
    if result["stopped"]:
        print(
            f"stopped after {result['global_step']} steps; resume with the same command ({out / 'checkpoint.pt'})"
        )
    else:
        best = result["best"]
        score = "mean box IoU" if isinstance(cfg, FlorenceTrainConfig) else "mean Dice"
        print(
            f"done: {result['global_step']} steps; best {score} "
            f"{'n/a' if best is None else f'{best:.4f}'}; adapters in {out / 'best_adapter'} and {out / 'adapter'}"
        )
    return 0
