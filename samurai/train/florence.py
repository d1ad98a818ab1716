"""LoRA fine-tuning of Florence-2 as a chamber finder on echo frames.

One optimizer step takes ``accum_steps`` cases; from each, one labelled frame (a pure function of
``(seed, epoch, case)``), and for every structure on it two examples: ``<CAPTION_TO_PHRASE_GROUNDING>``
+ its phrase -> the phrase and its box in location tokens, and ``<REFERRING_EXPRESSION_SEGMENTATION>``
+ its phrase -> its outline polygon. The loss is Florence-2's own cross-entropy on the answer.
Validation: box IoU per structure of the grounding answer on each validation case's first
labelled frame; the best mean IoU gives ``best_adapter/``.

Checkpoints, resuming, DDP and the adapter files work as for SAM 2 (:mod:`samurai.train.loop`).
"""

from __future__ import annotations

import dataclasses
import math
import random
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from samurai.florence.model import MAX_POLYGON_POINTS
from samurai.settings import RESUMABLE_TRAINING_CHANGES, changed_settings
from samurai.train.loop import (
    CHECKPOINT_NAME,
    atomic_torch_save,
    case_rng,
    lr_lambda,
    record_epoch,
    resolve_device,
    rng_state,
    set_rng_state,
)
from samurai.train.run_folder import claim_run_folder, load_training_checkpoint

# LoRA on every linear layer of the BART encoder and decoder (attention and feed-forward): the
# location tokens are written by the decoder from the encoder's mix of image tokens and phrase,
# and echo phrases ("left ventricle") and images are far from Florence-2's pre-training, so
# both halves adapt. The DaViT image tower stays frozen (its features are generic, and LoRA on
# its convolutions would be a different adapter type). Rank 16, alpha 32 (alpha = 2r, a common
# LoRA setting): about 3 M parameters on Florence-2-base, ~1.5 % of the model.
DEFAULT_FLORENCE_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")
TASKS = ("box", "polygon")


@dataclass
class FlorenceTrainConfig:
    """Everything that defines a Florence-2 training run (saved beside every adapter)."""

    data: str = ""
    kind: str | None = None
    train_split: str | None = "train"
    val_split: str | None = "val"
    val_data: str | None = None  # validation folder (default: data); val_split applies inside it
    out_dir: str = "runs/florence2"
    model: str = "florence2"
    checkpoint: str | None = None  # the Florence-2 folder (transformers format, with processor)
    device: str = "auto"
    lora_r: int = 16
    lora_alpha: float = 32.0
    lora_targets: list[str] | None = None  # None: DEFAULT_FLORENCE_TARGETS, in the text model
    tasks: list[str] = dataclasses.field(default_factory=lambda: list(TASKS))
    polygon_points: int = MAX_POLYGON_POINTS  # most vertices of a target outline (2 tokens each)
    epochs: int = 10
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup_steps: int = 10
    grad_clip: float = 1.0
    accum_steps: int = 1
    seed: int = 0
    checkpoint_every: int = 50
    max_train_cases: int | None = None
    max_val_cases: int | None = None
    progress: bool = True

    @classmethod
    def from_dict(cls, values: dict) -> FlorenceTrainConfig:
        from samurai.train.config import config_from_dict

        return config_from_dict(cls, values, "option(s) for --model florence2")

    def validate(self) -> FlorenceTrainConfig:
        """Coerce and check every option as ``TrainConfig.validate`` does (one loader,
        ``samurai.train.config``), then the Florence-2 ones; returns self or raises ValueError."""
        from samurai.florence.model import WEIGHTS_HELP
        from samurai.train.config import check_shared_options, coerce_options

        coerce_options(self)
        check_shared_options(self)
        if self.polygon_points < 3:
            raise ValueError(f"polygon_points={self.polygon_points} must be >= 3 (a polygon)")
        bad = sorted(set(self.tasks) - set(TASKS)) or ([] if self.tasks else ["(none)"])
        if bad:
            raise ValueError(f"tasks {bad} unknown; choose from {list(TASKS)}")
        if not self.data:
            raise ValueError("no dataset: set `data` in the config or pass --data DIR")
        if not self.checkpoint:
            raise ValueError(
                f"--model florence2 trains a Florence-2 model: pass --checkpoint DIR. {WEIGHTS_HELP}"
            )
        if not (Path(self.checkpoint) / "config.json").is_file():
            raise ValueError(
                f"--checkpoint {self.checkpoint} is not a Florence-2 folder (no config.json). {WEIGHTS_HELP}"
            )
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def lora_targets(model, suffixes=DEFAULT_FLORENCE_TARGETS) -> list[str]:
    """Full names of the text model's linear layers whose last name part is in ``suffixes``."""
    return [
        n
        for n, m in model.named_modules()
        if ".language_model." in f".{n}"
        and isinstance(m, torch.nn.Linear)
        and n.rsplit(".", 1)[-1] in suffixes
    ]


