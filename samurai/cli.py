"""The ``samurai`` command line. Each subcommand lives in ``samurai/commands/<name>.py`` and
provides ``add_parser(subparsers)`` and ``run(args) -> int``; its heavy imports happen in ``run``
so that ``samurai --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("track", "eval", "demo", "train", "calibrate")


class CLIError(Exception):
    """A user-facing error: printed as ``samurai: error: <message>`` with exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="samurai",
        description="Motion-aware SAM 2 video segmentation (SAMURAI).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"samurai.commands.{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except CLIError as err:
        print(f"samurai {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"samurai {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
