"""``samurai app``: a local review tool in the browser (see docs/app.md).

Open a video, draw a box per structure (or find them with an adapter's learned prompts),
propagate, scrub with the masks overlaid, correct a frame with clicks and re-propagate from it,
undo, export (PNG masks, NIfTI, DICOM-SEG, the chamber report) or save as training data. Binds
127.0.0.1 unless ``--host`` says otherwise, which then needs a token.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from samurai.commands.arguments import (
    add_model_arguments,
    add_motion_arguments,
    add_random_weights_arguments,
    add_speed_arguments,
)
from samurai.errors import UserError
from samurai.predictors import HF_PREFIX, build_predictor, is_untrained, predictor_from_args

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "app",
        help="review, correct and export segmentations in the browser (local server)",
        description="Start a local web app over the FOLDERs (only files below them can be opened) "
        "and print its address.",
    )
    p.add_argument(
        "folders",
        nargs="*",
        metavar="FOLDER",
        default=["."],
        help="folders whose videos, frame folders and run folders may be opened (default: .)",
    )
    p.add_argument("--checkpoint", help="SAM 2 checkpoint (.pt, official format)")
    add_model_arguments(p)
    add_speed_arguments(p)
    p.add_argument(
        "--adapter",
        help="LoRA adapter folder written by `samurai train` (with class "
        "prompts: the app can find the chambers itself)",
    )
    p.add_argument("--vanilla", action="store_true", help="plain SAM 2 (SAMURAI off)")
    add_motion_arguments(p)
    add_random_weights_arguments(p)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; any other address requires a token)",
    )
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    p.add_argument(
        "--token",
        help="access token (default with a non-loopback --host: a random one, "
        "printed once); read from $SAMURAI_APP_TOKEN when set",
    )
    p.add_argument(
        "--sessions",
        default=None,
        metavar="DIR",
        help="where sessions are kept (default: $XDG_STATE_HOME/samurai/app or ~/.local/state/samurai/app)",
    )
    p.add_argument(
        "--training-out",
        default=None,
        metavar="DIR",
        help="where 'save as training data' writes cases (default: <sessions>/training)",
    )
    p.add_argument("--max-upload-mb", type=int, default=512, help="largest upload in MiB (default 512)")
    p.set_defaults(run=run)


def default_sessions() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "samurai" / "app"


def access_token(host: str, token: str | None) -> str | None:
    """The token the server checks: the given one; a fresh random one for a non-loopback
    ``host``; None on loopback without one."""
    import secrets

    if token is not None:
        if len(token) < 16:
            raise UserError("--token must be at least 16 characters (or leave it out for a random one)")
        return token
    if host in LOOPBACK:
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise UserError(
            f"--host {host!r} is not an IP address; use 127.0.0.1 or the address to listen on (e.g. 0.0.0.0)"
        ) from None
    return secrets.token_urlsafe(24)


def run(args) -> int:
    try:
        import uvicorn

        from samurai.app.roots import Roots
        from samurai.app.server import create_app
        from samurai.app.sessions import SessionStore
        from samurai.app.worker import ModelWorker
    except ImportError as err:
        raise UserError(
            f"`samurai app` needs FastAPI and uvicorn ({err}); install them with "
            "pip install 'samurai-track[app]'"
        ) from None
    roots = Roots(args.folders)
    token = access_token(args.host, args.token or os.environ.get("SAMURAI_APP_TOKEN"))
    if args.max_upload_mb < 1:
        raise UserError("--max-upload-mb must be at least 1")
    loaded = None
    if args.model.startswith(HF_PREFIX):  # a bad folder or flag stops here, not in the page
        loaded = predictor_from_args(args, args.device)
    elif args.checkpoint is None and not args.random_weights:
        build_predictor(args.model, None, None, None, True, None, False)  # raises the usual message
    store = SessionStore(args.sessions or default_sessions())

    def build():
        return loaded if loaded is not None else predictor_from_args(args, args.device)

    def describe(predictor):  # what an export's manifest records of the model
        from samurai.provenance import run_info_from_args

        return run_info_from_args(args, predictor)

    app = create_app(
        roots,
        store,
        ModelWorker(build, describe),
        token=token,
        training_root=args.training_out,
        max_upload=args.max_upload_mb << 20,
        model={
            "name": args.model,
            "adapter": args.adapter,
            "untrained": is_untrained(args.model, args.checkpoint),
        },
    )
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning")
    server = uvicorn.Server(config)
    shown = "localhost" if args.host in LOOPBACK else args.host

    async def announce():  # the address once the socket is bound (so --port 0 shows the real one)
        import asyncio

        while not server.started:
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
        print(f"samurai app: open {url}", flush=True)
        print(f"sessions in {store.folder}; Ctrl-C stops", flush=True)

    import asyncio

    async def main():
        task = asyncio.create_task(announce())
        await server.serve()
        task.cancel()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:  # uvicorn shut down gracefully, then re-raised the signal
        pass
    print(f"samurai app: stopped; sessions kept in {store.folder}", flush=True)
    return 0