def frame_examples(
    case, frame: int, processor, tasks=TASKS, polygon_points: int = MAX_POLYGON_POINTS
) -> list[tuple[np.ndarray, str, str]]:
    """``(rgb frame, prompt, answer)`` for every structure on ``frame`` and every task."""
    from samurai.florence.model import TASK_BOX, TASK_POLYGON, box_target, phrase_for, polygon_target

    rgb = np.repeat(case.frames[frame][..., None], 3, axis=2)
    out = []
    for k in sorted(case.labels):
        mask = case.masks[frame] == k
        if not mask.any():
            continue
        phrase = phrase_for(case.labels[k])
        if "box" in tasks:
            out.append((rgb, TASK_BOX + phrase, box_target(mask, phrase, processor)))
        if "polygon" in tasks:
            out.append((rgb, TASK_POLYGON + phrase, polygon_target(mask, processor, polygon_points)))
    return out


class FlorenceLoss(torch.nn.Module):
    """``forward(examples) -> loss``: the module DDP wraps."""

    def __init__(self, model, processor) -> None:
        super().__init__()
        self.model = model
        self.processor = processor

    def forward(self, examples):
        if not examples:
            # A case without a usable frame still takes part in the step (every process must
            # run the same backward under DDP): a zero loss over the trainable parameters.
            return sum(p.sum() * 0.0 for p in self.model.parameters() if p.requires_grad)
        device = next(self.model.parameters()).device
        frames, prompts, answers = zip(*examples)
        inputs = self.processor(
            text=list(prompts), images=list(frames), return_tensors="pt", padding=True
        ).to(device)
        tok = self.processor.tokenizer
        labels = tok(list(answers), return_tensors="pt", padding=True).input_ids.to(device)
        labels[labels == tok.pad_token_id] = -100
        return self.model(**inputs, labels=labels).loss


def _training_examples(dataset, case_index: int, cfg, epoch: int, processor):
    np_rng, _ = case_rng(cfg.seed, epoch, case_index)
    case = dataset[case_index]
    usable = [int(t) for t in np.flatnonzero(case.labelled) if case.masks[t].any()]
    if not usable:
        return []
    return frame_examples(case, int(np_rng.choice(usable)), processor, cfg.tasks, cfg.polygon_points)


def box_iou(pred, truth) -> float:
    """IoU of two ``samurai_core.mask_to_box`` boxes as eval's box metrics count it; 0 when
    ``pred`` is None (nothing found)."""
    from samurai.eval.metrics import box_iou_xywh
    from samurai_core.boxes import xyxy_to_lasot

    if pred is None:
        return 0.0
    return float(
        box_iou_xywh(
            xyxy_to_lasot(np.asarray(pred, np.float64))[None],
            xyxy_to_lasot(np.asarray(truth, np.float64))[None],
        )[0]
    )


