"""The ``florence2`` prompter: a (LoRA fine-tuned) Florence-2 finds each chamber's box by name.

``<CAPTION_TO_PHRASE_GROUNDING>`` with the class's phrase (``CHAMBER_PHRASES``: ``lv`` ->
"left ventricle"); the structure is present when the answer holds a non-empty box, and its
score is the geometric mean of the answer tokens' probabilities. See docs/training.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from samurai.prompters.base import PrompterError, PromptResult


class Florence2Prompter:
    """:class:`samurai.prompters.base.Prompter` on :class:`samurai.florence.FlorenceFinder`."""

    name = "florence2"

    def __init__(self, finder):
        self.finder = finder

    def find(self, frame: np.ndarray, classes: Sequence[str]) -> dict[str, PromptResult]:
        from samurai.florence import phrase_for

        found = self.finder.boxes([frame] * len(classes), [phrase_for(c) for c in classes])
        results = {}
        for name, (box, score) in zip(classes, found):
            present = box is not None and bool(box[2] >= box[0] and box[3] >= box[1])
            results[name] = PromptResult(
                name=name, present=present, score=score, box=np.asarray(box, np.float32) if present else None
            )
        return results


def make_florence2_prompter(model=None, adapter=None, device=None) -> Florence2Prompter:
    """``model``: a Florence-2 folder (transformers format); ``adapter``: a peft adapter folder
    from ``samurai train --model florence2``; ``device``: torch device (default: cuda if any)."""
    from samurai.florence import FlorenceError, FlorenceFinder, load_florence
    from samurai.florence.model import WEIGHTS_HELP

    if model is None:
        raise PrompterError(f"the florence2 prompter needs --prompter-model DIR. {WEIGHTS_HELP}")
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        return Florence2Prompter(FlorenceFinder(*load_florence(model, adapter, device)))
    except FlorenceError as err:
        raise PrompterError(str(err)) from None
