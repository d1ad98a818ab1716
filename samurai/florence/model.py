"""Loading Florence-2 (+ a LoRA adapter), its training targets, and finding structures by words.

Florence-2 writes locations as tokens ``<loc_0>`` .. ``<loc_999>``: a coordinate is quantised
into 1000 bins across the image's width (x) or height (y). Targets and parsing both go through
the processor's own ``Florence2PostProcessor`` (``quantize`` / ``post_process_generation``), so
that training and inference agree with the library bin for bin.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

TASK_BOX = "<CAPTION_TO_PHRASE_GROUNDING>"
TASK_POLYGON = "<REFERRING_EXPRESSION_SEGMENTATION>"
# Polygons longer than this are simplified (Douglas-Peucker) until they fit: every vertex costs
# two tokens, and 32 vertices follow a chamber's outline within a pixel or two at echo sizes.
MAX_POLYGON_POINTS = 32

WEIGHTS_HELP = (
    "Florence-2 needs a local model folder in transformers format (config.json, weights and the "
    "processor files): save one with Florence2ForConditionalGeneration.from_pretrained(...) and "
    "AutoProcessor.from_pretrained(...) then .save_pretrained(DIR) (e.g. florence-community/"
    "Florence-2-base or -large on the Hugging Face hub) on a machine with internet access, and "
    "pass DIR"
)


class FlorenceError(ValueError):
    """Florence-2 or its adapter cannot be loaded (the message says why and what to pass)."""


@contextmanager
def peft_on_transformers():
    """Wrap peft calls on a transformers model: peft 0.21 reads ``is_gradient_checkpointing``,
    which transformers 5 deprecates with a FutureWarning on every wrap; nothing is wrong."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield


def phrase_for(name: str) -> str:
    """The words for a class name: ``"lv"`` / ``"LV"`` -> ``"left ventricle"``; others as given."""
    from samurai.prompters.base import CHAMBER_PHRASES

    return CHAMBER_PHRASES.get(name.lower(), name.lower())


def load_florence(model_dir, adapter=None, device: str = "cpu"):
    """``(model, processor)`` from a transformers Florence-2 folder, with a peft adapter merged in
    memory when ``adapter`` is given (inference only). Raises :class:`FlorenceError`."""
    from transformers import AutoProcessor, Florence2ForConditionalGeneration

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise FlorenceError(f"{model_dir} is not a Florence-2 folder (no config.json); {WEIGHTS_HELP}")
    try:
        processor = AutoProcessor.from_pretrained(model_dir, local_files_only=True)
        model = Florence2ForConditionalGeneration.from_pretrained(model_dir, local_files_only=True)
    except (OSError, ValueError, KeyError) as err:
        raise FlorenceError(f"cannot load Florence-2 from {model_dir}: {err}; {WEIGHTS_HELP}") from None
    if adapter is not None:
        from peft import PeftModel

        adapter = Path(adapter)
        if not (adapter / "adapter_config.json").is_file():
            raise FlorenceError(
                f"{adapter} is not a peft adapter folder (no adapter_config.json); pass "
                "the adapter/ or best_adapter/ folder written by `samurai train --model florence2`"
            )
        try:
            with peft_on_transformers():
                model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise FlorenceError(f"adapter {adapter} does not fit the model in {model_dir}: {err}") from None
    return model.to(device).eval(), processor


def _quantize(processor, points: np.ndarray, width: int, height: int) -> np.ndarray:
    import torch

    return processor.post_processor.quantize(
        torch.as_tensor(points, dtype=torch.float32), size=(width, height)
    ).numpy()


def _loc_text(bins) -> str:
    return "".join(f"<loc_{int(b)}>" for b in np.asarray(bins).reshape(-1))


def box_target(mask: np.ndarray, phrase: str, processor) -> str:
    """The grounding answer for one structure: ``"left ventricle<loc_x1><loc_y1><loc_x2><loc_y2>"``
    (its mask's box, ``samurai_core.mask_to_box``: inclusive pixel corners, as eval prompts)."""
    from samurai_core.boxes import mask_to_box

    h, w = mask.shape
    return phrase + _loc_text(_quantize(processor, mask_to_box(mask)[None], w, h))


def polygon_target(mask: np.ndarray, processor, max_points: int = MAX_POLYGON_POINTS) -> str:
    """The referring-segmentation answer: the outline of the mask's largest region as
    ``<loc_x><loc_y>...`` (at most ``max_points`` vertices). Holes are not drawn (a ring such as
    the myocardium becomes its outer outline)."""
    import cv2

    h, w = mask.shape
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    outline = max(contours, key=cv2.contourArea)
    eps = 0.5
    while len(outline) > max_points:
        outline = cv2.approxPolyDP(outline, eps, True)
        eps *= 1.5
    return _loc_text(_quantize(processor, outline.reshape(-1, 2).astype(np.float32), w, h))


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """Fill Florence-2's parsed polygons (flat ``[x0, y0, x1, y1, ...]`` lists) into a mask."""
    import cv2

    canvas = np.zeros((height, width), np.uint8)
    for poly in polygons:
        pts = np.asarray(poly, np.float64).reshape(-1, 2)
        if len(pts) >= 3:
            cv2.fillPoly(canvas, [np.round(pts).astype(np.int32)], 1)
    return canvas.astype(bool)


