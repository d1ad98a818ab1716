"""What a run's manifest records so that it can be reproduced: file hashes, package versions,
the model and inputs of a run, its prompts."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(path: str | os.PathLike | None):
    """SHA-256 of a file, ``{relative path: sha256}`` of a folder's files, None for None."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        return {str(p.relative_to(path)): file_sha256(p) for p in sorted(path.rglob("*")) if p.is_file()}
    return file_sha256(path)


def package_versions() -> dict:
    """Installed versions of the packages a run's result depends on (None: not installed)."""
    from importlib import metadata

    from samurai import __version__

    versions = {"samurai": __version__}
    for name in ("torch", "sam2", "jax", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions
