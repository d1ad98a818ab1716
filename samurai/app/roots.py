"""Which files the app may read: only those below the folders named on the command line.

A request names a file as ``(root index, relative path)``. The relative path is refused when it
is absolute, holds a ``..`` part, a backslash or a NUL, and the resolved file (symlinks
followed) must still lie below the resolved root, so a symlink that points outside is refused
too. URL-encoded forms (``%2e%2e``) arrive here already decoded by the server and meet the same
checks.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from samurai.errors import UserError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".dcm")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class AccessError(UserError):
    """A request for a file outside the allowed folders (HTTP 403)."""


class Roots:
    """The allowed folders, resolved once at start."""

    def __init__(self, folders):
        self.folders: list[Path] = []
        for f in folders:
            p = Path(f).expanduser()
            if not p.is_dir():
                raise UserError(f"{f} is not a folder; name the folders whose videos the app may open")
            self.folders.append(p.resolve())

    def resolve(self, root: int, rel: str) -> Path:
        """The file or folder ``rel`` below root number ``root``, or AccessError."""
        if not isinstance(root, int) or not 0 <= root < len(self.folders):
            raise AccessError(f"there is no folder number {root!r}; choose one of the listed folders")
        rel = rel or ""
        if "\x00" in rel or "\\" in rel:
            raise AccessError(f"path {rel!r} holds a NUL or a backslash; use a relative path with /")
        parts = PurePosixPath(rel).parts
        if PurePosixPath(rel).is_absolute() or ".." in parts:
            raise AccessError(f"path {rel!r} leaves the folder; give a path below it without '..'")
        base = self.folders[root]
        path = base.joinpath(*parts).resolve()
        if path != base and base not in path.parents:
            raise AccessError(f"path {rel!r} points outside the folder (a link to elsewhere?)")
        return path

    def relative(self, path: Path) -> tuple[int, str] | None:
        """``(root, rel)`` of a resolved path below one of the folders, else None."""
        path = Path(path).resolve()
        for i, base in enumerate(self.folders):
            if path == base or base in path.parents:
                return i, path.relative_to(base).as_posix()
        return None

    def listing(self, root: int, rel: str) -> list[dict]:
        """The entries of a folder: sub-folders and files the app can open, names sorted."""
        folder = self.resolve(root, rel)
        if not folder.is_dir():
            raise AccessError(f"{rel!r} is not a folder")
        entries = []
        for child in sorted(folder.iterdir(), key=lambda p: p.name):
            if child.name.startswith("."):
                continue
            try:
                target = self.resolve(root, (PurePosixPath(rel) / child.name).as_posix())
            except AccessError:
                continue  # a link out of the folder is not shown
            kind = kind_of(target)
            if kind is not None:
                entries.append(
                    {"name": child.name, "kind": kind, "path": (PurePosixPath(rel) / child.name).as_posix()}
                )
        return entries


def kind_of(path: Path) -> str | None:
    """What the app makes of a path: ``run`` (a track/eval output), ``frames`` (a folder of
    images), ``folder``, ``video``, or None (not shown)."""
    if path.is_dir():
        if (path / "manifest.json").is_file() and (path / "masks").is_dir():
            return "run"
        if any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file()):
            return "frames"
        return "folder"
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        return "video"
    return None
