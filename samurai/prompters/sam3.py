"""The ``sam3`` prompter: SAM 3 text ("concept") prompts find each named chamber on a frame.

Each class name is turned into a phrase (``samurai.prompters.base.CHAMBER_PHRASES``: "lv" ->
"left ventricle", ...; configurable), ``Sam3Model`` returns the instances it finds for that
phrase, and the best-scoring instance is the structure's mask. The frame's vision features are
computed once and reused for every phrase.

This is the zero-shot, text-only route: SAM 3 was not trained on echocardiography, so expect to
fine-tune before trusting it on echo (see ``docs/backend.md``). It loads transformers (and the
transformers backend's version check) only when built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch

from samurai.prompters.base import CHAMBER_PHRASES, PrompterError, PromptResult
from samurai_common.boxes import boxes_from_masks


class Sam3Prompter:
    """Finds named structures with SAM 3 text prompts (``Sam3Model`` + its processor).

    Args:
      model: a local folder holding a ``Sam3Model`` and its processor (``save_pretrained``).
      phrases: class name -> phrase, overriding or extending ``CHAMBER_PHRASES``.
      threshold: a structure is present when its best instance scores at least this.
      mask_threshold: probability above which a pixel belongs to an instance mask.
      device: torch device (default: CUDA when available, else CPU).
    """

    name = "sam3"

    def __init__(
        self,
        model,
        phrases: Mapping[str, str] | None = None,
        threshold: float = 0.5,
        mask_threshold: float = 0.5,
        device=None,
    ):
        from transformers import AutoProcessor, Sam3Model

        from samurai_hf.model import check_transformers_version

        check_transformers_version()
        folder = Path(model)
        if not (folder / "config.json").is_file():
            raise PrompterError(
                f"--prompter-model {folder} is not a transformers model folder (no config.json); "
                "pass a folder with a Sam3Model and its processor (save_pretrained output)"
            )
        if not 0.0 <= threshold <= 1.0:
            raise PrompterError(f"threshold={threshold} must lie in [0, 1]")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        try:
            self.model = Sam3Model.from_pretrained(str(folder)).eval().to(self.device)
            self.processor = AutoProcessor.from_pretrained(str(folder))
        except (OSError, ValueError) as err:
            raise PrompterError(f"cannot load a Sam3Model and its processor from {folder}: {err}") from None
        if getattr(self.processor, "tokenizer", None) is None:
            raise PrompterError(f"{folder} has no tokenizer; save the Sam3Processor beside the model")
        self.phrases = {**CHAMBER_PHRASES, **dict(phrases or {})}
        self.threshold = float(threshold)
        self.mask_threshold = float(mask_threshold)

    @torch.inference_mode()
    def find(self, frame: np.ndarray, classes: Sequence[str]) -> dict[str, PromptResult]:
        """One :class:`PromptResult` per class name, in the order asked: the best instance of
        its phrase (mask at the frame's size, its box, its score)."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise PrompterError(f"frames must be H×W×3 uint8 RGB; got {frame.shape} {frame.dtype}")
        unknown = [c for c in classes if c not in self.phrases]
        if unknown:
            raise PrompterError(
                f"no phrase for {unknown}; known: {sorted(self.phrases)}. Give one with "
                f"phrases={{'{unknown[0]}': 'a few words'}}"
            )
        height, width = frame.shape[:2]
        pixels = self.processor(images=frame, return_tensors="pt").pixel_values.to(self.device)
        vision = self.model.get_vision_features(pixel_values=pixels)
        results = {}
        for name in classes:
            text = self.processor(text=self.phrases[name], return_tensors="pt").to(self.device)
            outputs = self.model(
                vision_embeds=vision, input_ids=text["input_ids"], attention_mask=text["attention_mask"]
            )
            found = self.processor.post_process_instance_segmentation(
                outputs, threshold=0.0, mask_threshold=self.mask_threshold, target_sizes=[(height, width)]
            )[0]
            results[name] = self._best(name, found)
        return results

    def _best(self, name: str, found: dict) -> PromptResult:
        scores = found["scores"]
        if scores.numel() == 0:
            return PromptResult(name=name, present=False, score=0.0)
        best = int(torch.argmax(scores))
        score = float(scores[best])
        mask = found["masks"][best].bool()
        present = score >= self.threshold and bool(mask.any())
        box = None
        if present:
            # The box of the mask in the backends' convention (inclusive pixel maxima).
            box = boxes_from_masks(mask.float() - 0.5).cpu().numpy()
        return PromptResult(name=name, present=present, score=score, mask=mask.cpu().numpy(), box=box)


def make_sam3_prompter(
    model=None, phrases=None, threshold: float = 0.5, mask_threshold: float = 0.5, device=None
):
    """The registry's factory (``make_prompter("sam3", model=DIR, ...)``)."""
    if model is None:
        raise PrompterError("the sam3 prompter needs a model folder: --prompter-model DIR (a Sam3Model)")
    return Sam3Prompter(
        model, phrases=phrases, threshold=threshold, mask_threshold=mask_threshold, device=device
    )
