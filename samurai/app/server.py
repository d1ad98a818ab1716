"""The HTTP side of ``samurai app``: a FastAPI application over a session store and one model
worker. Requests never run the model themselves: they read cached files (frames, masks,
decisions) or hand a job to the worker. Nothing from a request is evaluated or given to a shell;
files are read only below the allowed folders (``roots.Roots``)."""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import re
import secrets
import time
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from samurai.app.roots import AccessError, Roots, kind_of
from samurai.app.sessions import SessionError, SessionStore
from samurai.app.worker import ModelWorker
from samurai.errors import UserError

STATIC = Path(__file__).parent / "static"
MAX_JSON_BYTES = 1 << 20
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger("samurai.app")


class Guard:
    """ASGI middleware: the token (when one is set) on every request, as the header
    ``X-Samurai-Token``, the query parameter ``token`` or the cookie ``samurai_token``; without a
    token (loopback binding) only loopback ``Host`` headers (no DNS rebinding); and a body limit."""

    def __init__(self, app, token: str | None, max_upload: int):
        self.app, self.token, self.max_upload = app, token, max_upload

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._problem(scope, headers)
        if problem is not None:
            status, message = problem
            return await JSONResponse({"error": message}, status)(scope, receive, send)
        return await self.app(scope, receive, send)

    def _problem(self, scope, headers):
        if self.token is None:
            host = headers.get("host", "")
            name = host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
            if name not in LOOPBACK_HOSTS:
                return 403, "this server answers on 127.0.0.1 only (no token set)"
        else:
            from urllib.parse import parse_qs

            given = headers.get("x-samurai-token")
            if given is None:
                given = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [None])[0]
            if given is None:
                for part in headers.get("cookie", "").split(";"):
                    name, _, value = part.strip().partition("=")
                    if name == "samurai_token":
                        given = value
            if given is None or not secrets.compare_digest(given.encode(), self.token.encode()):
                return 401, "a valid token is required: open the address printed at start (?token=...)"
        length = headers.get("content-length")
        limit = self.max_upload if scope["path"] == "/api/upload" else MAX_JSON_BYTES
        if length is not None and (not length.isdigit() or int(length) > limit):
            return 413, f"request body over the limit of {limit // (1 << 20)} MiB"
        return None


class OpenRequest(BaseModel):
    root: int
    path: str = Field(max_length=4096)
    new: bool = False


class ObjectRequest(BaseModel):
    name: str = Field(min_length=1, max_length=40)


class BoxRequest(BaseModel):
    frame: int
    name: str = Field(min_length=1, max_length=40)
    box: list[float] = Field(min_length=4, max_length=4)


class ClickRequest(BaseModel):
    frame: int
    obj: int
    x: float
    y: float
    positive: bool = True


class FindRequest(BaseModel):
    frame: int = 0
    names: list[str] = Field(min_length=1, max_length=16)


class PropagateRequest(BaseModel):
    start: int | None = None


class CalibrationRequest(BaseModel):
    """Either field left out stays as it is; ``""`` or null clears it."""

    spacing: str | None = Field(default=None, max_length=64)  # cm per pixel: "0.03" or "0.03,0.04"
    view: str | None = Field(default=None, max_length=8)  # "A4C" or "A2C"


class ExportRequest(BaseModel):
    kind: str = Field(pattern="^(png|training)$")