def evaluate_boxes(finder, dataset, indices) -> dict:
    """Grounding box IoU per structure on each case's first labelled frame:
    ``{name: [iou, ...]}`` (truth box: the mask's box, as the targets)."""
    from samurai.florence.model import phrase_for
    from samurai_core.boxes import mask_to_box

    ious: dict[str, list[float]] = {}
    for i in indices:
        case = dataset[i]
        lab = [int(t) for t in np.flatnonzero(case.labelled) if case.masks[t].any()]
        if not lab:
            continue
        t = lab[0]
        rgb = np.repeat(case.frames[t][..., None], 3, axis=2)
        ids = [k for k in sorted(case.labels) if (case.masks[t] == k).any()]
        found = finder.boxes([rgb] * len(ids), [phrase_for(case.labels[k]) for k in ids])
        for k, (box, _) in zip(ids, found):
            ious.setdefault(case.labels[k], []).append(box_iou(box, mask_to_box(case.masks[t] == k)))
    return ious


def train_florence(
    cfg: FlorenceTrainConfig, resume: bool = True, stop_after_steps: int | None = None
) -> dict:
    """Fine-tune LoRA adapters of Florence-2 on ``cfg.data``; returns a summary dict.

    Writes to ``cfg.out_dir`` what the SAM 2 training writes: ``checkpoint.pt``,
    ``best_adapter/``, ``adapter/`` (peft, with ``train_config.json``) and ``history.json``.
    """
    from tqdm.auto import tqdm

    from samurai import distributed as ddp
    from samurai.florence.model import FlorenceFinder, load_florence, peft_on_transformers
    from samurai.train.config import training_datasets
    from samurai.train.lora import apply_lora, lora_state_dict, save_adapter, trainable_parameters

    cfg.validate()
    info = ddp.setup()
    try:
        with claim_run_folder(cfg.out_dir, [cfg.data, cfg.val_data], info.is_main):
            device = resolve_device(cfg.device, info.local_rank)
            out = Path(cfg.out_dir)
            if info.is_main:
                out.mkdir(parents=True, exist_ok=True)
            ckpt_path = out / CHECKPOINT_NAME
            ckpt = None
            if resume and ckpt_path.is_file():
                ckpt = load_training_checkpoint(ckpt_path, device)
                changed = changed_settings(ckpt["config"], cfg.to_dict(), RESUMABLE_TRAINING_CHANGES)
                if changed:
                    raise ValueError(
                        f"{ckpt_path} was made with other options {changed} (saved, now); resume "
                        "with the same config, or start afresh with another out_dir (or --no-resume)"
                    )
            train_ds, train_idx, val_ds, val_idx = training_datasets(cfg)

            torch.manual_seed(cfg.seed)
            np.random.seed(cfg.seed)
            random.seed(cfg.seed)
            model, processor = load_florence(cfg.checkpoint, device=str(device))
            targets = lora_targets(model, tuple(cfg.lora_targets or DEFAULT_FLORENCE_TARGETS))
            if not targets:
                raise ValueError(
                    f"no linear layer of the text model is named {cfg.lora_targets}; "
                    f"use names such as {list(DEFAULT_FLORENCE_TARGETS)}"
                )
            with peft_on_transformers():
                peft_model = apply_lora(model, targets, cfg.lora_r, cfg.lora_alpha)
            n_trainable, n_total = trainable_parameters(model)
            params = [p for p in model.parameters() if p.requires_grad]
            optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
            sampler = torch.utils.data.DistributedSampler(
                train_idx, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed
            )
            steps_per_epoch = math.ceil(len(sampler) / cfg.accum_steps)
            total_steps = cfg.epochs * steps_per_epoch
            scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg.warmup_steps, total_steps))
            state = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best": None, "history": []}
            if ckpt is not None:
                named = dict(model.named_parameters())
                for name, value in ckpt["lora"].items():
                    named[name].data.copy_(value)
                optimizer.load_state_dict(ckpt["optimizer"])
                scheduler.load_state_dict(ckpt["scheduler"])
                set_rng_state(ckpt["rng"])
                state = ckpt["state"]

            def save_checkpoint() -> None:
                if info.is_main:
                    atomic_torch_save(
                        {
                            "lora": lora_state_dict(model),
                            "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(),
                            "rng": rng_state(),
                            "state": state,
                            "config": cfg.to_dict(),
                        },
                        ckpt_path,
                    )

            module: torch.nn.Module = FlorenceLoss(model, processor)
            if info.world_size > 1:
                module = torch.nn.parallel.DistributedDataParallel(
                    module,
                    device_ids=[device.index] if device.type == "cuda" else None,
                    broadcast_buffers=False,
                )
            bar = tqdm(
                total=total_steps,
                initial=state["global_step"],
                desc="train florence2",
                unit="step",
                disable=not (info.is_main and cfg.progress),
                dynamic_ncols=True,
            )
            model.train()
            stopped = False
            while state["epoch"] < cfg.epochs and not stopped:
                epoch = state["epoch"]
                sampler.set_epoch(epoch)
                order = list(sampler)
                for step in range(state["step_in_epoch"], steps_per_epoch):
                    micro = order[step * cfg.accum_steps : (step + 1) * cfg.accum_steps]
                    optimizer.zero_grad(set_to_none=True)
                    step_loss = 0.0
                    for k, pos in enumerate(micro):
                        examples = _training_examples(train_ds, train_idx[pos], cfg, epoch, processor)
                        last = k == len(micro) - 1
                        sync = module.no_sync() if info.world_size > 1 and not last else nullcontext()
                        with sync:
                            loss = module(examples)
                            (loss / len(micro)).backward()
                        step_loss += float(loss.detach()) / len(micro)
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                    optimizer.step()
                    scheduler.step()
                    state["global_step"] += 1
                    state["step_in_epoch"] = step + 1
                    bar.update(1)
                    bar.set_postfix(loss=f"{step_loss:.4f}", epoch=epoch)
                    if state["global_step"] % cfg.checkpoint_every == 0:
                        save_checkpoint()
                    if stop_after_steps is not None and state["global_step"] >= stop_after_steps:
                        stopped = True
                        break
                if stopped:
                    save_checkpoint()
                    break
                record = {"epoch": epoch, "step": state["global_step"]}
                if val_idx:
                    record.update(_validate(FlorenceFinder(model, processor), val_ds, val_idx, info))
                if record_epoch(state, record, record.get("mean_box_iou"), bool(val_idx), info, bar, out):
                    save_adapter(peft_model, out / "best_adapter", {**cfg.to_dict(), **record})
                save_checkpoint()
            bar.close()
            if not stopped and info.is_main:
                save_adapter(peft_model, out / "adapter", {**cfg.to_dict(), "epoch": cfg.epochs - 1})
            ddp.barrier(info)
            return {
                "stopped": stopped,
                "global_step": state["global_step"],
                "history": state["history"],
                "best": state["best"],
                "trainable_parameters": n_trainable,
                "total_parameters": n_total,
                "out_dir": str(out),
                "model": model,
                "peft_model": peft_model,
                "processor": processor,
            }
    finally:
        ddp.cleanup(info)


def _validate(finder, dataset, indices, info) -> dict:
    """Mean grounding box IoU per structure over the validation cases, sharded over processes."""
    from samurai import distributed as ddp

    was_training = finder.model.training
    finder.model.eval()
    try:
        part = evaluate_boxes(finder, dataset, indices[info.rank :: info.world_size])
    finally:
        finder.model.train(was_training)
    merged: dict[str, list[float]] = {}
    for piece in ddp.all_gather_objects(part, info):
        for name, values in piece.items():
            merged.setdefault(name, []).extend(values)
    record = {f"box_iou_{name}": float(np.mean(v)) for name, v in sorted(merged.items())}
    if record:
        record["mean_box_iou"] = float(np.mean(list(record.values())))
    return record
