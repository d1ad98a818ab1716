"""The prompter interface and its registry (docs/architecture.md, "Prompters")."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

# The phrase each class name stands for, for prompters that read words (Florence-2, SAM 3).
CHAMBER_PHRASES: Mapping[str, str] = {
    "lv": "left ventricle",
    "myo": "myocardium",
    "la": "left atrium",
    "rv": "right ventricle",
    "ra": "right atrium",
}


class PrompterError(ValueError):
    """A prompter cannot be built or used as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class PromptResult:
    """One structure on one frame, as a prompter found it.

    Attributes:
      name: the class name asked for (``"lv"``).
      present: whether the prompter believes the structure is on the frame.
      score: its confidence, a probability in ``[0, 1]``.
      mask: ``[H, W]`` bool at the frame's size, or ``None`` for box-only prompters.
      box: ``[4]`` float32 ``xyxy`` box in the core's convention (``samurai_core.mask_to_box``),
        or ``None`` when absent.
    """

    name: str
    present: bool
    score: float
    mask: np.ndarray | None = None
    box: np.ndarray | None = None


class Prompter(Protocol):
    """Finds named structures on RGB frames (``[H, W, 3]`` uint8)."""

    name: str

    def find(self, frame: np.ndarray, classes: Sequence[str]) -> dict[str, PromptResult]:
        """One :class:`PromptResult` per requested class name, in the order asked."""
        ...


# name -> "module:factory"; factories take keyword options and return a Prompter. Modules are
# imported only when their prompter is asked for (each pulls in its own model library).
_REGISTRY: dict[str, str] = {
    "florence2": "samurai.prompters.florence2:make_florence2_prompter",
    "sam3": "samurai.prompters.sam3:make_sam3_prompter",
    "learned": "samurai.prompters.learned:build_learned_prompter",
}


def register_prompter(name: str, target: str) -> None:
    """Make ``make_prompter(name, ...)`` call ``target`` (``"package.module:factory"``)."""
    _REGISTRY[name] = target


def available_prompters() -> list[str]:
    return sorted(_REGISTRY)


def make_prompter(name: str, **options) -> Prompter:
    """Build the prompter registered as ``name`` with its keyword ``options``."""
    if name not in _REGISTRY:
        known = ", ".join(available_prompters()) or "none"
        raise PrompterError(f"unknown prompter {name!r}; choose one of: {known}")
    module, _, factory = _REGISTRY[name].partition(":")
    build: Callable[..., Prompter] = getattr(importlib.import_module(module), factory)
    return build(**options)