def create_app(
    roots: Roots,
    store: SessionStore,
    worker: ModelWorker,
    token: str | None = None,
    training_root: Path | None = None,
    max_upload: int = 512 << 20,
    model: dict | None = None,
) -> FastAPI:
    """The application; ``worker`` is started and stopped with it (lifespan). ``model``: what
    the page shows about the model (``{"name": ..., "untrained": bool}``)."""
    training_root = Path(training_root or store.folder / "training")
    uploads = store.folder / "uploads"

    @asynccontextmanager
    async def lifespan(app):
        store.recover()
        worker.start()
        yield
        worker.stop()

    app = FastAPI(title="samurai app", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Guard, token=token, max_upload=max_upload)

    @app.exception_handler(AccessError)
    async def _access(request, err):
        return JSONResponse({"error": str(err)}, 403)

    @app.exception_handler(UserError)
    async def _user(request, err):
        status = 409 if "already" in str(err) else 400
        return JSONResponse({"error": str(err)}, status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, err):
        fields = "; ".join(f"{'.'.join(str(x) for x in e['loc'][1:])}: {e['msg']}" for e in err.errors())
        return JSONResponse({"error": f"bad request ({fields})"}, 422)

    @app.exception_handler(Exception)
    async def _internal(request, err):
        log.exception("internal error")
        return JSONResponse({"error": f"internal error ({type(err).__name__}); see the server's log"}, 500)

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/api/roots")
    def list_roots():
        return [{"root": i, "name": p.name or str(p)} for i, p in enumerate(roots.folders)]

    @app.get("/api/info")
    def info():
        return {"model": model or {}, "max_upload_mib": max_upload >> 20}

    @app.get("/api/list")
    def list_folder(root: int, path: str = ""):
        return roots.listing(root, path)

    @app.get("/api/sessions")
    def list_sessions():
        return store.list()

    @app.post("/api/open")
    def open_source(req: OpenRequest):
        source = {"root": req.root, "path": req.path}
        if not req.new:
            found = store.find(source)
            if found is not None:
                return found.summary()
        path = roots.resolve(req.root, req.path)
        return open_path(path, source).summary()

    def open_path(path: Path, source: dict):
        from samurai_common.frames import FrameError, open_frames

        kind = kind_of(path)
        masks, ops, names, spacing, view = {}, [], {}, None, None
        video_ref = source  # where the exports find the video again (roots and uploads only)
        if kind == "run":
            video, masks, ops, names, spacing, view = read_run(path, roots)
            root, rel = roots.relative(video)
            video_ref = {"root": root, "path": rel}
        elif kind in ("video", "frames"):
            video = path
        else:
            raise SessionError(f"{path.name} is not a video, a frame folder or a track/eval run folder")
        try:
            frames = open_frames(str(video))
            info = getattr(frames, "info", None)  # a DICOM's own (its ultrasound regions)
            if spacing is None and getattr(info, "spacing", None) is not None:
                spacing = {"cm": list(info.spacing), "source": info.spacing_source, "from": "video"}

            def each():
                for t in itertools.count():
                    if not frames.available(t):
                        return
                    rgb = frames[t]
                    yield rgb if rgb.ndim == 3 else np.repeat(rgb[..., None], 3, 2)

            # a case's frames/ folder is named for its case
            name = path.parent.name if path.name == "frames" and path.parent != path else path.name
            session = store.create(name, source, each(), masks, ops, spacing, view)
        except (FileNotFoundError, FrameError, OSError) as err:
            raise SessionError(f"cannot read {path.name}: {err}") from None
        for oid, name in names.items():
            session.state["objects"][str(oid)] = {"name": name}
        session.state["video"] = video_ref
        session.save()
        return session

    def video_of(session) -> Path | None:
        """The session's video file or frame folder, found again below the allowed folders (or
        in the uploads folder); None when it is not there any more."""
        ref = session.state.get("video", session.state["source"])
        try:
            if "upload" in ref:
                path = uploads / Path(ref["upload"]).name
            else:
                path = roots.resolve(ref["root"], ref["path"])
        except (AccessError, KeyError, TypeError):
            return None
        return path if path.exists() else None

    @app.get("/api/sessions/{sid}")
    def summary(sid: str):
        s = store.get(sid)
        out = s.summary()
        job = worker.latest(s)
        out["job"] = None if job is None else job.view()
        return out

    @app.get("/api/sessions/{sid}/frame/{t}")
    def frame(sid: str, t: int):
        return FileResponse(
            store.get(sid).frame_path(t),
            media_type="image/jpeg",
            headers={"Cache-Control": "private, max-age=3600"},
        )

    @app.get("/api/sessions/{sid}/labels/{t}")
    def labels(sid: str, t: int):
        """The label mask of frame ``t`` as raw bytes (row-major uint8, gzip-encoded), or 204."""
        s = store.get(sid)
        lab = s.labels(t)
        if lab is None:
            return Response(status_code=204)
        return Response(
            gzip.compress(lab.tobytes(), compresslevel=1),
            media_type="application/octet-stream",
            headers={
                "Content-Encoding": "gzip",
                "Cache-Control": "no-store",
                "X-Width": str(lab.shape[1]),
                "X-Height": str(lab.shape[0]),
            },
        )

    @app.get("/api/sessions/{sid}/meta/{t}")
    def meta(sid: str, t: int):
        s = store.get(sid)
        s.check_frame(t)
        return s.meta(t) or {"areas": {}, "decisions": {}}

    @app.post("/api/sessions/{sid}/box")
    def box(sid: str, req: BoxRequest):
        s = store.get(sid)
        s.check_frame(req.frame)
        x1, y1, x2, y2 = req.box
        x1, x2 = sorted((x1, x2))
        y1, y2 = sorted((y1, y2))
        if (
            not all(np.isfinite([x1, y1, x2, y2]))
            or x1 < 0
            or y1 < 0
            or x2 > s.state["width"] - 1
            or y2 > s.state["height"] - 1
        ):
            raise SessionError(f"box {req.box} lies outside the {s.state['width']}x{s.state['height']} frame")
        oid = s.add_object(req.name)
        op = {"kind": "box", "frame": req.frame, "obj": oid, "box": [x1, y1, x2, y2]}
        return {"obj": oid, **worker.run("prompt", s, op=op)}

    @app.post("/api/sessions/{sid}/click")
    def click(sid: str, req: ClickRequest):
        s = store.get(sid)
        s.check_frame(req.frame)
        if str(req.obj) not in s.state["objects"]:
            raise SessionError(f"no structure {req.obj} in this video; choose one of the list")
        if not (0 <= req.x <= s.state["width"] - 1 and 0 <= req.y <= s.state["height"] - 1):
            raise SessionError(f"click ({req.x:g}, {req.y:g}) lies outside the frame")
        op = {
            "kind": "click",
            "frame": req.frame,
            "obj": req.obj,
            "point": [req.x, req.y],
            "label": int(req.positive),
        }
        return worker.run("prompt", s, op=op)

    @app.post("/api/sessions/{sid}/find")
    def find(sid: str, req: FindRequest):
        s = store.get(sid)
        s.check_frame(req.frame)
        names = [n.strip().lower() for n in req.names if n.strip()]
        return worker.run("find", s, frame=req.frame, names=names)

    @app.post("/api/sessions/{sid}/propagate")
    def propagate(sid: str, req: PropagateRequest):
        s = store.get(sid)
        ops = s.state["ops"]
        prompts = [o for o in ops if o["kind"] != "propagate"]
        if not prompts:
            raise SessionError("nothing to propagate: draw a box around each structure (or find them) first")
        start = req.start
        if start is None:  # from the earliest frame prompted since the last propagation
            since = list(itertools.takewhile(lambda o: o["kind"] != "propagate", reversed(ops)))
            start = min(o["frame"] for o in (since or prompts))
        s.check_frame(start)
        return worker.submit("propagate", s, start=start).view()

    @app.post("/api/sessions/{sid}/calibration")
    def calibration(sid: str, req: CalibrationRequest):
        """The spacing (for a video without one) and the view, kept in the session."""
        s = store.get(sid)
        given = {k: getattr(req, k) for k in req.model_fields_set}
        s.set_calibration(**given)
        return s.summary()

    @app.post("/api/sessions/{sid}/undo")
    def undo(sid: str):
        return worker.run("undo", store.get(sid))

    @app.get("/api/sessions/{sid}/events")
    async def events(sid: str):
        """Server-sent events: the session's latest job (progress) until it ends."""
        import asyncio

        s = store.get(sid)

        async def stream():
            last = None
            while True:
                job = worker.latest(s)
                view = None if job is None else job.view()
                if view != last:
                    yield f"data: {json.dumps(view)}\n\n"
                    last = view
                if view is None or view["state"] not in ("queued", "running"):
                    return
                await asyncio.sleep(0.1)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    @app.post("/api/sessions/{sid}/export")
    def export(sid: str, req: ExportRequest):
        """``png``: the run folder (PNG masks, NIfTI, DICOM-SEG, the report: ``export_run``);
        ``training``: a case of the generic layout."""
        from samurai.app.export import export_run, export_training

        s = store.get(sid)
        if req.kind == "png":
            return export_run(s, video_of(s))
        return {"path": str(export_training(s, training_root))}

    @app.post("/api/upload")
    async def upload(request: Request, name: str):
        """A video file into the uploads folder (opened like any other); size-limited."""
        suffix = Path(name).suffix.lower()
        from samurai.app.roots import VIDEO_SUFFIXES

        if suffix not in VIDEO_SUFFIXES:
            raise SessionError(
                f"uploads take video files ({', '.join(VIDEO_SUFFIXES)}), not {suffix or 'no suffix'}"
            )
        uploads.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_-]", "_", Path(name).stem)[:60] or "video"
        dest = uploads / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}-{stem}{suffix}"
        size = 0
        tmp = dest.with_name("." + dest.name + ".part")
        try:
            with open(tmp, "wb") as f:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > max_upload:
                        raise SessionError(f"upload over the limit of {max_upload // (1 << 20)} MiB")
                    f.write(chunk)
            tmp.rename(dest)
        finally:
            tmp.unlink(missing_ok=True)
        try:
            return open_path(dest, {"upload": dest.name}).summary()
        except BaseException:
            dest.unlink(missing_ok=True)  # an upload that does not open is not kept
            raise

    return app


