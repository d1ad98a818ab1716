"""The ``samurai`` command line. Each subcommand lives in ``samurai/commands/<name>.py`` and
provides ``add_parser(subparsers)`` and ``run(args) -> int``; its heavy imports happen in ``run``
so that ``samurai --help`` stays fast."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import re
import signal
import sys
import warnings

from samurai.errors import CLIError, UserError  # noqa: F401  CLIError: the old name, for user code

COMMANDS = ("track", "eval", "demo", "train", "calibrate", "report", "app")


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler ending the job, ``kill PID``), handled exactly as Ctrl-C:
    every ``finally`` and output folder cleans up on the way out; exit status 143."""


def _raise_terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def _sigterm_as_interrupt():
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: signals cannot be handled here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_parser() -> argparse.ArgumentParser:
    from samurai import __version__

    parser = argparse.ArgumentParser(
        prog="samurai",
        description="Motion-aware SAM 2 video segmentation (SAMURAI).",
    )
    parser.add_argument("--version", action="version", version=f"samurai {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"samurai.commands.{name}")
        module.add_parser(sub)
    return parser


# Options whose value is a list of numbers: a negative first number makes argparse read the
# value as another option ("expected one argument"); the message says how to write it.
NUMBER_LIST_OPTIONS = ("--box",)


def _negative_number_list(argv: list[str]) -> str | None:
    for option, value in zip(argv, argv[1:]):
        if option in NUMBER_LIST_OPTIONS and re.fullmatch(r"-[0-9.][0-9.,\s+-]*", value):
            return (
                f"{option} {value}: a value that starts with '-' reads as an option; write it "
                f"with '=': {option}={value}"
            )
    return None


def _quiet_libraries() -> None:
    """Keep the libraries' own chatter (FFmpeg/OpenCV decoder messages, ITK's warnings,
    matplotlib's font and backend logging) off the console: samurai reports what went wrong in
    its own words. Set here only, for the command line; the library leaves them as they are."""
    import logging
    import os

    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("MPLBACKEND", "Agg")
    logging.getLogger("matplotlib").setLevel(logging.ERROR)
    with contextlib.suppress(ImportError):
        import SimpleITK

        SimpleITK.ProcessObject_GlobalWarningDisplayOff()
    if "cv2" in sys.modules:  # imported already: its log level is read at import
        with contextlib.suppress(AttributeError):
            sys.modules["cv2"].setLogLevel(2)  # ERROR


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    misread = _negative_number_list(argv)
    if misread:
        command = argv[0] if argv and argv[0] in COMMANDS else "samurai"
        print(f"samurai {command}: error: {misread}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `samurai`: show what there is to run
        parser.print_help()
        return 0
    # The command line as typed, for the run's manifest.
    args.argv = ["samurai", *argv]
    _quiet_libraries()
    try:
        with _sigterm_as_interrupt(), warnings.catch_warnings():
            warnings.showwarning = _one_line_warning(args.command)  # restored on exit
            return int(args.run(args) or 0)
    except UserError as err:  # every library's user error: exit 2, here only
        print(f"samurai {args.command}: error: {err}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"samurai {args.command}: terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"samurai {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a library's own error type for bad input (samurai/errors_map.py)
        from samurai.errors_map import user_error_message

        message = user_error_message(err)
        if message is None:  # a bug: the traceback is the useful report
            raise
        print(f"samurai {args.command}: error: {message}", file=sys.stderr)
        return 2


def _one_line_warning(command: str):
    """Library warnings as one line each (``samurai track: warning: ...``), not Python's
    two-line form that points at some library's source line."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"samurai {command}: warning: {message}", file=sys.stderr if file is None else file)

    return show


if __name__ == "__main__":
    sys.exit(main())
