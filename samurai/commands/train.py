"""``samurai train``: LoRA fine-tuning of SAM 2 (or, with ``--model florence2``, of Florence-2 as a
chamber finder) on an echo dataset, from a YAML/JSON config file with command-line overrides.
Under ``torchrun --nproc_per_node N`` it trains with DDP."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from samurai.cli import CLIError

# flag -> config key, type
_FLAGS = {
    "data": str, "kind": str, "out_dir": str, "model": str, "checkpoint": str,
    "image_size": int, "device": str, "epochs": int, "lr": float, "clip_len": int,
    "accum_steps": int, "lora_r": int, "lora_alpha": float, "seed": int,
    "max_objects": int, "max_train_cases": int, "max_val_cases": int, "checkpoint_every": int,
    "warmup_steps": int, "train_split": str, "val_split": str, "prompts": str, "prompt_tokens": int,
}


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="fine-tune LoRA adapters on an echo dataset",
        description="Fine-tune LoRA adapters (mask decoder + memory attention) of SAM 2 on "
        "CAMUS, EchoNet-Dynamic or a generic frames+masks dataset. Options come from --config "
        "(YAML or JSON) and are overridden by the flags below. Outputs in --out: best_adapter/, "
        "adapter/, checkpoint.pt, history.json.",
    )
    p.add_argument("--config", type=Path, help="YAML or JSON file of training options")
    p.add_argument("--data", help="dataset folder")
    p.add_argument("--kind", choices=["camus2023", "camus2019", "echonet", "generic"],
                   help="dataset layout (default: detected)")
    p.add_argument("--out", dest="out_dir", help="output folder (default runs/train)")
    p.add_argument("--model", help="SAM 2 size (tiny, small, base_plus, large, medsam2) or config, "
                   "or hf:DIR (a transformers SAM 2 / EdgeTAM / SAM 3 tracker folder); florence2: "
                   "fine-tune Florence-2 to find chambers by name (docs/training.md)")
    p.add_argument("--checkpoint", help="base weights in the official {'model': ...} format; with "
                   "--model florence2 the Florence-2 folder (transformers format, with its processor)")
    p.add_argument("--image-size", type=int, help="model input size (default 256)")
    p.add_argument("--device", help="auto, cpu, cuda, cuda:1 ...")
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--clip-len", type=int, help="frames per clip (default 8)")
    p.add_argument("--accum-steps", type=int, help="clips per optimizer step")
    p.add_argument("--lora-r", type=int)
    p.add_argument("--lora-alpha", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--max-objects", type=int, help="objects per clip")
    p.add_argument("--max-train-cases", type=int, help="train on the first N cases only")
    p.add_argument("--max-val-cases", type=int, help="validate on the first N cases only")
    p.add_argument("--checkpoint-every", type=int, help="optimizer steps between checkpoints")
    p.add_argument("--warmup-steps", type=int)
    p.add_argument("--train-split", help="split to train on (default train; 'none': every case, "
                   "e.g. for the generic layout)")
    p.add_argument("--val-split", help="split to validate on (default val; 'none' for none)")
    p.add_argument("--prompts", choices=["box", "learned"],
                   help="first-frame prompt: box (from the mask, default) or learned class prompts "
                   "trained with the adapter (see docs/chambers.md)")
    p.add_argument("--prompt-tokens", type=int, help="tokens per class with --prompts learned (default 2)")
    p.add_argument("--classes", help="comma-separated class names for --prompts learned "
                   "(default: the dataset's label names, e.g. lv,myo,la)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="any other option, value parsed as JSON (e.g. --set box_jitter=0.05)")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint.pt in --out")
    p.add_argument("--stop-after-steps", type=int,
                   help="checkpoint and stop after this many optimizer steps (resumable)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def load_config_file(path: Path) -> dict:
    """Options from a YAML (.yaml/.yml) or JSON file."""
    if not path.is_file():
        raise CLIError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text) or {}
        else:
            values = json.loads(text)
    except Exception as err:  # the parsers raise many types; all mean a malformed file
        raise CLIError(f"cannot parse {path}: {err}") from err
    if not isinstance(values, dict):
        raise CLIError(f"{path} must hold a mapping of option: value")
    return values


def resolve_config(args: argparse.Namespace):
    """The TrainConfig from the file, then the flags; relative paths in the file are taken
    relative to the current directory."""
    from samurai.train.florence import FlorenceTrainConfig
    from samurai.train.loop import TrainConfig

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
            raise CLIError(f"--set {item!r}: expected KEY=VALUE")
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
        raise CLIError(str(err)) from err


def run(args: argparse.Namespace) -> int:
    from samurai.data import DatasetError
    from samurai.train.florence import FlorenceTrainConfig, train_florence
    from samurai.train.lora import AdapterError
    from samurai.train.loop import train

    cfg = resolve_config(args)
    run_training = train_florence if isinstance(cfg, FlorenceTrainConfig) else train
    try:
        result = run_training(cfg, resume=not args.no_resume, stop_after_steps=args.stop_after_steps)
    except (DatasetError, AdapterError, ValueError) as err:
        raise CLIError(str(err)) from err
    out = Path(result["out_dir"])
    print(
        f"trainable parameters: {result['trainable_parameters']:,} of "
        f"{result['total_parameters']:,} ({100 * result['trainable_parameters'] / result['total_parameters']:.2f}%)"
    )
    if result["stopped"]:
        print(f"stopped after {result['global_step']} steps; resume with the same command ({out / 'checkpoint.pt'})")
    else:
        best = result["best"]
        score = "mean box IoU" if isinstance(cfg, FlorenceTrainConfig) else "mean Dice"
        print(f"done: {result['global_step']} steps; best {score} "
              f"{'n/a' if best is None else f'{best:.4f}'}; adapters in {out / 'best_adapter'} and {out / 'adapter'}")
    return 0