class FlorenceFinder:
    """Finds named structures on frames with a (fine-tuned) Florence-2: one ``generate`` call
    per batch of (frame, phrase) pairs, greedy decoding."""

    def __init__(self, model, processor, max_new_tokens: int = 2 * MAX_POLYGON_POINTS + 16):
        self.model, self.processor = model, processor
        self.max_new_tokens = max_new_tokens
        self.device = next(model.parameters()).device

    def _generate(self, frames, phrases, task):
        import torch

        # Copies: the image processor hands arrays to torch, which warns on read-only ones
        # (decoded video frames often are).
        inputs = self.processor(
            text=[task + p for p in phrases],
            images=[np.array(f) for f in frames],
            return_tensors="pt",
            padding=True,
        ).to(self.device)
        with torch.inference_mode():
            out = self.model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                num_beams=1,
                output_scores=True,
                return_dict_in_generate=True,
            )
            logp = self.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)
        texts = self.processor.batch_decode(out.sequences, skip_special_tokens=False)
        pad = self.processor.tokenizer.pad_token_id
        kept = out.sequences[:, 1:] != pad  # the tokens generated before padding
        # Confidence: the geometric mean of the generated tokens' probabilities.
        total = torch.where(kept, logp, torch.zeros_like(logp)).sum(1)
        scores = torch.exp(total / kept.sum(1).clamp(min=1)).cpu().numpy()
        return texts, scores

    def boxes(self, frames: Sequence[np.ndarray], phrases: Sequence[str]):
        """Per (frame, phrase): ``(xyxy float32 [4] or None, confidence)`` from phrase grounding."""
        texts, scores = self._generate(frames, phrases, TASK_BOX)
        found = []
        for frame, text, score in zip(frames, texts, scores):
            h, w = frame.shape[:2]
            parsed = self.processor.post_process_generation(text=text, task=TASK_BOX, image_size=(w, h))[
                TASK_BOX
            ]
            box = np.asarray(parsed["bboxes"][0], np.float32) if parsed["bboxes"] else None
            found.append((box, float(score)))
        return found

    def masks(self, frames: Sequence[np.ndarray], phrases: Sequence[str]) -> list[np.ndarray]:
        """Per (frame, phrase): the referring-segmentation polygons filled into a bool mask."""
        texts, _ = self._generate(frames, phrases, TASK_POLYGON)
        out = []
        for frame, text in zip(frames, texts):
            h, w = frame.shape[:2]
            parsed = self.processor.post_process_generation(text=text, task=TASK_POLYGON, image_size=(w, h))[
                TASK_POLYGON
            ]
            out.append(polygons_to_mask([p for group in parsed["polygons"] for p in group], h, w))
        return out


def write_tiny_florence(folder, image_size: int = 64, seed: int = 0) -> Path:
    """Save a small random-init Florence-2 with a working processor to ``folder`` (no download).

    For tests and benchmarks only: its tokenizer is byte-level BPE without merges (each byte is
    a token) plus Florence-2's special tokens (``<loc_0>``.. ``<loc_999>``, ``<poly>``, ``<sep>``,
    the image token), and its image processor resizes to ``image_size`` (a multiple of 32).
    """
    import torch
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import (
        BartTokenizer,
        CLIPImageProcessor,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
    )

    if image_size % 32:
        raise ValueError(f"image_size={image_size} must be a multiple of 32 (the vision tower's stride)")
    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab = {t: i for i, t in enumerate(specials + sorted(ByteLevel.alphabet()) + ["<mask>"])}
    tokenizer = BartTokenizer(vocab=vocab, merges=[], extra_special_tokens={"image_token": "<image>"})
    tokenizer.add_tokens(
        [f"<loc_{i}>" for i in range(1000)] + ["<od>", "</od>", "<poly>", "</poly>", "<sep>"]
    )
    side = image_size // 32
    images = CLIPImageProcessor(
        size={"height": image_size, "width": image_size},
        do_center_crop=False,
        crop_size={"height": image_size, "width": image_size},
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
        image_seq_length=side * side + 1,
    )
    processor = Florence2Processor(
        image_processor=images,
        tokenizer=tokenizer,
        post_processor_config={
            "phrase_grounding": {},
            "polygons": {},
            "pure_text": {},
            "description_with_bboxes": {},
            "bboxes": {},
            "description_with_polygons": {},
            "description_with_bboxes_or_polygons": {},
            "ocr": {},
        },
    )
    text = dict(
        model_type="bart",
        vocab_size=len(tokenizer),
        d_model=64,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=512,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        init_std=0.1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    vision = dict(
        depths=[1, 1, 1, 1],
        embed_dim=[16, 32, 32, 64],
        num_heads=[1, 2, 2, 4],
        num_groups=[1, 2, 2, 4],
        window_size=2,
        projection_dim=64,
        drop_path_rate=0.0,
    )
    torch.manual_seed(seed)
    model = Florence2ForConditionalGeneration(
        Florence2Config(vision_config=vision, text_config=text, image_token_id=tokenizer.image_token_id)
    )
    folder = Path(folder)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