def read_run(folder: Path, roots: Roots):
    """A ``track``/``eval`` run folder: its video (which must lie below an allowed folder), its
    masks, the prompts as an op log (boxes on frame 0, then one propagation), object names, the
    spacing its manifest's ``source`` block records (``track --spacing``, a DICOM's) and its
    view (A4C, A2C or None)."""
    from samurai.clinical.study import VIEW_NAMES, recorded_source
    from samurai.formats import read_mask_png

    manifest = json.loads((folder / "manifest.json").read_text())
    video = manifest.get("video")
    if not video:
        raise SessionError(f"{folder.name}/manifest.json names no video; open the video itself")
    candidates = [Path(video)] if Path(video).is_absolute() else [folder.parent / video, Path.cwd() / video]
    found = next((c.resolve() for c in candidates if c.exists()), None)
    if found is None or roots.relative(found) is None:
        raise SessionError(
            f"the run's video {video} is not found below the folders given to `samurai app`; "
            "add its folder to the command line"
        )
    masks = {
        int(p.stem): read_mask_png(p) for p in sorted((folder / "masks").glob("*.png")) if p.stem.isdigit()
    }
    boxes = (manifest.get("prompts") or {}).get("boxes") or []
    ops = [
        {"kind": "box", "frame": 0, "obj": i, "box": [float(v) for v in b]} for i, b in enumerate(boxes, 1)
    ]
    if ops:
        ops.append({"kind": "propagate", "from": 0})
    names = {int(k): v for k, v in (manifest.get("names") or {}).items()}
    recorded = recorded_source(manifest)
    spacing = None
    if recorded.get("spacing_cm"):
        from samurai_common.source_info import SpacingError, check_spacing

        try:
            cm = check_spacing(recorded["spacing_cm"], f"{folder.name}/manifest.json")
        except SpacingError as err:
            raise SessionError(f"{err}; open the video itself and enter its spacing") from None
        spacing = {
            "cm": list(cm),
            "source": f"the run's manifest ({recorded.get('spacing_source')})",
            "from": "run",
        }
    view = VIEW_NAMES.get(str(manifest.get("view") or "").upper().replace(" ", ""))
    return found, masks, ops, names, spacing, view
