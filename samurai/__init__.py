"""samurai: the command line, the Python API, datasets, evaluation and training on top of the
backends.

``import samurai`` loads nothing heavy: the API's names load on first use.

>>> import samurai
>>> result = samurai.track("clip.mp4", boxes=[(40, 30, 90, 100)], checkpoint="sam2.1_hiera_tiny.pt")  # doctest: +SKIP
>>> lv_area = [frame.masks[1].sum() for frame in result]  # doctest: +SKIP

See docs/api.md.
"""

__version__ = "0.1.0"

# Public name -> the module that holds it (imported when the name is first used).
_LAZY = {
    "track": "samurai.api",
    "Tracking": "samurai.api",
    "TrackedFrame": "samurai.api",
    "evaluate": "samurai.api",
    "EvalResult": "samurai.eval.runner",
    "UserError": "samurai.errors",
}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'samurai' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
