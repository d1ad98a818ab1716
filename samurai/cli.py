"""The ``samurai`` command line. Each subcommand lives in ``samurai/commands/<name>.py`` and
provides ``add_parser(subparsers)`` and ``run(args) -> int``; its heavy imports happen in ``run``
so that ``samurai --help`` stays fast."""

from __future__ import annotations

import argparse
import contextlib
import importlib
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `samurai`: show what there is to run
        parser.print_help()
        return 0
    # The command line as typed, for the run's manifest.
    args.argv = ["samurai", *(sys.argv[1:] if argv is None else [str(a) for a in argv])]
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
