"""Review sessions on disk: one folder per opened video, every file written atomically.

    <store>/<session id>/
      session.json        source, size, objects, the operation log, status, undo stack, the
                          pixel spacing and the view (``set_calibration``)
      frames/NNNNN.jpg    the video's frames, cached once at open (scrubbing reads these)
      masks/NNNNN.png     label masks (pixel value = object id), written as frames are tracked
      meta/NNNNN.json     per frame: each object's area (pixels) and SAMURAI's decision
      undo/<k>/           masks and meta of the frames a correction replaced

The operation log (``ops``) is what was done to the model, in order: boxes, learned class
prompts, clicks and propagations. Replaying it rebuilds the model's state of the video after a
restart, so a closed tab or a stopped server loses nothing.
"""

from __future__ import annotations

import io
import json
import secrets
import shutil
import threading
import time
from pathlib import Path

import numpy as np

from samurai.drawing import PALETTE
from samurai.errors import UserError
from samurai.formats import read_mask_png, write_json, write_png
from samurai.output import atomic_write_bytes
from samurai_common.source_info import SpacingError, parse_spacing_flag, pixel_area_cm2, units

JPEG_QUALITY = 90
VIEWS = ("A4C", "A2C")  # the apical views the chamber report reads


class SessionError(UserError):
    """A request that does not fit the session's state (HTTP 400/409 with this message)."""


def frame_name(t: int, suffix: str) -> str:
    return f"{t:05d}{suffix}"


