"""The names of the echo dataset layouts ``samurai.data`` reads, in a module of their own so
that the command line's parser offers them without loading the readers (``samurai --help``
stays fast)."""

KINDS = ("camus2023", "camus2019", "echonet", "generic", "cardiacuda")

__all__ = ["KINDS"]
