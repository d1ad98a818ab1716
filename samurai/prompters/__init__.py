"""Prompters: find named structures (``lv``, ``la``, ``rv``, ``ra``, ...) on a frame, with no box.

A prompter answers "where is each named structure on this frame?" for a list of class names: per
name a mask and/or box (the core's box convention), a confidence and present / absent. ``track``
and ``eval`` use it on the first frame to create one tracked object per present structure, and on
later frames to re-seed a structure whose track was lost or that appears late. Implementations
register themselves under a name (``--prompter NAME``); see ``docs/chambers.md``.
"""

from samurai.prompters.base import (
    CHAMBER_PHRASES,
    Prompter,
    PrompterError,
    PromptResult,
    available_prompters,
    make_prompter,
    register_prompter,
)

__all__ = [
    "CHAMBER_PHRASES",
    "PromptResult",
    "Prompter",
    "PrompterError",
    "available_prompters",
    "make_prompter",
    "register_prompter",
]
