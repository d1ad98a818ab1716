"""LoRA fine-tuning of SAM 2 on echo clips, outside the predictor's inference-mode API.

One step: the frozen image encoder embeds the clip's frames; frame 0 gets a jittered box prompt
per object; every later frame goes through ``SAM2Base._track_step`` with the memory of the
previous frames (all objects as one batch); SAM 2's losses are summed over the labelled frames.

Resuming: the checkpoint holds the adapter, optimizer, scheduler, RNG states and the position
(epoch, step). Data order is a pure function of ``(seed, epoch)`` and each clip's frame choice
and box jitter of ``(seed, epoch, case)``, so a resumed run ends with the same weights as an
uninterrupted one.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from samurai import distributed as ddp
from samurai.eval.metrics import dice
from samurai.output import atomic_write_bytes, atomic_write_text
from samurai.settings import RESUMABLE_TRAINING_CHANGES, changed_settings
from samurai.train.clips import Clip, choose_frames, frames_from, make_clip
from samurai.train.config import TrainConfig, training_datasets
from samurai.train.losses import LossWeights, frame_losses
from samurai.train.prompts import class_clip, class_prompted_first_frame
from samurai.train.run_folder import CHECKPOINT_NAME, claim_run_folder, load_training_checkpoint
from samurai_common.devices import resolve_device


def clip_forward(
    model,
    clip: Clip,
    weights: LossWeights = LossWeights(),
    need_loss: bool = True,
    class_prompts=None,
):
    """Run SAM 2 over one clip with grad through whatever is trainable.

    Frame 0 is prompted by ``clip.boxes``, or, with ``class_prompts`` (a ``ClassPrompts``),
    by the tokens of each object's class (``clip.class_index``).

    Returns ``(loss, terms, masks)``: the summed SAM 2 loss over labelled frames (None when
    ``need_loss`` is False), the summed loss terms (floats), and the chosen masks' logits per
    frame ``[T, N, S, S]`` (detached).
    """
    if hasattr(model, "_session_class"):  # a transformers model (samurai_hf)
        from samurai.train.hf import hf_clip_forward

        return hf_clip_forward(model, clip, weights, need_loss)
    device = model.device
    images = clip.images.to(device)
    n = len(clip.object_ids)
    num_frames = images.shape[0]
    # The image encoder is frozen unless part of it is trained in full (train_modules).
    encoder_trains = any(p.requires_grad for p in model.image_encoder.parameters())
    with torch.set_grad_enabled(encoder_trains and torch.is_grad_enabled()):
        backbone = model.forward_image(images)
    output_dict = {"cond_frame_outputs": {}, "non_cond_frame_outputs": {}}
    box = clip.boxes.to(device)
    point_inputs = {
        "point_coords": box.view(n, 2, 2),
        "point_labels": torch.tensor([[2, 3]], dtype=torch.int32, device=device).expand(n, 2),
    }
    total = None
    terms_sum: dict[str, float] = {}
    chosen = []
    for t in range(num_frames):
        frame_out = {
            "backbone_fpn": [f[t : t + 1].expand(n, -1, -1, -1) for f in backbone["backbone_fpn"]],
            "vision_pos_enc": [p[t : t + 1].expand(n, -1, -1, -1) for p in backbone["vision_pos_enc"]],
        }
        _, feats, pos, sizes = model._prepare_backbone_features(frame_out)
        prompt = point_inputs if t == 0 and class_prompts is None else None
        if t == 0 and class_prompts is not None:
            current, sam_outputs = class_prompted_first_frame(model, class_prompts, clip, feats, pos, sizes)
        else:
            current, sam_outputs, _, _ = model._track_step(
                t, t == 0, feats, pos, sizes, prompt, None, output_dict, num_frames, False, None
            )
        _, high_res_multimasks, ious, low_res_masks, high_res_masks, obj_ptr, obj_logits = sam_outputs
        current["pred_masks"] = low_res_masks
        current["pred_masks_high_res"] = high_res_masks
        current["obj_ptr"] = obj_ptr
        current["object_score_logits"] = obj_logits
        model._encode_memory_in_output(feats, sizes, prompt, True, high_res_masks, obj_logits, current)
        output_dict["cond_frame_outputs" if t == 0 else "non_cond_frame_outputs"][t] = current
        chosen.append(high_res_masks.detach()[:, 0].float())
        if need_loss and bool(clip.labelled[t]):
            terms = frame_losses(
                high_res_multimasks.float(),
                ious.float(),
                obj_logits.float(),
                clip.targets[t].to(device),
                weights,
            )
            total = terms["total"] if total is None else total + terms["total"]
            for k, v in terms.items():
                terms_sum[k] = terms_sum.get(k, 0.0) + float(v.detach())
    return total, terms_sum, torch.stack(chosen)


class ClipLoss(torch.nn.Module):
    """``forward(clip) -> loss``: the module DDP wraps (SAM2Base itself has no forward)."""

    def __init__(self, model: torch.nn.Module, weights: LossWeights, class_prompts=None) -> None:
        super().__init__()
        self.model = model
        self.weights = weights
        self.class_prompts = class_prompts

    def forward(self, clip: Clip | None):
        if clip is None:
            # An unusable case still takes part in the step (every process must run the
            # same backward under DDP): a zero loss over the trainable parameters.
            zero = sum(p.sum() * 0.0 for p in self.parameters() if p.requires_grad)
            return zero, {}
        loss, terms, _ = clip_forward(self.model, clip, self.weights, class_prompts=self.class_prompts)
        return loss, terms


def case_rng(seed: int, epoch: int, index: int) -> tuple[np.random.Generator, torch.Generator]:
    """The generators of one clip: a pure function of (seed, epoch, case index)."""
    np_rng = np.random.default_rng([seed, epoch, index])
    torch_gen = torch.Generator().manual_seed(int(np_rng.integers(0, 2**62)))
    return np_rng, torch_gen


def evaluate(
    model, dataset, cfg: TrainConfig, indices: Sequence[int] | None = None, class_prompts=None
) -> dict:
    """Validation Dice per structure: each case's first clip from its first labelled frame,
    box prompt without jitter (or, with ``class_prompts``, every class's learned prompt), Dice
    on the labelled frames after the prompted one (or on it, when it is the only one).
    Returns ``{"sums": {label_id: (dice_sum, count)}, "names": {...}}``.
    """
    was_training = model.training
    model.eval()
    sums: dict[int, list[float]] = {}
    names: dict[int, str] = {}
    try:
        with torch.no_grad():
            for i in range(len(dataset)) if indices is None else indices:
                case = dataset[i]
                lab = np.nonzero(case.labelled)[0]
                if len(lab) == 0:
                    continue
                frames = frames_from(int(lab[0]), case.labelled, cfg.clip_len)
                if frames is None:
                    continue
                if class_prompts is None:
                    clip = make_clip(case, frames, cfg.image_size, max_objects=cfg.max_objects)
                else:
                    clip = class_clip(case, frames, cfg.image_size, class_prompts.class_names)
                if clip is None:
                    continue
                _, _, logits = clip_forward(model, clip, need_loss=False, class_prompts=class_prompts)
                pred = (logits > 0).cpu().numpy()
                truth = clip.targets.numpy() > 0.5
                scored = [t for t in range(1, len(frames)) if clip.labelled[t]] or [0]
                for j, obj in enumerate(clip.object_ids):
                    if obj < 0:  # a class this case does not label: nothing to score
                        continue
                    names[obj] = case.labels.get(obj, str(obj))
                    for t in scored:
                        entry = sums.setdefault(obj, [0.0, 0.0])
                        entry[0] += dice(pred[t, j], truth[t, j])
                        entry[1] += 1
    finally:
        model.train(was_training)
    return {"sums": sums, "names": names}


def lr_lambda(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def atomic_torch_save(obj, path: Path) -> None:
    # Through the project's atomic writer: the same file modes as every other output.
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def rng_state() -> dict:
    """The run's torch generator states (the fork ``train`` runs on: dropout draws from it).
    NumPy and ``random`` are not used: clips take local generators (``case_rng``)."""
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def train(cfg: TrainConfig, resume: bool = True, stop_after_steps: int | None = None) -> dict:
    """Fine-tune LoRA adapters on ``cfg.data``; returns a summary dict.

    ``cfg.out_dir`` is claimed by :func:`samurai.train.run_folder.claim_run_folder` first (one
    run at a time, nothing foreign written over, not in the data). Writes to it: ``checkpoint.pt`` (full training state, atomically, every
    ``checkpoint_every`` steps and each epoch), ``best_adapter/`` and ``adapter/`` (peft
    adapters with ``train_config.json``) and ``history.json``. With ``resume`` an existing
    checkpoint is continued. ``stop_after_steps`` stops (after checkpointing) once that many
    optimizer steps are done in total, as a preempted job would.

    The caller's random generators are left as they were: data order, frame choice and box
    jitter use local generators; model initialisation and dropout, which draw from torch's
    global generator, run on a fork of it seeded with ``cfg.seed``.
    """
    cfg.validate()
    info = ddp.setup()
    try:
        with claim_run_folder(cfg.out_dir, [cfg.data, cfg.val_data], info.is_main):
            devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(cfg.seed)
                return _train(cfg, info, resume, stop_after_steps)
    finally:
        ddp.cleanup(info)


@dataclass
class _Run:
    """What the steps of one training run share."""

    cfg: TrainConfig
    info: ddp.DistInfo
    device: torch.device
    out: Path
    model: torch.nn.Module
    peft_model: torch.nn.Module
    module: torch.nn.Module  # ClipLoss, DDP-wrapped with several processes
    params: list
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    autocast: object
    train_ds: object
    train_idx: list[int]
    val_ds: object
    val_idx: list[int]
    state: dict  # epoch, step_in_epoch, global_step, best, history, skipped_clips
    trained: dict  # name -> parameter of the modules trained in full (train_modules)
    class_prompts: object  # ClassPrompts with prompts="learned", else None

    def save_checkpoint(self) -> None:
        from samurai.train.lora import lora_state_dict

        if self.info.is_main:
            tokens = (
                {}
                if self.class_prompts is None
                else {"class_tokens": self.class_prompts.tokens.detach().clone()}
            )
            atomic_torch_save(
                {
                    "lora": lora_state_dict(self.model),
                    "optimizer": self.optimizer.state_dict(),
                    "trained": {n: p.detach().clone() for n, p in self.trained.items()},
                    **tokens,
                    "scheduler": self.scheduler.state_dict(),
                    "rng": rng_state(),
                    "state": self.state,
                    "config": self.cfg.to_dict(),
                },
                self.out / CHECKPOINT_NAME,
            )

    def save_adapter(self, folder: str, info: dict) -> None:
        from samurai.train.lora import save_adapter

        save_adapter(self.peft_model, self.out / folder, info, self.class_prompts, self.trained)


def _train(cfg: TrainConfig, info, resume: bool, stop_after_steps: int | None) -> dict:
    from tqdm.auto import tqdm

    run, sampler, steps_per_epoch, n_params = _setup(cfg, info, resume)
    state = run.state
    bar = tqdm(
        total=cfg.epochs * steps_per_epoch,
        initial=state["global_step"],
        desc="train",
        unit="step",
        disable=not (info.is_main and cfg.progress),
        dynamic_ncols=True,
    )
    run.model.train()
    stopped = False
    while state["epoch"] < cfg.epochs and not stopped:
        sampler.set_epoch(state["epoch"])
        stopped = _run_epoch_steps(run, list(sampler), steps_per_epoch, bar, stop_after_steps)
        if stopped:
            run.save_checkpoint()
            break
        _end_epoch(run, bar)
    bar.close()
    if not stopped and info.is_main:
        run.save_adapter("adapter", {**cfg.to_dict(), "epoch": cfg.epochs - 1})
    ddp.barrier(info)
    return {
        "stopped": stopped,
        "global_step": state["global_step"],
        "history": state["history"],
        "best": state["best"],
        "trainable_parameters": n_params[0],
        "total_parameters": n_params[1],
        "skipped_clips": state["skipped_clips"],
        "out_dir": str(run.out),
        "model": run.model,
        "peft_model": run.peft_model,
        "class_prompts": run.class_prompts,
    }


def _load_resumable(cfg: TrainConfig, ckpt_path: Path, device, resume: bool) -> dict | None:
    """The checkpoint to continue from, or None; refuses one made with other options."""
    if not (resume and ckpt_path.is_file()):
        return None
    ckpt = load_training_checkpoint(ckpt_path, device)
    changed = changed_settings(ckpt["config"], cfg.to_dict(), RESUMABLE_TRAINING_CHANGES)
    if changed:
        raise ValueError(
            f"{ckpt_path} was made with other options {changed} (saved, now); resume with "
            "the same config, or start afresh with another --out or --no-resume (out_dir, "
            "resume=False in Python)"
        )
    return ckpt


def _setup(cfg: TrainConfig, info, resume: bool):
    """Datasets, model with LoRA, optimizer, schedule and sampler; restored from the checkpoint
    when resuming. Returns ``(run, sampler, steps_per_epoch, (n_trainable, n_total))``."""
    from samurai.train.lora import apply_lora, set_trainable_modules, trainable_parameters
    from samurai.train.model import build_model

    device = resolve_device(cfg.device, info.local_rank)
    out = Path(cfg.out_dir)
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
    ckpt = _load_resumable(cfg, out / CHECKPOINT_NAME, device, resume)
    train_ds, train_idx, val_ds, val_idx = training_datasets(cfg)
    class_names = None
    if cfg.prompts == "learned":
        from samurai.train.prompts import check_val_classes, dataset_class_names

        class_names = cfg.classes or dataset_class_names(train_ds)
        check_val_classes(val_ds, val_idx, class_names)

    model = build_model(cfg.model, cfg.checkpoint, device, cfg.image_size)
    peft_model = apply_lora(model, cfg.lora_targets or None, cfg.lora_r, cfg.lora_alpha)
    trained = set_trainable_modules(model, cfg.train_modules)
    class_prompts = None
    if class_names is not None:
        from samurai_sam2.class_prompts import ClassPrompts

        class_prompts = ClassPrompts.for_model(
            model,
            class_names,
            cfg.prompt_tokens,
            generator=torch.Generator().manual_seed(cfg.seed),
        )
    n_params = trainable_parameters(model)
    params = [p for p in model.parameters() if p.requires_grad]
    if class_prompts is not None:
        params.append(class_prompts.tokens)
        n_params = (n_params[0] + class_prompts.tokens.numel(), n_params[1] + class_prompts.tokens.numel())
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sampler = torch.utils.data.DistributedSampler(
        train_idx, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=cfg.seed
    )
    steps_per_epoch = math.ceil(len(sampler) / cfg.accum_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(cfg.warmup_steps, cfg.epochs * steps_per_epoch)
    )
    state = {
        "epoch": 0,
        "step_in_epoch": 0,
        "global_step": 0,
        "best": None,
        "history": [],
        "skipped_clips": 0,
    }
    if ckpt is not None:
        named = dict(model.named_parameters())
        for name, value in {**ckpt["lora"], **ckpt.get("trained", {})}.items():
            named[name].data.copy_(value)
        if class_prompts is not None:
            class_prompts.tokens.data.copy_(ckpt["class_tokens"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        set_rng_state(ckpt["rng"])
        state = ckpt["state"]

    module: torch.nn.Module = ClipLoss(model, LossWeights(**cfg.loss_weights), class_prompts)
    if info.world_size > 1:
        module = torch.nn.parallel.DistributedDataParallel(
            module,
            device_ids=[device.index] if device.type == "cuda" else None,
            broadcast_buffers=False,
        )
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16) if cfg.amp and device.type == "cuda" else nullcontext()
    )
    run = _Run(
        cfg,
        info,
        device,
        out,
        model,
        peft_model,
        module,
        params,
        optimizer,
        scheduler,
        autocast,
        train_ds,
        train_idx,
        val_ds,
        val_idx,
        state,
        trained,
        class_prompts,
    )
    return run, sampler, steps_per_epoch, n_params


def _run_epoch_steps(run: _Run, order: list[int], steps_per_epoch: int, bar, stop_after_steps) -> bool:
    """The optimizer steps left in this epoch (``accum_steps`` clips each); True when
    ``stop_after_steps`` stopped the run."""
    cfg, state, info = run.cfg, run.state, run.info
    epoch = state["epoch"]
    for step in range(state["step_in_epoch"], steps_per_epoch):
        micro = order[step * cfg.accum_steps : (step + 1) * cfg.accum_steps]
        run.optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for k, pos in enumerate(micro):
            clip = _training_clip(run.train_ds, run.train_idx[pos], cfg, epoch, run.class_prompts)
            state["skipped_clips"] += clip is None
            last = k == len(micro) - 1
            sync = run.module.no_sync() if info.world_size > 1 and not last else nullcontext()
            with sync:
                with run.autocast:
                    loss, _ = run.module(clip)
                (loss / len(micro)).backward()
            step_loss += float(loss.detach()) / len(micro)
        torch.nn.utils.clip_grad_norm_(run.params, cfg.grad_clip)
        run.optimizer.step()
        run.scheduler.step()
        state["global_step"] += 1
        state["step_in_epoch"] = step + 1
        bar.update(1)
        bar.set_postfix(loss=f"{step_loss:.4f}", epoch=epoch)
        if state["global_step"] % cfg.checkpoint_every == 0:
            run.save_checkpoint()
        if stop_after_steps is not None and state["global_step"] >= stop_after_steps:
            return True
    return False


def _end_epoch(run: _Run, bar) -> None:
    """Validate, keep the best adapter, record the history, checkpoint; next epoch."""
    cfg, state, info = run.cfg, run.state, run.info
    epoch = state["epoch"]
    record = {"epoch": epoch, "step": state["global_step"]}
    if run.val_idx:
        record.update(_validate(run.model, run.val_ds, run.val_idx, cfg, info, run.device, run.class_prompts))
    if record_epoch(state, record, record.get("mean_dice"), bool(run.val_idx), info, bar, run.out):
        run.save_adapter("best_adapter", {**cfg.to_dict(), "epoch": epoch, **record})
    run.save_checkpoint()


def record_epoch(state: dict, record: dict, score, validated: bool, info, bar, out: Path) -> bool:
    """End an epoch in ``state``: mark whether ``score`` is the best so far (always, without
    validation), append ``record`` to the history, move to the next epoch and, on the main
    process, print the record and write ``history.json``. Returns True when the main process
    should save the best adapter."""
    improved = not validated or state["best"] is None or (score is not None and score > state["best"])
    if improved:
        state["best"] = score
    record["best"] = improved
    state["history"].append(record)
    state["epoch"] += 1
    state["step_in_epoch"] = 0
    if info.is_main:
        bar.write(
            f"epoch {record['epoch']}: "
            + ", ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in record.items()
                if k != "epoch"
            )
        )
        atomic_write_text(out / "history.json", json.dumps(state["history"], indent=2, default=str))
    return improved and info.is_main


def _training_clip(dataset, case_index: int, cfg: TrainConfig, epoch: int, class_prompts=None) -> Clip | None:
    np_rng, torch_gen = case_rng(cfg.seed, epoch, case_index)
    case = dataset[case_index]
    frames = choose_frames(case.labelled, cfg.clip_len, np_rng)
    if frames is None:
        return None
    if class_prompts is not None:
        return class_clip(case, frames, cfg.image_size, class_prompts.class_names)
    return make_clip(
        case, frames, cfg.image_size, jitter=cfg.box_jitter, generator=torch_gen, max_objects=cfg.max_objects
    )


def _validate(model, dataset, indices, cfg: TrainConfig, info, device, class_prompts=None) -> dict:
    """Dice per structure over the validation cases, sharded over processes."""
    result = evaluate(model, dataset, cfg, indices[info.rank :: info.world_size], class_prompts)
    table = torch.zeros(256, 2, dtype=torch.float64, device=device)
    for obj, (total, count) in result["sums"].items():
        table[obj] = torch.tensor([total, count], dtype=torch.float64)
    ddp.all_reduce_sum(table, info)
    names: dict[int, str] = {}
    for part in ddp.all_gather_objects(result["names"], info):
        names.update(part)
    record = {}
    for obj in sorted(names):
        total, count = table[obj].tolist()
        if count:
            record[f"dice_{names[obj]}"] = total / count
    if record:
        record["mean_dice"] = float(np.mean(list(record.values())))
    return record
