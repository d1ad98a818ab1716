"""The ``samurai`` command line. Each subcommand lives in ``samurai/commands/<name>.py`` and
provides ``add_parser(subparsers)`` and ``run(args) -> int``; its heavy imports happen in ``run``
so that ``samurai --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

COMMANDS = ("track", "eval", "demo", "train", "calibrate")


class CLIError(Exception):
    """A user-facing error: printed as ``samurai: error: <message>`` with exit status 2."""


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
    try:
        with warnings.catch_warnings():  # restores the display hook below on exit
            warnings.showwarning = _one_line_warning(args.command)
            return int(args.run(args) or 0)
    except CLIError as err:
        print(f"samurai {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"samurai {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line_warning(command: str):
    """Library warnings as one line each (``samurai track: warning: ...``), not Python's
    two-line form that points at some library's source line."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"samurai {command}: warning: {message}", file=sys.stderr if file is None else file)

    return show


if __name__ == "__main__":
    sys.exit(main())