class Session:
    """One video under review. Reads are safe from any thread; writes hold ``lock``."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.id = self.folder.name
        self.lock = threading.RLock()
        self.state = json.loads((self.folder / "session.json").read_text())
        self._meta: dict[int, dict] = {}
        for p in (self.folder / "meta").glob("*.json"):
            self._meta[int(p.stem)] = json.loads(p.read_text())

    # -------------------------------------------------------------- reading
    @property
    def num_frames(self) -> int:
        return int(self.state["frames"])

    def frame_path(self, t: int) -> Path:
        self.check_frame(t)
        return self.folder / "frames" / frame_name(t, ".jpg")

    def mask_path(self, t: int) -> Path:
        self.check_frame(t)
        return self.folder / "masks" / frame_name(t, ".png")

    def check_frame(self, t) -> int:
        if not isinstance(t, int) or not 0 <= t < self.num_frames:
            raise SessionError(f"frame {t!r} is not a frame of this video (0..{self.num_frames - 1})")
        return t

    def labels(self, t: int) -> np.ndarray | None:
        path = self.mask_path(t)
        return read_mask_png(path) if path.is_file() else None

    def meta(self, t: int) -> dict | None:
        return self._meta.get(t)

    @property
    def spacing(self) -> tuple[float, float] | None:
        """``(sx_cm, sy_cm)`` per pixel (the video's own, or entered in the page), or None."""
        sp = self.state.get("spacing")
        return None if sp is None else (float(sp["cm"][0]), float(sp["cm"][1]))

    def summary(self) -> dict:
        """What the page needs to draw: objects, per-frame areas (cm² when the spacing is known,
        else pixels; ``area_unit`` says which), which frames have masks, status, the spacing
        (``{"cm", "source", "from"}`` or None) and the view."""
        with self.lock:
            spacing = self.spacing
            pixel = pixel_area_cm2(spacing)
            areas = {oid: [None] * self.num_frames for oid in self.state["objects"]}
            for t, m in self._meta.items():
                for oid, a in m["areas"].items():
                    if oid in areas:
                        areas[oid][t] = a if pixel is None else a * pixel
            return {
                **{
                    k: self.state[k]
                    for k in ("id", "name", "source", "frames", "width", "height", "objects", "status")
                },
                "ops": len(self.state["ops"]),
                "undo": len(self.state["undo"]),
                "areas": areas,
                "area_unit": units(spacing)["area"],
                "spacing": self.state.get("spacing"),
                "view": self.state.get("view"),
                "palette": PALETTE.tolist(),
                "tracked": sorted(self._meta),
            }

    # -------------------------------------------------------------- writing
    def save(self) -> None:
        with self.lock:
            write_json(self.folder / "session.json", self.state)

    def set_status(self, **status) -> None:
        with self.lock:
            self.state["status"] = {"time": time.time(), **status}
            self.save()

    def set_calibration(self, spacing=..., view=...) -> None:
        """Set what the video does not say itself: ``spacing`` (text as ``--spacing`` takes it,
        ``"0.03"`` or ``"0.03,0.04"`` cm per pixel; ``""`` or None clears it) and ``view``
        (``"A4C"``, ``"A2C"``; ``""`` or None: not said). An argument left out stays as it is.
        Both are kept in ``session.json`` and used by the area curve and the exports."""
        with self.lock:
            if spacing is not ...:
                own = self.state.get("spacing")
                if own is not None and own["from"] != "entered":
                    raise SessionError(
                        f"this video carries its own spacing ({own['source']}); "
                        "it is used as it is and cannot be replaced here"
                    )
                text = "" if spacing is None else str(spacing).strip()
                if not text:
                    self.state["spacing"] = None
                else:
                    try:
                        sx, sy = parse_spacing_flag(text)
                    except SpacingError:
                        raise SessionError(
                            f"spacing {text!r}: enter the pixel size in cm per pixel as one positive "
                            "number (square pixels, e.g. 0.03) or two, across and down (e.g. 0.03,0.04)"
                        ) from None
                    self.state["spacing"] = {
                        "cm": [sx, sy],
                        "source": "entered in samurai app",
                        "from": "entered",
                    }
            if view is not ...:
                name = "" if view is None else str(view).strip().upper()
                if name and name not in VIEWS:
                    raise SessionError(f"view {view!r}: choose {' or '.join(VIEWS)}, or leave it unsaid")
                self.state["view"] = name or None
            self.save()

    def add_object(self, name: str) -> int:
        name = str(name).strip()[:40]
        if not name:
            raise SessionError("give the structure a name (e.g. lv)")
        with self.lock:
            for oid, o in self.state["objects"].items():
                if o["name"] == name:
                    return int(oid)
            oid = max((int(k) for k in self.state["objects"]), default=0) + 1
            if oid > 255:
                raise SessionError("at most 255 structures per video")
            self.state["objects"][str(oid)] = {"name": name}
            self.save()
            return oid

    def append_op(self, op: dict) -> None:
        with self.lock:
            self.state["ops"].append(op)
            self.save()

    def write_frame(self, t: int, masks: dict[int, np.ndarray], decisions: dict) -> None:
        """One tracked frame: its label mask (later ids drawn over earlier ones, as ``track``
        writes them) and its meta (areas in pixels, decisions)."""
        labels = np.zeros((self.state["height"], self.state["width"]), np.uint8)
        for oid in sorted(masks):
            labels[masks[oid]] = oid
        areas = {str(oid): int((labels == oid).sum()) for oid in sorted(masks)}
        meta = {"areas": areas, "decisions": decisions}
        write_png(self.mask_path(t), labels)
        write_json(self.folder / "meta" / frame_name(t, ".json"), meta)
        with self.lock:
            self._meta[t] = meta

    def snapshot(self, from_frame: int, ops_before: int) -> None:
        """Keep the results of frames ``from_frame..`` and the log length, for :meth:`undo`."""
        with self.lock:
            k = len(self.state["undo"])
            dest = self.folder / "undo" / str(k)
            shutil.rmtree(dest, ignore_errors=True)
            (dest / "masks").mkdir(parents=True)
            (dest / "meta").mkdir()
            for t in range(from_frame, self.num_frames):
                for sub, suffix in (("masks", ".png"), ("meta", ".json")):
                    src = self.folder / sub / frame_name(t, suffix)
                    if src.is_file():
                        shutil.copy2(src, dest / sub / src.name)
            self.state["undo"].append({"from": from_frame, "ops": ops_before})
            self.save()

    def undo(self) -> dict:
        """Put back the results and log as they were before the last correction."""
        with self.lock:
            if not self.state["undo"]:
                raise SessionError("nothing to undo")
            entry = self.state["undo"][-1]
            k = len(self.state["undo"]) - 1
            src = self.folder / "undo" / str(k)
            for t in range(entry["from"], self.num_frames):
                for sub, suffix in (("masks", ".png"), ("meta", ".json")):
                    kept = src / sub / frame_name(t, suffix)
                    live = self.folder / sub / frame_name(t, suffix)
                    if kept.is_file():
                        atomic_write_bytes(live, kept.read_bytes())
                    else:
                        live.unlink(missing_ok=True)
                meta = self.folder / "meta" / frame_name(t, ".json")
                if meta.is_file():
                    self._meta[t] = json.loads(meta.read_text())
                else:
                    self._meta.pop(t, None)
            del self.state["ops"][entry["ops"] :]
            self.state["undo"].pop()
            self.save()
            shutil.rmtree(src, ignore_errors=True)
            return entry


class SessionStore:
    """The sessions below one folder (``--sessions``), loaded lazily and kept once each."""

    def __init__(self, folder):
        self.folder = Path(folder).expanduser()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, sid: str) -> Session:
        if not isinstance(sid, str) or not sid.isalnum() or len(sid) > 32:
            raise SessionError(f"no session {sid!r}")
        with self._lock:
            s = self._sessions.get(sid)
            if s is None:
                if not (self.folder / sid / "session.json").is_file():
                    raise SessionError(f"no session {sid!r}; open the video again")
                s = self._sessions[sid] = Session(self.folder / sid)
            return s

    def list(self) -> list[dict]:
        out = []
        for p in sorted(self.folder.glob("*/session.json"), key=lambda p: p.stat().st_mtime, reverse=True):
            try:
                state = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            out.append(
                {
                    "id": state["id"],
                    "name": state["name"],
                    "source": state["source"],
                    "frames": state["frames"],
                    "status": state["status"],
                }
            )
        return out

    def find(self, source: dict) -> Session | None:
        for entry in self.list():
            if entry["source"] == source:
                return self.get(entry["id"])
        return None

    def create(
        self, name: str, source: dict, frames, masks=None, ops=None, spacing=None, view=None
    ) -> Session:
        """A new session caching ``frames`` (an iterable of RGB uint8 arrays) as JPEG; ``masks``
        (frame -> label array) and ``ops`` come from a run folder when one is opened;
        ``spacing`` is what the video (or the run's manifest) says: ``{"cm": [sx, sy],
        "source": where from, "from": "video" | "run"}`` or None; ``view`` a run's recorded view."""
        from PIL import Image

        sid = secrets.token_hex(6)
        final = self.folder / sid
        tmp = self.folder / f".{sid}.partial"
        (tmp / "frames").mkdir(parents=True)
        (tmp / "masks").mkdir()
        (tmp / "meta").mkdir()
        try:
            n, size = 0, None
            for t, rgb in enumerate(frames):
                size = rgb.shape[:2] if size is None else size
                if rgb.shape[:2] != size:
                    raise SessionError(
                        f"frame {t} is {rgb.shape[1]}x{rgb.shape[0]}, frame 0 "
                        f"{size[1]}x{size[0]}: the frames of a video must share one size"
                    )
                buf = io.BytesIO()
                Image.fromarray(rgb).save(buf, format="JPEG", quality=JPEG_QUALITY)
                atomic_write_bytes(tmp / "frames" / frame_name(t, ".jpg"), buf.getvalue())
                n += 1
            if n == 0:
                raise SessionError(f"{name} holds no frame")
            write_json(
                tmp / "session.json",
                {
                    "version": 1,
                    "id": sid,
                    "name": name,
                    "source": source,
                    "frames": n,
                    "width": int(size[1]),
                    "height": int(size[0]),
                    "objects": {},
                    "ops": ops or [],
                    "undo": [],
                    "status": {"state": "idle"},
                    "spacing": spacing,
                    "view": view,
                    "created": time.time(),
                },
            )
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        session = self.get(sid)
        for t, labels in (masks or {}).items():
            if 0 <= t < n:
                ids = [int(v) for v in np.unique(labels) if v]
                for oid in ids:
                    session.state["objects"].setdefault(str(oid), {"name": f"object {oid}"})
                session.write_frame(t, {oid: labels == oid for oid in ids}, {})
        session.save()
        return session

    def recover(self) -> None:
        """After a restart: a propagation that was running when the server stopped is marked
        interrupted (its finished frames stand); half-written session folders are removed."""
        for tmp in self.folder.glob(".*.partial"):
            shutil.rmtree(tmp, ignore_errors=True)
        for entry in self.list():
            if entry["status"].get("state") in ("running", "queued"):
                s = self.get(entry["id"])
                s.set_status(
                    state="interrupted",
                    message="the server stopped during this job; "
                    "its finished frames are kept; propagate again to finish",
                )
