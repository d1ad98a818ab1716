"""Which torch device a run uses: one rule for every command and backend.

``resolve_device`` turns what a user typed (``None``/"auto", "cpu", "cuda", "cuda:1", "mps")
into a ``torch.device`` that exists on this machine, or raises ValueError saying what is
visible and what to pass instead, before any model is built.
"""

from __future__ import annotations

import torch


def resolve_device(name: str | torch.device | None = None, local_rank: int = 0) -> torch.device:
    """The device ``name`` names, checked against this machine.

    ``None`` or "auto": the process's GPU (``cuda:local_rank``) when CUDA is visible, else the
    CPU.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if name is None or (isinstance(name, str) and name.strip().lower() == "auto"):
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name.strip() if isinstance(name, str) else name)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(f"device {name!r} is not a torch device; pass cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device {name!r}: no CUDA device is visible (torch {torch.__version__}"
                f"{'' if torch.version.cuda else ', built without CUDA'}); pass --device cpu"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"device {name!r}: only {count} CUDA device(s) are visible (cuda:0 to "
                f"cuda:{count - 1}); pass one of those, or --device cpu"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r}: no Apple MPS device is visible; pass --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {name!r} is not supported here; pass cpu, cuda, cuda:N or auto")
    return device
